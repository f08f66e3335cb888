"""What is due to be sent at a given ``now``: the scheduled kinds.

``plan(session, now)`` adds to the outbox, each under a stable key so that
running the job every minute (or from two servers) enqueues a message once:

- ``shift_reminder``      the day before a shift, from the person's chosen hour
                          (Europe/Berlin), until the shift begins
- ``open_shifts_digest``  at most one a day per volunteer: open shifts of the
                          agency not listed in an earlier digest to that person
- ``deadline_14`` / ``deadline_3`` / ``deadline_overdue``  an agency's open
                          deadline within 14 days, within 3 days, and (once) when
                          past its district date (up to 30 days late)
- ``qualification_expiring``  a volunteer's latest proof of a kind ends within 30 days
- ``shift_understaffed``  a shift within 3 days that still lacks people
- ``coordinator_digest``  once per ISO week: overdue deadlines across agencies

Limits: the digest of open shifts does not match the volunteer's free-text
availability (it lists every new open shift of the agency).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ia_events.core.messages import BERLIN, berlin
from ia_events.core.models import (
    Activity,
    Agency,
    DeadlineStatus,
    Occurrence,
    OccurrenceStatus,
    OutboxMessage,
    Qualification,
    Shift,
    ShiftAssignment,
    User,
    Volunteer,
)
from ia_events.core.outbox import _users, enqueue, wants
from ia_events.notify.prefs import reminder_hour
from ia_events.planning.deadlines import deadlines_between

ACTIVE = ("signed_up", "assigned")
DIGEST_HORIZON = timedelta(days=60)
QUALIFICATION_DAYS = 30
UNDERSTAFFED_DAYS = 3
OVERDUE_WINDOW_DAYS = 30


def plan(session: Session, now: datetime) -> int:
    """Enqueue every scheduled message due at ``now``; returns how many were added."""
    today = berlin(now).date()
    return (
        _reminders(session, now)
        + _open_shift_digests(session, now, today)
        + _deadlines(session, now, today)
        + _qualifications(session, now, today)
        + _understaffed(session, now)
        + _coordinator_digest(session, now, today)
    )


def _scheduled_shifts(session: Session, start: datetime, end: datetime):
    return session.execute(
        select(Shift, Activity.title)
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(
            Shift.starts_at > start,
            Shift.starts_at <= end,
            Occurrence.status == OccurrenceStatus.scheduled,
        )
        .order_by(Shift.starts_at, Shift.id)
    ).all()


def _reminders(session: Session, now: datetime) -> int:
    n = 0
    rows = session.execute(
        select(ShiftAssignment, Shift, User.id)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .join(User, User.volunteer_id == ShiftAssignment.volunteer_id)
        .where(
            ShiftAssignment.status.in_(ACTIVE),
            Shift.starts_at > now,
            Shift.starts_at <= now + timedelta(hours=48),
            Occurrence.status == OccurrenceStatus.scheduled,
            User.active.is_(True),
        )
    ).all()
    for a, shift, user_id in rows:
        day_before = berlin(shift.starts_at).date() - timedelta(days=1)
        due = datetime.combine(day_before, time(reminder_hour(session, user_id)), tzinfo=BERLIN)
        if due > now:
            continue
        n += (
            enqueue(
                session,
                kind="shift_reminder",
                user_id=user_id,
                agency_id=shift.agency_id,
                object_type="shift",
                object_id=shift.id,
                params={"assignment": a.id},
                key=f"shift_reminder:{a.id}:{shift.starts_at:%Y%m%dT%H%M}:{user_id}",
                now=now,
            )
            is not None
        )
    return n


def _open_shift_digests(session: Session, now: datetime, today: date) -> int:
    n = 0
    volunteers = session.execute(
        select(User.id, Volunteer.id, Volunteer.agency_id)
        .join(Volunteer, Volunteer.id == User.volunteer_id)
        .where(User.active.is_(True), Volunteer.active.is_(True))
    ).all()
    for user_id, volunteer_id, agency_id in volunteers:
        key = f"open_shifts_digest:{user_id}:{today.isoformat()}"
        if not wants(session, user_id, "open_shifts_digest") or session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.key == key)
        ):
            continue
        listed: set[int] = set()
        for params in session.scalars(
            select(OutboxMessage.params).where(
                OutboxMessage.user_id == user_id, OutboxMessage.kind == "open_shifts_digest"
            )
        ):
            listed.update(int(s["id"]) for s in (params or {}).get("shifts", []))
        mine = set(
            session.scalars(
                select(ShiftAssignment.shift_id).where(
                    ShiftAssignment.volunteer_id == volunteer_id,
                    ShiftAssignment.status.in_(ACTIVE),
                )
            )
        )
        items = []
        for shift, title in _scheduled_shifts(session, now, now + DIGEST_HORIZON):
            if shift.agency_id != agency_id or shift.id in listed or shift.id in mine:
                continue
            taken = session.scalar(
                select(func.count()).where(
                    ShiftAssignment.shift_id == shift.id, ShiftAssignment.status.in_(ACTIVE)
                )
            )
            if (taken or 0) < shift.needed:
                items.append(
                    {
                        "id": shift.id,
                        "role": shift.role,
                        "title": title,
                        "starts_at": shift.starts_at.isoformat(),
                        "ends_at": shift.ends_at.isoformat(),
                    }
                )
        if items:
            n += (
                enqueue(
                    session,
                    kind="open_shifts_digest",
                    user_id=user_id,
                    agency_id=agency_id,
                    object_type="agency",
                    object_id=agency_id,
                    params={"shifts": items[:30]},
                    key=key,
                    now=now,
                )
                is not None
            )
    return n


def _open_deadlines(session: Session, today: date, start: date, end: date):
    """(agency id, agency name, deadline) of deadlines with a district date in [start, end]
    that the agency has not marked as submitted."""
    agencies = session.execute(
        select(Agency.id, Agency.name).where(Agency.active.is_(True)).order_by(Agency.name)
    ).all()
    window = [d for d in deadlines_between(start, end) if start <= d.district_due <= end]
    if not window or not agencies:
        return []
    done = {
        (r.agency_id, r.funding_year, r.kind)
        for r in session.scalars(
            select(DeadlineStatus).where(
                DeadlineStatus.submitted_at.is_not(None),
                DeadlineStatus.funding_year.in_({d.funding_year for d in window}),
            )
        )
    }
    return [
        (agency_id, name, d)
        for agency_id, name in agencies
        for d in window
        if (agency_id, d.funding_year, d.kind.value) not in done
    ]


def _deadlines(session: Session, now: datetime, today: date) -> int:
    n = 0
    rows = _open_deadlines(
        session, today, today - timedelta(days=OVERDUE_WINDOW_DAYS), today + timedelta(days=14)
    )
    for agency_id, _name, d in rows:
        left = (d.district_due - today).days
        kind = "deadline_overdue" if left < 0 else "deadline_3" if left <= 3 else "deadline_14"
        for user_id in _users(session, "specialist", agency_id):
            n += (
                enqueue(
                    session,
                    kind=kind,
                    user_id=user_id,
                    agency_id=agency_id,
                    object_type="deadline",
                    object_id=None,
                    params={
                        "deadline": d.kind.value,
                        "year": d.funding_year,
                        "title": d.title,
                        "due": d.district_due.isoformat(),
                    },
                    key=f"{kind}:{agency_id}:{d.funding_year}:{d.kind.value}:{user_id}",
                    now=now,
                )
                is not None
            )
    return n


def _qualifications(session: Session, now: datetime, today: date) -> int:
    from ia_events.volunteers.registry import qualification_label

    n = 0
    rows = session.scalars(
        select(Qualification)
        .join(Volunteer, Volunteer.id == Qualification.volunteer_id)
        .where(
            Volunteer.active.is_(True),
            Qualification.valid_until.is_not(None),
            Qualification.valid_until >= today,
            Qualification.valid_until <= today + timedelta(days=QUALIFICATION_DAYS),
        )
    ).all()
    for q in rows:
        assert q.valid_until is not None
        newer = session.scalar(
            select(Qualification.id).where(
                Qualification.volunteer_id == q.volunteer_id,
                Qualification.kind == q.kind,
                (Qualification.valid_until.is_(None)) | (Qualification.valid_until > q.valid_until),
            )
        )
        if newer is not None:  # already renewed
            continue
        for user_id in _users(session, "specialist", q.agency_id):
            n += (
                enqueue(
                    session,
                    kind="qualification_expiring",
                    user_id=user_id,
                    agency_id=q.agency_id,
                    object_type="qualification",
                    object_id=q.id,
                    params={
                        "volunteer": q.volunteer_id,
                        "label": qualification_label(q.kind),
                        "valid_until": q.valid_until.isoformat(),
                    },
                    key=f"qualification_expiring:{q.id}:{user_id}",
                    now=now,
                )
                is not None
            )
    return n


def _understaffed(session: Session, now: datetime) -> int:
    n = 0
    for shift, _title in _scheduled_shifts(session, now, now + timedelta(days=UNDERSTAFFED_DAYS)):
        taken = (
            session.scalar(
                select(func.count()).where(
                    ShiftAssignment.shift_id == shift.id, ShiftAssignment.status.in_(ACTIVE)
                )
            )
            or 0
        )
        if taken >= shift.needed:
            continue
        for user_id in _users(session, "specialist", shift.agency_id):
            n += (
                enqueue(
                    session,
                    kind="shift_understaffed",
                    user_id=user_id,
                    agency_id=shift.agency_id,
                    object_type="shift",
                    object_id=shift.id,
                    params={"missing": shift.needed - taken},
                    key=f"shift_understaffed:{shift.id}:{user_id}",
                    now=now,
                )
                is not None
            )
    return n


def _coordinator_digest(session: Session, now: datetime, today: date) -> int:
    rows = _open_deadlines(session, today, today - timedelta(days=365), today - timedelta(days=1))
    if not rows:
        return 0
    items = [
        {"agency": name, "title": d.title, "due": d.district_due.isoformat()}
        for _agency_id, name, d in rows
    ]
    year, week, _ = today.isocalendar()
    n = 0
    for user_id in _users(session, "coordinator"):
        n += (
            enqueue(
                session,
                kind="coordinator_digest",
                user_id=user_id,
                agency_id=None,
                object_type="district",
                object_id=None,
                params={"items": items[:200], "week": f"{year}-W{week:02d}"},
                key=f"coordinator_digest:{year}-W{week:02d}:{user_id}",
                now=now,
            )
            is not None
        )
    return n
