"""Activities as series: creating their dates, editing, cancelling, closure periods, calendar.

``create_series`` stores an activity (``planning.create_activity``) and the
occurrences its ``SeriesRule`` expands to (``recurrence.expand``), skipping
NRW holidays and the agency's closure periods, in one transaction with one
audit event per change. Afterwards a single occurrence can be edited on its
own (it is then "detached" and left alone by later series edits), or the
times/place of this and all future, not detached occurrences changed at once.
A cancellation keeps the occurrence with its reason and revokes its check-in
links (``token_generation``); nothing is deleted.

A whole activity can be edited (title, place, mode, sub-goals: ``edit_activity``),
cancelled from a date on (``cancel_series``: future dates only, past ones stay) or
deleted while nothing was recorded for it (``delete_activity``). A second series
meeting like an existing one is refused with ``DuplicateActivity`` until confirmed.

A new closure period can cancel the future occurrences that fall in it.
``month_grid``/``week_days`` give the calendar views their days (pure).
Limits: "edit all future" changes times and place, not the weekday.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, DuplicateActivity, InvalidInput, NotFound
from ia_events.core.messages import berlin
from ia_events.core.models import (
    Activity,
    Attendance,
    CalendarFeed,
    ClosurePeriod,
    Evidence,
    LegalHold,
    ListSeal,
    Occurrence,
    OccurrenceStatus,
    Scan,
    Shift,
    ShiftAssignment,
)
from ia_events.core.outbox import occurrence_event
from ia_events.core.permissions import Reach, service
from ia_events.planning import plans
from ia_events.planning.activities import ActivitySpec, same_slot
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
def create_series(
    session: Session, actor: Actor, spec: ActivitySpec, *, allow_duplicate: bool = False
) -> SeriesResult:
    """An activity with all its dates (``spec.rule``); bad input raises before anything
    is written. A field outside the agency's Arbeitsschwerpunkte needs
    ``spec.off_field_reason``. A series that meets like an existing one (same title,
    place, weekday and start time) raises ``DuplicateActivity`` unless
    ``allow_duplicate`` (the user confirmed it)."""
    if spec.rule is None:
        raise InvalidInput(field="Rhythmus", reason="Bitte einen Rhythmus wählen.")
    rule = spec.rule
    rule.validate()
    if not allow_duplicate:
        twin = find_duplicate(session, actor, spec)
        if twin is not None:
            rhythm = SeriesRule.from_dict(twin.recurrence).describe()
            raise DuplicateActivity(title=twin.title, rhythm=rhythm, activity=twin.id)
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


@service(Permission.occurrence_edit, Reach.agency)
def find_duplicate(session: Session, actor: Actor, spec: ActivitySpec) -> Activity | None:
    """An activity of the agency that meets like ``spec`` (``activities.same_slot``) and
    still has a date that is not cancelled."""
    agency_id = plans.agency_id_for(session, actor, spec.agency_slug, Permission.occurrence_edit)
    live = (
        select(Occurrence.id)
        .where(
            Occurrence.activity_id == Activity.id,
            Occurrence.status == OccurrenceStatus.scheduled,
        )
        .exists()
    )
    for candidate in session.scalars(
        select(Activity)
        .where(Activity.agency_id == agency_id, Activity.funding_year == spec.funding_year, live)
        .order_by(Activity.id)
    ).unique():
        if same_slot(spec, candidate.title, candidate.place, candidate.recurrence):
            return candidate
    return None


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
    _cancel(session, occ, reason, now)
    audit.record(
        session, actor.name, Action.occurrence_cancel, "occurrence", occ.id, agency_id=occ.agency_id
    )
    return occ


def _cancel(session: Session, occ: Occurrence, reason: str, now: datetime | None) -> None:
    """Mark cancelled with its reason, revoke its check-in links, tell its volunteers
    (no audit: callers record the change)."""
    occ.status = OccurrenceStatus.cancelled
    occ.cancel_reason = reason[:2000]
    occ.token_generation += 1
    occurrence_event(session, occ, cancelled=True, now=now)


# -- whole activities: edit, cancel from a date on, delete -----------------------------------


def _activity(session: Session, actor: Actor, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what="Das Angebot")
    require(actor, Permission.occurrence_edit, activity.agency_id)
    return activity


def _has_attendance(session: Session, occurrence_ids: list[int]) -> bool:
    if not occurrence_ids:
        return False
    q = select(Attendance.id).where(Attendance.occurrence_id.in_(occurrence_ids)).limit(1)
    return session.scalar(q) is not None


@service(Permission.occurrence_edit, Reach.agency)
def edit_activity(
    session: Session,
    actor: Actor,
    activity_id: int,
    spec: ActivitySpec,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Title, kind, field, place, partners, mode and sub-goals of an existing activity.

    ``spec.agency_slug``, ``spec.funding_year`` and ``spec.rule`` are not changed here
    (times of future dates: ``edit_future``). The mode changes only while nothing was
    recorded (a named list cannot become a head count afterwards). A new place reaches
    the future dates without a place of their own, and their volunteers are told.
    Returns the names of the changed fields (audited)."""
    activity = _activity(session, actor, activity_id)
    plans.check_mode_and_field(spec.attendance_mode, spec.field)
    occurrence_ids = list(
        session.scalars(select(Occurrence.id).where(Occurrence.activity_id == activity.id))
    )
    new: dict[str, object] = {
        "title": plans.text_field(spec.title, "Titel", limit=200),
        "type": plans.text_field(spec.type, "Art", limit=80),
        "field": spec.field,
        "place": plans.text_field(spec.place, "Ort", required=False, limit=500),
        "partners": spec.partner_names,
        "attendance_mode": spec.attendance_mode,
        "photographed": spec.photographed,
        "count_categories": spec.categories,
    }
    changed = [k for k, v in new.items() if getattr(activity, k) != v]
    if "attendance_mode" in changed and _has_attendance(session, occurrence_ids):
        raise Conflict(
            reason="Die Art der Teilnahme-Erfassung ändert sich nicht mehr, wenn schon "
            "Teilnahmen erfasst sind."
        )
    new["off_field_reason"] = plans.off_field_reason(
        session, activity.agency_id, spec.field, spec.off_field_reason
    )
    if new["off_field_reason"] != activity.off_field_reason:
        changed.append("off_field_reason")
    goals = plans.subgoals_for(
        session, activity.agency_id, activity.funding_year, list(spec.subgoal_ids)
    )
    if sorted(g.id for g in goals) != sorted(g.id for g in activity.subgoals):
        changed.append("subgoals")
        activity.subgoals = goals
    old_place = activity.place
    for key in changed:
        if key != "subgoals":
            setattr(activity, key, new[key])
    if "place" in changed:
        for occ in session.scalars(
            select(Occurrence).where(
                Occurrence.activity_id == activity.id,
                Occurrence.status == OccurrenceStatus.scheduled,
                Occurrence.place.is_(None),
                Occurrence.starts_at >= (now or utcnow()),
            )
        ):
            occurrence_event(session, occ, old_place=old_place, now=now)
    if changed:
        audit.record(
            session,
            actor.name,
            Action.activity_change,
            "activity",
            activity.id,
            agency_id=activity.agency_id,
            fields=changed,
        )
    return changed


