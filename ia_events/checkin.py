"""QR check-in: the rules, resolving a token to its occurrence, and every scan.

``submit`` (the participant's own check-in) and ``door_checkin`` /
``card_checkin`` (staff at the door) follow pretix: one transaction locks the
occurrence row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers are
already serialised by ``BEGIN IMMEDIATE``), every attempt is stored as a
``Scan`` with a stable reason code -- denied ones too -- and a repeated
submission with the same nonce answers what the first one got. Denied
attempts are answered, not raised, so their scan row commits. Attendances
(the changes) are audited; the scan table is itself the log of attempts.

Token format, nonces and links live in ``tokens`` (re-exported here).
Limits: no HTML (``checkin_page``), no listing/undo/headcounts
(``attendance``), no cards (``cards``), no PDF (``pdf_lists``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events import audit
from ia_events.access import Actor, Permission, require
from ia_events.audit import Action
from ia_events.errors import InvalidInput, NotFound
from ia_events.messages import berlin
from ia_events.models import (
    Activity,
    Agency,
    Attendance,
    AttendanceMode,
    Occurrence,
    OccurrenceStatus,
    Scan,
)
from ia_events.personal import blind_index, normalise_name, seal_text
from ia_events.tokens import (  # noqa: F401 - the public surface of check-in
    DEFAULT_AFTER,
    DEFAULT_BEFORE,
    INVALID,
    PURPOSES,
    CheckInError,
    TokenInfo,
    link,
    make_token,
    new_nonce,
    nonce_valid,
    occurrence_link,
    parse_token,
    revoke_links,
    revoke_series_link,
    series_link,
)
from storage.db import utcnow
from storage.keys import KeyRing

AGE_BANDS = ("u18", "18-26", "27-64", "65+")
NAME_MAX = 120

# Stable reason codes of a scan (pretix-style); "ok" is the only successful one.
OK = "ok"
REVOKED = "revoked"
NOT_OPEN = "not_open"
CLOSED = "closed"
CANCELLED = "cancelled"
ALREADY = "already_checked_in"
CARD_UNKNOWN = "card_unknown"
CARD_REVOKED = "card_revoked"
REASONS = (OK, INVALID, REVOKED, NOT_OPEN, CLOSED, CANCELLED, ALREADY, CARD_UNKNOWN, CARD_REVOKED)


# -- resolving a token ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a token points at now: its state ("open" or a reason code) and what to show."""

    state: str
    token: TokenInfo | None = None
    occurrence_id: int | None = None
    activity_id: int | None = None
    agency_id: int | None = None
    title: str = ""
    agency_name: str = ""
    carrier: str = ""
    privacy_law: str = "DSGVO"
    privacy_contact: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str = ""
    attendance_mode: str = AttendanceMode.named
    photographed: bool = False
    asks_age_band: bool = False
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


def _state(occ: Occurrence, info: TokenInfo, now: datetime) -> str:
    if info.scope == "occurrence" and occ.token_generation != info.generation:
        return REVOKED
    if occ.status == OccurrenceStatus.cancelled:
        return CANCELLED
    if now < occ.starts_at - info.before:
        return NOT_OPEN
    if now > occ.ends_at + info.after:
        return CLOSED
    return "open"


def _target(session: Session, occ: Occurrence, info: TokenInfo, now: datetime) -> Target:
    activity = occ.activity
    agency = session.get(Agency, occ.agency_id)
    assert agency is not None
    return Target(
        state=_state(occ, info, now),
        token=info,
        occurrence_id=occ.id,
        activity_id=activity.id,
        agency_id=occ.agency_id,
        title=activity.title,
        agency_name=agency.name,
        carrier=agency.carrier,
        privacy_law=agency.privacy_law,
        privacy_contact=agency.privacy_contact,
        starts_at=occ.starts_at,
        ends_at=occ.ends_at,
        place=occ.place or activity.place or "",
        attendance_mode=activity.attendance_mode,
        photographed=activity.photographed,
        asks_age_band=activity.asks_age_band,
        opens_at=occ.starts_at - info.before,
        closes_at=occ.ends_at + info.after,
    )


