"""Delivery: claim due messages, send each through SMTP once, record the outcome.

One run (``run``; ``ia-events notify`` and the server's background thread):

1. ``rules.plan`` enqueues the scheduled messages due at ``now``.
2. Recovery of expired leases: a row left in ``sending`` (claimed, but the
   final dot never went out) goes back to ``pending`` -- the server discarded
   the unfinished transaction, so resending cannot double it. A row left in
   ``committing`` (the dot may have gone out) becomes ``review``: it is *not*
   resent; the admin sees it on the System page and may requeue it after
   checking. This is the at-most-once choice: a mail duplicated by a machine
   erodes trust more than one flagged for a person to look at, and the window
   in which it can happen is the few milliseconds between recording
   ``committing`` and the server's reply to the dot.
3. Claim: in one transaction, pending rows that are due are locked
   (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite: the writing
   transaction starts with ``BEGIN IMMEDIATE``, so claims are serialised) and
   marked ``sending`` with a lease and this worker's id; the body is rendered
   into the row.
4. Send: after the server said 354 to DATA, the row turns ``committing`` --
   only if it is still claimed by this worker (a fence: a slow worker whose
   lease was recovered drops the connection without the dot). Then the dot;
   250 makes it ``sent`` and clears subject and body (the outbox keeps ids and
   state only). 4xx or an unreachable server: ``pending`` again with
   exponential backoff (1, 2, 4 ... minutes, at most 6 hours; ``failed``
   after ``MAX_ATTEMPTS``); 5xx: ``failed`` with the server's answer, shown to
   the admin.

Two concurrent senders therefore never hold the same row, and every row
carries the Message-ID fixed when it was enqueued (a requeued message keeps
it, so a mail program that has it already drops the copy).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission, require
from ia_events.core.installation import Installation
from ia_events.core.models import OutboxMessage
from ia_events.core.outbox import (
    BODY_PARAMS,
    COMMITTING,
    FAILED,
    PENDING,
    REVIEW,
    SENDING,
    SENT,
    SKIPPED,
)
from ia_events.core.permissions import Reach, service
from ia_events.notify import mail, rules
from ia_events.notify.prefs import optout_url, recipient
from ia_events.notify.texts import render
from storage.db import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 10
MAX_BACKOFF = timedelta(hours=6)
BATCH = 20


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 1, 2, 4, ... minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class RunReport:
    now: datetime
    smtp: str | None
    dry_run: bool
    enqueued: int = 0
    recovered: list[int] = field(default_factory=list)
    review: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    due: list[dict[str, object]] = field(default_factory=list)
    pending: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "now": self.now.isoformat(),
            "smtp": self.smtp is not None,
            "dry_run": self.dry_run,
            "enqueued": self.enqueued,
            "sent": self.sent,
            "retry": self.retry,
            "failed": self.failed,
            "review": self.review,
            "skipped": self.skipped,
            "recovered": self.recovered,
            "pending": self.pending,
            "due": self.due,
        }


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _due_query(now: datetime):
    return (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.due_at <= now,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.id)
    )


def _describe(m: OutboxMessage) -> dict[str, object]:
    return {
        "id": m.id,
        "kind": m.kind,
        "user_id": m.user_id,
        "due_at": m.due_at.isoformat(),
        "attempts": m.attempts,
    }


def recover(session: Session, now: datetime) -> tuple[list[int], list[int]]:
    """Expired leases: ``sending`` back to ``pending``, ``committing`` to ``review``."""
    back, review = [], []
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_((SENDING, COMMITTING)),
            OutboxMessage.lease_until < now,
        )
        .with_for_update()
    ).all()
    for row in rows:
        if row.status == SENDING:
            row.status = PENDING
            row.next_attempt_at = now
            row.lease_until = None
            row.claimed_by = None
            back.append(row.id)
        else:
            row.status = REVIEW
            row.last_error = (
                "Zustellung unklar: Abbruch während der Übergabe an den Mailserver; "
                "nicht erneut gesendet. Bitte prüfen und ggf. erneut senden."
            )
            review.append(row.id)
    return back, review


@dataclass
class _Claimed:
    id: int
    to: str
    message: EmailMessage


def _claim(
    inst: Installation, cfg: mail.SmtpConfig, now: datetime, worker: str, report: RunReport
) -> list[_Claimed]:
    out: list[_Claimed] = []
    with inst.db.write() as s:
        q = _due_query(now).limit(BATCH)
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        for row in s.scalars(q).all():
            to = recipient(s, inst.keys, row.user_id, row.kind)
            rendered = render(s, inst.keys, row, inst.settings.base_url, cfg.domain) if to else None
            if to is None or rendered is None:
                row.status = SKIPPED
                row.subject = row.body_text = row.body_html = None
                row.last_error = (
                    "kein Empfänger (keine Adresse, abbestellt)"
                    if to is None
                    else ("Gegenstand nicht mehr vorhanden")
                )
                report.skipped.append(row.id)
                continue
            row.status = SENDING
            row.lease_until = now + LEASE
            row.claimed_by = worker
            row.subject, row.body_text, row.body_html = (
                rendered.subject,
                rendered.text,
                rendered.html,
            )
            msg = mail.build(
                cfg,
                sender_name=rendered.sender_name,
                to=to,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=row.message_id,
                unsubscribe_url=optout_url(
                    inst.settings.base_url, inst.keys, row.user_id, row.kind
                ),
                attachment=rendered.attachment,
            )
            out.append(_Claimed(row.id, to, msg))
    return out


class LostClaim(Exception):
    """The lease ran out and someone else took over: do not send the final dot."""


def _mark_committing(inst: Installation, message_id: int, worker: str) -> None:
    with inst.db.write() as s:
        row = s.get(OutboxMessage, message_id, with_for_update=True)
        if row is None or row.status != SENDING or row.claimed_by != worker:
            raise LostClaim()
        row.status = COMMITTING


def _finish(
    inst: Installation, message_id: int, worker: str, outcome: str, now: datetime, error: str = ""
) -> str:
    with inst.db.write() as s:
        row = s.get(OutboxMessage, message_id, with_for_update=True)
        if row is None or row.claimed_by != worker:
            return "lost"
        row.lease_until = None
        if outcome == SENT:
            row.status = SENT
            row.sent_at = now
            row.subject = row.body_text = row.body_html = None  # the body only until sent
            row.params = {k: v for k, v in (row.params or {}).items() if k not in BODY_PARAMS}
            row.last_error = None
            return SENT
        if outcome == REVIEW:
            row.status = REVIEW
            row.last_error = error[:500]
            return REVIEW
        row.attempts += 1
        row.last_error = error[:500]
        if outcome == FAILED or row.attempts >= MAX_ATTEMPTS:
            row.status = FAILED
            return FAILED
        row.status = PENDING
        row.claimed_by = None
        row.next_attempt_at = now + backoff(row.attempts)
        return "retry"


def _send(inst: Installation, cfg: mail.SmtpConfig, item: _Claimed, now: datetime, worker: str,
          report: RunReport) -> None:  # fmt: skip
    try:
        mail.transmit(
            cfg,
            item.message,
            item.to,
            lambda: _mark_committing(inst, item.id, worker),
        )
    except LostClaim:
        return
    except mail.TemporaryFailure as exc:
        result = _finish(inst, item.id, worker, "retry", now, str(exc))
    except mail.PermanentFailure as exc:
        result = _finish(inst, item.id, worker, FAILED, now, str(exc))
    except mail.Unclear as exc:
        result = _finish(inst, item.id, worker, REVIEW, now, str(exc))
    else:
        result = _finish(inst, item.id, worker, SENT, now)
    {SENT: report.sent, "retry": report.retry, FAILED: report.failed, REVIEW: report.review}.get(
        result, []
    ).append(item.id)


def run(
    inst: Installation,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    cfg: mail.SmtpConfig | None = None,
    worker: str | None = None,
) -> RunReport:
    """One pass of the job at ``now`` (see the module docstring)."""
    now = now or utcnow()
    cfg = cfg if cfg is not None else mail.config_from_env()
    report = RunReport(now, cfg.describe() if cfg else None, dry_run)
    if dry_run:
        # Enqueue inside a transaction that is rolled back: what would be added and sent.
        with inst.db.read() as s:
            report.enqueued = rules.plan(s, now)
            report.due = [_describe(m) for m in s.scalars(_due_query(now)).all()]
            report.pending = len(report.due)
            s.rollback()
        return report
    with inst.db.write() as s:
        report.enqueued = rules.plan(s, now)
    with inst.db.write() as s:
        report.recovered, report.review = recover(s, now)
    if cfg is not None:
        worker = worker or worker_id()
        seen: set[int] = set()
        while True:
            batch = [c for c in _claim(inst, cfg, now, worker, report) if c.id not in seen]
            if not batch:
                break
            for item in batch:
                seen.add(item.id)
                _send(inst, cfg, item, now, worker, report)
    with inst.db.read() as s:
        due = s.scalars(_due_query(now)).all()
        report.due = [_describe(m) for m in due]
        report.pending = len(due)
    return report


@service(Permission.system_run, Reach.installation)
def preview(inst: Installation, actor: Actor, ids: list[int]) -> list[tuple[str, str]]:
    """(subject, plain text) of waiting messages as they would be sent -- for the admin's
    System page when no mail server is configured (the demo). Changes nothing."""
    require(actor, Permission.system_run)
    cfg = mail.config_from_env()
    domain = cfg.domain if cfg else "ia-events.local"
    out = []
    with inst.db.read() as s:
        for row in s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
            rendered = render(s, inst.keys, row, inst.settings.base_url, domain)
            if rendered is not None:
                out.append((rendered.subject, rendered.text))
    return out


# -- the server's background thread -------------------------------------------------------------

_started = False
_start_lock = threading.Lock()
INTERVAL_SECONDS = 300


def start_background(
    get_inst: Callable[[], Installation], interval: float = INTERVAL_SECONDS
) -> bool:
    """Start the sending thread once per process; False when it already runs.

    Safe beside cron and beside other server processes: claims are locked."""
    global _started
    with _start_lock:
        if _started or os.environ.get("IA_EVENTS_NOTIFY_THREAD", "1") == "0":
            return False
        _started = True

    def loop() -> None:
        time.sleep(min(interval, 60))  # let the server finish starting first
        while True:
            try:
                run(get_inst())
            except Exception:  # keep the thread alive; the next pass retries
                log.exception("notify: pass failed")
            time.sleep(interval)

    threading.Thread(target=loop, name="ia-events-notify", daemon=True).start()
    return True
