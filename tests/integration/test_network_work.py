"""Network work on a real database (SQLite file and PostgreSQL): meetings with their
Protokoll, opening processes, counselling counts and lendings; tenancy, bad input, the
Facharbeitskreis shortfall on the coordinator's overview, the sub-goal progress and the
controlling figures, and ``ia-events list meetings --json``."""

from __future__ import annotations

import json
from datetime import date, time

import pytest
from sqlalchemy import select, update

from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import AuditEvent, CounsellingCount, Evidence, SubGoal
from ia_events.inspection import completeness
from ia_events.network import meetings, partners, processes
from ia_events.reporting import controlling
from ia_events.reporting.progress import progress_for_agency
from tests.factories import PDF, World, build
from tests.integration.test_cli import ia

WG = "Facharbeitskreis"


@pytest.fixture
def world(inst: Installation) -> tuple[Installation, World]:
    return inst, build(inst, year=2025)


def _partner(inst: Installation, w: World, slug: str = "essen", name: str = "KI Essen") -> int:
    actor = w.fk_essen if slug == "essen" else w.fk_kleve
    with inst.db.write() as s:
        return partners.create_partner(
            s, inst.keys, actor, agency_slug=slug, name=name, type="Verein"
        ).id


def _meeting(inst: Installation, w: World, **kw: object) -> list[int]:
    args: dict[str, object] = {
        "agency_slug": "essen",
        "kind": WG,
        "title": "AK Integration",
        "on": date(2025, 2, 4),
        "start": time(10),
        "end": time(12),
    }
    args.update(kw)
    with inst.db.write() as s:
        return [m.id for m in meetings.create_meeting(s, w.fk_essen, **args)]  # type: ignore[arg-type]


def _indicator(inst: Installation, subgoal_id: int, indicator: str) -> None:
    with inst.db.write() as s:
        s.execute(update(SubGoal).where(SubGoal.id == subgoal_id).values(indicator=indicator))


def _actual(inst: Installation, w: World, subgoal_id: int) -> float:
    with inst.db.read() as s:
        return next(p.actual for p in progress_for_agency(s, w.essen, 2025) if p.id == subgoal_id)


def test_meeting_series_minutes_shortfall_and_counts(world: tuple[Installation, World]) -> None:
    inst, w = world
    pid = _partner(inst, w)
    goal = w.subgoals[0]
    _indicator(inst, goal, "meetings")
    # A monthly series across the change to summer time keeps its local time.
    ids = _meeting(
        inst,
        w,
        partner_ids=[pid],
        subgoal_ids=[goal],
        every_months=1,
        until=date(2025, 4, 30),
        agenda="1. Bericht\n2. Planung",
    )
    assert len(ids) == 3
    with inst.db.read() as s:
        rows = meetings.list_meetings(s, w.fk_essen, "essen", 2025)
    assert [m.starts_at.hour for m in rows] == [9, 9, 8]  # 10:00 Berlin, CET then CEST
    assert {m.series_id for m in rows} == {ids[0]} and rows[0].partner_ids == [pid]
    assert _actual(inst, w, goal) == 3

    # One cancelled: the count and the overview move; two held is a shortfall.
    with inst.db.write() as s:
        meetings.cancel_meeting(s, w.fk_essen, ids[2])
    assert _actual(inst, w, goal) == 2
    with inst.db.read() as s:
        overview = {r.slug: r for r in completeness.overview(s, w.coordinator, 2025)}
        tree = completeness.inspect(s, w.coordinator, "essen", 2025)
    assert overview["essen"].working_groups_held == 2
    assert overview["essen"].working_groups_short == 1
    assert overview["kleve"].working_groups_short == 3
    short = [f for f in tree.findings if f.code == "working_groups_short"]
    assert short and short[0].severity == "warning" and "2 von mindestens 3" in short[0].text
    _meeting(inst, w, on=date(2025, 9, 9))
    with inst.db.read() as s:
        tree = completeness.inspect(s, w.coordinator, "essen", 2025)
    assert not [f for f in tree.findings if f.code == "working_groups_short"]

    # The Protokoll: an evidence item of kind "minutes", linked to the meeting's sub-goals.
    view = meetings.attach_minutes(inst, w.fk_essen, ids[0], "protokoll.pdf", PDF)
    assert view.kind == "minutes" and view.subgoal_ids == (goal,)
    assert view.retention_until == date(2035, 12, 31)
    with inst.db.read() as s:
        rows = meetings.list_meetings(s, w.coordinator, "essen", 2025)
        assert rows[0].minutes_evidence_ids == [view.id]
        assert s.get(Evidence, view.id).doc_date == date(2025, 2, 4)  # type: ignore[union-attr]
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"meeting:add", "meeting:cancel", "meeting:minutes", "evidence:add"} <= actions
    with pytest.raises(Conflict):
        meetings.attach_minutes(inst, w.fk_essen, ids[2], "p.pdf", PDF)

    # Controlling: the held meetings in total and on the sub-goal.
    with inst.db.read() as s:
        data = controlling.figures(s, w.coordinator, 2025, "essen")
    total = data[0].rows[0]
    assert total.meetings == 3
    by_goal = next(r for r in data[0].rows if r.key == str(goal))
    assert by_goal.meetings == 2
    assert controlling.HEADERS[-4:] == [
        "Sitzungen",
        "Öffnungsprozesse",
        "Beratungsfälle",
        "Ausleihen",
    ]
    assert total.as_json()["meetings"] == 3

    # The CLI's JSON.
    data_dir, url = inst.settings.data_dir, inst.settings.database_url
    out = json.loads(
        ia(
            data_dir, "list", "meetings", "--agency", "essen", "--year", "2025", "--json", url=url
        ).stdout
    )
    assert out[0] == {
        "id": ids[0],
        "date": "2025-02-04",
        "kind": WG,
        "title": "AK Integration",
        "partner_ids": [pid],
        "minutes_evidence_ids": [view.id],
    }
    assert len(out) == 4


