"""Sub-goal progress: actual vs. target, computed live in SQL from real data.

An indicator's actual value counts what happened in occurrences of the
activities linked to the sub-goal, in the sub-goal's funding year:

- ``participants``      sum of valid (not undone) attendance counts
- ``distinct_persons``  distinct personal cards + distinct named persons (keyed blind index)
- ``occurrences``       occurrences held (not cancelled, already begun)
- ``volunteers``        distinct volunteers who worked a shift there
- ``volunteer_hours``   hours of those shifts (actual times, or a staff override)
- ``partners``          distinct cooperation partners of the linked activities
- ``manual``            the figure the agency reports by hand
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission, require
from ia_events.core.models import (
    Activity,
    Attendance,
    Occurrence,
    OccurrenceStatus,
    Shift,
    ShiftAssignment,
    SubGoal,
    activity_subgoals,
)
from ia_events.core.permissions import Reach, service
from ia_events.planning.plans import agency_id_for
from ia_events.volunteers.hours import agencies_figures, assignment_hours
from storage.db import utcnow

INDICATOR_LABELS = {
    "participants": "Teilnahmen",
    "distinct_persons": "erreichte Personen",
    "occurrences": "durchgeführte Termine",
    "volunteers": "aktive Ehrenamtliche",
    "volunteer_hours": "Ehrenamtsstunden",
    "partners": "Kooperationspartner",
    "manual": "manuell erfasst",
}


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

    Caller has checked permission. At most six grouped queries for any number
    of agencies; each is bounded by the occurrences of those agencies in that
    year (index ``ix_occurrences_agency_year``), never by the whole history.
    """
    now = now or utcnow()
    goals = session.scalars(
        select(SubGoal)
        .where(SubGoal.agency_id.in_(agency_ids), SubGoal.funding_year == year)
        .order_by(SubGoal.task_plan_id, SubGoal.position, SubGoal.id)
    ).all()
    if not goals:
        return {}
    link = activity_subgoals
    # Each figure is counted only for the sub-goals measured by it: a district
    # overview then reads each year's attendance about once, not once per figure.
    wanted: dict[str, list[int]] = defaultdict(list)
    for g in goals:
        wanted[g.indicator].append(g.id)
    held = and_(
        Occurrence.agency_id.in_(agency_ids),
        Occurrence.funding_year == year,
        Occurrence.status == OccurrenceStatus.scheduled,
        Occurrence.starts_at <= now,
    )
    valid = Attendance.undone_at.is_(None)

    def grouped(expr, indicators: tuple[str, ...]):
        ids = [i for name in indicators for i in wanted.get(name, [])]
        return (
            expr.join(link, link.c.activity_id == Occurrence.activity_id)
            .where(link.c.subgoal_id.in_(ids))
            .group_by(link.c.subgoal_id)
        )

    def attendance(*cols):
        return (
            select(link.c.subgoal_id, *cols)
            .select_from(Attendance)
            .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
            .where(valid, held)
        )

    participants: dict[int, int] = {}
    if wanted.get("participants"):
        participants = dict(
            session.execute(
                grouped(attendance(func.coalesce(func.sum(Attendance.count), 0)), ("participants",))
            ).all()
        )
    # COUNT(DISTINCT) skips NULLs: cards and named persons (keyed blind index) are
    # counted apart, anonymous headcounts not at all.
    persons: dict[int, int] = {}
    if wanted.get("distinct_persons"):
        for sid, cards, names in session.execute(
            grouped(
                attendance(
                    func.count(distinct(Attendance.card_id)),
                    func.count(distinct(Attendance.name_index)),
                ),
                ("distinct_persons",),
            )
        ).all():
            persons[sid] = int(cards or 0) + int(names or 0)
    occurrences: dict[int, int] = {}
    if wanted.get("occurrences"):
        occurrences = dict(
            session.execute(
                grouped(
                    select(link.c.subgoal_id, func.count(distinct(Occurrence.id)))
                    .select_from(Occurrence)
                    .where(held),
                    ("occurrences",),
                )
            ).all()
        )
    # Worked: checked in, or hours confirmed by staff (volunteer_hours.assignment_hours).
    worked = and_(
        ShiftAssignment.status.not_in(("no_show", "withdrawn")),
        or_(
            ShiftAssignment.checked_in_at.is_not(None), ShiftAssignment.hours_override.is_not(None)
        ),
    )
    hours: dict[int, float] = defaultdict(float)
    volunteers: dict[int, set[int]] = defaultdict(set)
    if wanted.get("volunteers") or wanted.get("volunteer_hours"):
        rows = session.execute(
            grouped(
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
                .where(held, worked),
                ("volunteers", "volunteer_hours"),
            ).group_by(None)
        ).all()
        for sid, vid, status, override, cin, cout, s_start, s_end in rows:
            volunteers[sid].add(vid)
            hours[sid] += assignment_hours(status, override, cin, cout, s_start, s_end)
    partners: dict[int, set[str]] = defaultdict(set)
    for sid, plist in session.execute(
        select(link.c.subgoal_id, Activity.partners)
        .join(Activity, Activity.id == link.c.activity_id)
        .where(link.c.subgoal_id.in_(wanted.get("partners", [])))
    ).all():
        partners[sid].update(p.strip().lower() for p in plist or [] if p.strip())

    def actual(g: SubGoal) -> float:
        match g.indicator:
            case "participants":
                return float(participants.get(g.id, 0))
            case "distinct_persons":
                return float(persons.get(g.id, 0))
            case "occurrences":
                return float(occurrences.get(g.id, 0))
            case "volunteers":
                return float(len(volunteers.get(g.id, ())))
            case "volunteer_hours":
                return round(hours.get(g.id, 0.0), 2)
            case "partners":
                return float(len(partners.get(g.id, set())))
            case _:
                return float(g.manual_actual or 0)

    out: dict[int, list[SubGoalProgress]] = defaultdict(list)
    for g in goals:
        out[g.agency_id].append(
            SubGoalProgress(g.id, g.title, g.field, g.indicator, g.target, actual(g))
        )
    return dict(out)


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
