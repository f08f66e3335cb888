"""QR check-in: the rules, resolving a token to its occurrence, and every scan.

``submit`` (the participant's own check-in) and ``door_checkin`` /
``card_checkin`` (staff at the door) follow pretix: one transaction locks the
occurrence row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers are
already serialised by ``BEGIN IMMEDIATE``), every attempt is stored as a
``Scan`` with a stable reason code -- denied ones too -- and a repeated
submission with the same nonce answers what the first one got. Denied
attempts are answered, not raised, so their scan row commits. Attendances
(the changes) are audited; the scan table is itself the log of attempts.

The write path is lean (SQLAlchemy Core statements run through ``storage.prepared``,
no ORM objects; docs/performance.md):
one SELECT of the locked occurrence with its activity, agency and stored data
key (``Slot``), one SELECT for replay and duplicate together (taking the audit
chain's lock on PostgreSQL), the attendance INSERT that also reads the chain
head, then event and scan (one statement on PostgreSQL, two on SQLite).

Token format, nonces and links live in ``tokens`` (re-exported here).
Limits: no HTML (``checkin_page``), no listing/undo/headcounts
(``attendance``), no cards (``cards``), no PDF (``pdf_lists``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, exists, insert, select
from sqlalchemy.orm import Session

from ia_events.attendance.tokens import (  # noqa: F401 - the public surface of check-in
    DEFAULT_AFTER,
    DEFAULT_BEFORE,
    INVALID,
    PURPOSES,
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
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import CheckInError, InvalidInput, NotFound
from ia_events.core.messages import berlin
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    AttendanceMode,
    DataKey,
    Occurrence,
    OccurrenceStatus,
    Scan,
)
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import bad_character
from ia_events.privacy.personal import StoredKey, blind_index, normalise_name, scope_of, seal_text
from storage import prepared
from storage.db import lock_chain as storage_lock_chain
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


@dataclass(frozen=True, slots=True)
class Slot:
    """An occurrence as a check-in needs it: its columns, its activity's and agency's, and
    the agency's stored data key -- one row of one SELECT (``_slot``), no ORM objects."""

    id: int
    activity_id: int
    agency_id: int
    funding_year: int
    starts_at: datetime
    ends_at: datetime
    place: str | None
    status: str
    token_generation: int
    title: str
    activity_place: str
    attendance_mode: str
    photographed: bool
    asks_age_band: bool
    agency_name: str
    carrier: str
    privacy_law: str
    privacy_contact: str
    key_id: int | None
    kek_id: str | None
    wrapped_key: bytes | None

    @property
    def stored_key(self) -> StoredKey | None:
        if self.key_id is None or self.kek_id is None or self.wrapped_key is None:
            return None
        return (self.key_id, self.kek_id, self.wrapped_key)


# Declarative ``__table__`` is a Table at run time; its annotation says FromClause.
_OCC = cast(Table, Occurrence.__table__)
_ACT = cast(Table, Activity.__table__)
_AGENCY = cast(Table, Agency.__table__)
_KEYS = cast(Table, DataKey.__table__)
_ATT = cast(Table, Attendance.__table__)
_SCANS = cast(Table, Scan.__table__)

_SLOT = (
    select(
        _OCC.c.id,
        _OCC.c.activity_id,
        _OCC.c.agency_id,
        _OCC.c.funding_year,
        _OCC.c.starts_at,
        _OCC.c.ends_at,
        _OCC.c.place,
        _OCC.c.status,
        _OCC.c.token_generation,
        _ACT.c.title,
        _ACT.c.place.label("activity_place"),
        _ACT.c.attendance_mode,
        _ACT.c.photographed,
        _ACT.c.asks_age_band,
        _AGENCY.c.name.label("agency_name"),
        _AGENCY.c.carrier,
        _AGENCY.c.privacy_law,
        _AGENCY.c.privacy_contact,
        _KEYS.c.id.label("key_id"),
        _KEYS.c.kek_id,
        _KEYS.c.wrapped_key,
    )
    .select_from(
        _OCC.join(_ACT, _ACT.c.id == _OCC.c.activity_id)
        .join(_AGENCY, _AGENCY.c.id == _OCC.c.agency_id)
        .outerjoin(_KEYS, _KEYS.c.scope == scope_of(_OCC.c.agency_id))
    )
    .where(_OCC.c.id == bindparam("occ_id"))
)


