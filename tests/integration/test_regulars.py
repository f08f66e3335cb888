"""The door's type-ahead: who came to earlier dates of a series, most frequent first,
names only for the agency's own staff (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ia_events.attendance import checkin
from ia_events.attendance.regulars import series_regulars
from ia_events.core.access import Actor
from ia_events.core.errors import Forbidden, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Attendance, Occurrence, Role
from tests.factories import World, build

WEEK = timedelta(days=7)


def _weekly(inst: Installation, w: World) -> list[int]:
    """Essen's Nähcafé on four Mondays (the first from ``build``), and another activity."""
    with inst.db.write() as s:
        first = s.get(Occurrence, w.occurrence)
        assert first is not None
        ids = [first.id]
        for n in (1, 2, 3):
            occ = Occurrence(
                activity_id=first.activity_id,
                agency_id=w.essen,
                funding_year=w.year,
                starts_at=first.starts_at + n * WEEK,
                ends_at=first.ends_at + n * WEEK,
            )
            s.add(occ)
            s.flush()
            ids.append(occ.id)
        other = Activity(
            agency_id=w.essen, funding_year=w.year, title="Sprachcafé", type="Café", field="BE"
        )
        s.add(other)
        s.flush()
        cafe = Occurrence(
            activity_id=other.id,
            agency_id=w.essen,
            funding_year=w.year,
            starts_at=first.starts_at + WEEK + timedelta(hours=3),
            ends_at=first.ends_at + WEEK + timedelta(hours=3),
        )
        s.add(cafe)
        s.flush()
        ids.append(cafe.id)
    return ids


def _in(inst: Installation, w: World, occ_id: int, name: str) -> checkin.Answer:
    with inst.db.write() as s:
        starts = s.get(Occurrence, occ_id).starts_at  # type: ignore[union-attr]
        return checkin.door_checkin(s, inst.keys, w.fk_essen, occ_id, name=name, now=starts)


@pytest.fixture
def series(inst: Installation) -> tuple[World, list[int]]:
    w = build(inst)
    ids = _weekly(inst, w)
    d1, d2, d3, today, cafe = ids
    for occ in (d1, d2, d3):
        assert _in(inst, w, occ, "Amina Yusuf").ok
    for occ in (d2, d3):
        assert _in(inst, w, occ, "Boris Petrov").ok
    assert _in(inst, w, d3, "Chen Li").ok
    assert _in(inst, w, d1, "Dana Restricted").ok
    assert _in(inst, w, d2, "Falsch Erfasst").ok
    assert _in(inst, w, cafe, "Emil Sprachcafé").ok
    with inst.db.write() as s:  # a wrong entry undone; a person whose processing is restricted
        s.execute(
            update(Attendance)
            .where(Attendance.occurrence_id == d2, Attendance.id == s.scalar(
                select(Attendance.id).where(Attendance.occurrence_id == d2)
                .order_by(Attendance.id.desc()).limit(1)))
            .values(undone_at=s.get(Occurrence, d2).starts_at, undo_reason="falsch")  # type: ignore[union-attr]
        )  # fmt: skip
        s.execute(
            update(Attendance)
            .where(Attendance.occurrence_id == d1)
            .where(Attendance.id == s.scalar(
                select(Attendance.id).where(Attendance.occurrence_id == d1)
                .order_by(Attendance.id.desc()).limit(1)))
            .values(restricted_at=s.get(Occurrence, d1).starts_at)  # type: ignore[union-attr]
        )  # fmt: skip
    assert _in(inst, w, today, "Boris Petrov").ok  # already here today
    return w, ids


def test_regulars_of_the_series_most_frequent_first(
    inst: Installation, series: tuple[World, list[int]]
) -> None:
    w, (_, _, _, today, _) = series
    with inst.db.read() as s:
        people = series_regulars(s, inst.keys, w.fk_essen, today)
    assert [(p.name, p.visits, p.present) for p in people] == [
        ("Amina Yusuf", 3, False),
        ("Boris Petrov", 2, True),
        ("Chen Li", 1, False),
    ]  # not the undone entry, not the restricted person, not the other activity's guest


def test_a_regular_is_checked_in_once_with_one_pick(
    inst: Installation, series: tuple[World, list[int]]
) -> None:
    w, (_, _, _, today, _) = series
    assert _in(inst, w, today, "Amina Yusuf").ok
    again = _in(inst, w, today, "Amina Yusuf")
    assert again.state == checkin.ALREADY
    with inst.db.read() as s:
        people = {p.name: p for p in series_regulars(s, inst.keys, w.fk_essen, today)}
        valid = s.scalars(
            select(Attendance.id).where(
                Attendance.occurrence_id == today, Attendance.undone_at.is_(None)
            )
        ).all()
    assert people["Amina Yusuf"].present
    assert len(valid) == 2  # Boris and Amina, nobody twice


def test_the_first_date_has_no_regulars(
    inst: Installation, series: tuple[World, list[int]]
) -> None:
    w, (first, *_) = series
    with inst.db.read() as s:
        assert series_regulars(s, inst.keys, w.fk_essen, first) == []


def test_only_the_agencys_own_staff_see_the_names(
    inst: Installation, series: tuple[World, list[int]]
) -> None:
    w, (_, _, _, today, _) = series
    volunteer = Actor("ehrenamt", Role.volunteer, agency_id=w.essen, volunteer_id=1)
    with inst.db.read() as s:
        with pytest.raises(NotFound):  # Kleve's specialist, passing Essen's id
            series_regulars(s, inst.keys, w.fk_kleve, today)
        with pytest.raises(Forbidden):  # the district's coordinator reads no names
            series_regulars(s, inst.keys, w.coordinator, today)
        with pytest.raises(Forbidden):  # a volunteer at the door neither
            series_regulars(s, inst.keys, volunteer, today)
        with pytest.raises(NotFound):
            series_regulars(s, inst.keys, w.fk_essen, 999_999)