@service(Permission.occurrence_edit, Reach.agency)
def cancel_series(
    session: Session,
    actor: Actor,
    activity_id: int,
    from_day: date,
    reason: str,
    *,
    now: datetime | None = None,
) -> list[int]:
    """Cancel every scheduled date of the activity from ``from_day`` on (and not before
    now) with ``reason``; dates already held stay as they are. Returns the cancelled ids."""
    from ia_events.planning.recurrence import local

    activity = _activity(session, actor, activity_id)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(field="Grund", reason="Bitte geben Sie einen Grund für die Absage an.")
    now = now or utcnow()
    since = max(local(from_day, time(0)), now)
    rows = list(
        session.scalars(
            select(Occurrence)
            .where(
                Occurrence.activity_id == activity.id,
                Occurrence.status == OccurrenceStatus.scheduled,
                Occurrence.starts_at >= since,
            )
            .order_by(Occurrence.starts_at)
        )
    )
    if not rows:
        raise Conflict(reason="Ab diesem Datum gibt es keinen geplanten Termin mehr.")
    for occ in rows:
        _cancel(session, occ, reason, now)
    ids = [o.id for o in rows]
    audit.record(
        session,
        actor.name,
        Action.occurrence_cancel,
        "activity",
        activity.id,
        agency_id=activity.agency_id,
        scope="from",
        from_day=from_day.isoformat(),
        occurrences=ids,
    )
    return ids