# PostgreSQL locks the occurrence row only; SQLite ignores FOR UPDATE (its writers hold
# BEGIN IMMEDIATE).
_SLOT_LOCKED = _SLOT.with_for_update(of=_OCC)


def _conn(session: Session) -> Connection:
    """The session's connection for Core statements, after writing pending ORM changes."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()


def _slot(session: Session, occurrence_id: int, *, lock: bool) -> Slot | None:
    rows = prepared.run(_conn(session), _SLOT_LOCKED if lock else _SLOT, {"occ_id": occurrence_id})
    return Slot(*rows[0]) if rows else None


def _state(occ: Slot | Occurrence, info: TokenInfo, now: datetime) -> str:
    if info.scope == "occurrence" and occ.token_generation != info.generation:
        return REVOKED
    if occ.status == OccurrenceStatus.cancelled:
        return CANCELLED
    if now < occ.starts_at - info.before:
        return NOT_OPEN
    if now > occ.ends_at + info.after:
        return CLOSED
    return "open"


def _target(slot: Slot, info: TokenInfo, now: datetime) -> Target:
    return Target(
        state=_state(slot, info, now),
        token=info,
        occurrence_id=slot.id,
        activity_id=slot.activity_id,
        agency_id=slot.agency_id,
        title=slot.title,
        agency_name=slot.agency_name,
        carrier=slot.carrier,
        privacy_law=slot.privacy_law,
        privacy_contact=slot.privacy_contact,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        place=slot.place or slot.activity_place or "",
        attendance_mode=slot.attendance_mode,
        photographed=slot.photographed,
        asks_age_band=slot.asks_age_band,
        opens_at=slot.starts_at - info.before,
        closes_at=slot.ends_at + info.after,
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
    return _resolve(session, info, now, lock=lock)[0]


def _resolve(
    session: Session, info: TokenInfo, now: datetime, *, lock: bool
) -> tuple[Target, Slot | None]:
    """``resolve`` of a parsed token, with the occurrence's ``Slot`` (None: no occurrence)."""
    if info.scope == "series":
        activity = session.get(Activity, info.target_id)
        if activity is None:
            return Target(INVALID, info), None
        if activity.checkin_generation != info.generation:
            return Target(REVOKED, info, activity_id=activity.id, title=activity.title), None
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
            ), None
        occurrence_id = occ.id
    else:
        occurrence_id = info.target_id
    slot = _slot(session, occurrence_id, lock=lock)
    if slot is None:
        return Target(INVALID, info), None
    return _target(slot, info, now), slot


# -- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The outcome of one check-in attempt: exactly one state."""

    state: str  # a reason code; "ok" means checked in
    occurrence_id: int | None = None
    attendance_id: int | None = None
    scan_id: int | None = None
    name_match: bool = False  # "already checked in" because of the same name
    # ``submit``: the token's target as resolved for this attempt (what the answer page
    # shows), None if it did not resolve it (a token of another purpose).
    target: Target | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.state == OK


def clean_name(name: str) -> str:
    # Checked before spaces are squeezed: \s would turn U+0085 or U+2028 into a space.
    # Tabs and line breaks a phone keyboard may add collapse to a space like before.
    if bad_character(name or "", multiline=True) is not None:  # core.textcheck
        raise InvalidInput(field="Name", reason="Bitte nur Buchstaben und Leerzeichen.")
    value = re.sub(r"\s+", " ", (name or "").strip())
    if not normalise_name(value):
        raise InvalidInput(field="Name", reason="Bitte geben Sie Ihren Namen ein.")
    if len(value) > NAME_MAX:
        raise InvalidInput(field="Name", reason=f"Höchstens {NAME_MAX} Zeichen.")
    return value


