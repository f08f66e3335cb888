"""Planning on a real database (SQLite file and PostgreSQL): plan lifecycle, series,
occurrence edits, closures, deadlines, feeds, progress -- and refusals that change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import icalendar
import pytest
from sqlalchemy import func, select

from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Agency,
    Attendance,
    AuditEvent,
    DeadlineStatus,
    Occurrence,
    Role,
    SubGoal,
    TaskPlan,
)
from ia_events.planning import calendar_feeds, deadlines, plans, schedule
from ia_events.planning.activities import ActivitySpec
from ia_events.planning.recurrence import SeriesRule
from ia_events.reporting import progress as reports

NOW = datetime(2026, 2, 1, 10, tzinfo=UTC)


@pytest.fixture
def world(inst: Installation):  # type: ignore[no-untyped-def]
    """Two agencies, a specialist for each, a coordinator, a plan with one sub-goal."""
    with inst.db.write() as s:
        a = Agency(slug="essen", name="IA Essen", carrier="T", city="Essen")
        b = Agency(slug="kleve", name="IA Kleve", carrier="T", city="Kleve")
        s.add_all([a, b])
        s.flush()
        ids = (a.id, b.id)
    fk = Actor("fk-essen", Role.specialist, agency_id=ids[0])
    other = Actor("fk-kleve", Role.specialist, agency_id=ids[1])
    coord = Actor("koordination", Role.coordinator)
    with inst.db.write() as s:
        plan = plans.create_task_plan(
            s, fk, agency_slug="essen", funding_year=2026, topic="Begegnung", goal="Teilhabe"
        )
        goal = plans.add_subgoal(
            s,
            fk,
            plan.id,
            title="20 Nähcafé-Termine",
            field="BE",
            indicator="occurrences",
            target="20",
        )
        plan_id, goal_id = plan.id, goal.id
    return inst, fk, other, coord, plan_id, goal_id


def weekly_tuesdays(first: date = date(2026, 1, 6), **kw) -> SeriesRule:  # type: ignore[no-untyped-def]
    return SeriesRule("weekly", time(9, 30), time(12), first_day=first, **kw)


def count(inst: Installation, model) -> int:  # type: ignore[no-untyped-def]
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_plan_lifecycle_versions_and_approval(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, coord, plan_id, goal_id = world
    with inst.db.write() as s:
        with pytest.raises(Forbidden):
            plans.approve_plan(s, fk, plan_id)  # a specialist cannot approve
        with pytest.raises(Conflict):
            plans.approve_plan(s, coord, plan_id)  # still a draft
        plans.submit_plan(s, fk, plan_id, now=NOW)
    with inst.db.write() as s:
        plans.return_plan(s, coord, plan_id, "Teilziel genauer fassen")
    with inst.db.write() as s:
        # Submitted once: a change without a reason is refused, with one it is a new version.
        with pytest.raises(InvalidInput) as err:
            plans.change_subgoal(
                s, fk, goal_id, title="25 Termine", field="BE", indicator="occurrences", target=25
            )
        assert err.value.params["field"] == "Grund der Anpassung"
    with inst.db.write() as s:
        plans.change_subgoal(
            s,
            fk,
            goal_id,
            title="25 Termine",
            field="BE",
            indicator="occurrences",
            target=25,
            why="Mehr Bedarf laut Analyse",
        )
        plans.submit_plan(s, fk, plan_id, now=NOW)
        plans.approve_plan(s, coord, plan_id, now=NOW)
    with inst.db.write() as s:
        plans.update_plan(
            s, fk, plan_id, topic="Begegnung im Quartier", goal="Teilhabe", why="Neuer Stadtteil"
        )
    with inst.db.read() as s:
        plan = s.get(TaskPlan, plan_id)
        assert (plan.status, plan.version, plan.approved_version) == ("submitted", 3, 2)
        history = plans.plan_history(s, coord, plan_id)
    assert [v.version for v in history] == [3, 2, 1]
    assert history[0].reason == "Neuer Stadtteil" and history[0].changed_by == "fk-essen"
    assert "Thema geändert" in history[0].changes
    assert any("Zielwert 20 → 25" in c for c in history[1].changes)
    with inst.db.read() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == str(plan_id))
        ).all()
    assert {"plan:submit", "plan:return", "plan:approve", "plan:change"} <= set(actions)


def test_another_agencys_plan_is_not_found_and_nothing_changes(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, _coord, plan_id, _goal_id = world
    events = count(inst, AuditEvent)
    with inst.db.write() as s, pytest.raises(NotFound):
        plans.update_plan(s, other, plan_id, topic="Fremd", goal="x")
    with inst.db.write() as s, pytest.raises(NotFound):
        plans.add_subgoal(s, other, plan_id, title="x", field="BE", indicator="manual", target=1)
    with inst.db.read() as s, pytest.raises(NotFound):
        plans.get_plan(s, other, "essen", 2026)
    with inst.db.write() as s, pytest.raises(InvalidInput) as err:
        plans.add_subgoal(s, fk, plan_id, title="x", field="BE", indicator="manual", target="viele")
    assert err.value.params["field"] == "Zielwert"
    with inst.db.write() as s, pytest.raises(InvalidInput):
        plans.add_subgoal(s, fk, plan_id, title="x", field="BE", indicator="manual", target="nan")
    assert count(inst, AuditEvent) == events
    assert count(inst, SubGoal) == 1
    with inst.db.read() as s:
        assert s.get(TaskPlan, plan_id).topic == "Begegnung"


def test_series_skips_holidays_and_closures_and_feeds_progress(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, _coord, _plan_id, goal_id = world
    with inst.db.write() as s:
        schedule.add_closure(
            s, fk, "essen", date(2026, 7, 20), date(2026, 8, 7), "Sommerpause", now=NOW
        )
        result = schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=weekly_tuesdays(),
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
                subgoal_ids=[goal_id],
                partners=["Bibliothek", " "],
            ),
        )
    # 52 Tuesdays in 2026 from 06.01.; 3 in the summer closure; no NRW holiday on a Tuesday.
    assert len(result.occurrence_ids) == 49
    assert [k.reason for k in result.expansion.skipped] == ["Schließzeit: Sommerpause"] * 3
    with inst.db.read() as s:
        starts = s.scalars(
            select(Occurrence.starts_at).where(Occurrence.activity_id == result.activity_id)
        ).all()
        assert {st.astimezone(UTC).hour for st in starts} == {8, 7}  # CET and CEST, 09:30 local
        progress = reports.subgoal_progress(
            s, fk, "essen", 2026, now=datetime(2026, 3, 1, tzinfo=UTC)
        )
    assert (progress[0].target, progress[0].actual) == (20, 8)  # 8 Tuesdays held by 01.03.
    assert progress[0].as_json()["actual"] == 8


def test_edit_one_then_all_future_and_cancel(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, _coord, _plan_id, _goal_id = world
    with inst.db.write() as s:
        ids = schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=weekly_tuesdays(until=date(2026, 3, 31)),
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
            ),
        ).occurrence_ids
    first, second, third = ids[5], ids[6], ids[7]  # 10.02., 17.02., 24.02.
    from ia_events.planning.recurrence import local

    with inst.db.write() as s:
        schedule.edit_occurrence(
            s,
            fk,
            second,
            starts_at=local(date(2026, 2, 18), time(10)),
            ends_at=local(date(2026, 2, 18), time(12)),
            place="Bibliothek",
        )
    with inst.db.write() as s:
        changed = schedule.edit_future(
            s, fk, first, start_time=time(15), end_time=time(17), now=NOW
        )
    assert second not in changed and first in changed and third in changed
    with inst.db.read() as s:
        o2, o3 = s.get(Occurrence, second), s.get(Occurrence, third)
        assert (o2.starts_at.astimezone(UTC).hour, o2.place) == (9, "Bibliothek")  # detached
        assert o3.starts_at.astimezone(UTC).hour == 14  # 15:00 CET
    with inst.db.write() as s, pytest.raises(InvalidInput):
        schedule.cancel_occurrence(s, fk, third, "  ")
    with inst.db.write() as s, pytest.raises(NotFound):
        schedule.cancel_occurrence(s, other, third, "fremd")
    with inst.db.write() as s:
        schedule.cancel_occurrence(s, fk, third, "Raum belegt")
    with inst.db.read() as s:
        o3 = s.get(Occurrence, third)
        assert (o3.status, o3.cancel_reason, o3.token_generation) == ("cancelled", "Raum belegt", 2)
    with inst.db.write() as s, pytest.raises(InvalidInput):
        schedule.edit_occurrence(
            s,
            fk,
            first,
            starts_at=local(date(2026, 2, 10), time(12)),
            ends_at=local(date(2026, 2, 10), time(11)),
        )


def test_end_before_start_creates_nothing(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, *_ = world
    before = count(inst, AuditEvent)
    with inst.db.write() as s, pytest.raises(InvalidInput) as err:
        schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=SeriesRule("single", time(14), time(12), first_day=date(2026, 5, 5)),
                title="Fest",
                type="Fest/Begegnung",
                field="SRO",
            ),
        )
    assert err.value.params["field"] == "Ende"
    assert count(inst, Occurrence) == 0 and count(inst, AuditEvent) == before


def test_closure_added_later_cancels_future_dates_only(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, *_ = world
    with inst.db.write() as s:
        schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=weekly_tuesdays(until=date(2026, 3, 3)),
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
            ),
        )
    with inst.db.write() as s:
        _, cancelled = schedule.add_closure(
            s, fk, "essen", date(2026, 1, 1), date(2026, 2, 20), "Umbau", now=NOW
        )
    assert len(cancelled) == 3  # 03.02., 10.02., 17.02. -- January is past and stays
    with inst.db.read() as s:
        reasons = set(
            s.scalars(select(Occurrence.cancel_reason).where(Occurrence.id.in_(cancelled)))
        )
    assert reasons == {"Schließzeit: Umbau"}


def test_deadline_submission_attaches_evidence(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, coord, *_ = world
    with pytest.raises(InvalidInput):
        deadlines.submit(
            inst,
            fk,
            agency_slug="essen",
            funding_year=2027,
            kind="antrag",
            filename="a.pdf",
            content=b"%PDF-1.4",
        )
    with pytest.raises(NotFound):
        deadlines.submit(
            inst,
            other,
            agency_slug="essen",
            funding_year=2026,
            kind="sachbericht",
            filename="a.pdf",
            content=b"%PDF-1.4",
        )
    assert count(inst, DeadlineStatus) == 0
    view = deadlines.submit(
        inst,
        fk,
        agency_slug="essen",
        funding_year=2025,
        kind="sachbericht",
        filename="sachbericht-2025.pdf",
        content=b"%PDF-1.4 Sachbericht",
        media_type="application/pdf",
        now=datetime(2026, 4, 20, tzinfo=UTC),
    )
    assert view.submitted and view.evidence_id
    with inst.db.read() as s:
        rows = deadlines.for_year(s, coord, 2025)
        upcoming = deadlines.upcoming(s, fk, "essen", today=date(2026, 4, 25), days=10)
    essen = {r.deadline.kind: r for r in rows if r.agency_slug == "essen"}
    kleve = {r.deadline.kind: r for r in rows if r.agency_slug == "kleve"}
    assert essen["sachbericht"].submitted and not kleve["sachbericht"].submitted
    assert kleve["sachbericht"].state_label(date(2026, 5, 2)) == "überfällig"
    kinds = {(r.deadline.kind, r.submitted) for r in upcoming}
    assert ("online_controlling", False) in kinds and ("sachbericht", True) in kinds
    from ia_events.archive import evidence

    _name, _media, data = evidence.read_content(inst, coord, view.evidence_id)
    assert data == b"%PDF-1.4 Sachbericht"


def test_feeds_render_and_revoke(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, _coord, *_ = world
    with inst.db.write() as s:
        res = schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=weekly_tuesdays(until=date(2026, 2, 24)),
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
                place="Zentrum",
            ),
        )
        schedule.cancel_occurrence(s, fk, res.occurrence_ids[-1], "Krank")
        feed = calendar_feeds.create_feed(s, fk, "essen", "activity", res.activity_id)
        dl = calendar_feeds.create_feed(s, fk, "essen", "deadlines")
        with pytest.raises(NotFound):
            calendar_feeds.create_feed(s, other, "essen", "occurrences")
    with inst.db.read() as s:
        stored = s.scalars(
            select(func.count()).where(calendar_feeds.CalendarFeed.token_hash == feed.token)
        ).one()
        assert stored == 0  # only the hash is stored
        body = calendar_feeds.render(s, feed.token, now=NOW)
        dl_body = calendar_feeds.render(s, dl.token, now=NOW)
    cal = icalendar.Calendar.from_ical(body)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 8
    assert (
        events[0]["DTSTART"].dt.hour == 9 and str(events[0]["DTSTART"].dt.tzinfo) == "Europe/Berlin"
    )
    assert str(events[-1]["STATUS"]) == "CANCELLED"
    deadline_summaries = [
        str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(dl_body).walk("VEVENT")
    ]
    assert any("Sachbericht 2026" in x for x in deadline_summaries)
    with inst.db.write() as s:
        calendar_feeds.revoke_feed(s, fk, feed.id)
    with inst.db.read() as s:
        assert calendar_feeds.render(s, feed.token) is None
        assert calendar_feeds.render(s, "unknown-token") is None


def test_progress_counts_participants_and_distinct_names(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, coord, plan_id, _goal_id = world
    with inst.db.write() as s:
        p_goal = plans.add_subgoal(
            s, fk, plan_id, title="Teilnahmen", field="BE", indicator="participants", target=10
        )
        d_goal = plans.add_subgoal(
            s, fk, plan_id, title="Personen", field="BE", indicator="distinct_persons", target=3
        )
        res = schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=weekly_tuesdays(until=date(2026, 1, 13)),
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
                subgoal_ids=[p_goal.id, d_goal.id],
            ),
        )
        o1, o2 = res.occurrence_ids
        agency_id = fk.agency_id
        base = {"agency_id": agency_id, "funding_year": 2026, "method": "door_manual"}
        s.add_all(
            [
                Attendance(occurrence_id=o1, name_index="a", **base),
                Attendance(occurrence_id=o1, name_index="b", **base),
                Attendance(occurrence_id=o2, name_index="a", **base),
                Attendance(occurrence_id=o2, name_index="c", undone_at=NOW, **base),  # undone
                Attendance(occurrence_id=o2, count=5, **{**base, "method": "headcount"}),
            ]
        )
    with inst.db.read() as s:
        got = {
            p.title: p.actual for p in reports.subgoal_progress(s, coord, "essen", 2026, now=NOW)
        }
    assert got["Teilnahmen"] == 8 and got["Personen"] == 2