def _and(words: list[str]) -> str:
    return " und ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def recorded_for(session: Session, activity_id: int) -> list[str]:
    """What was recorded for the activity (German, for the refusal); empty: none."""
    occ_ids = select(Occurrence.id).where(Occurrence.activity_id == activity_id)
    found = []
    if session.scalar(select(Attendance.id).where(Attendance.occurrence_id.in_(occ_ids)).limit(1)):
        found.append("Teilnahmen")
    evidence = select(Evidence.id).where(
        (Evidence.activity_id == activity_id) | Evidence.occurrence_id.in_(occ_ids)
    )
    if session.scalar(evidence.limit(1)) or session.scalar(
        select(ListSeal.id).where(ListSeal.occurrence_id.in_(occ_ids)).limit(1)
    ):
        found.append("Nachweise")
    shift_ids = select(Shift.id).where(Shift.occurrence_id.in_(occ_ids))
    if session.scalar(
        select(ShiftAssignment.id).where(ShiftAssignment.shift_id.in_(shift_ids)).limit(1)
    ):
        found.append("Ehrenamtliche in Schichten")
    if session.scalar(
        select(LegalHold.id)
        .where(
            LegalHold.scope == "occurrence",
            LegalHold.scope_id.in_(occ_ids),
            LegalHold.released_at.is_(None),
        )
        .limit(1)
    ):
        found.append("eine Sperre")
    return found


@service(Permission.occurrence_edit, Reach.agency)
def delete_activity(session: Session, actor: Actor, activity_id: int) -> int:
    """Remove an activity with its dates while nothing was recorded for it (no
    attendance, evidence, volunteers in its shifts, holds); otherwise
    ``Conflict`` and nothing changes -- cancel the series instead. Its empty shifts,
    refused scan attempts and calendar links go with it. Returns the number of
    dates removed."""
    activity = _activity(session, actor, activity_id)
    found = recorded_for(session, activity.id)
    if found:
        raise Conflict(
            reason=f"Für dieses Angebot sind schon {_and(found)} erfasst. Es kann nicht "
            "gelöscht werden – sagen Sie die Termine stattdessen ab."
        )
    occ_ids = list(
        session.scalars(select(Occurrence.id).where(Occurrence.activity_id == activity.id))
    )
    if occ_ids:
        session.execute(
            update(Scan).where(Scan.occurrence_id.in_(occ_ids)).values(occurrence_id=None)
        )
        session.execute(delete(Shift).where(Shift.occurrence_id.in_(occ_ids)))
        session.execute(delete(Occurrence).where(Occurrence.id.in_(occ_ids)))
    session.execute(delete(CalendarFeed).where(CalendarFeed.activity_id == activity.id))
    title, agency_id = activity.title, activity.agency_id
    activity.subgoals = []
    session.flush()
    session.delete(activity)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.activity_delete,
        "activity",
        activity_id,
        agency_id=agency_id,
        title=title,
        occurrences=occ_ids,
    )
    return len(occ_ids)


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
            _cancel(session, occ, f"Schließzeit: {label}", now)
            cancelled.append(occ.id)
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
    count_categories: tuple[str, ...] = ()
    off_field_reason: str = ""
    recurrence: dict[str, Any] | None = None


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
                tuple(a.count_categories or ()),
                a.off_field_reason,
                dict(a.recurrence or {}),
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