_ADD_SCAN = insert(_SCANS).returning(_SCANS.c.id)
# The attendance, and the audit chain's head read in the same statement (``_attend``).
_ADD_ATTENDANCE = insert(_ATT).returning(_ATT.c.id, audit.HEAD_SEQ, audit.HEAD_HASH)
_PRIOR = select(_SCANS.c.id).where(_SCANS.c.nonce == bindparam("nonce")).scalar_subquery()
_PRIOR_ANSWER = select(
    _SCANS.c.reason, _SCANS.c.occurrence_id, _SCANS.c.attendance_id, _SCANS.c.id
).where(_SCANS.c.id == bindparam("scan_id"))
_VALID = (_ATT.c.occurrence_id == bindparam("occ_id")) & _ATT.c.undone_at.is_(None)
# The replay check and the duplicate check in one statement: the scan of an earlier
# submission with this nonce (``nonce = NULL`` finds none), and whether this person (the
# blind index; NULL finds none) or this phone (its earlier attendances) is already in.
# With the chain lock (PostgreSQL), the attendance insert that follows may read the audit
# chain's head: it begins after the lock is held.
_BY_NAME = select(
    _PRIOR.label("prior"),
    exists().where(_VALID, _ATT.c.name_index == bindparam("index")).label("dup"),
)
_BY_DEVICE = select(
    _PRIOR.label("prior"),
    exists().where(_VALID, _ATT.c.id.in_(bindparam("ids", expanding=True))).label("dup"),
)
_LOOKUP = {
    # (by device?, with the chain lock?)
    (False, False): _BY_NAME,
    (True, False): _BY_DEVICE,
    (False, True): _BY_NAME.add_columns(audit.CHAIN_LOCK),
    (True, True): _BY_DEVICE.add_columns(audit.CHAIN_LOCK),
}
_NAMES = select(_ATT.c.name_index).where(_VALID, _ATT.c.name_index.is_not(None))


def _checked_name(
    keys: KeyRing, agency_id: int, name: str
) -> tuple[str | None, str | None, InvalidInput | None]:
    """(clean name, its blind index, None) or (None, None, the refusal): the refusal is
    raised only where it counts, after a replay or a closed door was answered."""
    try:
        clean = clean_name(name)
    except InvalidInput as exc:
        return None, None, exc
    return clean, blind_index(keys, agency_id, clean), None


def _scan_row(
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
) -> dict[str, object]:
    return {
        "occurrence_id": occ_id,
        "agency_id": agency_id,
        "purpose": purpose,
        "method": method,
        "nonce": nonce,
        "successful": reason == OK,
        "reason": reason,
        "scanned_at": scanned_at,
        "received_at": now,
        "attendance_id": attendance_id,
    }


def _scan(conn: Connection, **row: Any) -> int:
    """Store one attempt (every attempt, successful or not); returns the scan id."""
    return int(prepared.run(conn, _ADD_SCAN, _scan_row(**row))[0][0])


def _lookup(
    conn: Connection,
    nonce: str | None,
    occ_id: int,
    index: str | None = None,
    device: Sequence[int] = (),
    *,
    lock_chain: bool = False,
) -> tuple[Answer | None, bool]:
    """(the answer an earlier submission with ``nonce`` got, or None; already checked in?)

    Already in: a valid attendance here with the blind ``index`` of the name, or one of
    the phone's own attendances (``device``). Runs after the occurrence row lock, so a
    concurrent check-in of the same person or nonce has committed or not begun.
    ``lock_chain``: also take the audit chain's lock (for an attendance to follow)."""
    lock_chain = lock_chain and audit.takes_chain_lock(conn)
    if nonce is None and index is None and not device:
        if lock_chain:
            storage_lock_chain(conn)
        return None, False
    if device:  # an expanding IN (...): Core compiles it per call
        params = {"nonce": nonce, "occ_id": occ_id, "ids": list(device)[:20]}
        prior, dup = conn.execute(_LOOKUP[True, lock_chain], params).one()[:2]
    else:
        params = {"nonce": nonce, "occ_id": occ_id, "index": index}
        prior, dup = prepared.run(conn, _LOOKUP[False, lock_chain], params)[0][:2]
    if prior is None:
        return None, bool(dup)
    row = conn.execute(_PRIOR_ANSWER, {"scan_id": prior}).one()
    return Answer(row.reason, row.occurrence_id, row.attendance_id, row.id), bool(dup)


def _numbered(conn: Connection, keys: KeyRing, occ: Slot, name: str) -> tuple[str, str]:
    """A same-named other person gets a number ("Name (2)"), so counting distinct persons
    keeps them apart: the stored name and its blind index."""
    present = set(conn.scalars(_NAMES, {"occ_id": occ.id}))
    n = 2
    while blind_index(keys, occ.agency_id, f"{name} ({n})") in present:
        n += 1
    numbered = f"{name} ({n})"
    return numbered, blind_index(keys, occ.agency_id, numbered)