def _series_occurrence(
    session: Session, activity: Activity, info: TokenInfo, now: datetime
) -> Occurrence | None:
    """The occurrence of the day: one open now, else today's next, else today's last."""
    today = berlin(now).date()
    rows = session.scalars(
        select(Occurrence)
        .where(
            Occurrence.activity_id == activity.id,
            Occurrence.starts_at <= now + info.before + timedelta(days=1),
            Occurrence.ends_at >= now - info.after - timedelta(days=1),
        )
        .order_by(Occurrence.starts_at)
    ).all()
    todays = [o for o in rows if berlin(o.starts_at).date() == today]
    scheduled = [o for o in rows if o.status == OccurrenceStatus.scheduled]
    for occ in scheduled:
        if occ.starts_at - info.before <= now <= occ.ends_at + info.after:
            return occ
    upcoming = [o for o in todays if o.status == OccurrenceStatus.scheduled and o.starts_at > now]
    if upcoming:
        return upcoming[0]
    return todays[-1] if todays else None


def resolve(
    session: Session,
    keys: KeyRing,
    token: str,
    now: datetime | None = None,
    *,
    purpose: str | None = None,
    lock: bool = False,
) -> Target:
    """The occurrence a token points at and its check-in state. Never raises for a bad token.

    ``purpose`` (if given) must match the token's; ``lock`` takes the row lock."""
    now = now or utcnow()
    try:
        info = parse_token(keys, token)
    except CheckInError:
        return Target(INVALID)
    if purpose is not None and info.purpose != purpose:
        return Target(INVALID, info)
    if info.scope == "series":
        activity = session.get(Activity, info.target_id)
        if activity is None:
            return Target(INVALID, info)
        if activity.checkin_generation != info.generation:
            return Target(REVOKED, info, activity_id=activity.id, title=activity.title)
        occ = _series_occurrence(session, activity, info, now)
        if occ is None:
            agency = activity.agency
            return Target(
                NOT_OPEN,
                info,
                activity_id=activity.id,
                agency_id=activity.agency_id,
                title=activity.title,
                agency_name=agency.name,
                carrier=agency.carrier,
                privacy_law=agency.privacy_law,
                privacy_contact=agency.privacy_contact,
                place=activity.place,
                attendance_mode=activity.attendance_mode,
            )
        occurrence_id = occ.id
    else:
        occurrence_id = info.target_id
    q = select(Occurrence).where(Occurrence.id == occurrence_id)
    if lock:
        q = q.with_for_update(of=Occurrence).execution_options(populate_existing=True)
    occ = session.scalars(q).first()
    if occ is None:
        return Target(INVALID, info)
    return _target(session, occ, info, now)


# -- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The outcome of one check-in attempt: exactly one state."""

    state: str  # a reason code; "ok" means checked in
    occurrence_id: int | None = None
    attendance_id: int | None = None
    scan_id: int | None = None
    name_match: bool = False  # "already checked in" because of the same name

    @property
    def ok(self) -> bool:
        return self.state == OK


def clean_name(name: str) -> str:
    value = re.sub(r"\s+", " ", (name or "").strip())
    if not normalise_name(value):
        raise InvalidInput(field="Name", reason="Bitte geben Sie Ihren Namen ein.")
    if len(value) > NAME_MAX:
        raise InvalidInput(field="Name", reason=f"Höchstens {NAME_MAX} Zeichen.")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(field="Name", reason="Bitte nur Buchstaben und Leerzeichen.")
    return value


def _scan(
    session: Session,
    *,
    occ_id: int | None,
    agency_id: int | None,
    purpose: str,
    method: str,
    reason: str,
    nonce: str | None,
    now: datetime,
    scanned_at: datetime | None = None,
    attendance_id: int | None = None,
) -> Scan:
    scan = Scan(
        occurrence_id=occ_id,
        agency_id=agency_id,
        purpose=purpose,
        method=method,
        nonce=nonce,
        successful=reason == OK,
        reason=reason,
        scanned_at=scanned_at,
        received_at=now,
        attendance_id=attendance_id,
    )
    session.add(scan)
    session.flush()
    return scan


def _replay(session: Session, nonce: str | None) -> Answer | None:
    if nonce is None:
        return None
    prior = session.scalars(select(Scan).where(Scan.nonce == nonce)).first()
    if prior is None:
        return None
    return Answer(prior.reason, prior.occurrence_id, prior.attendance_id, prior.id)


def _named_index(
    session: Session, keys: KeyRing, occ: Occurrence, name: str, other_person: bool
) -> tuple[str, str, bool]:
    """(name to store, its blind index, already there?). A same-named other person gets
    a number ("Name (2)"), so counting distinct persons keeps them apart."""
    valid = select(Attendance.name_index).where(
        Attendance.occurrence_id == occ.id, Attendance.undone_at.is_(None)
    )
    index = blind_index(keys, occ.agency_id, name)
    # One indexed lookup, not every name of the occurrence (a festival has hundreds).
    if session.scalar(valid.where(Attendance.name_index == index).limit(1)) is None:
        return name, index, False
    if not other_person:
        return name, index, True
    present = set(session.scalars(valid.where(Attendance.name_index.is_not(None))))
    n = 2
    while blind_index(keys, occ.agency_id, f"{name} ({n})") in present:
        n += 1
    numbered = f"{name} ({n})"
    return numbered, blind_index(keys, occ.agency_id, numbered), False


