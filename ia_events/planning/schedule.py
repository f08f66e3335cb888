"""Activities as series: creating their dates, editing, cancelling, closure periods, calendar.

``create_series`` stores an activity (``planning.create_activity``) and the
occurrences its ``SeriesRule`` expands to (``recurrence.expand``), skipping
NRW holidays and the agency's closure periods, in one transaction with one
audit event per change. Afterwards a single occurrence can be edited on its
own (it is then "detached" and left alone by later series edits), or the
times/place of this and all future, not detached occurrences changed at once.
A cancellation keeps the occurrence with its reason and revokes its check-in
links (``token_generation``); nothing is deleted.

A new closure period can cancel the future occurrences that fall in it.
``month_grid``/``week_days`` give the calendar views their days (pure).
Limits: "edit all future" changes times and place, not the weekday.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.messages import berlin
from ia_events.core.models import Activity, ClosurePeriod, Occurrence, OccurrenceStatus
from ia_events.core.outbox import occurrence_event
from ia_events.core.permissions import Reach, service
from ia_events.planning import plans
from ia_events.planning.activities import ActivitySpec
from ia_events.planning.recurrence import Expansion, SeriesRule, expand, shift_to
from storage.db import utcnow


@dataclass(frozen=True)
class SeriesResult:
    activity_id: int
    occurrence_ids: list[int]
    expansion: Expansion


def closures_for(session: Session, agency_id: int) -> list[ClosurePeriod]:
    return list(
        session.scalars(
            select(ClosurePeriod)
            .where(ClosurePeriod.agency_id == agency_id)
            .order_by(ClosurePeriod.starts_on)
        )
    )


def materialise(session: Session, activity: Activity, expansion: Expansion) -> list[int]:
    """Insert the expansion's occurrences (no audit: callers record the change)."""
    if not expansion.slots:
        return []
    rows = [
        {
            "activity_id": activity.id,
            "agency_id": activity.agency_id,
            "funding_year": slot.day.year,
            "starts_at": slot.starts_at,
            "ends_at": slot.ends_at,
        }
        for slot in expansion.slots
    ]
    result = session.scalars(insert(Occurrence).returning(Occurrence.id), rows)
    return sorted(result.all())


@service(Permission.occurrence_edit, Reach.agency)
def create_series(session: Session, actor: Actor, spec: ActivitySpec) -> SeriesResult:
    """An activity with all its dates (``spec.rule``); bad input raises before anything
    is written. A field outside the agency's Arbeitsschwerpunkte needs
    ``spec.off_field_reason``."""
    if spec.rule is None:
        raise InvalidInput(field="Rhythmus", reason="Bitte einen Rhythmus wählen.")
    rule = spec.rule
    rule.validate()
    activity = plans.create_activity(session, actor, spec)
    expansion = expand(rule, activity.funding_year, closures_for(session, activity.agency_id))
    if not expansion.slots:
        raise InvalidInput(
            field="Rhythmus",
            reason="Nach Feiertagen und Schließzeiten bleibt kein Termin übrig.",
        )
    ids = materialise(session, activity, expansion)
    audit.record(
        session,
        actor.name,
        Action.occurrence_add,
        "activity",
        activity.id,
        agency_id=activity.agency_id,
        occurrences=ids,
        skipped=len(expansion.skipped),
    )
    return SeriesResult(activity.id, ids, expansion)


def _occurrence(session: Session, actor: Actor, occurrence_id: int) -> Occurrence:
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.occurrence_edit, occ.agency_id)
    return occ


