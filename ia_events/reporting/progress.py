"""Sub-goal progress: actual vs. target, computed live in SQL from real data.

An indicator's actual value counts what happened in occurrences of the
activities linked to the sub-goal, in the sub-goal's funding year:

- ``participants``      sum of valid (not undone) attendance counts
- ``distinct_persons``  distinct personal cards + distinct named persons (keyed blind index)
- ``occurrences``       occurrences held (not cancelled, already begun)
- ``volunteers``        distinct volunteers who worked a shift there
- ``volunteer_hours``   hours of those shifts (actual times, or a staff override)
- ``partners``          distinct cooperation partners of the linked activities (partner
                        records, plus free-text names of older activities)
- ``multipliers``       marked multipliers (``network.multipliers``): volunteers who worked
                        a shift there plus the contacts of partners cooperating on the
                        linked activities
- ``meetings``          network meetings linked to it, held in the year (not cancelled)
- ``processes``         opening processes linked to it that began or had a contact in the year
- ``counselling_cases`` counselling cases (anonymous counts) linked to it, in the year
- ``lendings``          material lent in the year, linked to it
- ``manual``            the figure the agency reports by hand
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission, require
from ia_events.core.models import (
    Activity,
    Attendance,
    CounsellingCount,
    Lending,
    NetworkMeeting,
    Occurrence,
    OccurrenceStatus,
    OpeningProcess,
    Partner,
    Shift,
    ShiftAssignment,
    SubGoal,
    activity_subgoals,
    meeting_subgoals,
    opening_process_subgoals,
    partner_activities,
)
from ia_events.core.permissions import Reach, service
from ia_events.network.processes import active_in
from ia_events.planning.plans import agency_id_for
from ia_events.volunteers.hours import agencies_figures, assignment_hours
from storage.db import utcnow


@dataclass(frozen=True)
class SubGoalProgress:
    id: int
    title: str
    field: str
    indicator: str
    target: float
    actual: float

    @property
    def ratio(self) -> float:
        return self.actual / self.target if self.target else 1.0

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "indicator": self.indicator,
            "target": _num(self.target),
            "actual": _num(self.actual),
        }


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


@service(Permission.agency_read, Reach.agency)
def subgoal_progress(
    session: Session, actor: Actor, agency_slug: str, year: int, now: datetime | None = None
) -> list[SubGoalProgress]:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    return progress_for_agency(session, agency_id, year, now)


def progress_for_agency(
    session: Session, agency_id: int, year: int, now: datetime | None = None
) -> list[SubGoalProgress]:
    """Caller has checked permission. A handful of grouped queries, whatever the data size."""
    return progress_for_agencies(session, [agency_id], year, now).get(agency_id, [])


def progress_for_agencies(
    session: Session, agency_ids: list[int], year: int, now: datetime | None = None
) -> dict[int, list[SubGoalProgress]]:
    """Progress of every sub-goal of ``agency_ids`` in ``year``, by agency.

    Caller has checked permission. One grouped query per indicator in use (volunteers
    and their hours share one), for any number of agencies; each is bounded by the
    occurrences of those agencies in that year (index ``ix_occurrences_agency_year``),
    never by the whole history.
    """
    goals = session.scalars(
        select(SubGoal)
        .where(SubGoal.agency_id.in_(agency_ids), SubGoal.funding_year == year)
        .order_by(SubGoal.task_plan_id, SubGoal.position, SubGoal.id)
    ).all()
    if not goals:
        return {}
    # Each figure is counted only for the sub-goals measured by it: a district
    # overview then reads each year's attendance about once, not once per figure.
    wanted: dict[str, list[int]] = defaultdict(list)
    for g in goals:
        wanted[g.indicator].append(g.id)
    scope = _Scope(session, agency_ids, year, now or utcnow(), wanted)
    figures = {name: COUNTERS[name](scope, ids) for name, ids in wanted.items() if name in COUNTERS}
    out: dict[int, list[SubGoalProgress]] = defaultdict(list)
    for g in goals:
        if g.indicator in figures:
            actual = figures[g.indicator].get(g.id, 0.0)
        else:  # "manual": the figure the agency reports by hand
            actual = float(g.manual_actual or 0)
        out[g.agency_id].append(
            SubGoalProgress(g.id, g.title, g.field, g.indicator, g.target, actual)
        )
    return dict(out)


@dataclass
class _Scope:
    """What every counter shares: the occurrences held by the agencies in the year."""

    session: Session
    agency_ids: list[int]
    year: int
    now: datetime
    wanted: dict[str, list[int]]  # indicator -> the sub-goals measured by it

    @property
    def held(self) -> ColumnElement[bool]:
        return and_(
            Occurrence.agency_id.in_(self.agency_ids),
            Occurrence.funding_year == self.year,
            Occurrence.status == OccurrenceStatus.scheduled,
            Occurrence.starts_at <= self.now,
        )

    def per_subgoal(self, stmt: Select[Any], ids: list[int]) -> Select[Any]:
        """``stmt`` (over occurrences) grouped by the linked sub-goals among ``ids``."""
        link = activity_subgoals
        return (
            stmt.join(link, link.c.activity_id == Occurrence.activity_id)
            .where(link.c.subgoal_id.in_(ids))
            .group_by(link.c.subgoal_id)
        )

    def attendance(self, *cols: Any) -> Select[Any]:
        """Valid (not undone) attendance of held occurrences, with ``cols``."""
        return (
            select(activity_subgoals.c.subgoal_id, *cols)
            .select_from(Attendance)
            .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
            .where(Attendance.undone_at.is_(None), self.held)
        )

    @cached_property
    def volunteer_work(self) -> dict[int, tuple[set[int], float]]:
        """Per sub-goal: the volunteers who worked a shift there, and their hours -- one
        query for both volunteer indicators. Worked: checked in, or hours confirmed by
        staff (``hours.assignment_hours``)."""
        ids = self.wanted.get("volunteers", []) + self.wanted.get("volunteer_hours", [])
        return self.volunteer_work_for(ids)

    def volunteer_work_for(self, ids: list[int]) -> dict[int, tuple[set[int], float]]:
        """``volunteer_work`` for the sub-goals ``ids``."""
        worked = and_(
            ShiftAssignment.status.not_in(("no_show", "withdrawn")),
            or_(
                ShiftAssignment.checked_in_at.is_not(None),
                ShiftAssignment.hours_override.is_not(None),
            ),
        )
        link = activity_subgoals
        rows = self.session.execute(
            select(
                link.c.subgoal_id,
                ShiftAssignment.volunteer_id,
                ShiftAssignment.status,
                ShiftAssignment.hours_override,
                ShiftAssignment.checked_in_at,
                ShiftAssignment.checked_out_at,
                Shift.starts_at,
                Shift.ends_at,
            )
            .select_from(ShiftAssignment)
            .join(Shift, Shift.id == ShiftAssignment.shift_id)
            .join(Occurrence, Occurrence.id == Shift.occurrence_id)
            .join(link, link.c.activity_id == Occurrence.activity_id)
            .where(self.held, worked, link.c.subgoal_id.in_(ids))
        ).all()
        out: dict[int, tuple[set[int], float]] = {}
        for sid, vid, status, override, cin, cout, s_start, s_end in rows:
            people, hours = out.get(sid, (set(), 0.0))
            people.add(vid)
            out[sid] = (
                people,
                hours + assignment_hours(status, override, cin, cout, s_start, s_end),
            )
        return out


def _participants(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Sum of valid attendance counts."""
    stmt = scope.attendance(func.coalesce(func.sum(Attendance.count), 0))
    return {sid: float(n) for sid, n in scope.session.execute(scope.per_subgoal(stmt, ids))}