def _attend(
    session: Session,
    keys: KeyRing,
    occ: Occurrence,
    *,
    method: str,
    name: str | None,
    name_index: str | None,
    card_id: int | None = None,
    age_band: str | None = None,
    photo_consent: bool | None = None,
    recorded_by: str | None,
    actor_name: str,
    now: datetime,
) -> Attendance:
    att = Attendance(
        occurrence_id=occ.id,
        agency_id=occ.agency_id,
        funding_year=occ.funding_year,
        method=method,
        recorded_at=now,
        count=1,
        name_enc=seal_text(session, keys, occ.agency_id, name, "attendance") if name else None,
        name_index=name_index,
        card_id=card_id,
        age_band=age_band,
        photo_consent=photo_consent,
        recorded_by=recorded_by,
    )
    session.add(att)
    session.flush()
    audit.record(
        session,
        actor_name,
        Action.attendance_add,
        "attendance",
        att.id,
        agency_id=occ.agency_id,
        occurrence=occ.id,
        method=method,
        now=now,
    )
    return att


def submit(
    session: Session,
    keys: KeyRing,
    token: str,
    nonce: str,
    *,
    name: str = "",
    age_band: str | None = None,
    photo_consent: bool | None = None,
    other_person: bool = False,
    device_attendance_ids: Sequence[int] = (),
    scanned_at: datetime | None = None,
    now: datetime | None = None,
) -> Answer:
    """A participant's own check-in (the POST of the check-in page), in the caller's
    write transaction. Bad input raises ``InvalidInput`` before anything is stored."""
    now = now or utcnow()
    method = "self_qr"
    try:
        info = parse_token(keys, token)
    except CheckInError:
        scan = _scan(
            session,
            occ_id=None,
            agency_id=None,
            purpose="participant",
            method=method,
            reason=INVALID,
            nonce=None,
            now=now,
        )
        return Answer(INVALID, scan_id=scan.id)
    if age_band is not None and age_band not in AGE_BANDS:
        raise InvalidInput(field="Alter", reason="Bitte eine der angebotenen Gruppen wählen.")
    target = resolve(session, keys, token, now, purpose="participant", lock=True)
    bound = nonce_valid(keys, token, nonce)
    if target.occurrence_id is None or not bound:
        reason = target.state if target.state not in ("open", OK) and bound else INVALID
        scan = _scan(
            session,
            occ_id=target.occurrence_id,
            agency_id=target.agency_id,
            purpose=info.purpose,
            method=method,
            reason=reason,
            nonce=None,
            now=now,
        )
        return Answer(reason, target.occurrence_id, scan_id=scan.id)
    replay = _replay(session, nonce)
    if replay is not None:
        return replay
    occ = session.get(Occurrence, target.occurrence_id)
    assert occ is not None
    if target.state != "open":
        return _deny(session, occ, target.state, nonce, now, scanned_at, method)
    clean = clean_name(name) if target.attendance_mode == AttendanceMode.named else None
    stored_name, index, already = (None, None, False)
    if clean is not None:
        stored_name, index, already = _named_index(session, keys, occ, clean, other_person)
    elif device_attendance_ids and not other_person:
        # This phone checked in here before (its signed cookie names the attendance).
        already = (
            session.scalar(
                select(Attendance.id).where(
                    Attendance.id.in_(list(device_attendance_ids)[:20]),
                    Attendance.occurrence_id == occ.id,
                    Attendance.undone_at.is_(None),
                )
            )
            is not None
        )
    if already:
        answer = _deny(session, occ, ALREADY, nonce, now, scanned_at, method)
        return Answer(ALREADY, occ.id, None, answer.scan_id, name_match=clean is not None)
    return _admit(
        session,
        keys,
        occ,
        method=method,
        nonce=nonce,
        now=now,
        scanned_at=scanned_at,
        name=stored_name,
        name_index=index,
        age_band=age_band if target.asks_age_band else None,
        photo_consent=bool(photo_consent) if target.photographed else None,
        recorded_by=None,
        actor_name="participant",
    )


