"""Attendance of one occurrence: lists, the door's live counter, headcounts and undo.

Check-ins themselves are recorded by ``checkin``; this module reads them back
(names decrypted only for roles allowed to see them), counts headcounts per
category for open events and undoes wrong entries. Undo is never a delete:
the row stays, marked with who, when and why, and an audit event. Counts are
aggregated in SQL.

Limits: no tokens or check-in rules (``checkin``), no PDF (``pdf_lists``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ia_events.attendance.checkin import OK, door_state
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, can, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.messages import BERLIN, berlin
from ia_events.core.models import Attendance, Occurrence, ParticipantCard, Scan
from ia_events.core.permissions import Reach, service
from ia_events.planning.plans import OccurrenceView, list_occurrences
from ia_events.privacy.restriction import shown_text
from storage.db import utcnow
from storage.keys import KeyRing

METHOD_LABELS = {
    "self_qr": "QR (selbst)",
    "door_manual": "an der Tür",
    "card_scan": "Karte",
    "headcount": "Zählung",
    "paper": "Papierliste",
}


@dataclass(frozen=True)
class AttendanceRow:
    id: int
    method: str
    recorded_at: datetime
    count: int
    category: str | None = None
    name: str | None = None  # only for roles that may see names
    card_code: str | None = None
    age_band: str | None = None
    photo_consent: bool | None = None
    undone_at: datetime | None = None
    undo_reason: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "method": self.method,
            "recorded_at": self.recorded_at.isoformat(),
            "count": self.count,
        }


@dataclass(frozen=True)
class ScanRow:
    id: int
    occurrence_id: int | None
    purpose: str
    method: str
    successful: bool
    reason: str
    received_at: datetime
    scanned_at: datetime | None
    attendance_id: int | None
    undone: bool

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "occurrence": self.occurrence_id,
            "purpose": self.purpose,
            "method": self.method,
            "successful": self.successful,
            "reason": self.reason,
            "received_at": self.received_at.isoformat(),
            "scanned_at": self.scanned_at.isoformat() if self.scanned_at else None,
            "attendance_id": self.attendance_id,
            "undone": self.undone,
        }


@dataclass(frozen=True)
class Counter:
    total: int  # sum of valid counts (what "participants" reports)
    entries: int
    by_method: dict[str, int]
    by_category: dict[str, int]
    denied: int  # denied scans, for the door to notice trouble


def _occurrence(session: Session, actor: Actor, occurrence_id: int, perm: Permission):
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, perm, occ.agency_id)
    return occ


@service(Permission.agency_read, Reach.agency, "names need attendance.names")
def list_attendance(
    session: Session,
    keys: KeyRing | None,
    actor: Actor,
    occurrence_id: int,
    *,
    include_undone: bool = False,
    names: bool = False,
) -> list[AttendanceRow]:
    """Valid (and with ``include_undone`` also undone) entries, oldest first."""
    occ = _occurrence(session, actor, occurrence_id, Permission.agency_read)
    show_names = names and keys is not None and can(actor, Permission.attendance_names)
    q = (
        select(Attendance, ParticipantCard.code)
        .outerjoin(ParticipantCard, ParticipantCard.id == Attendance.card_id)
        .where(Attendance.occurrence_id == occ.id)
        .order_by(Attendance.recorded_at, Attendance.id)
    )
    if not include_undone:
        q = q.where(Attendance.undone_at.is_(None))
    rows = []
    for att, code in session.execute(q).all():
        name = None
        if show_names and att.name_enc:
            assert keys is not None
            name = shown_text(
                session, keys, att.agency_id, att.name_enc, "attendance", att.restricted_at
            )
        rows.append(
            AttendanceRow(
                att.id,
                att.method,
                att.recorded_at,
                att.count,
                att.category,
                name,
                code,
                att.age_band,
                att.photo_consent,
                att.undone_at,
                att.undo_reason,
            )
        )
    return rows


@service(Permission.agency_read, Reach.agency)
def list_scans(session: Session, actor: Actor, occurrence_id: int) -> list[ScanRow]:
    """Every attempt at this occurrence, denied and undone ones included."""
    occ = _occurrence(session, actor, occurrence_id, Permission.agency_read)
    q = (
        select(Scan, Attendance.undone_at)
        .outerjoin(Attendance, Attendance.id == Scan.attendance_id)
        .where(Scan.occurrence_id == occ.id)
        .order_by(Scan.received_at, Scan.id)
    )
    return [
        ScanRow(
            s.id,
            s.occurrence_id,
            s.purpose,
            s.method,
            s.successful,
            s.reason,
            s.received_at,
            s.scanned_at,
            s.attendance_id,
            undone is not None,
        )
        for s, undone in session.execute(q).all()
    ]


@service(Permission.checkin_door, Reach.agency)
def counter(session: Session, actor: Actor, occurrence_id: int) -> Counter:
    occ = _occurrence(session, actor, occurrence_id, Permission.checkin_door)
    valid = (Attendance.occurrence_id == occ.id) & Attendance.undone_at.is_(None)
    by_method = {
        m: int(n or 0)
        for m, n in session.execute(
            select(Attendance.method, func.sum(Attendance.count))
            .where(valid)
            .group_by(Attendance.method)
        ).all()
    }
    by_category = {
        str(c): int(n or 0)
        for c, n in session.execute(
            select(Attendance.category, func.sum(Attendance.count))
            .where(valid, Attendance.category.is_not(None))
            .group_by(Attendance.category)
        ).all()
    }
    entries = session.scalar(select(func.count()).select_from(Attendance).where(valid)) or 0
    denied = (
        session.scalar(
            select(func.count())
            .select_from(Scan)
            .where(Scan.occurrence_id == occ.id, Scan.reason != OK)
        )
        or 0
    )
    return Counter(sum(by_method.values()), int(entries), by_method, by_category, int(denied))


@service(Permission.checkin_door, Reach.agency)
def undo(
    session: Session,
    actor: Actor,
    attendance_id: int,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Mark a wrong entry as undone (kept, with who/when/why, audited)."""
    now = now or utcnow()
    att = session.get(Attendance, attendance_id)
    if att is None:
        raise NotFound(what="Der Eintrag")
    require(actor, Permission.checkin_door, att.agency_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput(field="Grund", reason="Bitte kurz begründen (mindestens 3 Zeichen).")
    if len(reason) > 500:
        raise InvalidInput(field="Grund", reason="Höchstens 500 Zeichen.")
    if att.undone_at is not None:
        raise Conflict(reason="Der Eintrag ist schon rückgängig gemacht.")
    _mark_undone(session, actor, att, reason, now)


def _mark_undone(
    session: Session, actor: Actor, att: Attendance, reason: str, now: datetime
) -> None:
    att.undone_at = now
    att.undone_by = actor.name
    att.undo_reason = reason
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.attendance_undo,
        "attendance",
        att.id,
        agency_id=att.agency_id,
        occurrence=att.occurrence_id,
        method=att.method,
        now=now,
    )


