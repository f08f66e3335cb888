"""partner contacts, multipliers on contacts, partner types, funding on processes

Issue 19, the gaps:

* ``partner_contacts``: several contact persons per partner. Each partner's one sealed
  ``partners.contact_enc`` becomes its first contact's sealed name. The ciphertext is
  copied as it is: it was sealed with the purpose ``partner-contact`` under the same
  agency (the associated data is ``partner-contact:<agency id>``), and the contact's
  name keeps exactly that purpose, so it still opens -- no key is needed here. Then the
  old column is dropped.
* ``multipliers.partner_id`` becomes ``partner_contact_id``: a partner's mark moves to
  its migrated contact. A marked partner without a contact gets one placeholder contact
  (function "Kontakt", nothing sealed) that carries the mark, so last year's
  multiplier figures stay what they were; staff can fill it in or remove it.
* Partner types: "Unternehmen" and "Medien" are added, "Kommune/Verwaltung" is now
  "Politik/Verwaltung" (rows and CHECK).
* ``funding_shares`` may belong to an opening process instead of an activity
  (``process_id``; exactly one of the two); an opening process may state its total
  cost (``opening_processes.total_cost_cents``, added in place: no rebuild).

SQLite rebuilds a table to change its constraints and drops the old copy; with foreign
keys on, that drop would delete (ON DELETE CASCADE) or be refused for the rows that
point at it. So around each rebuild of a referenced table (``partners``,
``opening_processes``) the rows of every table below it are kept aside, deleted
children first, and put back parents first with their ids (``_rebuilt``).

Revision ID: j1_partner_contacts
Revises: i19_meetings
Create Date: 2026-12-05 16:10:27.684251
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "j1_partner_contacts"
down_revision = "i19_meetings"
branch_labels = None
depends_on = None

OLD_TYPES = [
    "Kommunales Integrationszentrum", "Ausländerbehörde", "Jobcenter", "Schule/Kita",
    "Verein", "Migrantenselbstorganisation", "Religionsgemeinschaft", "Wohlfahrtsverband",
    "Beratungsdienst/Migrationsfachdienst", "Kommune/Verwaltung", "Sonstige",
]
NEW_TYPES = [
    "Kommunales Integrationszentrum", "Ausländerbehörde", "Jobcenter", "Schule/Kita",
    "Verein", "Migrantenselbstorganisation", "Religionsgemeinschaft", "Wohlfahrtsverband",
    "Beratungsdienst/Migrationsfachdienst", "Unternehmen", "Politik/Verwaltung", "Medien",
    "Sonstige",
]
OLD_ADMIN, NEW_ADMIN = "Kommune/Verwaltung", "Politik/Verwaltung"
PLACEHOLDER_ROLE = "Kontakt"

# The tables below a rebuilt one, parents before children (the order to put rows back).
_BELOW = {
    "partners": [
        "partner_activities", "meeting_partners", "partner_contacts", "multipliers",
        "lendings", "opening_processes", "process_contacts", "opening_process_subgoals",
        "funding_shares",
    ],
    "opening_processes": ["process_contacts", "opening_process_subgoals", "funding_shares"],
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


@contextmanager
def _rebuilt(table: str) -> Iterator[None]:
    """Keep the rows of the tables below ``table`` aside while SQLite rebuilds it."""
    if not _sqlite():
        yield
        return
    bind = op.get_bind()
    below = [t for t in _BELOW[table] if sa.inspect(bind).has_table(t)]
    for child in below:
        op.execute(f"CREATE TEMPORARY TABLE _keep_{child} AS SELECT * FROM {child}")
    for child in reversed(below):  # children first: nothing points at a deleted row
        op.execute(f"DELETE FROM {child}")
    yield
    for child in below:  # parents first
        cols = [c["name"] for c in sa.inspect(bind).get_columns(child)]
        kept = {r[1] for r in bind.exec_driver_sql(f"PRAGMA temp.table_info(_keep_{child})")}
        shared = ", ".join(c for c in cols if c in kept)
        op.execute(f"INSERT INTO {child} ({shared}) SELECT {shared} FROM _keep_{child}")
        op.execute(f"DROP TABLE _keep_{child}")


def _types(allowed: list[str], old: str, new: str) -> None:
    """Drop the CHECK on ``partners.type``, relabel ``old`` as ``new`` (and any label not
    ``allowed`` as "Sonstige"), and put the CHECK back with ``allowed``."""
    known = ",".join(f"'{t}'" for t in allowed)
    with _rebuilt("partners"), op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_constraint("ck_partners_type_known", type_="check")
    op.execute(
        sa.text("UPDATE partners SET type = :new WHERE type = :old").bindparams(new=new, old=old)
    )
    op.execute(f"UPDATE partners SET type = 'Sonstige' WHERE type NOT IN ({known})")
    with _rebuilt("partners"), op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_partners_type_known"), f"type IN ({known})")


def upgrade() -> None:
    op.create_table(
        "partner_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_partner_contacts_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"],
            name=op.f("fk_partner_contacts_partner_id_partners"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_contacts")),
    )
    with op.batch_alter_table("partner_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_contacts_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_partner_contacts_partner_id"), ["partner_id"], unique=False)

    # The one contact becomes the first contact person (its ciphertext stays valid: same
    # purpose, same agency); a marked partner without one gets a placeholder.
    op.execute(
        "INSERT INTO partner_contacts (agency_id, partner_id, role, name_enc, created_at) "
        "SELECT agency_id, id, '', contact_enc, created_at FROM partners "
        "WHERE contact_enc IS NOT NULL ORDER BY id"
    )
    op.execute(
        "INSERT INTO partner_contacts (agency_id, partner_id, role, created_at) "
        f"SELECT p.agency_id, p.id, '{PLACEHOLDER_ROLE}', p.created_at FROM partners p "
        "JOIN multipliers m ON m.partner_id = p.id "
        "WHERE p.contact_enc IS NULL ORDER BY p.id"
    )

    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_contact_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE multipliers SET partner_contact_id = (SELECT min(c.id) FROM partner_contacts c "
        "WHERE c.partner_id = multipliers.partner_id) WHERE partner_id IS NOT NULL"
    )
    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.drop_constraint("ck_multipliers_volunteer_or_partner", type_="check")
        batch_op.drop_constraint(batch_op.f("uq_multipliers_partner_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_multipliers_partner_id_partners"), type_="foreignkey")
        batch_op.drop_column("partner_id")
    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_multipliers_volunteer_or_contact"),
            "(volunteer_id IS NULL) <> (partner_contact_id IS NULL)",
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_multipliers_partner_contact_id"), ["partner_contact_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_multipliers_partner_contact_id_partner_contacts"),
            "partner_contacts", ["partner_contact_id"], ["id"], ondelete="CASCADE",
        )

    with _rebuilt("partners"), op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("contact_enc")
    _types(NEW_TYPES, OLD_ADMIN, NEW_ADMIN)

    op.add_column(
        "opening_processes", sa.Column("total_cost_cents", sa.BigInteger(), nullable=True)
    )
    with op.batch_alter_table("funding_shares", schema=None) as batch_op:
        batch_op.add_column(sa.Column("process_id", sa.Integer(), nullable=True))
        batch_op.alter_column("activity_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f("ix_funding_shares_process_id"), ["process_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_funding_shares_process_id_opening_processes"),
            "opening_processes", ["process_id"], ["id"], ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            op.f("ck_funding_shares_activity_or_process"),
            "(activity_id IS NULL) <> (process_id IS NULL)",
        )


def downgrade() -> None:
    op.execute("DELETE FROM funding_shares WHERE process_id IS NOT NULL")
    with op.batch_alter_table("funding_shares", schema=None) as batch_op:
        batch_op.drop_constraint("ck_funding_shares_activity_or_process", type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_funding_shares_process_id_opening_processes"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_funding_shares_process_id"))
        batch_op.alter_column("activity_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("process_id")
    with _rebuilt("opening_processes"), op.batch_alter_table("opening_processes") as batch_op:
        batch_op.drop_column("total_cost_cents")

    _types(OLD_TYPES, NEW_ADMIN, OLD_ADMIN)
    with _rebuilt("partners"), op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_enc", sa.LargeBinary(), nullable=True))
    # Each partner's first named contact goes back into the one column; the others are lost.
    op.execute(
        "UPDATE partners SET contact_enc = (SELECT c.name_enc FROM partner_contacts c "
        "WHERE c.partner_id = partners.id AND c.name_enc IS NOT NULL ORDER BY c.id LIMIT 1)"
    )

    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE multipliers SET partner_id = (SELECT c.partner_id FROM partner_contacts c "
        "WHERE c.id = multipliers.partner_contact_id) WHERE partner_contact_id IS NOT NULL"
    )
    # One mark per partner: keep the oldest.
    op.execute(
        "DELETE FROM multipliers WHERE partner_id IS NOT NULL AND id NOT IN "
        "(SELECT min(id) FROM multipliers WHERE partner_id IS NOT NULL GROUP BY partner_id)"
    )
    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.drop_constraint("ck_multipliers_volunteer_or_contact", type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_multipliers_partner_contact_id_partner_contacts"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_multipliers_partner_contact_id"), type_="unique")
        batch_op.drop_column("partner_contact_id")
    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_multipliers_volunteer_or_partner"),
            "(volunteer_id IS NULL) <> (partner_id IS NULL)",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_multipliers_partner_id"), ["partner_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_multipliers_partner_id_partners"),
            "partners", ["partner_id"], ["id"], ondelete="CASCADE",
        )

    with op.batch_alter_table("partner_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_contacts_partner_id"))
        batch_op.drop_index(batch_op.f("ix_partner_contacts_agency_id"))
    op.drop_table("partner_contacts")