def test_meetings_tenancy_and_bad_input(world: tuple[Installation, World]) -> None:
    inst, w = world
    kleve_partner = _partner(inst, w, "kleve", "Caritas Kleve")
    ids = _meeting(inst, w)
    with pytest.raises(NotFound):
        _meeting(inst, w, partner_ids=[kleve_partner])
    with pytest.raises(NotFound):
        _meeting(inst, w, subgoal_ids=[w.kleve_subgoal])
    with pytest.raises(InvalidInput):
        _meeting(inst, w, kind="Kaffeeklatsch")
    with pytest.raises(InvalidInput):
        _meeting(inst, w, title="")
    with pytest.raises(InvalidInput):
        _meeting(inst, w, agenda="x" * 5001)
    with pytest.raises(InvalidInput):
        _meeting(inst, w, agenda="Punkt\u202e1")
    with pytest.raises(InvalidInput):
        _meeting(inst, w, start=time(12), end=time(10))
    with pytest.raises(InvalidInput):
        _meeting(inst, w, every_weeks=1, until=date(2027, 1, 1))  # more than 60
    with inst.db.write() as s, pytest.raises(NotFound):
        meetings.cancel_meeting(s, w.fk_kleve, ids[0])
    with pytest.raises(NotFound):
        meetings.attach_minutes(inst, w.fk_kleve, ids[0], "p.pdf", PDF)
    with inst.db.read() as s:
        assert meetings.list_meetings(s, w.fk_kleve) == []
        assert len(meetings.list_meetings(s, w.coordinator)) == 1
        with pytest.raises(NotFound):
            meetings.list_meetings(s, w.fk_kleve, "essen")


