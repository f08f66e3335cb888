"""The append-only, hash-chained audit log.

``record`` is called by every service that changes data, inside the same
transaction, so an event exists exactly when its change does. Each event's
hash covers its fields and the previous hash; altering, deleting or
reordering a row breaks every hash after it. Events carry ids and digests,
never personal values, so anonymising a person never breaks the chain.

Signed checkpoints (``checkpoint``) of the chain head are written to files
outside the database, so an outsider can confirm the log was not rewritten
(a rewritten chain no longer matches an earlier signed head).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Insert,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from ia_events.core.access import Permission
from ia_events.core.models import AuditEvent
from ia_events.core.permissions import Reach, service
from storage import prepared
from storage.db import CHAIN_LOCK_ID, lock_chain, utcnow
from storage.files import private_opener
from storage.keys import KeyRing, b64

GENESIS = "0" * 64


class Action(enum.StrEnum):
    install_init = "install:init"
    demo_load = "install:demo"
    keys_rotate = "keys:rotate"
    agency_add = "agency:add"
    user_add = "user:add"
    user_deactivate = "user:deactivate"
    user_reactivate = "user:reactivate"
    user_password_reset = "user:password:reset"
    user_password_change = "user:password:change"
    user_login = "user:login"
    user_login_failed = "user:login:failed"
    user_locked = "user:locked"
    user_logout = "user:logout"
    user_logout_all = "user:logout:all"
    plan_add = "plan:add"
    plan_change = "plan:change"
    plan_submit = "plan:submit"
    plan_approve = "plan:approve"
    plan_return = "plan:return"
    plan_notice = "plan:notice"
    plan_notice_sent = "plan:notice:sent"
    analysis_add = "analysis:add"
    analysis_change = "analysis:change"
    analysis_submit = "analysis:submit"
    analysis_approve = "analysis:approve"
    analysis_return = "analysis:return"
    report_approve = "report:approve"
    report_return = "report:return"
    personnel_add = "personnel:add"
    personnel_change = "personnel:change"
    template_add = "template:add"
    subgoal_add = "subgoal:add"
    subgoal_change = "subgoal:change"
    activity_add = "activity:add"
    activity_change = "activity:change"
    activity_delete = "activity:delete"
    occurrence_add = "occurrence:add"
    occurrence_change = "occurrence:change"
    occurrence_cancel = "occurrence:cancel"
    closure_add = "closure:add"
    feed_add = "feed:add"
    feed_revoke = "feed:revoke"
    deadline_submit = "deadline:submit"
    deadline_add = "deadline:add"
    deadline_withdraw = "deadline:withdraw"
    deadline_done = "deadline:done"
    checkin_link = "checkin:link"
    checkin_revoke = "checkin:revoke"
    checkin_burst_stop = "checkin:burst_stop"
    attendance_add = "attendance:add"
    attendance_undo = "attendance:undo"
    list_seal = "attendance:list:seal"
    scan_assign = "evidence:scan:assign"
    card_add = "card:add"
    evidence_add = "evidence:add"
    evidence_read = "evidence:read"
    evidence_supersede = "evidence:supersede"
    evidence_hold = "evidence:hold"
    evidence_release = "evidence:release"
    evidence_delete = "evidence:delete"
    evidence_change = "evidence:change"
    retention_run = "retention:run"
    retention_anonymise = "retention:anonymise"
    subject_access = "subject:access"
    subject_erasure = "subject:erasure"
    backup_create = "system:backup"
    backup_restore = "system:restore"
    archive_migrate = "system:archive-migrate"
    volunteer_add = "volunteer:add"
    volunteer_change = "volunteer:change"
    volunteer_deactivate = "volunteer:deactivate"
    volunteer_import = "volunteer:import"
    volunteer_export = "volunteer:export"
    volunteer_certificate = "volunteer:certificate"
    qualification_add = "volunteer:qualification:add"
    shift_add = "shift:add"
    shift_signup = "shift:signup"
    shift_assign = "shift:assign"
    shift_withdraw = "shift:withdraw"
    shift_no_show = "shift:no_show"
    shift_checkin = "shift:checkin"
    shift_checkout = "shift:checkout"
    shift_hours_override = "shift:hours:override"
    worklog_add = "volunteer:worklog:add"
    setting_change = "setting:change"
    system_verify = "system:verify"
    audit_read = "audit:read"
    bundle_export = "bundle:export"
    report_change = "report:change"
    report_submit = "report:submit"
    report_export = "report:export"
    controlling_export = "controlling:export"
    partner_add = "partner:add"
    partner_change = "partner:change"
    partner_archive = "partner:archive"
    partner_restore = "partner:restore"
    partner_merge = "partner:merge"
    partner_link = "partner:link"
    partner_unlink = "partner:unlink"
    partner_contact_add = "partner:contact-add"
    partner_contact_change = "partner:contact-change"
    partner_contact_remove = "partner:contact-remove"
    funding_add = "funding:add"
    funding_remove = "funding:remove"
    funding_cost = "funding:cost"
    multiplier_set = "multiplier:set"
    multiplier_unset = "multiplier:unset"
    meeting_add = "meeting:add"
    meeting_change = "meeting:change"
    meeting_cancel = "meeting:cancel"
    meeting_minutes = "meeting:minutes"
    process_add = "process:add"
    process_change = "process:change"
    process_contact = "process:contact"
    counselling_add = "counselling:add"
    counselling_delete = "counselling:delete"
    lending_add = "lending:add"
    lending_return = "lending:return"
    notify_prefs = "notify:prefs"
    notify_optout = "notify:optout"
    notify_requeue = "notify:requeue"


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@service(None, Reach.internal, "pure function of an event")
def event_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    agency_id: int | None,
    details: dict[str, Any],
) -> str:
    body = {
        "seq": seq,
        # Microseconds dropped: not every database keeps them the same way.
        "at": at.replace(microsecond=0).isoformat(),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "agency_id": agency_id,
        "details": details,
    }
    return hashlib.sha256(prev_hash.encode() + _canonical(body)).hexdigest()


def _link(
    head: Any,
    actor: str,
    action: Action | str,
    object_type: str,
    object_id: object,
    agency_id: int | None,
    now: datetime | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    """The next event after ``head`` (a ``(seq, hash)`` row or None), as column values."""
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    # Hashed as stored: UTC (a Berlin-aware ``now`` would hash a different string).
    at = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    oid = None if object_id is None else str(object_id)
    clean = json.loads(_canonical(details))  # JSON-safe and exactly what gets hashed
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": str(action),
        "object_type": object_type,
        "object_id": oid,
        "agency_id": agency_id,
        "details": clean,
        "prev_hash": prev,
        "hash": event_hash(prev, seq, at, actor, str(action), object_type, oid, agency_id, clean),
    }


@service(None, Reach.internal, "takes the actor's name; written by every change")
def record(
    session: Session,
    actor: str,
    action: Action | str,
    object_type: str,
    object_id: object = None,
    *,
    agency_id: int | None = None,
    now: datetime | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    lock_chain(session)
    session.flush()
    head = session.execute(_HEAD).first()
    event = AuditEvent(
        **_link(head, actor, action, object_type, object_id, agency_id, now, details)
    )
    session.add(event)
    session.flush()
    return event


# Declarative ``__table__`` is a Table at run time; its annotation says FromClause.
_EVENTS = cast(Table, AuditEvent.__table__)
_NEWEST = _EVENTS.c.seq.desc()
# The chain head as two scalar subqueries, for a hot path to read it inside a statement it
# runs anyway (``append(head=...)``): (seq, hash) of the newest event, NULL when empty.
HEAD_SEQ = select(_EVENTS.c.seq).order_by(_NEWEST).limit(1).scalar_subquery()
HEAD_HASH = select(_EVENTS.c.hash).order_by(_NEWEST).limit(1).scalar_subquery()
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_NEWEST).limit(1)
_ADD = insert(_EVENTS)


# The chain lock as an expression, for a hot path to select alongside something it reads
# anyway (PostgreSQL's advisory lock of ``lock_chain``; see ``takes_chain_lock``).
CHAIN_LOCK = func.pg_advisory_xact_lock(literal_column(str(CHAIN_LOCK_ID)))


def takes_chain_lock(conn: Connection) -> bool:
    """Whether appends on ``conn`` need ``CHAIN_LOCK`` (PostgreSQL); SQLite's writers
    already hold ``BEGIN IMMEDIATE``."""
    return conn.dialect.name == "postgresql"


@service(None, Reach.internal, "audit.record for hot paths (Core); takes the actor's name")
def append(
    conn: Connection,
    actor: str,
    action: Action | str,
    object_type: str,
    object_id: object = None,
    *,
    agency_id: int | None = None,
    now: datetime | None = None,
    head: tuple[int | None, str | None] | None = None,
    **details: Any,
) -> int:
    """``record`` for hot paths (check-in): the same event and hash, written with Core on
    the caller's connection (``session.connection()`` after a flush), no ORM object.
    Returns the event's ``seq``.

    Without ``head`` it takes the chain lock, reads the head and inserts (three statements
    on PostgreSQL, two on SQLite). With ``head`` -- (``HEAD_SEQ``, ``HEAD_HASH``) as the
    caller read them -- it only inserts; the caller guarantees they were read in this
    transaction by a statement that *began after* the chain lock was held (``CHAIN_LOCK``
    or ``lock_chain`` in an earlier statement; on PostgreSQL a statement sees only what
    was committed when it began, so a head read in the statement that waits for the lock
    may be stale). A stale head cannot go unnoticed: ``seq`` is unique."""
    if head is None:
        lock_chain(conn)
        head = conn.execute(_HEAD).first()
    values = _link(_head(head), actor, action, object_type, object_id, agency_id, now, details)
    conn.execute(_ADD, values)
    return int(values["seq"])


def _head(head: Any) -> Any:
    return None if head is None or head[0] is None else head


_EVENT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "agency_id",
    "details",
    "prev_hash",
    "hash",
)
# The event as a data-modifying CTE that another INSERT can carry (PostgreSQL).
_EVENT_CTE = (
    insert(_EVENTS)
    .values({c: bindparam(f"event_{c}", type_=_EVENTS.c[c].type) for c in _EVENT_COLUMNS})
    .cte("audit_event")
)
_CARRIERS: dict[Insert, Insert] = {}


@service(None, Reach.internal, "audit.append inside a caller's insert; actor's name")
def append_along(
    conn: Connection,
    along: tuple[Insert, dict[str, Any]],
    actor: str,
    action: Action | str,
    object_type: str,
    object_id: object = None,
    *,
    agency_id: int | None = None,
    now: datetime | None = None,
    head: tuple[int | None, str | None],
    **details: Any,
) -> list[tuple[Any, ...]]:
    """``append`` with a ``head`` (same rules) together with another INSERT, ``along`` =
    (statement, its parameters): on PostgreSQL one statement (the event rides along as a
    data-modifying CTE), elsewhere two. Returns the other statement's RETURNING rows.
    The statement should be a module constant: its combined and compiled forms are kept
    (both run through ``storage.prepared``, the check-in hot path)."""
    values = _link(_head(head), actor, action, object_type, object_id, agency_id, now, details)
    stmt, params = along
    if conn.dialect.name != "postgresql":
        prepared.run(conn, _ADD, values)
        return prepared.run(conn, stmt, params)
    carrier = _CARRIERS.get(stmt)
    if carrier is None:
        carrier = _CARRIERS[stmt] = stmt.add_cte(_EVENT_CTE)
    return prepared.run(conn, carrier, {**params, **{f"event_{k}": v for k, v in values.items()}})


@dataclass(frozen=True)
class ChainFault:
    seq: int
    problem: str


def check_chain(session: Session, batch: int = 5000) -> list[ChainFault]:
    """Walk the whole chain in order; collect every break (does not stop at the first)."""
    faults: list[ChainFault] = []
    prev = GENESIS
    expected_seq = 1
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                faults.append(ChainFault(ev.seq, f"Lücke: Ereignis {expected_seq} fehlt"))
            if ev.prev_hash != prev:
                faults.append(ChainFault(ev.seq, "Verkettung gebrochen (prev_hash)"))
            digest = event_hash(
                ev.prev_hash,
                ev.seq,
                ev.at,
                ev.actor,
                ev.action,
                ev.object_type,
                ev.object_id,
                ev.agency_id,
                ev.details,
            )
            if digest != ev.hash:
                faults.append(ChainFault(ev.seq, "Inhalt verändert (Hash passt nicht)"))
            prev = ev.hash
            expected_seq = ev.seq + 1
            last = ev.seq
        session.expunge_all()
    return faults


def head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def data_version(session: Session) -> tuple[int, str]:
    """The version of everything in the database: the chain head (``seq``, ``hash``).
    Every change writes an audit event in its own transaction (``record``/``append``),
    so any committed change -- from a page, the CLI, a background thread or another
    host -- gives a new version, and the hash tells apart two databases (a restore, a
    copy) that happen to hold as many events. Pages key their cached reads by it
    (``pages._ui.cached``); one indexed read of the newest row."""
    return head(session)


def checkpoint(
    session: Session, keys: KeyRing, directory: Path, now: datetime | None = None
) -> Path:
    """Sign the current chain head and write it to ``directory`` (outside the database)."""
    seq, digest = head(session)
    at = (now or utcnow()).replace(microsecond=0)
    body = {"seq": seq, "hash": digest, "at": at.isoformat(), "key": keys.fingerprint()}
    payload = _canonical(body)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{seq:012d}.json"
    data = json.dumps({**body, "signature": b64(keys.sign(payload))}, indent=1).encode()
    # Atomic (temp file, fsync, rename): a full disk or a crash must not leave a
    # truncated checkpoint, which ``verify`` would report as tampering ever after.
    temp = directory / f".{path.name}.{os.urandom(6).hex()}.part"
    try:
        with open(temp, "wb", opener=private_opener) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


CHECKPOINT_FIELDS = ("seq", "hash", "at", "key")


def checkpoint_signed_bytes(data: dict[str, Any]) -> bytes:
    """The exact bytes a checkpoint's signature covers: its fields ``at``, ``hash``, ``key``
    and ``seq`` as JSON, keys sorted, no spaces, UTF-8, no line break at the end."""
    return _canonical({k: data[k] for k in CHECKPOINT_FIELDS})


def checkpoint_signature(data: dict[str, Any]) -> bytes:
    """The raw 64-byte Ed25519 signature of a checkpoint (stored URL-safe base64)."""
    from storage.keys import unb64

    return unb64(data["signature"])


def check_checkpoints(session: Session, keys: KeyRing, directory: Path) -> list[ChainFault]:
    """Each signed checkpoint must still match the chain at its sequence number."""
    faults: list[ChainFault] = []
    for path in sorted(directory.glob("checkpoint-*.json")):
        try:
            data = json.loads(path.read_text())
            body = {k: data[k] for k in CHECKPOINT_FIELDS}
            keys.public_key.verify(checkpoint_signature(data), checkpoint_signed_bytes(data))
        except Exception:
            faults.append(ChainFault(0, f"Prüfpunkt {path.name}: Signatur ungültig"))
            continue
        if body["seq"] == 0:
            continue
        row = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == body["seq"]))
        if row != body["hash"]:
            faults.append(
                ChainFault(body["seq"], f"Prüfpunkt {path.name}: Kette wurde umgeschrieben")
            )
    return faults


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@dataclass(frozen=True)
class EventView:
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    agency_id: int | None
    details: dict[str, Any]


@service(Permission.audit_read, Reach.listing)
def list_events(
    session: Session,
    actor: Any,
    *,
    action_prefix: str = "",
    agency_id: int | None = None,
    limit: int = 50,
    before_seq: int | None = None,
) -> list[EventView]:
    """Newest first, a page at a time (keyset on ``seq``). Reading the log is itself logged
    by the caller only when it exports; browsing is not a change."""
    from ia_events.core.access import Permission, require, scope_filter

    require(actor, Permission.audit_read)
    q = (
        select(AuditEvent)
        .where(scope_filter(actor, AuditEvent.agency_id))
        .order_by(AuditEvent.seq.desc())
        .limit(min(max(limit, 1), 500))
    )
    if action_prefix:
        q = q.where(AuditEvent.action.startswith(action_prefix))
    if agency_id is not None:
        q = q.where(AuditEvent.agency_id == agency_id)
    if before_seq is not None:
        q = q.where(AuditEvent.seq < before_seq)
    return [
        EventView(
            e.seq,
            e.at,
            e.actor,
            e.action,
            e.object_type,
            e.object_id,
            e.agency_id,
            dict(e.details or {}),
        )
        for e in session.scalars(q)
    ]
