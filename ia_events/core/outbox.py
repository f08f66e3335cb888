"""The outbox: messages written in the same transaction as the change that causes them.

Services call ``shift_event`` / ``plan_event`` (events) and ``rules`` calls
``enqueue`` with a stable ``key`` (scheduled kinds), so a scheduled message
is enqueued once however often the job runs. A row holds ids, the kind, a few
non-personal parameters and the delivery state; ``delivery`` renders and
sends it. Nothing is enqueued for a person without a notification address or
who switched the kind off (checked again at sending time).

The admin's System page reads ``overview`` (what is waiting, what failed, what
needs review) and may put a failed or unclear message back with ``requeue``.

Limits: this module imports only ``core`` and ``storage`` so every domain
package can write to the outbox without a cycle.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, NotFound
from ia_events.core.models import (
    NotifyPreference,
    Occurrence,
    OutboxMessage,
    Shift,
    ShiftAssignment,
    User,
)
from ia_events.core.permissions import Reach, service
from storage.db import utcnow

# Delivery states (see ``OutboxMessage``).
PENDING, SENDING, COMMITTING, SENT = "pending", "sending", "committing", "sent"
FAILED, REVIEW, SKIPPED = "failed", "review", "skipped"
OPEN_STATES = (PENDING, SENDING, COMMITTING)

# Same role sets as ``kinds.KINDS`` (kept here so this module needs nothing of notify).
_ROLES_OF = {
    "shift_confirmed": "volunteer",
    "shift_changed": "volunteer",
    "shift_cancelled": "volunteer",
    "plan_returned": "specialist",
    "plan_approved": "specialist",
    "plan_submitted": "coordinator",
}


def _msgid_domain() -> str:
    url = os.environ.get("IA_EVENTS_SMTP_URL", "")
    sender = ""
    if url:
        from urllib.parse import parse_qs

        sender = (parse_qs(urlsplit(url).query).get("from") or [""])[0]
    domain = sender.rpartition("@")[2] if "@" in sender else ""
    return domain or "ia-events.local"


def wants(session: Session, user_id: int, kind: str) -> bool:
    """Has the person given an address and left ``kind`` switched on?"""
    row = session.get(NotifyPreference, user_id)
    return row is not None and row.email_enc is not None and kind not in (row.disabled or [])


def enqueue(
    session: Session,
    *,
    kind: str,
    user_id: int,
    agency_id: int | None,
    object_type: str,
    object_id: int | None,
    params: dict[str, Any] | None = None,
    key: str | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add one message (in the caller's transaction). With ``key`` it is added only
    once ever; returns None when it exists already or the person does not want it."""
    if not wants(session, user_id, kind):
        return None
    now = now or utcnow()
    if key is not None:
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)):
            return None
    else:
        key = f"{kind}:{object_type}:{object_id}:{user_id}:{uuid.uuid4().hex[:16]}"
    row = OutboxMessage(
        key=key[:200],
        kind=kind,
        user_id=user_id,
        agency_id=agency_id,
        object_type=object_type,
        object_id=object_id,
        params=params or {},
        created_at=now,
        due_at=due_at or now,
        status=PENDING,
        attempts=0,
        message_id=f"<{uuid.uuid4().hex}.{kind.replace('_', '-')}@{_msgid_domain()}>",
    )
    # A concurrent scheduler may add the same key first: its unique constraint wins,
    # we step back to the savepoint and keep the caller's transaction.
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def _users(session: Session, role: str, agency_id: int | None = None) -> list[int]:
    q = select(User.id).where(User.role == role, User.active.is_(True))
    if agency_id is not None:
        q = q.where(User.agency_id == agency_id)
    return list(session.scalars(q.order_by(User.id)))


def shift_event(
    session: Session,
    kind: str,
    *,
    volunteer_id: int,
    agency_id: int,
    shift_id: int,
    assignment_id: int | None = None,
    now: datetime | None = None,
    **params: Any,
) -> int:
    """A shift of this volunteer was confirmed, changed or cancelled: tell the person
    (through their own login). Returns the number of messages enqueued."""
    users = session.scalars(
        select(User.id).where(User.volunteer_id == volunteer_id, User.active.is_(True))
    )
    n = 0
    for user_id in users:
        row = enqueue(
            session,
            kind=kind,
            user_id=user_id,
            agency_id=agency_id,
            object_type="shift",
            object_id=shift_id,
            params={"assignment": assignment_id, **params},
            now=now,
        )
        n += row is not None
    return n