@service(Permission.checkin_door, Reach.agency)
def headcount(
    session: Session,
    actor: Actor,
    occurrence_id: int,
    category: str | None,
    delta: int,
    now: datetime | None = None,
) -> int:
    """Count people in or out (+/−) for a category; returns the category's new total.

    "−" undoes the newest headcount entries of the category (audited), so a
    correction never deletes anything and never goes below zero."""
    from ia_events.attendance.checkin import _door_occurrence

    now = now or utcnow()
    occ = _door_occurrence(session, actor, occurrence_id)
    categories = list(occ.activity.count_categories or [])
    if categories and category not in categories:
        raise InvalidInput(field="Kategorie", reason="Bitte eine der Kategorien wählen.")
    if not categories:
        category = None
    if not isinstance(delta, int) or delta == 0 or abs(delta) > 500:
        raise InvalidInput(field="Anzahl", reason="Eine Zahl zwischen −500 und 500, nicht 0.")
    state = door_state(occ, now)
    if state != "open":
        raise Conflict(reason="Der Termin ist abgesagt." if state == "cancelled" else "Zu früh.")
    same = (
        (Attendance.occurrence_id == occ.id)
        & (Attendance.method == "headcount")
        & Attendance.undone_at.is_(None)
        & (Attendance.category.is_(None) if category is None else Attendance.category == category)
    )
    if delta > 0:
        _add_count(session, actor, occ, category, delta, now)
    else:
        remaining = -delta
        rows = session.scalars(select(Attendance).where(same).order_by(Attendance.id.desc())).all()
        if sum(r.count for r in rows) < remaining:
            raise Conflict(reason="Weniger als null geht nicht.")
        for row in rows:
            if remaining == 0:
                break
            _mark_undone(session, actor, row, "Zählung korrigiert (−)", now)
            if row.count > remaining:
                _add_count(session, actor, occ, category, row.count - remaining, now)
                remaining = 0
            else:
                remaining -= row.count
    total = session.scalar(select(func.coalesce(func.sum(Attendance.count), 0)).where(same))
    return int(total or 0)


def _add_count(
    session: Session,
    actor: Actor,
    occ: Occurrence,
    category: str | None,
    count: int,
    now: datetime,
) -> None:
    att = Attendance(
        occurrence_id=occ.id,
        agency_id=occ.agency_id,
        funding_year=occ.funding_year,
        method="headcount",
        recorded_at=now,
        count=count,
        category=category,
        recorded_by=actor.name,
    )
    session.add(att)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.attendance_add,
        "attendance",
        att.id,
        agency_id=occ.agency_id,
        occurrence=occ.id,
        method="headcount",
        count=count,
        now=now,
    )


@service(Permission.checkin_door, Reach.listing)
def today_occurrences(
    session: Session, actor: Actor, now: datetime | None = None
) -> list[OccurrenceView]:
    """The door screen's choice: today's occurrences (Berlin day) of the actor's agency."""
    require(actor, Permission.checkin_door)
    now = now or utcnow()
    day = berlin(now).date()
    start = datetime.combine(day, time(0), tzinfo=BERLIN)
    return list_occurrences(session, actor, start=start, end=start + timedelta(days=1))


@dataclass(frozen=True)
class DoorInfo:
    """What the door screen shows about one occurrence."""

    occurrence: OccurrenceView
    activity_id: int
    categories: list[str]
    state: str  # "open", "not_open" or "cancelled" for staff entries
    participant_url: str
    volunteer_url: str
    series_url: str
    may_see_names: bool
    may_revoke: bool


@service(Permission.checkin_door, Reach.agency, "names need attendance.names")
def door_info(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    occurrence_id: int,
    base_url: str,
    now: datetime | None = None,
) -> DoorInfo:
    from ia_events.attendance import tokens
    from ia_events.planning.plans import get_occurrence

    occ = _occurrence(session, actor, occurrence_id, Permission.checkin_door)
    view = get_occurrence(session, actor, occurrence_id)
    return DoorInfo(
        view,
        occ.activity_id,
        list(occ.activity.count_categories or []),
        door_state(occ, now or utcnow()),
        tokens.occurrence_link(session, keys, actor, occ.id, base_url),
        tokens.occurrence_link(session, keys, actor, occ.id, base_url, purpose="volunteer"),
        tokens.series_link(session, keys, actor, occ.activity_id, base_url),
        can(actor, Permission.attendance_names),
        can(actor, Permission.occurrence_edit),
    )
