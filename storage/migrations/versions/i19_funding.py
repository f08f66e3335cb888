"""funding sources per activity, activity costs, multipliers; indicator "multipliers"

Revision ID: i19_funding
Revises: i19_network
Create Date: 2026-12-05 11:50:00

Self-contained: only the tables of issue 19 points (4) and (5) and the sub-goals'
indicator check (which gains "multipliers").
"""

from alembic import op
import sqlalchemy as sa
import storage.db


revision = "i19_funding"
down_revision = "i19_network"
branch_labels = None
depends_on = None

SOURCES = (
    "Integrationsagentur-Förderung (Land NRW)",
    "KOMM-AN NRW",
    "Aktion Mensch",
    "Jugendamt",
    "Stadtteilfonds",
    "Spenden",
    "Service-Club (z. B. Rotary, Lions)",
    "Eigenanteil des Trägers",
    "Sonstige",
)
OLD_INDICATORS = (
    "'participants','distinct_persons','occurrences','volunteers',"
    "'volunteer_hours','partners','manual'"
)
NEW_INDICATORS = OLD_INDICATORS + ",'multipliers'"


def _indicators(allowed: str) -> None:
    with op.batch_alter_table("subgoals", schema=None) as batch_op:
        batch_op.drop_constraint("ck_subgoals_indicator_known", type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_subgoals_indicator_known"), f"indicator IN ({allowed})")


def upgrade() -> None:
    op.create_table(
        "funding_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("funding_year", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN (" + ",".join("'" + s + "'" for s in SOURCES) + ")",
            name=op.f("ck_funding_shares_source_known"),
        ),
        sa.CheckConstraint(
            "amount_cents IS NULL OR amount_cents > 0",
            name=op.f("ck_funding_shares_amount_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"],
            name=op.f("fk_funding_shares_activity_id_activities"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_funding_shares_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_shares")),
    )
    with op.batch_alter_table("funding_shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_funding_shares_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            "ix_funding_shares_agency_year", ["agency_id", "funding_year"], unique=False
        )

    op.create_table(
        "activity_costs",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("funding_year", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_activity_costs_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"],
            name=op.f("fk_activity_costs_activity_id_activities"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_activity_costs_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_activity_costs")),
    )
    with op.batch_alter_table("activity_costs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_costs_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "multipliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(volunteer_id IS NULL) <> (partner_id IS NULL)",
            name=op.f("ck_multipliers_volunteer_or_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_multipliers_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"],
            name=op.f("fk_multipliers_partner_id_partners"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"],
            name=op.f("fk_multipliers_volunteer_id_volunteers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_multipliers")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_multipliers_partner_id")),
        sa.UniqueConstraint("volunteer_id", name=op.f("uq_multipliers_volunteer_id")),
    )
    with op.batch_alter_table("multipliers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_multipliers_agency_id"), ["agency_id"], unique=False)

    _indicators(NEW_INDICATORS)


def downgrade() -> None:
    op.execute("UPDATE subgoals SET indicator = 'manual' WHERE indicator = 'multipliers'")
    _indicators(OLD_INDICATORS)
    op.drop_table("multipliers")
    op.drop_table("activity_costs")
    op.drop_table("funding_shares")