@service(Permission.occurrence_edit, Reach.agency)
def edit_occurrence(
    session: Session,
    actor: Actor,
    occurrence_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    place: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Occurrence:
    """Change one date only; later series edits leave it alone."""
    occ = _occurrence(session, actor, occurrence_id)
    if occ.status == OccurrenceStatus.cancelled:
        raise Conflict(reason="Der Termin ist abgesagt.")
    if ends_at <= starts_at:
        raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
    if berlin(starts_at).year != occ.funding_year:
        raise InvalidInput(field="Datum", reason=f"Bitte im Förderjahr {occ.funding_year}.")
    old_times, old_place = (occ.starts_at, occ.ends_at), occ.place
    occ.starts_at, occ.ends_at = starts_at, ends_at
    occ.place = (place or "").strip() or None
    occ.note = (note or "").strip()[:2000]
    occ.detached = True
    audit.record(
        session,
        actor.name,
        Action.occurrence_change,
        "occurrence",
        occ.id,
        agency_id=occ.agency_id,
        scope="one",
    )
    if (starts_at, ends_at) != old_times or occ.place != old_place:
        occurrence_event(
            session,
            occ,
            old_times=old_times if (starts_at, ends_at) != old_times else None,
            old_place=(old_place or "") if occ.place != old_place else None,
            now=now,
        )
    return occ


@service(Permission.occurrence_edit, Reach.agency)
def edit_future(
    session: Session,
    actor: Actor,
    occurrence_id: int,
    *,
    start_time: time,
    end_time: time,
    place: str | None = None,
    now: datetime | None = None,
) -> list[int]:
    """New times/place for this and every later, not detached, scheduled date of the series."""
    occ = _occurrence(session, actor, occurrence_id)
    if end_time <= start_time:
        raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
    now = now or utcnow()
    since = max(occ.starts_at, now)
    if occ.starts_at < now:
        raise Conflict(reason="Vergangene Termine werden nicht mehr geändert.")
    rows = session.scalars(
        select(Occurrence).where(
            Occurrence.activity_id == occ.activity_id,
            Occurrence.starts_at >= since,
            Occurrence.status == OccurrenceStatus.scheduled,
            (Occurrence.detached.is_(False)) | (Occurrence.id == occ.id),
        )
    ).all()
    for row in rows:
        before, old_place = (row.starts_at, row.ends_at), row.place
        row.starts_at, row.ends_at = shift_to(row.starts_at, row.ends_at, start_time, end_time)
        if place is not None:
            row.place = place.strip() or None
        if (row.starts_at, row.ends_at) != before or row.place != old_place:
            occurrence_event(
                session,
                row,
                old_times=before if (row.starts_at, row.ends_at) != before else None,
                old_place=(old_place or "") if row.place != old_place else None,
                now=now,
            )
    activity = session.get(Activity, occ.activity_id)
    assert activity is not None
    activity.recurrence = {
        **(activity.recurrence or {}),
        "start": f"{start_time:%H:%M}",
        "end": f"{end_time:%H:%M}",
    }
    ids = sorted(r.id for r in rows)
    audit.record(
        session,
        actor.name,
        Action.occurrence_change,
        "activity",
        occ.activity_id,
        agency_id=occ.agency_id,
        scope="future",
        occurrences=ids,
    )
    return ids


@service(Permission.occurrence_edit, Reach.agency)
def cancel_occurrence(
    session: Session, actor: Actor, occurrence_id: int, reason: str, now: datetime | None = None
) -> Occurrence:
    """Cancel with a reason; the date stays in the record and its check-in links stop working."""
    occ = _occurrence(session, actor, occurrence_id)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(field="Grund", reason="Bitte geben Sie einen Grund für die Absage an.")
    if occ.status == OccurrenceStatus.cancelled:
        raise Conflict(reason="Der Termin ist schon abgesagt.")
    occ.status = OccurrenceStatus.cancelled
    occ.cancel_reason = reason[:2000]
    occ.token_generation += 1
    audit.record(
        session, actor.name, Action.occurrence_cancel, "occurrence", occ.id, agency_id=occ.agency_id
    )
    occurrence_event(session, occ, cancelled=True, now=now)
    return occ


# -- closure periods ----------------------------------------------------------------------------


@service(Permission.occurrence_edit, Reach.agency)
def add_closure(
    session: Session,
    actor: Actor,
    agency_slug: str,
    starts_on: date,
    ends_on: date,
    label: str,
    *,
    cancel_existing: bool = True,
    now: datetime | None = None,
) -> tuple[ClosurePeriod, list[int]]:
    """A closing period; optionally cancel the agency's future occurrences in it."""
    agency_id = plans.agency_id_for(session, actor, agency_slug, Permission.occurrence_edit)
    if ends_on < starts_on:
        raise InvalidInput(field="Bis", reason="Das Ende liegt vor dem Beginn.")
    if (ends_on - starts_on).days > 366:
        raise InvalidInput(field="Bis", reason="Höchstens ein Jahr.")
    label = (label or "").strip()[:200] or "Schließzeit"
    period = ClosurePeriod(agency_id=agency_id, starts_on=starts_on, ends_on=ends_on, label=label)
    session.add(period)
    session.flush()
    cancelled: list[int] = []
    if cancel_existing:
        from ia_events.planning.recurrence import local

        now = now or utcnow()
        begin = max(local(starts_on, time(0)), now)
        end = local(ends_on + timedelta(days=1), time(0))
        for occ in session.scalars(
            select(Occurrence).where(
                Occurrence.agency_id == agency_id,
                Occurrence.status == OccurrenceStatus.scheduled,
                Occurrence.starts_at >= begin,
                Occurrence.starts_at < end,
            )
        ):
            occ.status = OccurrenceStatus.cancelled
            occ.cancel_reason = f"Schließzeit: {label}"
            occ.token_generation += 1
            cancelled.append(occ.id)
            occurrence_event(session, occ, cancelled=True, now=now)
    audit.record(
        session,
        actor.name,
        Action.closure_add,
        "closure_period",
        period.id,
        agency_id=agency_id,
        cancelled=cancelled,
    )
    return period, cancelled


@service(Permission.agency_read, Reach.agency)
def list_closures(session: Session, actor: Actor, agency_slug: str) -> list[ClosurePeriod]:
    agency_id = plans.agency_id_for(session, actor, agency_slug, Permission.agency_read)
    return closures_for(session, agency_id)


@dataclass(frozen=True)
class ActivityView:
    id: int
    title: str
    type: str
    field: str
    place: str
    partners: list[str]
    attendance_mode: str
    photographed: bool
    rhythm: str
    subgoal_ids: list[int]
    funding_year: int


@service(Permission.agency_read, Reach.agency)
def list_activities(
    session: Session, actor: Actor, agency_slug: str, year: int | None = None
) -> list[ActivityView]:
    agency_id = plans.agency_id_for(session, actor, agency_slug, Permission.agency_read)
    q = select(Activity).where(Activity.agency_id == agency_id).order_by(Activity.title)
    if year:
        q = q.where(Activity.funding_year == year)
    out = []
    for a in session.scalars(q).unique():
        try:
            rhythm = SeriesRule.from_dict(a.recurrence).describe() if a.recurrence else ""
        except (InvalidInput, ValueError):
            rhythm = ""
        out.append(
            ActivityView(
                a.id,
                a.title,
                a.type,
                a.field,
                a.place,
                list(a.partners or []),
                a.attendance_mode,
                a.photographed,
                rhythm,
                [g.id for g in a.subgoals],
                a.funding_year,
            )
        )
    return out


# -- calendar views (pure) -------------------------------------------------------------------


def month_grid(year: int, month: int) -> list[list[date]]:
    """Weeks (Monday first) covering the month, with the neighbouring months' days."""
    return calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)


def week_days(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def range_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC-aware bounds for [first, last] as local days."""
    from ia_events.planning.recurrence import local

    return local(first, time(0)), local(last + timedelta(days=1), time(0))
