"""Issue 19, the gaps: several contact persons per partner (sealed at rest, tenancy,
merge, multipliers on contacts), the migration of the one old contact, the new partner
types, and funding shares on an opening process -- on a real SQLite file and on
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from ia_events.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    AuditEvent,
    FundingShare,
    Multiplier,
    OpeningProcess,
    PartnerContact,
    TaskPlan,
    opening_process_subgoals,
)
from ia_events.network import funding, multipliers, partners, processes
from ia_events.privacy.personal import seal_text
from ia_events.reporting import controlling
from storage.db import UTCDateTime, is_sqlite, run_migrations
from tests.factories import World, build

NAME = "Dr. Kontakta Versiegelt-Test"
PHONE = "0201 98765432"
EMAIL = "kontakta.versiegelt@partner.example"
LAND = "Integrationsagentur-Förderung (Land NRW)"
OWN = "Eigenanteil des Trägers"


@pytest.fixture
def world(inst: Installation) -> tuple[Installation, World]:
    return inst, build(inst, year=2025)


def _partner(inst: Installation, w: World, name: str = "Jobcenter Essen", slug: str = "essen"):  # type: ignore[no-untyped-def]
    actor = w.fk_essen if slug == "essen" else w.fk_kleve
    with inst.db.write() as s:
        return partners.create_partner(
            s, inst.keys, actor, agency_slug=slug, name=name, type="Jobcenter"
        ).id


def _database_bytes(inst: Installation) -> bytes:
    """Everything SQLite wrote to disk (file and write-ahead log)."""
    path = Path(inst.settings.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_several_contacts_sealed_at_rest_edited_and_removed(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    fk = w.fk_essen
    pid = _partner(inst, w)
    with inst.db.write() as s:
        lead = partners.add_contact(
            s, inst.keys, fk, pid, name=NAME, role="Leitung", phone=PHONE, email=EMAIL
        ).id
        mailbox = partners.add_contact(
            s, inst.keys, fk, pid, role="Integrationsbeauftragte", email="team@jc.example"
        ).id
    with inst.db.read() as s:
        listed = partners.list_contacts(s, inst.keys, fk, pid)
        assert [(c.id, c.name, c.role, c.phone, c.email) for c in listed] == [
            (lead, NAME, "Leitung", PHONE, EMAIL),
            (mailbox, "", "Integrationsbeauftragte", "", "team@jc.example"),
        ]
        assert [c.label for c in listed] == [f"{NAME} (Leitung)", "Integrationsbeauftragte"]
        row = s.get(PartnerContact, lead)
        assert row is not None and row.name_enc and row.phone_enc and row.email_enc
        for sealed in (row.name_enc, row.phone_enc, row.email_enc):
            assert b"Versiegelt" not in sealed and b"98765432" not in sealed
        # The coordinator of all agencies sees how many, not who.
        assert partners.contact_counts(s, w.coordinator) == {pid: 2}
        with pytest.raises(Forbidden):
            partners.list_contacts(s, inst.keys, w.coordinator, pid)
    if is_sqlite(inst.db.engine):  # the plaintext is nowhere in the database file
        raw = _database_bytes(inst)
        assert NAME.encode() not in raw and PHONE.encode() not in raw
        assert EMAIL.encode() not in raw

    # Only the name, or a mailbox or a number alone; bad input changes nothing.
    for kw in (
        {"role": "Leitung"},
        {"name": "  "},
        {"name": "X", "email": "keine-adresse"},
        {"name": "X", "phone": "bitte anrufen"},
    ):
        with inst.db.write() as s, pytest.raises(InvalidInput):
            partners.add_contact(s, inst.keys, fk, pid, **kw)
    with inst.db.write() as s:
        partners.update_contact(s, inst.keys, fk, lead, name=NAME, role="Leitung", phone="")
    with inst.db.read() as s:
        assert s.scalar(select(PartnerContact.phone_enc).where(PartnerContact.id == lead)) is None
        assert s.scalar(select(PartnerContact.email_enc).where(PartnerContact.id == lead)) is None

    with inst.db.write() as s:
        multipliers.mark_partner_contact(s, fk, lead)
        partners.remove_contact(s, fk, lead)
    with inst.db.read() as s:
        assert s.get(PartnerContact, lead) is None
        assert s.scalar(select(func.count()).select_from(Multiplier)) == 0  # the mark went too
        assert [c.id for c in partners.list_contacts(s, inst.keys, fk, pid)] == [mailbox]
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.object_type == "partner_contact"))
        )
    assert [e.action for e in events] == [
        "partner:contact-add",
        "partner:contact-add",
        "partner:contact-change",
        "partner:contact-remove",
    ]
    assert events[2].details["fields"] == ["phone", "email"]
    dumped = json.dumps([e.details for e in events], ensure_ascii=False)
    assert "Kontakta" not in dumped and "jc.example" not in dumped and "0201" not in dumped


def test_another_agencys_contact_is_unknown(world: tuple[Installation, World]) -> None:
    inst, w = world
    essen = _partner(inst, w)
    kleve = _partner(inst, w, "Jobcenter Kleve", "kleve")
    with inst.db.write() as s:
        contact = partners.add_contact(s, inst.keys, w.fk_kleve, kleve, name="Herr Kleve").id
    for call in (
        lambda s: partners.list_contacts(s, inst.keys, w.fk_essen, kleve),
        lambda s: partners.add_contact(s, inst.keys, w.fk_essen, kleve, name="X"),
        lambda s: partners.update_contact(s, inst.keys, w.fk_essen, contact, name="X"),
        lambda s: partners.remove_contact(s, w.fk_essen, contact),
        lambda s: multipliers.mark_partner_contact(s, w.fk_essen, contact),
        lambda s: partners.remove_contact(s, w.fk_essen, 999999),
    ):
        with inst.db.write() as s, pytest.raises(NotFound):
            call(s)
    with inst.db.read() as s:
        assert partners.contact_counts(s, w.fk_essen) == {}
        assert partners.contact_counts(s, w.fk_kleve) == {kleve: 1}
        assert [c.name for c in partners.list_contacts(s, inst.keys, w.fk_kleve, kleve)] == [
            "Herr Kleve"
        ]
    with inst.db.write() as s:
        partners.archive_partner(s, w.fk_essen, essen)
    with inst.db.write() as s, pytest.raises(Conflict):
        partners.add_contact(s, inst.keys, w.fk_essen, essen, name="Neu")


def test_merge_moves_contacts_and_marks_and_both_count(world: tuple[Installation, World]) -> None:
    inst, w = world
    fk = w.fk_essen
    keep = _partner(inst, w, "AWO Essen e. V.")
    drop = _partner(inst, w, "AWO Essen")
    with inst.db.write() as s:
        a = partners.add_contact(s, inst.keys, fk, keep, name="Frau Alt").id
        b = partners.add_contact(s, inst.keys, fk, drop, name="Herr Neu", phone="0201 1").id
        multipliers.mark_partner_contact(s, fk, a)
        multipliers.mark_partner_contact(s, fk, b, since=date(2025, 3, 1))
    with inst.db.read() as s:
        before = controlling.figures(s, fk, w.year, "essen")[0].rows[0].multipliers
    with inst.db.write() as s:
        partners.merge_partners(s, inst.keys, fk, keep, drop)
    with inst.db.read() as s:
        moved = partners.list_contacts(s, inst.keys, fk, keep)
        assert [(c.id, c.name, c.multiplier) for c in moved] == [
            (a, "Frau Alt", True),
            (b, "Herr Neu", True),
        ]
        assert moved[1].phone == "0201 1" and moved[1].multiplier_since == date(2025, 3, 1)
        assert partners.list_contacts(s, inst.keys, fk, drop) == []
        after = controlling.figures(s, fk, w.year, "essen")[0].rows[0].multipliers
    assert before == after == 2  # two marked contact persons: two multipliers


def test_new_partner_types_are_offered_and_stored(world: tuple[Installation, World]) -> None:
    inst, w = world
    assert {"Unternehmen", "Medien", "Politik/Verwaltung"} <= set(partners.PARTNER_TYPES)
    assert "Kommune/Verwaltung" not in partners.PARTNER_TYPES
    with inst.db.write() as s:
        for name, kind in (("Bäckerei Korn GmbH", "Unternehmen"), ("Radio Ruhr", "Medien")):
            partners.create_partner(s, inst.keys, w.fk_essen, agency_slug="essen", name=name,
                                    type=kind)  # fmt: skip
    with inst.db.read() as s:
        assert {p.type for p in partners.list_partners(s, w.fk_essen)} == {"Unternehmen", "Medien"}
    # The database refuses an unknown label even past the service (the CHECK).
    with pytest.raises(sa.exc.IntegrityError), inst.db.write() as s:
        s.execute(
            sa.text(
                "INSERT INTO partners (agency_id, name, type, place, created_at) "
                "VALUES (:a, 'X', 'Kommune/Verwaltung', '', :t)"
            ).bindparams(sa.bindparam("t", type_=UTCDateTime())),
            {"a": w.essen, "t": datetime(2025, 1, 1, tzinfo=UTC)},
        )


# -- funding on a process -------------------------------------------------------------------


def _process(inst: Installation, w: World) -> int:
    pid = _partner(inst, w, "Stadtbibliothek")
    with inst.db.read() as s:
        goal = s.scalar(
            select(opening_process_subgoals.c.subgoal_id).limit(1)
        )  # none yet: link the first sub-goal of Essen's plan
        plan = s.scalar(select(TaskPlan.id).where(TaskPlan.agency_id == w.essen))
    assert goal is None and plan is not None
    with inst.db.write() as s:
        return processes.create_process(
            s, w.fk_essen, agency_slug="essen", partner_id=pid, title="Öffnung Bibliothek",
            started_on=date(w.year, 3, 1), subgoal_ids=[w.subgoals[0]],
        ).id  # fmt: skip


def test_funding_on_a_process_overview_over_assignment_and_controlling(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    fk = w.fk_essen
    proc = _process(inst, w)
    with inst.db.read() as s:
        act = s.scalar(
            select(Activity.id).where(
                Activity.agency_id == w.essen, Activity.funding_year == w.year
            )
        )
    assert act is not None
    with inst.db.write() as s:
        funding.add_funding(s, inst.keys, fk, act, source=LAND, amount="1000")
        funding.add_funding(s, inst.keys, fk, process_id=proc, source="Aktion Mensch",
                            amount="800", note="Zusage vom März")  # fmt: skip
        funding.add_funding(s, inst.keys, fk, process_id=proc, source=OWN, amount="100")
        funding.set_total_cost(s, fk, None, "850", process_id=proc)
    with inst.db.read() as s:
        view = funding.process_funding(s, inst.keys, fk, proc)
        assert view.process_id == proc and view.activity_id is None and view.kind != "Angebot"
        assert [(line.source, line.amount_cents) for line in view.lines] == [
            ("Aktion Mensch", 80_000),
            (OWN, 10_000),
        ]
        assert view.lines[0].note == "Zusage vom März"
        assert view.over_assigned and view.excess_cents == 5_000
        ov = funding.overview(s, fk, "essen", w.year)
        assert ov.by_source[LAND] == 100_000 and ov.by_source["Aktion Mensch"] == 80_000
        assert ov.total_cents == 190_000 and ov.own_share_cents == 10_000
        assert not ov.own_share_met  # 100 € of 1.900 €: under 10 %
        assert ov.as_json()["over_assigned_process_ids"] == [proc]
        assert ov.as_json()["over_assigned_activity_ids"] == []
        rows = {(r.level, r.key): r for r in controlling.figures(s, fk, w.year, "essen")[0].rows}
    # The process's money counts in the total and on its sub-goal (like the process:
    # network work has no row per field of action).
    total = next(r for (level, _), r in rows.items() if level == "Gesamt")
    assert total.funding_cents["Aktion Mensch"] == 80_000 and total.funding_total_cents == 190_000
    assert all(
        r.funding_cents.get("Aktion Mensch", 0) == 0
        for (level, _), r in rows.items()
        if level == "Handlungsfeld"
    )
    assert rows[("Teilziel", str(w.subgoals[0]))].funding_cents["Aktion Mensch"] == 80_000

    # Tenancy: Kleve's staff cannot see or fund Essen's process; exactly one target.
    for call, error in (
        (lambda s: funding.process_funding(s, inst.keys, w.fk_kleve, proc), NotFound),
        (
            lambda s: funding.add_funding(s, inst.keys, w.fk_kleve, process_id=proc, source=OWN),
            NotFound,
        ),
        (lambda s: funding.set_total_cost(s, w.fk_kleve, None, "1", process_id=proc), NotFound),
        (
            lambda s: funding.add_funding(s, inst.keys, fk, act, process_id=proc, source=OWN),
            InvalidInput,
        ),
        (lambda s: funding.add_funding(s, inst.keys, fk, source=OWN), InvalidInput),
    ):
        with inst.db.write() as s, pytest.raises(error):
            call(s)
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(FundingShare)) == 3
    # Exactly one of activity and process, also past the service (the CHECK).
    with pytest.raises(sa.exc.IntegrityError), inst.db.write() as s:
        s.add(FundingShare(agency_id=w.essen, funding_year=w.year, source=OWN, amount_cents=1))
        s.flush()

    # Removing a share of the process; the process gone takes its shares with it.
    with inst.db.write() as s:
        share = s.scalar(select(FundingShare.id).where(FundingShare.process_id == proc))
        assert share is not None
        funding.remove_funding(s, fk, share)
    with inst.db.read() as s:
        view = funding.process_funding(s, inst.keys, fk, proc)
        assert [line.source for line in view.lines] == [OWN] and not view.over_assigned
        assert s.get(OpeningProcess, proc) is not None


# -- the migration of the one old contact -----------------------------------------------------


def _alembic(inst: Installation, command_name: str, revision: str) -> None:
    run_migrations(inst.db.engine, command_name, revision)


def test_migration_moves_the_old_contact_and_the_marks(world: tuple[Installation, World]) -> None:
    inst, w = world
    fk = w.fk_essen
    with inst.db.read() as s:
        act = s.scalar(select(Activity.id).where(Activity.agency_id == w.essen))
    _alembic(inst, "downgrade", "i19_meetings")
    t = UTCDateTime()
    partners_t = sa.table(
        "partners",
        sa.column("id", sa.Integer), sa.column("agency_id", sa.Integer),
        sa.column("name", sa.String), sa.column("type", sa.String), sa.column("place", sa.Text),
        sa.column("contact_enc", sa.LargeBinary), sa.column("created_at", t),
    )  # fmt: skip
    created = datetime(2024, 5, 1, tzinfo=UTC)
    with inst.db.write() as s:
        sealed = seal_text(s, inst.keys, w.essen, "Frau Alt-Kontakt, 0201 555", "partner-contact")
        for pid, name, kind, contact in (
            (901, "Stadtverwaltung Essen", "Kommune/Verwaltung", sealed),
            (902, "Sportbund Essen", "Verein", None),
            (903, "Tafel Essen", "Verein", None),
        ):
            s.execute(
                sa.insert(partners_t).values(
                    id=pid, agency_id=w.essen, name=name, type=kind, place="Essen",
                    contact_enc=contact, created_at=created,
                )
            )  # fmt: skip
        s.execute(sa.text("INSERT INTO partner_activities VALUES (901, :a)"), {"a": act})
        s.execute(
            sa.text(
                "INSERT INTO opening_processes (agency_id, funding_year, partner_id, title, "
                "started_on, status, outcome, created_at) VALUES "
                "(:a, 2025, 901, 'IKÖ Verwaltung', :d, 'läuft', '', :t)"
            ).bindparams(sa.bindparam("t", type_=t)),
            {"a": w.essen, "d": date(2025, 2, 1), "t": created},
        )
        mark = sa.text(
            "INSERT INTO multipliers (agency_id, partner_id, since, created_at) "
            "VALUES (:a, :p, NULL, :t)"
        ).bindparams(sa.bindparam("t", type_=t))
        s.execute(mark, {"a": w.essen, "p": 901, "t": created})
        s.execute(mark, {"a": w.essen, "p": 902, "t": created})  # marked, no contact
    _alembic(inst, "upgrade", "head")

    with inst.db.read() as s:
        listed = {p.id: p for p in partners.list_partners(s, fk, "essen")}
        assert listed[901].type == "Politik/Verwaltung" and listed[901].activity_ids == [act]
        old = partners.list_contacts(s, inst.keys, fk, 901)
        assert [(c.name, c.role, c.multiplier) for c in old] == [
            ("Frau Alt-Kontakt, 0201 555", "", True)
        ]
        placeholder = partners.list_contacts(s, inst.keys, fk, 902)
        assert [(c.name, c.role, c.multiplier, c.label) for c in placeholder] == [
            ("", "Kontakt", True, "Kontakt")
        ]
        assert partners.list_contacts(s, inst.keys, fk, 903) == []
        assert s.scalar(select(OpeningProcess.partner_id)) == 901  # the process kept its partner
        assert controlling.figures(s, fk, w.year, "essen")[0].rows[0].multipliers == 2
        assert "contact_enc" not in {
            c["name"] for c in sa.inspect(s.connection()).get_columns("partners")
        }