def _distinct_persons(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Distinct personal cards plus distinct named persons (keyed blind index).
    COUNT(DISTINCT) skips NULLs: anonymous headcounts count for no one."""
    stmt = scope.attendance(
        func.count(distinct(Attendance.card_id)), func.count(distinct(Attendance.name_index))
    )
    rows = scope.session.execute(scope.per_subgoal(stmt, ids))
    return {sid: float(int(cards or 0) + int(names or 0)) for sid, cards, names in rows}


def _occurrences(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Occurrences held: not cancelled, already begun."""
    stmt = (
        select(activity_subgoals.c.subgoal_id, func.count(distinct(Occurrence.id)))
        .select_from(Occurrence)
        .where(scope.held)
    )
    return {sid: float(n) for sid, n in scope.session.execute(scope.per_subgoal(stmt, ids))}


def _volunteers(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Distinct volunteers who worked a shift at the linked occurrences."""
    work = scope.volunteer_work
    return {sid: float(len(work[sid][0])) for sid in ids if sid in work}


def _volunteer_hours(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Hours of those shifts (actual times, or a staff override)."""
    work = scope.volunteer_work
    return {sid: round(work[sid][1], 2) for sid in ids if sid in work}


def _partners(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Distinct cooperation partners of the linked activities: the partner records
    linked to them (``network``), plus the free-text names of older activities that
    name no linked record (so a partner entered both ways counts once)."""
    link = activity_subgoals
    records: dict[int, dict[int, str]] = defaultdict(dict)
    for sid, pid, name in scope.session.execute(
        select(link.c.subgoal_id, Partner.id, Partner.name)
        .join(partner_activities, partner_activities.c.activity_id == link.c.activity_id)
        .join(Partner, Partner.id == partner_activities.c.partner_id)
        .where(link.c.subgoal_id.in_(ids))
    ):
        records[sid][pid] = name.strip().lower()
    found: dict[int, set[str]] = defaultdict(set)
    for sid, plist in scope.session.execute(
        select(link.c.subgoal_id, Activity.partners)
        .join(Activity, Activity.id == link.c.activity_id)
        .where(link.c.subgoal_id.in_(ids))
    ):
        found[sid].update(p.strip().lower() for p in plist or [] if p.strip())
    out: dict[int, float] = {}
    for sid in set(records) | set(found):
        named = set(records[sid].values())
        out[sid] = float(len(records[sid]) + len(found[sid] - named))
    return out


def _multipliers(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Marked multipliers reached through the sub-goal's activities: volunteers who worked
    a shift there (``volunteer_work``) and the contacts of partners cooperating on them."""
    from ia_events.core.models import Multiplier, PartnerContact
    from ia_events.network.multipliers import counted, joined

    link = activity_subgoals
    marked = scope.session.execute(
        joined(select(Multiplier.volunteer_id, PartnerContact.id, PartnerContact.partner_id)).where(
            Multiplier.agency_id.in_(scope.agency_ids), counted(scope.year)
        )
    ).all()
    volunteers = {v for v, _, _ in marked if v is not None}
    contacts: dict[int, set[int]] = defaultdict(set)  # partner id -> its marked contacts
    for _, cid, pid in marked:
        if cid is not None:
            contacts[pid].add(cid)
    found: dict[int, set[tuple[str, int]]] = defaultdict(set)
    if volunteers:
        work = scope.volunteer_work_for(ids)
        for sid, (people, _hours) in work.items():
            found[sid].update(("v", v) for v in people & volunteers)
    if contacts:
        for sid, pid in scope.session.execute(
            select(link.c.subgoal_id, partner_activities.c.partner_id)
            .join(partner_activities, partner_activities.c.activity_id == link.c.activity_id)
            .where(link.c.subgoal_id.in_(ids), partner_activities.c.partner_id.in_(contacts))
        ):
            found[sid].update(("c", cid) for cid in contacts[pid])
    return {sid: float(len(found[sid])) for sid in ids if sid in found}


def _meetings(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Network meetings held in the year (not cancelled, already begun)."""
    link = meeting_subgoals
    rows = scope.session.execute(
        select(link.c.subgoal_id, func.count(distinct(NetworkMeeting.id)))
        .join(NetworkMeeting, NetworkMeeting.id == link.c.meeting_id)
        .where(
            link.c.subgoal_id.in_(ids),
            NetworkMeeting.funding_year == scope.year,
            NetworkMeeting.cancelled_at.is_(None),
            NetworkMeeting.starts_at <= scope.now,
        )
        .group_by(link.c.subgoal_id)
    )
    return {sid: float(n) for sid, n in rows}


def _processes(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Opening processes that began or had a contact in the year."""
    link = opening_process_subgoals
    rows = scope.session.execute(
        select(link.c.subgoal_id, func.count(distinct(OpeningProcess.id)))
        .join(OpeningProcess, OpeningProcess.id == link.c.process_id)
        .where(link.c.subgoal_id.in_(ids), active_in(scope.year))
        .group_by(link.c.subgoal_id)
    )
    return {sid: float(n) for sid, n in rows}


def _counselling_cases(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Counselling cases (anonymous counts) of the year."""
    rows = scope.session.execute(
        select(CounsellingCount.subgoal_id, func.sum(CounsellingCount.cases))
        .where(CounsellingCount.subgoal_id.in_(ids), CounsellingCount.funding_year == scope.year)
        .group_by(CounsellingCount.subgoal_id)
    )
    return {sid: float(n or 0) for sid, n in rows if sid is not None}


def _lendings(scope: _Scope, ids: list[int]) -> dict[int, float]:
    """Material lent in the year."""
    rows = scope.session.execute(
        select(Lending.subgoal_id, func.count())
        .where(Lending.subgoal_id.in_(ids), Lending.funding_year == scope.year)
        .group_by(Lending.subgoal_id)
    )
    return {sid: float(n) for sid, n in rows if sid is not None}


# One counter per indicator (``manual`` has none: the agency enters its figure).
COUNTERS: dict[str, Callable[[_Scope, list[int]], dict[int, float]]] = {
    "participants": _participants,
    "distinct_persons": _distinct_persons,
    "occurrences": _occurrences,
    "volunteers": _volunteers,
    "volunteer_hours": _volunteer_hours,
    "partners": _partners,
    "multipliers": _multipliers,
    "meetings": _meetings,
    "processes": _processes,
    "counselling_cases": _counselling_cases,
    "lendings": _lendings,
}


@dataclass(frozen=True)
class AgencySummary:
    slug: str
    name: str
    occurrences_held: int
    participants: int
    subgoals_total: int
    subgoals_met: int
    # Controlling figures: volunteers with hours in the year (shifts + worklogs), their hours.
    volunteers: int = 0
    volunteer_hours: float = 0.0


@service(Permission.agency_read, Reach.listing)
def district_summary(
    session: Session, actor: Actor, year: int, now: datetime | None = None
) -> list[AgencySummary]:
    """One row per agency the actor reaches: the year's key figures, aggregated in SQL."""
    from ia_events.core.access import scope_filter
    from ia_events.core.models import Agency

    require(actor, Permission.agency_read)
    now = now or utcnow()
    agencies = session.execute(
        select(Agency.id, Agency.slug, Agency.name)
        .where(scope_filter(actor, Agency.id))
        .order_by(Agency.name)
    ).all()
    ids = [agency_id for agency_id, _slug, _name in agencies]
    held = and_(
        Occurrence.agency_id.in_(ids),
        Occurrence.funding_year == year,
        Occurrence.status == OccurrenceStatus.scheduled,
        Occurrence.starts_at <= now,
    )
    occ = dict(
        session.execute(
            select(Occurrence.agency_id, func.count()).where(held).group_by(Occurrence.agency_id)
        ).all()
    )
    part = dict(
        session.execute(
            select(Attendance.agency_id, func.sum(Attendance.count))
            .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
            .where(held, Attendance.undone_at.is_(None))
            .group_by(Attendance.agency_id)
        ).all()
    )
    progress_by_agency = progress_for_agencies(session, ids, year, now)
    figures = agencies_figures(session, ids, year)
    out = []
    for agency_id, slug, name in agencies:
        progress = progress_by_agency.get(agency_id, [])
        people, hours = figures.get(agency_id, (0, 0.0))
        out.append(
            AgencySummary(
                slug,
                name,
                int(occ.get(agency_id, 0)),
                int(part.get(agency_id, 0) or 0),
                len(progress),
                sum(1 for p in progress if p.actual >= p.target),
                people,
                hours,
            )
        )
    return out
