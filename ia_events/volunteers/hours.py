"""Volunteer hours: the counting rule, hand-written worklogs, yearly totals.

One rule (``assignment_hours``) decides how long a shift counted, used by the
rosters, the certificate, ``ia-events list volunteers`` and the sub-goal
figures alike:

1. a staff override wins (a number, or the shift's planned times confirmed);
2. otherwise the actual times, check-in to check-out;
3. checked in but never out: the planned duration (the usual forgotten
   check-out; staff can correct it with an override);
4. not checked in, withdrawn or no-show: nothing.

Worklogs are extra work entered by staff (date, hours, description). They
count for the volunteer's year and the agency's controlling figures, but not
for a sub-goal: they belong to no activity.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput
from ia_events.core.messages import berlin
from ia_events.core.models import (
    Activity,
    Agency,
    Occurrence,
    Shift,
    ShiftAssignment,
    Volunteer,
    WorkLog,
)
from ia_events.core.permissions import Reach, service
from ia_events.privacy.restriction import shown_text
from storage.db import utcnow
from storage.keys import KeyRing

MAX_SHIFT_HOURS = 16.0


def assignment_hours(
    status: str,
    override: float | None,
    checked_in_at: datetime | None,
    checked_out_at: datetime | None,
    planned_start: datetime,
    planned_end: datetime,
) -> float:
    """Hours one assignment counts for (see the module docstring)."""
    if status == "withdrawn":
        return 0.0
    if override is not None:
        return round(max(float(override), 0.0), 2)
    if status == "no_show" or checked_in_at is None:
        return 0.0
    if checked_out_at is not None:
        seconds = (checked_out_at - checked_in_at).total_seconds()
    else:
        seconds = (planned_end - planned_start).total_seconds()
    return round(min(max(seconds / 3600, 0.0), MAX_SHIFT_HOURS), 2)


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


# -- worklog ------------------------------------------------------------------------------------


@service(Permission.volunteer_manage, Reach.agency)
def add_worklog(
    session: Session,
    actor: Actor,
    volunteer_id: int,
    *,
    day: date,
    hours: float | str,
    description: str,
    today: date | None = None,
) -> WorkLog:
    from ia_events.volunteers.registry import load_volunteer

    v = load_volunteer(session, actor, volunteer_id)
    require(actor, Permission.volunteer_manage, v.agency_id)
    try:
        value = float(str(hours).replace(",", "."))
    except ValueError as exc:
        raise InvalidInput(field="Stunden", reason="Bitte eine Zahl eingeben.") from exc
    if not 0 < value <= 24:
        raise InvalidInput(field="Stunden", reason="Bitte mehr als 0 und höchstens 24 Stunden.")
    if day > (today or berlin(utcnow()).date()):
        raise InvalidInput(field="Datum", reason="Das Datum liegt in der Zukunft.")
    text = (description or "").strip()
    if not text:
        raise InvalidInput(field="Tätigkeit", reason="Bitte kurz beschreiben.")
    log = WorkLog(
        volunteer_id=v.id,
        agency_id=v.agency_id,
        day=day,
        hours=round(value, 2),
        description=text[:500],
        recorded_by=actor.name,
    )
    session.add(log)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.worklog_add,
        "worklog",
        log.id,
        agency_id=v.agency_id,
        volunteer=v.id,
        hours=log.hours,
    )
    return log


# -- totals -------------------------------------------------------------------------------------


def _shift_rows(session: Session, condition, year: int, volunteer_condition=None):
    query = (
        select(
            ShiftAssignment.volunteer_id,
            ShiftAssignment.status,
            ShiftAssignment.hours_override,
            ShiftAssignment.checked_in_at,
            ShiftAssignment.checked_out_at,
            Shift.starts_at,
            Shift.ends_at,
            Shift.role,
            Activity.title,
        )
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(condition, Occurrence.funding_year == year, ShiftAssignment.status != "withdrawn")
    )
    if volunteer_condition is not None:
        # A join, not ``volunteer_id IN (SELECT ...)``: SQLite probes an IN list once
        # per shift and volunteer (a district's 455 volunteers x 6,000 shifts a year).
        query = query.join(Volunteer, Volunteer.id == ShiftAssignment.volunteer_id).where(
            volunteer_condition
        )
    return session.execute(query).all()


def hours_by_volunteer(session: Session, condition, year: int) -> dict[int, float]:
    """Caller has checked permission; ``condition`` limits ``Volunteer``/agency rows."""
    totals: dict[int, float] = defaultdict(float)
    for vid, status, override, cin, cout, start, end, _role, _title in _shift_rows(
        session, true(), year, volunteer_condition=condition
    ):
        totals[vid] += assignment_hours(status, override, cin, cout, start, end)
    first, last = _year_bounds(year)
    for vid, hours in session.execute(
        select(WorkLog.volunteer_id, func.sum(WorkLog.hours))
        .where(
            WorkLog.volunteer_id.in_(select(Volunteer.id).where(condition)),
            WorkLog.day >= first,
            WorkLog.day <= last,
        )
        .group_by(WorkLog.volunteer_id)
    ).all():
        totals[vid] += float(hours or 0)
    return {k: round(v, 2) for k, v in totals.items()}


@dataclass(frozen=True)
class VolunteerRow:
    id: int
    name: str
    agency: str
    hours: float
    active: bool
    card_reached: bool = False

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "agency": self.agency, "hours": self.hours}


@service(Permission.volunteer_manage, Reach.listing)
def list_with_hours(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    *,
    agency_slug: str | None = None,
    agency_id: int | None = None,
    year: int | None = None,
    today: date | None = None,
) -> list[VolunteerRow]:
    """Volunteers (names decrypted) with their hours in ``year`` (default: this year)."""
    from ia_events.planning.plans import agency_id_for
    from ia_events.volunteers.registry import card_reached, card_threshold

    require(actor, Permission.volunteer_manage)
    today = today or berlin(utcnow()).date()
    year = year or today.year
    condition = scope_filter(actor, Volunteer.agency_id)
    if agency_slug:
        agency_id = agency_id_for(session, actor, agency_slug, Permission.volunteer_manage)
    if agency_id is not None:
        require(actor, Permission.volunteer_manage, agency_id)
        condition = and_(condition, Volunteer.agency_id == agency_id)
    threshold = card_threshold(session)
    hours = hours_by_volunteer(session, condition, year)
    rows = session.execute(
        select(Volunteer, Agency.slug)
        .join(Agency, Agency.id == Volunteer.agency_id)
        .where(condition)
        .order_by(Agency.slug, Volunteer.id)
    ).all()
    return [
        VolunteerRow(
            v.id,
            shown_text(session, keys, v.agency_id, v.name_enc, "volunteer-name", v.restricted_at),
            slug,
            hours.get(v.id, 0.0),
            v.active,
            card_reached(hours.get(v.id, 0.0), year, today, threshold),
        )
        for v, slug in rows
    ]


@dataclass(frozen=True)
class ActivityHours:
    activity: str
    role: str
    shifts: int
    hours: float


@dataclass(frozen=True)
class YearSummary:
    volunteer_id: int
    agency_id: int
    name: str
    agency_name: str
    agency_city: str
    carrier: str
    year: int
    activities: list[ActivityHours]
    worklogs: list[tuple[date, float, str]]
    total: float
    card_reached: bool
    card_threshold: object


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own record",
    alternatives=(Permission.volunteer_self,),
)
def year_summary(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    volunteer_id: int,
    year: int,
    today: date | None = None,
) -> YearSummary:
    """Everything the certificate and "Mein Nachweis" show for one volunteer and year."""
    from ia_events.volunteers.registry import card_reached, card_threshold, load_volunteer

    v = load_volunteer(session, actor, volunteer_id)
    if not 2000 <= int(year) <= 2100:
        raise InvalidInput(field="Jahr", reason="Bitte ein Jahr zwischen 2000 und 2100.")
    agency = session.get(Agency, v.agency_id)
    assert agency is not None
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _vid, status, override, cin, cout, start, end, role, title in _shift_rows(
        session, ShiftAssignment.volunteer_id == v.id, year
    ):
        hours = assignment_hours(status, override, cin, cout, start, end)
        if hours > 0 or cin is not None:
            grouped[(title, role)].append(hours)
    activities = [
        ActivityHours(title, role, len(h), round(sum(h), 2))
        for (title, role), h in sorted(grouped.items())
    ]
    first, last = _year_bounds(year)
    logs = [
        (w.day, float(w.hours), w.description)
        for w in session.scalars(
            select(WorkLog)
            .where(WorkLog.volunteer_id == v.id, WorkLog.day >= first, WorkLog.day <= last)
            .order_by(WorkLog.day, WorkLog.id)
        )
    ]
    total = round(sum(a.hours for a in activities) + sum(h for _d, h, _t in logs), 2)
    threshold = card_threshold(session)
    today = today or berlin(utcnow()).date()
    return YearSummary(
        v.id,
        v.agency_id,
        shown_text(session, keys, v.agency_id, v.name_enc, "volunteer-name", v.restricted_at),
        agency.name,
        agency.city,
        agency.carrier,
        int(year),
        activities,
        logs,
        total,
        card_reached(total, int(year), today, threshold),
        threshold,
    )


def agency_figures(session: Session, agency_id: int, year: int) -> tuple[int, float]:
    """Controlling figures: (volunteers with hours in the year, their total hours)."""
    return agencies_figures(session, [agency_id], year).get(agency_id, (0, 0.0))


def agencies_figures(
    session: Session, agency_ids: list[int], year: int
) -> dict[int, tuple[int, float]]:
    """``agency_figures`` for several agencies at once (two queries, not two per agency)."""
    home = dict(
        session.execute(
            select(Volunteer.id, Volunteer.agency_id).where(Volunteer.agency_id.in_(agency_ids))
        ).all()
    )
    hours = hours_by_volunteer(session, Volunteer.agency_id.in_(agency_ids), year)
    out: dict[int, tuple[int, float]] = {}
    for agency_id in agency_ids:
        active = [h for vid, h in hours.items() if h > 0 and home.get(vid) == agency_id]
        out[agency_id] = (len(active), round(sum(active), 2))
    return out


@service(Permission.volunteer_self, Reach.own)
def own_year_summary(
    session: Session, keys: KeyRing, actor: Actor, year: int, today: date | None = None
) -> YearSummary:
    """ "Mein Nachweis": the logged-in volunteer's own year."""
    from ia_events.volunteers.registry import own_volunteer_id

    return year_summary(session, keys, actor, own_volunteer_id(actor), year, today)