def _admit(
    session: Session,
    keys: KeyRing,
    occ: Occurrence,
    *,
    method: str,
    nonce: str | None,
    now: datetime,
    scanned_at: datetime | None = None,
    **attendance: object,
) -> Answer:
    """Record the attendance and its successful scan (the one way in for every method)."""
    att = _attend(session, keys, occ, method=method, now=now, **attendance)  # type: ignore[arg-type]
    scan = _scan(
        session,
        occ_id=occ.id,
        agency_id=occ.agency_id,
        purpose="participant",
        method=method,
        reason=OK,
        nonce=nonce,
        now=now,
        scanned_at=scanned_at,
        attendance_id=att.id,
    )
    return Answer(OK, occ.id, att.id, scan.id)


def _deny(
    session: Session,
    occ: Occurrence,
    reason: str,
    nonce: str | None,
    now: datetime,
    scanned_at: datetime | None,
    method: str,
) -> Answer:
    scan = _scan(
        session,
        occ_id=occ.id,
        agency_id=occ.agency_id,
        purpose="participant",
        method=method,
        reason=reason,
        nonce=nonce,
        now=now,
        scanned_at=scanned_at,
    )
    return Answer(reason, occ.id, None, scan.id)


def _door_occurrence(session: Session, actor: Actor, occurrence_id: int) -> Occurrence:
    occ = session.scalars(
        select(Occurrence)
        .where(Occurrence.id == occurrence_id)
        .with_for_update(of=Occurrence)
        .execution_options(populate_existing=True)
    ).first()
    if occ is None:
        raise NotFound(what="Der Termin")
    require(actor, Permission.checkin_door, occ.agency_id)
    return occ


def door_state(occ: Occurrence, now: datetime) -> str:
    """Staff may record from an hour before the start on (late entries included)."""
    if occ.status == OccurrenceStatus.cancelled:
        return CANCELLED
    if now < occ.starts_at - DEFAULT_BEFORE:
        return NOT_OPEN
    return "open"


def door_checkin(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    occurrence_id: int,
    *,
    name: str = "",
    method: str = "door_manual",
    other_person: bool = False,
    nonce: str | None = None,
    now: datetime | None = None,
) -> Answer:
    """Staff add a person by hand (``door_manual``) or from a signed paper list (``paper``)."""
    now = now or utcnow()
    if method not in ("door_manual", "paper"):
        raise InvalidInput(field="Art", reason="Von Hand oder Papierliste.")
    occ = _door_occurrence(session, actor, occurrence_id)
    replay = _replay(session, nonce)
    if replay is not None:
        return replay
    named = occ.activity.attendance_mode == AttendanceMode.named
    clean = clean_name(name) if named or name.strip() else None
    state = door_state(occ, now)
    if state != "open":
        return _deny(session, occ, state, nonce, now, None, method)
    stored, index, already = (None, None, False)
    if clean is not None:
        stored, index, already = _named_index(session, keys, occ, clean, other_person)
    if already:
        answer = _deny(session, occ, ALREADY, nonce, now, None, method)
        return Answer(ALREADY, occ.id, None, answer.scan_id, name_match=True)
    return _admit(
        session,
        keys,
        occ,
        method=method,
        nonce=nonce,
        now=now,
        name=stored,
        name_index=index,
        recorded_by=actor.name,
        actor_name=actor.name,
    )


def card_checkin(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    occurrence_id: int,
    code: str,
    *,
    nonce: str | None = None,
    now: datetime | None = None,
) -> Answer:
    """A personal QR card scanned at the door: counted once per occurrence, no name stored."""
    from ia_events.cards import find_card

    now = now or utcnow()
    occ = _door_occurrence(session, actor, occurrence_id)
    replay = _replay(session, nonce)
    if replay is not None:
        return replay
    state = door_state(occ, now)
    if state != "open":
        return _deny(session, occ, state, nonce, now, None, "card_scan")
    card = find_card(session, occ.agency_id, code)
    if card is None:
        return _deny(session, occ, CARD_UNKNOWN, nonce, now, None, "card_scan")
    if card.revoked_at is not None:
        return _deny(session, occ, CARD_REVOKED, nonce, now, None, "card_scan")
    seen = session.scalar(
        select(Attendance.id).where(
            Attendance.occurrence_id == occ.id,
            Attendance.card_id == card.id,
            Attendance.undone_at.is_(None),
        )
    )
    if seen is not None:
        return _deny(session, occ, ALREADY, nonce, now, None, "card_scan")
    return _admit(
        session,
        keys,
        occ,
        method="card_scan",
        nonce=nonce,
        now=now,
        name=None,
        name_index=None,
        card_id=card.id,
        recorded_by=actor.name,
        actor_name=actor.name,
    )