def _attend(
    session: Session,
    keys: KeyRing,
    occ: Slot,
    *,
    method: str,
    name: str | None,
    name_index: str | None,
    card_id: int | None = None,
    age_band: str | None = None,
    photo_consent: bool | None = None,
    recorded_by: str | None,
    now: datetime,
    chain_locked: bool = False,
) -> tuple[int, tuple[int | None, str | None]]:
    """Insert the attendance; returns its id and the audit chain's head, read by the same
    statement -- which begins after the chain lock is held (``chain_locked``: an earlier
    statement of this transaction took it; otherwise it is taken here)."""
    name_enc = (
        seal_text(session, keys, occ.agency_id, name, "attendance", occ.stored_key)
        if name
        else None
    )
    conn = _conn(session)  # after ``seal_text``, which may have created the data key
    if not chain_locked:
        storage_lock_chain(conn)
    ((att_id, head_seq, head_hash),) = prepared.run(
        conn,
        _ADD_ATTENDANCE,
        {
            "occurrence_id": occ.id,
            "agency_id": occ.agency_id,
            "funding_year": occ.funding_year,
            "method": method,
            "recorded_at": now,
            "count": 1,
            "name_enc": name_enc,
            "name_index": name_index,
            "card_id": card_id,
            "age_band": age_band,
            "photo_consent": photo_consent,
            "recorded_by": recorded_by,
        },
    )
    return int(att_id), (head_seq, head_hash)


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
    write transaction. Bad input raises ``InvalidInput`` before anything is stored.

    Statements: the locked occurrence (with activity, agency and data key), the replay
    and duplicate check, then attendance, audit event and scan -- or only the scan.
    The answer carries the resolved ``target`` for the page to show."""
    now = now or utcnow()
    answer, target = _submit(
        session,
        keys,
        token,
        nonce,
        name=name,
        age_band=age_band,
        photo_consent=photo_consent,
        other_person=other_person,
        device_attendance_ids=device_attendance_ids,
        scanned_at=scanned_at,
        now=now,
    )
    return replace(answer, target=target)


def _submit(
    session: Session,
    keys: KeyRing,
    token: str,
    nonce: str,
    *,
    name: str,
    age_band: str | None,
    photo_consent: bool | None,
    other_person: bool,
    device_attendance_ids: Sequence[int],
    scanned_at: datetime | None,
    now: datetime,
) -> tuple[Answer, Target | None]:
    method = "self_qr"
    try:
        info = parse_token(keys, token)
    except CheckInError:
        scan_id = _scan(
            _conn(session),
            occ_id=None,
            agency_id=None,
            purpose="participant",
            method=method,
            reason=INVALID,
            nonce=None,
            now=now,
        )
        return Answer(INVALID, scan_id=scan_id), Target(INVALID)
    if age_band is not None and age_band not in AGE_BANDS:
        raise InvalidInput(field="Alter", reason="Bitte eine der angebotenen Gruppen wählen.")
    if info.purpose == "participant":
        target, occ = _resolve(session, info, now, lock=True)
        shown: Target | None = target
    else:
        target, occ, shown = Target(INVALID, info), None, None
    bound = nonce_valid(keys, token, nonce)
    conn = _conn(session)
    if occ is None or not bound:
        reason = target.state if target.state not in ("open", OK) and bound else INVALID
        scan_id = _scan(
            conn,
            occ_id=target.occurrence_id,
            agency_id=target.agency_id,
            purpose=info.purpose,
            method=method,
            reason=reason,
            nonce=None,
            now=now,
        )
        return Answer(reason, target.occurrence_id, scan_id=scan_id), shown
    # The name is checked only where it counts (open, named); a replay or a closed door is
    # answered as such even with a bad name -- as before, nothing is stored then.
    clean, index, bad = None, None, None
    device: tuple[int, ...] = ()
    if target.state == "open":
        if target.attendance_mode == AttendanceMode.named:
            clean, index, bad = _checked_name(keys, occ.agency_id, name)
        elif not other_person:
            # This phone checked in here before (its signed cookie names the attendance).
            device = tuple(device_attendance_ids)
    admits = target.state == "open" and bad is None  # unless a replay or a duplicate
    replay, already = _lookup(conn, nonce, occ.id, index, device, lock_chain=admits)
    if replay is not None:
        return replay, shown
    if target.state != "open":
        return _deny(conn, occ, target.state, nonce, now, scanned_at, method), shown
    if bad is not None:
        raise bad
    stored_name = clean
    if already and clean is not None and other_person:
        stored_name, index = _numbered(conn, keys, occ, clean)
        already = False
    if already:
        answer = _deny(conn, occ, ALREADY, nonce, now, scanned_at, method)
        return Answer(ALREADY, occ.id, None, answer.scan_id, name_match=clean is not None), shown
    answer = _admit(
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
        chain_locked=True,
    )
    return answer, shown


def _admit(
    session: Session,
    keys: KeyRing,
    occ: Slot,
    *,
    method: str,
    nonce: str | None,
    now: datetime,
    scanned_at: datetime | None = None,
    actor_name: str,
    **attendance: Any,
) -> Answer:
    """Record the attendance, its audit event and its successful scan (the one way in for
    every method): two statements on PostgreSQL, three on SQLite."""
    att_id, head = _attend(session, keys, occ, method=method, now=now, **attendance)
    scan = _scan_row(
        occ_id=occ.id,
        agency_id=occ.agency_id,
        purpose="participant",
        method=method,
        reason=OK,
        nonce=nonce,
        now=now,
        scanned_at=scanned_at,
        attendance_id=att_id,
    )
    ((scan_id,),) = audit.append_along(
        session.connection(),
        (_ADD_SCAN, scan),
        actor_name,
        Action.attendance_add,
        "attendance",
        att_id,
        agency_id=occ.agency_id,
        now=now,
        head=head,
        occurrence=occ.id,
        method=method,
    )
    return Answer(OK, occ.id, att_id, int(scan_id))


def _deny(
    conn: Connection,
    occ: Slot,
    reason: str,
    nonce: str | None,
    now: datetime,
    scanned_at: datetime | None,
    method: str,
) -> Answer:
    scan_id = _scan(
        conn,
        occ_id=occ.id,
        agency_id=occ.agency_id,
        purpose="participant",
        method=method,
        reason=reason,
        nonce=nonce,
        now=now,
        scanned_at=scanned_at,
    )
    return Answer(reason, occ.id, None, scan_id)


def _door_occurrence(session: Session, actor: Actor, occurrence_id: int) -> Occurrence:
    """The locked occurrence as an ORM object (headcounts; check-ins use ``_door_slot``)."""
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


def _door_slot(session: Session, actor: Actor, occurrence_id: int) -> Slot:
    occ = _slot(session, occurrence_id, lock=True)
    if occ is None:
        raise NotFound(what="Der Termin")
    require(actor, Permission.checkin_door, occ.agency_id)
    return occ


def door_state(occ: Slot | Occurrence, now: datetime) -> str:
    """Staff may record from an hour before the start on (late entries included)."""
    if occ.status == OccurrenceStatus.cancelled:
        return CANCELLED
    if now < occ.starts_at - DEFAULT_BEFORE:
        return NOT_OPEN
    return "open"


@service(Permission.checkin_door, Reach.agency)
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
    occ = _door_slot(session, actor, occurrence_id)
    conn = _conn(session)
    clean, index, bad = None, None, None
    if occ.attendance_mode == AttendanceMode.named or name.strip():
        clean, index, bad = _checked_name(keys, occ.agency_id, name)
    state = door_state(occ, now)
    admits = state == "open" and bad is None  # unless a replay or a duplicate
    replay, already = _lookup(conn, nonce, occ.id, index, lock_chain=admits)
    if replay is not None:
        return replay
    if bad is not None:
        raise bad
    if state != "open":
        return _deny(conn, occ, state, nonce, now, None, method)
    stored = clean
    if already and clean is not None and other_person:
        stored, index = _numbered(conn, keys, occ, clean)
        already = False
    if already:
        answer = _deny(conn, occ, ALREADY, nonce, now, None, method)
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
        chain_locked=True,
    )


@service(Permission.checkin_door, Reach.agency)
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
    from ia_events.attendance.cards import find_card

    now = now or utcnow()
    occ = _door_slot(session, actor, occurrence_id)
    state = door_state(occ, now)
    replay, _ = _lookup(_conn(session), nonce, occ.id, lock_chain=state == "open")
    if replay is not None:
        return replay
    if state != "open":
        return _deny(_conn(session), occ, state, nonce, now, None, "card_scan")
    card = find_card(session, occ.agency_id, code)
    conn = _conn(session)
    if card is None:
        return _deny(conn, occ, CARD_UNKNOWN, nonce, now, None, "card_scan")
    if card.revoked_at is not None:
        return _deny(conn, occ, CARD_REVOKED, nonce, now, None, "card_scan")
    seen = conn.scalar(
        select(_ATT.c.id).where(_VALID, _ATT.c.card_id == card.id).limit(1),
        {"occ_id": occ.id},
    )
    if seen is not None:
        return _deny(conn, occ, ALREADY, nonce, now, None, "card_scan")
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
        chain_locked=True,
    )
