"""Eigene Fristen on a real database (SQLite file and PostgreSQL): the district
coordination sets its own dates, each agency marks them done, the same views (Fristen
page, overview, CLI JSON) show them -- and refusals that change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from ia_events.core.access import Actor
from ia_events.core.errors import Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, AuditEvent, CustomDeadline, DeadlineStatus, Role
from ia_events.planning import deadlines

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
TODAY = date(2026, 12, 5)


@pytest.fixture
def world(inst: Installation):  # type: ignore[no-untyped-def]
    """Two agencies, a specialist for each, the district coordination."""
    with inst.db.write() as s:
        a = Agency(slug="essen", name="IA Essen", carrier="T", city="Essen")
        b = Agency(slug="kleve", name="IA Kleve", carrier="T", city="Kleve")
        s.add_all([a, b])
        s.flush()
        ids = (a.id, b.id)
    fk = Actor("fk-essen", Role.specialist, agency_id=ids[0])
    other = Actor("fk-kleve", Role.specialist, agency_id=ids[1])
    coord = Actor("koordination", Role.coordinator)
    return inst, fk, other, coord


def _count(inst: Installation, model) -> int:  # type: ignore[no-untyped-def]
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _actions(inst: Installation) -> list[str]:
    with inst.db.read() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_coordinator_sets_one_for_all_and_each_agency_marks_it_done(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, coord = world
    with inst.db.write() as s, pytest.raises(Forbidden):
        deadlines.add_custom(
            s, fk, title="Eigene", due_on=date(2026, 12, 15), funding_year=2026, now=NOW
        )
    with inst.db.write() as s, pytest.raises(InvalidInput):
        deadlines.add_custom(
            s, coord, title="  ", due_on=date(2026, 12, 15), funding_year=2026, now=NOW
        )
    assert _count(inst, CustomDeadline) == 0
    with inst.db.write() as s:
        made = deadlines.add_custom(
            s,
            coord,
            title="Teilnehmerlisten des Jahres vollständig",
            due_on=date(2026, 12, 15),
            funding_year=2026,
            note="Alle Listen versiegelt.",
            now=NOW,
        )
    assert made.is_custom and made.custom_id
    with inst.db.read() as s:
        rows = [r for r in deadlines.for_year(s, coord, 2026) if r.deadline.is_custom]
        own = [r for r in deadlines.for_year(s, other, 2026) if r.deadline.is_custom]
        soon = deadlines.upcoming(s, fk, "essen", today=TODAY, days=14)
    assert {r.agency_slug for r in rows} == {"essen", "kleve"}
    assert [r.agency_slug for r in own] == ["kleve"]  # a specialist sees her own agency only
    assert all(r.state(TODAY) == "due_soon" and r.status(TODAY) == "open" for r in rows)
    assert rows[0].state_label(TODAY) == "bald fällig"
    assert any(r.deadline.custom_id == made.custom_id for r in soon)
    as_json = rows[0].as_json(TODAY)
    assert as_json["kind"] == "custom" and as_json["status"] == "open"
    assert as_json["due_soon"] is True and as_json["custom_id"] == made.custom_id
    assert as_json["due"] == "2026-12-15" and as_json["title"].startswith("Teilnehmerlisten")

    with pytest.raises(NotFound):  # another agency's specialist cannot mark it for essen
        deadlines.complete_custom(inst, other, agency_slug="essen", deadline_id=made.custom_id)
    assert _count(inst, DeadlineStatus) == 0
    view = deadlines.complete_custom(
        inst,
        fk,
        agency_slug="essen",
        deadline_id=made.custom_id or 0,
        filename="listen.pdf",
        content=b"%PDF-1.4 Listen",
        media_type="application/pdf",
        note="Alles hochgeladen",
        now=datetime(2026, 12, 4, 10, tzinfo=UTC),
    )
    assert view.submitted and view.evidence_id
    with inst.db.read() as s:
        rows = {
            r.agency_slug: r for r in deadlines.for_year(s, coord, 2026) if r.deadline.is_custom
        }
        overview = deadlines.custom_overview(s, coord, 2026, today=TODAY)
    assert rows["essen"].state(TODAY) == "done" and rows["essen"].state_label(TODAY) == "erledigt"
    assert rows["essen"].status(TODAY) == "submitted"  # the CLI's word
    assert rows["kleve"].state(TODAY) == "due_soon"
    assert rows["kleve"].state(date(2026, 12, 16)) == "overdue"
    assert [(d.custom_id, done, total) for d, done, total in overview] == [(made.custom_id, 1, 2)]
    from ia_events.archive import evidence

    _name, _media, data = evidence.read_content(inst, coord, view.evidence_id or 0)
    assert data == b"%PDF-1.4 Listen"
    # without a document: done all the same
    deadlines.complete_custom(inst, other, agency_slug="kleve", deadline_id=made.custom_id or 0)
    with inst.db.read() as s:
        kleve = [r for r in deadlines.for_year(s, other, 2026) if r.deadline.is_custom]
    assert kleve[0].submitted and kleve[0].evidence_id is None

    with inst.db.write() as s, pytest.raises(Forbidden):
        deadlines.withdraw_custom(s, fk, made.custom_id or 0)
    with inst.db.write() as s:
        deadlines.withdraw_custom(s, coord, made.custom_id or 0, now=NOW)
    with inst.db.read() as s:
        assert not [r for r in deadlines.for_year(s, coord, 2026) if r.deadline.is_custom]
    with pytest.raises(NotFound):
        deadlines.complete_custom(inst, fk, agency_slug="essen", deadline_id=made.custom_id or 0)
    actions = _actions(inst)
    assert actions.count("deadline:add") == 1 and actions.count("deadline:done") == 2
    assert actions.count("deadline:withdraw") == 1


def test_a_deadline_for_selected_agencies_concerns_only_them(world) -> None:  # type: ignore[no-untyped-def]
    inst, _fk, other, coord = world
    with inst.db.write() as s, pytest.raises(NotFound):
        deadlines.add_custom(
            s,
            coord,
            title="Fördermittelabruf 2. Halbjahr",
            due_on=date(2027, 1, 10),
            funding_year=2026,
            agency_slugs=["gibt-es-nicht"],
        )
    with inst.db.write() as s:
        made = deadlines.add_custom(
            s,
            coord,
            title="Fördermittelabruf 2. Halbjahr",
            due_on=date(2027, 1, 10),
            funding_year=2026,
            agency_slugs=["essen"],
            now=NOW,
        )
    with inst.db.read() as s:
        all_rows = [r for r in deadlines.for_year(s, coord, 2026) if r.deadline.is_custom]
        kleve = [r for r in deadlines.for_year(s, other, 2026) if r.deadline.is_custom]
        later = deadlines.upcoming(s, coord, today=TODAY, days=60)
    assert [r.agency_slug for r in all_rows] == ["essen"]
    assert kleve == []
    assert [r.agency_slug for r in later if r.deadline.is_custom] == ["essen"]
    assert all_rows[0].state(TODAY) == "open"  # 36 days ahead: offen, not bald fällig
    with pytest.raises(NotFound):  # not kleve's deadline: like an unknown id
        deadlines.complete_custom(inst, other, agency_slug="kleve", deadline_id=made.custom_id or 0)
    assert _count(inst, DeadlineStatus) == 0


def test_rule_deadlines_get_the_due_soon_state_too(world) -> None:  # type: ignore[no-untyped-def]
    inst, _fk, _other, coord = world
    with inst.db.read() as s:
        rows = deadlines.for_year(s, coord, 2026)
    mittel = next(r for r in rows if r.deadline.kind == "mittel_controlling")  # 30.09.2026
    assert mittel.state(date(2026, 9, 16)) == "due_soon"
    assert mittel.state(date(2026, 9, 15)) == "open"
    assert mittel.state(date(2026, 10, 1)) == "overdue"
    assert mittel.as_json(date(2026, 9, 20))["status"] == "open"
    assert mittel.as_json(date(2026, 9, 20))["due_soon"] is True