def occurrence_event(
    session: Session,
    occurrence: Occurrence,
    *,
    cancelled: bool = False,
    old_times: tuple[datetime, datetime] | None = None,
    old_place: str | None = None,
    now: datetime | None = None,
) -> int:
    """Tell every volunteer with an active shift on ``occurrence`` that the date was
    cancelled or moved (called by ``planning.schedule`` inside its transaction)."""
    now = now or utcnow()
    if occurrence.ends_at <= now and (old_times is None or old_times[1] <= now):
        return 0
    n = 0
    rows = session.execute(
        select(ShiftAssignment, Shift)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(
            Shift.occurrence_id == occurrence.id,
            ShiftAssignment.status.in_(("signed_up", "assigned")),
        )
    ).all()
    for a, shift in rows:
        params: dict[str, Any] = {}
        if cancelled:
            params["why"] = "occurrence_cancelled"
        else:
            if old_times is not None:
                params["old_starts_at"] = old_times[0].isoformat()
                params["old_ends_at"] = old_times[1].isoformat()
            if old_place is not None:
                params["old_place"] = old_place
        n += shift_event(
            session,
            "shift_cancelled" if cancelled else "shift_changed",
            volunteer_id=a.volunteer_id,
            agency_id=a.agency_id,
            shift_id=shift.id,
            assignment_id=a.id,
            now=now,
            **params,
        )
    return n


# Parameters that are message text (not ids): removed from the row once it is sent.
BODY_PARAMS = ("note",)


def plan_event(
    session: Session,
    kind: str,
    *,
    plan_id: int,
    agency_id: int,
    note: str = "",
    now: datetime | None = None,
) -> int:
    """A task plan was submitted (to coordinators), returned (with the coordinator's
    ``note``, kept until sent) or approved (to the agency's specialists)."""
    role = _ROLES_OF[kind]
    targets = _users(session, role, agency_id if role == "specialist" else None)
    n = 0
    for user_id in targets:
        row = enqueue(
            session,
            kind=kind,
            user_id=user_id,
            agency_id=agency_id,
            object_type="task_plan",
            object_id=plan_id,
            params={"note": note} if note else {},
            now=now,
        )
        n += row is not None
    return n


def report_event(
    session: Session, *, report_id: int, agency_id: int, now: datetime | None = None
) -> int:
    """An agency submitted its Sachbericht: tell the coordination."""
    n = 0
    for user_id in _users(session, "coordinator"):
        row = enqueue(
            session,
            kind="report_submitted",
            user_id=user_id,
            agency_id=agency_id,
            object_type="activity_report",
            object_id=report_id,
            now=now,
        )
        n += row is not None
    return n


# -- for the admin ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxView:
    id: int
    kind: str
    user: str
    agency_id: int | None
    status: str
    due_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    subject: str | None
    body_text: str | None


@service(Permission.system_run, Reach.installation)
def overview(
    session: Session, actor: Actor, statuses: tuple[str, ...] | None = None, limit: int = 200
) -> list[OutboxView]:
    """Messages, newest first (only ``statuses``, if given) -- for the System page."""
    require(actor, Permission.system_run)
    q = select(OutboxMessage, User.username).join(User, User.id == OutboxMessage.user_id)
    if statuses:
        q = q.where(OutboxMessage.status.in_(statuses))
    rows = session.execute(q.order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return [
        OutboxView(
            m.id,
            m.kind,
            username,
            m.agency_id,
            m.status,
            m.due_at,
            m.attempts,
            m.next_attempt_at,
            m.sent_at,
            m.last_error,
            m.subject,
            m.body_text,
        )
        for m, username in rows
    ]


@service(Permission.system_run, Reach.installation)
def counts(session: Session, actor: Actor) -> dict[str, int]:
    require(actor, Permission.system_run)
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: int(n) for status, n in rows}


@service(Permission.system_run, Reach.installation)
def requeue(session: Session, actor: Actor, message_id: int, now: datetime | None = None) -> None:
    """An admin sends a failed or unclear ('review') message again, after checking
    (e.g. with the recipient) that it did not arrive. It keeps its Message-ID."""
    require(actor, Permission.system_run)
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(what="Die Nachricht")
    if row.status not in (FAILED, REVIEW):
        raise Conflict("notify_not_reviewable")
    previous = row.status
    row.status = PENDING
    row.next_attempt_at = now or utcnow()
    row.lease_until = None
    row.claimed_by = None
    audit.record(
        session,
        actor.name,
        Action.notify_requeue,
        "outbox",
        row.id,
        agency_id=row.agency_id,
        previous=previous,
    )
