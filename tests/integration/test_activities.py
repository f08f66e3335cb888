"""Whole activities on both databases: edit, cancel a series from a date on, delete
while nothing was recorded, the duplicate warning -- and another agency's ids refused
without a change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select

from ia_events.archive import evidence
from ia_events.attendance import checkin
from ia_events.core.access import Actor
from ia_events.core.errors import (
    Conflict,
    DomainError,
    DuplicateActivity,
    InvalidInput,
    NotFound,
    classify,
)
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    AuditEvent,
    CalendarFeed,
    Occurrence,
    Role,
    Shift,
)
from ia_events.planning import calendar_feeds, plans, schedule
from ia_events.planning.activities import ActivitySpec
from ia_events.planning.recurrence import SeriesRule
from ia_events.volunteers import registry, shifts
from tests.factories import PDF

NOW = datetime(2026, 2, 1, 10, tzinfo=UTC)
OP = Actor.cli("test:op")


def tuesdays(**kw) -> SeriesRule:  # type: ignore[no-untyped-def]
    return SeriesRule(
        "weekly", time(9, 30), time(12), first_day=date(2026, 1, 6), until=date(2026, 3, 31), **kw
    )


def spec(**kw) -> ActivitySpec:  # type: ignore[no-untyped-def]
    values = dict(
        agency_slug="essen",
        funding_year=2026,
        title="Nähcafé",
        type="Nähcafé",
        field="BE",
        place="Stadtteilzentrum",
        rule=tuesdays(),
    )
    values.update(kw)
    return ActivitySpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def world(inst: Installation):  # type: ignore[no-untyped-def]
    with inst.db.write() as s:
        a = Agency(slug="essen", name="IA Essen", carrier="T", city="Essen")
        b = Agency(slug="kleve", name="IA Kleve", carrier="T", city="Kleve")
        s.add_all([a, b])
        s.flush()
        ids = (a.id, b.id)
    fk = Actor("fk-essen", Role.specialist, agency_id=ids[0])
    other = Actor("fk-kleve", Role.specialist, agency_id=ids[1])
    with inst.db.write() as s:
        plan = plans.create_task_plan(
            s, fk, agency_slug="essen", funding_year=2026, topic="Begegnung", goal="Teilhabe"
        )
        g1 = plans.add_subgoal(
            s, fk, plan.id, title="Termine", field="BE", indicator="occurrences", target="20"
        )
        g2 = plans.add_subgoal(
            s, fk, plan.id, title="Personen", field="BE", indicator="participants", target="50"
        )
        res = schedule.create_series(s, fk, spec(subgoal_ids=[g1.id]))
        goals = (g1.id, g2.id)
    return inst, fk, other, res.activity_id, res.occurrence_ids, goals


def snapshot(inst: Installation, activity_id: int) -> tuple[object, ...]:
    with inst.db.read() as s:
        a = s.get(Activity, activity_id)
        occs = s.execute(
            select(Occurrence.id, Occurrence.status, Occurrence.place, Occurrence.starts_at)
            .where(Occurrence.activity_id == activity_id)
            .order_by(Occurrence.id)
        ).all()
        audits = s.scalar(select(func.count()).select_from(AuditEvent))
        if a is None:
            return (None, tuple(occs), audits)
        return (
            a.title,
            a.place,
            a.attendance_mode,
            tuple(g.id for g in a.subgoals),
            tuple(occs),
            audits,
        )


def test_edit_changes_title_place_mode_and_subgoals_and_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, act_id, occ_ids, (g1, g2) = world
    with inst.db.write() as s:
        changed = schedule.edit_activity(
            s,
            fk,
            act_id,
            spec(
                title="Nähcafé am Dienstag",
                place="Bibliothek",
                attendance_mode="anonymous",
                subgoal_ids=[g1, g2],
            ),
            now=NOW,
        )
    assert set(changed) == {"title", "place", "attendance_mode", "subgoals"}
    with inst.db.read() as s:
        view = {a.id: a for a in schedule.list_activities(s, fk, "essen")}[act_id]
        assert (view.title, view.place, view.attendance_mode) == (
            "Nähcafé am Dienstag",
            "Bibliothek",
            "anonymous",
        )
        assert view.subgoal_ids == [g1, g2]
        # Dates without their own place show the new place in the calendar.
        occ = plans.get_occurrence(s, fk, occ_ids[-1])
        assert occ.title == "Nähcafé am Dienstag" and occ.place == "Bibliothek"
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "activity:change")).one()
        assert event.object_id == str(act_id)
    # Nothing changed: no second audit event.
    with inst.db.write() as s:
        again = schedule.edit_activity(
            s,
            fk,
            act_id,
            spec(
                title="Nähcafé am Dienstag",
                place="Bibliothek",
                attendance_mode="anonymous",
                subgoal_ids=[g1, g2],
            ),
        )
    assert again == []


def test_mode_stays_once_attendance_is_recorded(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, act_id, occ_ids, (g1, _g2) = world
    with inst.db.write() as s:
        occ = s.get(Occurrence, occ_ids[0])
        assert occ is not None
        checkin.door_checkin(s, inst.keys, fk, occ.id, name="Amina", now=occ.starts_at)
    before = snapshot(inst, act_id)
    with inst.db.write() as s, pytest.raises(Conflict):
        schedule.edit_activity(s, fk, act_id, spec(attendance_mode="anonymous", subgoal_ids=[g1]))
    assert snapshot(inst, act_id) == before


def test_cancel_from_a_date_cancels_future_dates_and_leaves_past_ones(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, act_id, occ_ids, _goals = world
    with inst.db.write() as s:
        with pytest.raises(InvalidInput):
            schedule.cancel_series(s, fk, act_id, date(2026, 1, 1), "  ", now=NOW)
        # From 01.01. on, but "now" is 01.02.: January's dates were held and stay.
        ids = schedule.cancel_series(s, fk, act_id, date(2026, 1, 1), "Kursleitung fehlt", now=NOW)
    with inst.db.read() as s:
        rows = s.scalars(
            select(Occurrence).where(Occurrence.activity_id == act_id).order_by(Occurrence.id)
        ).all()
        past = [o for o in rows if o.starts_at < NOW]
        future = [o for o in rows if o.starts_at >= NOW]
        assert past and future
        assert all(o.status == "scheduled" and o.cancel_reason is None for o in past)
        assert all(o.status == "cancelled" for o in future)
        assert {o.cancel_reason for o in future} == {"Kursleitung fehlt"}
        assert sorted(ids) == sorted(o.id for o in future)
        assert all(o.token_generation == 2 for o in future)  # check-in links revoked
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "occurrence:cancel")).one()
        assert event.object_type == "activity"
    with inst.db.write() as s, pytest.raises(Conflict):
        schedule.cancel_series(s, fk, act_id, date(2026, 3, 1), "nochmal", now=NOW)
    assert len(ids) == len(occ_ids) - len(past)


def test_delete_while_nothing_recorded_removes_everything_audited(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, act_id, occ_ids, _goals = world
    with inst.db.write() as s:
        shifts.add_shift(s, fk, occ_ids[3], role="Aufbau", needed=2)
        calendar_feeds.create_feed(s, fk, "essen", "activity", act_id)
        removed = schedule.delete_activity(s, fk, act_id)
    assert removed == len(occ_ids)
    with inst.db.read() as s:
        assert s.get(Activity, act_id) is None
        assert s.scalar(select(func.count()).select_from(Occurrence)) == 0
        assert s.scalar(select(func.count()).select_from(Shift)) == 0
        assert s.scalar(select(func.count()).select_from(CalendarFeed)) == 0
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "activity:delete")).one()
        assert event.details["title"] == "Nähcafé"


@pytest.mark.parametrize("what", ["attendance", "evidence", "volunteer"])
def test_delete_is_refused_once_something_is_recorded(world, what: str) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, act_id, occ_ids, (g1, _g2) = world
    if what == "attendance":
        with inst.db.write() as s:
            occ = s.get(Occurrence, occ_ids[0])
            assert occ is not None
            checkin.door_checkin(s, inst.keys, fk, occ.id, name="Amina", now=occ.starts_at)
    elif what == "evidence":
        evidence.add_evidence(
            inst,
            fk,
            agency_slug="essen",
            funding_year=2026,
            kind="participant_list",
            filename="liste.pdf",
            content=PDF,
            occurrence_id=occ_ids[0],
            subgoal_ids=[g1],
        )
    else:
        with inst.db.write() as s:
            vol = registry.add_volunteer(
                s, inst.keys, OP, fk.agency_id, name="Hilde", consent_at=date(2026, 1, 5)
            )
            (shift,) = shifts.add_shift(s, fk, occ_ids[-1], role="Aufbau", needed=1)
            shifts.assign(s, fk, shift.id, vol.id, now=NOW)
    before = snapshot(inst, act_id)
    with inst.db.write() as s, pytest.raises(Conflict) as err:
        schedule.delete_activity(s, fk, act_id)
    sentence = classify(err.value).message
    assert "kann nicht gelöscht werden" in sentence
    assert "sagen Sie die Termine stattdessen ab" in sentence
    assert snapshot(inst, act_id) == before


def test_a_second_identical_series_is_refused_until_confirmed(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, act_id, _occ_ids, _goals = world
    before = snapshot(inst, act_id)
    with inst.db.write() as s, pytest.raises(DuplicateActivity) as err:
        # Same title (other spelling), place, weekday and time; a later start and end.
        schedule.create_series(
            s,
            fk,
            spec(
                title="  nähcafé ",
                rule=SeriesRule(
                    "weekly",
                    time(9, 30),
                    time(11),
                    first_day=date(2026, 4, 7),
                    weekdays=(1, 3),
                ),
            ),
        )
    failure = classify(err.value)
    assert failure.code == "duplicate_activity" and "Nähcafé" in failure.message
    assert "dienstags" in failure.message
    assert snapshot(inst, act_id) == before
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 1
    # Another time, place or weekday is no duplicate; a confirmed duplicate is created.
    with inst.db.write() as s:
        schedule.create_series(s, fk, spec(rule=tuesdays(weekdays=(2,))))
        schedule.create_series(s, fk, spec(place="Bibliothek"))
        twin = schedule.create_series(s, fk, spec(), allow_duplicate=True).activity_id
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 4
    # Series cancelled as a whole no longer count.
    with inst.db.write() as s:
        for gone in (act_id, twin):
            schedule.cancel_series(
                s, fk, gone, date(2026, 1, 1), "Ende", now=datetime(2026, 1, 1, tzinfo=UTC)
            )
    with inst.db.read() as s:
        assert schedule.find_duplicate(s, fk, spec()) is None
        assert schedule.find_duplicate(s, fk, spec(place="Bibliothek")) is not None


def test_another_agencys_activity_is_refused_and_nothing_changes(world) -> None:  # type: ignore[no-untyped-def]
    inst, _fk, other, act_id, _occ_ids, (g1, _g2) = world
    with inst.db.write() as s:
        mine = schedule.create_series(
            s, other, spec(agency_slug="kleve", rule=tuesdays(weekdays=(4,)))
        )
    before = snapshot(inst, act_id)
    attempts = [
        lambda s: schedule.edit_activity(s, other, act_id, spec(agency_slug="kleve", title="X")),
        lambda s: schedule.cancel_series(s, other, act_id, date(2026, 1, 1), "weg", now=NOW),
        lambda s: schedule.delete_activity(s, other, act_id),
        lambda s: schedule.find_duplicate(s, other, spec()),
    ]
    for attempt in attempts:
        with inst.db.write() as s, pytest.raises(DomainError) as err:
            attempt(s)
        assert err.value.code in ("not_found", "forbidden"), err.value
    # Essen's own sub-goal given to Kleve's edit of its own activity: unknown.
    with inst.db.write() as s, pytest.raises(NotFound):
        schedule.edit_activity(
            s, other, mine.activity_id, spec(agency_slug="kleve", subgoal_ids=[g1])
        )
    assert snapshot(inst, act_id) == before


def test_evidence_picker_lists_latest_held_dates_first_then_coming_ones(world) -> None:  # type: ignore[no-untyped-def]
    from ia_events.archive import query

    inst, fk, _other, act_id, occ_ids, (g1, _g2) = world
    with inst.db.write() as s:
        schedule.cancel_occurrence(s, fk, occ_ids[0], "Krank")
        rows = {
            o.id: o.starts_at
            for o in s.scalars(select(Occurrence).where(Occurrence.activity_id == act_id))
        }
    with inst.db.read() as s:
        links = query.link_options(s, fk, "essen", 2026, now=NOW)
    order = [i for i, _ in links.occurrences]
    held = sorted((i for i in rows if rows[i] <= NOW and i != occ_ids[0]), key=rows.get)
    coming = sorted((i for i in rows if rows[i] > NOW), key=rows.get)
    assert order == [*reversed(held), *coming, occ_ids[0]]
    labels = dict(links.occurrences)
    assert labels[order[0]].startswith("Nähcafé – 27.01.2026")  # the last Tuesday before 01.02.
    assert labels[occ_ids[0]].endswith("(abgesagt)")
    assert links.occurrence_subgoals[order[0]] == [g1]