def test_processes_counselling_lending(world: tuple[Installation, World]) -> None:
    inst, w = world
    pid = _partner(inst, w, name="Stadtbibliothek Essen")
    kleve_partner = _partner(inst, w, "kleve", "Caritas Kleve")
    g0, g1 = w.subgoals
    _indicator(inst, g0, "processes")
    _indicator(inst, g1, "counselling_cases")
    fk = w.fk_essen
    with inst.db.write() as s:
        proc = processes.create_process(
            s,
            fk,
            agency_slug="essen",
            partner_id=pid,
            title="Interkulturelle Öffnung der Bibliothek",
            started_on=date(2025, 1, 15),
            subgoal_ids=[g0],
        )
        processes.add_contact(s, fk, proc.id, on=date(2025, 2, 1), note="Erstgespräch Leitung")
        processes.add_contact(s, fk, proc.id, on=date(2025, 3, 5), note="Workshop mit dem Team")
        processes.set_status(s, fk, proc.id, status="abgeschlossen", outcome="Leitbild ergänzt")
        processes.add_counselling(
            s,
            fk,
            agency_slug="essen",
            year=2025,
            month=3,
            discrimination="Religion/Weltanschauung",
            outcome="weitervermittelt",
            cases=4,
            subgoal_id=g1,
        )
        wrong = processes.add_counselling(
            s,
            fk,
            agency_slug="essen",
            year=2025,
            month=4,
            discrimination="Alter",
            outcome="läuft noch",
            cases=9,
        ).id
        processes.delete_counselling(s, fk, wrong)
        lent = processes.lend(
            s,
            fk,
            agency_slug="essen",
            item="Ausstellung „Vielfalt“ (12 Plakate)",
            partner_id=pid,
            lent_on=date(2025, 5, 2),
            due_on=date(2025, 5, 30),
            subgoal_id=g0,
        ).id
        processes.mark_returned(s, fk, lent, on=date(2025, 5, 28))
    assert _actual(inst, w, g0) == 1
    assert _actual(inst, w, g1) == 4
    with inst.db.read() as s:
        procs = processes.list_processes(s, w.coordinator, "essen", 2025)
        assert [c.note for c in procs[0].contacts] == [
            "Erstgespräch Leitung",
            "Workshop mit dem Team",
        ]
        assert procs[0].status == "abgeschlossen"
        table = processes.counselling_table(processes.list_counselling(s, fk, "essen", 2025))
        assert table["Religion/Weltanschauung"]["weitervermittelt"] == 4
        assert sum(sum(v.values()) for v in table.values()) == 4
        lendings = processes.list_lendings(s, fk, "essen", 2025)
        assert lendings[0].returned_on == date(2025, 5, 28)
        data = controlling.figures(s, w.coordinator, 2025, "essen")[0].rows
        # No names in counselling: the row holds only the fixed lists and the figure.
        cols = set(CounsellingCount.__table__.columns.keys())
        assert not {c for c in cols if "name" in c or "note" in c}
    total = data[0]
    assert (total.processes, total.counselling_cases, total.lendings) == (1, 4, 1)
    be = next(r for r in data if r.key == "BE")  # both sub-goals of the factory are BE
    assert (be.processes, be.counselling_cases, be.lendings) == (1, 4, 1)

    # Tenancy and bad input.
    with inst.db.write() as s:
        with pytest.raises(NotFound):
            processes.add_contact(s, w.fk_kleve, proc.id, on=date(2025, 4, 1), note="x")
        with pytest.raises(NotFound):
            processes.lend(
                s,
                fk,
                agency_slug="essen",
                item="Koffer",
                partner_id=kleve_partner,
                lent_on=date(2025, 5, 2),
                due_on=date(2025, 5, 3),
            )
        with pytest.raises(InvalidInput):
            processes.lend(
                s,
                fk,
                agency_slug="essen",
                item="Koffer",
                partner_id=pid,
                lent_on=date(2025, 5, 2),
                due_on=date(2025, 5, 1),
            )
        with pytest.raises(InvalidInput):
            processes.add_counselling(
                s,
                fk,
                agency_slug="essen",
                year=2025,
                month=3,
                discrimination="Herr Müller",
                outcome="weitervermittelt",
                cases=1,
            )
        with pytest.raises(InvalidInput):
            processes.add_counselling(
                s,
                fk,
                agency_slug="essen",
                year=2025,
                month=13,
                discrimination="Alter",
                outcome="weitervermittelt",
                cases=1,
            )
        with pytest.raises(InvalidInput):
            processes.add_contact(s, fk, proc.id, on=date(2024, 12, 1), note="vorher")
        with pytest.raises(Conflict):
            processes.mark_returned(s, fk, lent, on=date(2025, 6, 1))
    with inst.db.read() as s:
        assert processes.list_processes(s, w.fk_kleve) == []
        assert processes.list_lendings(s, w.fk_kleve) == []
        assert processes.list_counselling(s, w.fk_kleve) == []


def test_demo_shows_the_shortfall_and_the_protokolle(demo_inst: Installation) -> None:
    from ia_events.core.access import Actor
    from ia_events.core.models import Role
    from storage.db import utcnow

    coordinator = Actor(name="koordination", role=Role.coordinator)
    last = utcnow().year - 1
    with demo_inst.db.read() as s:
        rows = {r.slug: r for r in completeness.overview(s, coordinator, last)}
        essen = meetings.list_meetings(s, coordinator, "essen", last)
        data = controlling.figures(s, coordinator, last, "kleve")[0].rows[0]
        procs = processes.list_processes(s, coordinator, "essen", last)
    assert rows["kleve"].working_groups_held == 2 and rows["kleve"].working_groups_short == 1
    assert rows["essen"].working_groups_short == 0
    assert essen[0].kind == WG and essen[0].minutes_evidence_ids
    assert data.meetings == 2 and data.counselling_cases > 0 and data.lendings == 1
    assert procs and 2 <= len(procs[0].contacts) <= 3
