"""Shifts (*Einsätze*) on occurrences: sign-up, assignment, rosters, check-in/out.

A shift belongs to one occurrence (or is copied onto every future occurrence
of the activity's series) and has a role, a needed count, times and the
qualifications it requires. Volunteers sign up themselves, staff assign. Both
paths run the same checks, in this order: the volunteer is active, the shift
has not begun and is not full, every required qualification is present and
valid on the shift's day, and the person has no overlapping shift -- in this
agency (the message names that shift) or, via the district-wide person
index, in another one (the message names nothing of it).

Assignments are never deleted: withdrawing or a no-show is a status, and
check-in/out are timestamps. Hours follow ``volunteer_hours.assignment_hours``.

A confirmed sign-up or assignment and a withdrawal write a message to the
outbox (``core.outbox``) in the same transaction; reminders the day before
are scheduled by ``notify.rules``. ``reminders`` lists what staff should
remind people of. Volunteers never see other volunteers' names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, can, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.messages import BERLIN, berlin, fmt_date, fmt_time
from ia_events.core.models import (
    Activity,
    Occurrence,
    OccurrenceStatus,
    Shift,
    ShiftAssignment,
    Volunteer,
)
from ia_events.core.outbox import shift_event
from ia_events.core.permissions import Reach, service
from ia_events.privacy.restriction import shown_text
from ia_events.volunteers.hours import assignment_hours
from ia_events.volunteers.registry import (
    QUALIFICATIONS,
    held_qualifications,
    load_volunteer,
    own_volunteer_id,
    qualification_gaps,
    qualification_label,
)
from storage.db import utcnow
from storage.keys import KeyRing

ACTIVE = ("signed_up", "assigned")
STATUS_LABELS = {
    "signed_up": "angemeldet",
    "assigned": "eingeteilt",
    "withdrawn": "abgemeldet",
    "no_show": "nicht erschienen",
}
CHECKIN_EARLY = timedelta(minutes=60)
CHECKOUT_LATE = timedelta(hours=12)


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: a shift ending at 12:00 does not collide with one starting at 12:00."""
    return a_start < b_end and b_start < a_end


@dataclass(frozen=True)
class AssignmentView:
    id: int
    volunteer_id: int
    name: str
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours_override: float | None
    hours: float
    self_signed: bool


@dataclass(frozen=True)
class ShiftView:
    id: int
    occurrence_id: int
    activity_title: str
    role: str
    needed: int
    starts_at: datetime
    ends_at: datetime
    required: list[str]
    taken: int
    place: str = ""
    cancelled: bool = False
    assignments: list[AssignmentView] = field(default_factory=list)
    activity_id: int = 0

    @property
    def open_slots(self) -> int:
        return max(self.needed - self.taken, 0)

    @property
    def required_labels(self) -> str:
        return ", ".join(qualification_label(k) for k in self.required) or "–"


# -- creating shifts -------------------------------------------------------------------------


@service(Permission.volunteer_manage, Reach.agency)
def add_shift(
    session: Session,
    actor: Actor,
    occurrence_id: int,
    *,
    role: str,
    needed: int = 1,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    required: list[str] | None = None,
    all_future: bool = False,
    now: datetime | None = None,
) -> list[Shift]:
    """One shift on the occurrence, or (``all_future``) on it and every later one of the series.

    Times default to the occurrence's; for a series each copy keeps the same
    offset from its occurrence's start, so local times survive DST changes.
    """
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what="Der Termin")
    require(actor, Permission.volunteer_manage, occ.agency_id)
    role = (role or "").strip()
    if not role or len(role) > 100:
        raise InvalidInput(field="Aufgabe", reason="Bitte eine Aufgabe (höchstens 100 Zeichen).")
    if not 1 <= int(needed) <= 50:
        raise InvalidInput(field="Benötigt", reason="Bitte eine Zahl von 1 bis 50.")
    required = list(dict.fromkeys(required or []))
    unknown = [k for k in required if k not in QUALIFICATIONS]
    if unknown:
        raise InvalidInput(field="Nachweise", reason=f"„{unknown[0]}“ ist unbekannt.")
    starts_at = starts_at or occ.starts_at
    ends_at = ends_at or occ.ends_at
    if ends_at <= starts_at:
        raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
    if ends_at - starts_at > timedelta(hours=16):
        raise InvalidInput(field="Ende", reason="Ein Einsatz dauert höchstens 16 Stunden.")
    if abs(berlin(starts_at).date() - berlin(occ.starts_at).date()) > timedelta(days=1):
        raise InvalidInput(field="Beginn", reason="Der Einsatz muss am Tag des Termins liegen.")
    targets = [occ]
    if all_future:
        now = now or utcnow()
        targets += list(
            session.scalars(
                select(Occurrence).where(
                    Occurrence.activity_id == occ.activity_id,
                    Occurrence.starts_at > occ.starts_at,
                    Occurrence.starts_at >= now,
                    Occurrence.status == OccurrenceStatus.scheduled,
                )
            )
        )
    offset_start = berlin(starts_at).replace(tzinfo=None) - berlin(occ.starts_at).replace(
        tzinfo=None
    )
    duration = ends_at - starts_at
    created = []
    for target in targets:
        local = berlin(target.starts_at).replace(tzinfo=None) + offset_start
        start = local.replace(tzinfo=BERLIN)
        shift = Shift(
            occurrence_id=target.id,
            agency_id=target.agency_id,
            role=role,
            needed=int(needed),
            starts_at=start,
            ends_at=start + duration,
            required_qualifications=required,
        )
        session.add(shift)
        created.append(shift)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.shift_add,
        "shift",
        created[0].id,
        agency_id=occ.agency_id,
        occurrence=occ.id,
        count=len(created),
        required=required,
    )
    return created


# -- signing up and assigning ---------------------------------------------------------------------


def _taken(session: Session, shift_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ShiftAssignment.shift_id == shift_id, ShiftAssignment.status.in_(ACTIVE)
            )
        )
        or 0
    )


def _clashes(
    session: Session, volunteer: Volunteer, shift: Shift, *, own_agency_only: bool
) -> Shift | None:
    """An active shift of the same person (every record with the same person index)
    that overlaps ``shift``; the own agency's first."""
    same_person = [volunteer.id]
    if volunteer.person_index:
        same_person = list(
            session.scalars(
                select(Volunteer.id).where(Volunteer.person_index == volunteer.person_index)
            )
        ) or [volunteer.id]
    query = (
        select(Shift)
        .join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .where(
            ShiftAssignment.volunteer_id.in_(same_person),
            ShiftAssignment.status.in_(ACTIVE),
            Shift.id != shift.id,
            Shift.starts_at < shift.ends_at,
            Shift.ends_at > shift.starts_at,
            Occurrence.status == OccurrenceStatus.scheduled,
        )
        .order_by(Shift.agency_id != volunteer.agency_id, Shift.starts_at)
        .limit(1)
    )
    if own_agency_only:
        query = query.where(Shift.agency_id == volunteer.agency_id)
    return session.scalars(query).first()


def _check_collision(
    session: Session, volunteer: Volunteer, shift: Shift, who: str, by_staff: bool
) -> None:
    """No two overlapping shifts of one person.

    Staff see only their own agency's collisions: whether (and when) the person
    works for another agency is not theirs to learn, so their answer never depends
    on another agency's data. The person herself is told when she signs up, and
    "Meine Einsätze" marks overlapping shifts (``MyShift.overlaps``) so she can
    withdraw from one."""
    other = _clashes(session, volunteer, shift, own_agency_only=by_staff)
    if other is None:
        return
    if other.agency_id != volunteer.agency_id:
        raise Conflict("shift_collision_elsewhere")
    raise Conflict(
        "shift_collision",
        who=who,
        day=fmt_date(other.starts_at),
        start=fmt_time(other.starts_at),
        end=fmt_time(other.ends_at),
        role=other.role,
    )


def _enlist(
    session: Session,
    actor: Actor,
    shift: Shift,
    volunteer: Volunteer,
    *,
    by_staff: bool,
    now: datetime,
    at_door: bool = False,
) -> ShiftAssignment:
    """``at_door``: signing up by the occurrence's open volunteer QR, so a shift that has
    begun but not ended can still be taken (the person is there)."""
    occ = session.get(Occurrence, shift.occurrence_id)
    assert occ is not None
    who = "Sie sind" if not by_staff else "Die Person ist"
    if volunteer.restricted_at is not None:
        raise Conflict("volunteer_restricted")
    if not volunteer.active:
        raise Conflict("volunteer_inactive")
    if occ.status != OccurrenceStatus.scheduled:
        raise Conflict("shift_cancelled")
    if shift.starts_at <= now and not (at_door and now < shift.ends_at):
        raise Conflict("shift_started")
    existing = session.scalar(
        select(ShiftAssignment).where(
            ShiftAssignment.shift_id == shift.id, ShiftAssignment.volunteer_id == volunteer.id
        )
    )
    if existing is not None and existing.status in ACTIVE:
        raise Conflict("shift_already", who=who)
    if _taken(session, shift.id) >= shift.needed:
        raise Conflict("shift_full", needed=shift.needed)
    day = berlin(shift.starts_at).date()
    gaps = qualification_gaps(
        shift.required_qualifications or [], held_qualifications(session, volunteer.id), day
    )
    if gaps:
        kind, problem, until = gaps[0]
        if problem == "missing":
            raise Conflict(
                "qualification_missing", role=shift.role, qualification=qualification_label(kind)
            )
        raise Conflict(
            "qualification_expired",
            role=shift.role,
            qualification=qualification_label(kind),
            until=fmt_date(until) if until else "",
        )
    _check_collision(session, volunteer, shift, who, by_staff)
    status = "assigned" if by_staff else "signed_up"
    if existing is None:
        existing = ShiftAssignment(
            shift_id=shift.id,
            volunteer_id=volunteer.id,
            agency_id=shift.agency_id,
            status=status,
            assigned_by=actor.name if by_staff else None,
            created_at=now,
        )
        session.add(existing)
    else:  # signed up again after withdrawing: the same row, a new status
        existing.status = status
        existing.assigned_by = actor.name if by_staff else None
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.shift_assign if by_staff else Action.shift_signup,
        "shift_assignment",
        existing.id,
        agency_id=shift.agency_id,
        shift=shift.id,
        volunteer=volunteer.id,
        now=now,
    )
    shift_event(
        session,
        "shift_confirmed",
        volunteer_id=volunteer.id,
        agency_id=shift.agency_id,
        shift_id=shift.id,
        assignment_id=existing.id,
        now=now,
    )
    return existing


def _shift(session: Session, shift_id: int) -> Shift:
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(what="Der Einsatz")
    return shift


@service(Permission.volunteer_self, Reach.own)
def sign_up(
    session: Session, actor: Actor, shift_id: int, now: datetime | None = None
) -> ShiftAssignment:
    """A volunteer takes an open shift of their own agency."""
    volunteer = load_volunteer(session, actor, own_volunteer_id(actor))
    shift = _shift(session, shift_id)
    if shift.agency_id != volunteer.agency_id:
        raise NotFound(what="Der Einsatz")
    return _enlist(session, actor, shift, volunteer, by_staff=False, now=now or utcnow())


@service(Permission.volunteer_manage, Reach.agency)
def assign(
    session: Session, actor: Actor, shift_id: int, volunteer_id: int, now: datetime | None = None
) -> ShiftAssignment:
    """Staff put a volunteer of their agency on a shift."""
    shift = _shift(session, shift_id)
    require(actor, Permission.volunteer_manage, shift.agency_id)
    volunteer = load_volunteer(session, actor, volunteer_id)
    if volunteer.agency_id != shift.agency_id:
        raise NotFound(what="Die ehrenamtliche Person")
    return _enlist(session, actor, shift, volunteer, by_staff=True, now=now or utcnow())


def _assignment(
    session: Session, actor: Actor, assignment_id: int
) -> tuple[ShiftAssignment, Shift]:
    a = session.get(ShiftAssignment, assignment_id)
    if a is None:
        raise NotFound(what="Die Einteilung")
    load_volunteer(session, actor, a.volunteer_id)  # staff of the agency, or the person
    shift = session.get(Shift, a.shift_id)
    assert shift is not None
    return a, shift


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own assignment",
    alternatives=(Permission.volunteer_self,),
)
def withdraw(
    session: Session, actor: Actor, assignment_id: int, now: datetime | None = None
) -> None:
    """Give a shift back (the volunteer before it starts; staff any time before check-in)."""
    a, shift = _assignment(session, actor, assignment_id)
    now = now or utcnow()
    if a.status not in ACTIVE:
        raise Conflict("shift_not_active")
    if a.checked_in_at is not None:
        raise Conflict("shift_withdraw_checked_in")
    if not can(actor, Permission.volunteer_manage) and shift.starts_at <= now:
        raise Conflict("shift_started")
    a.status = "withdrawn"
    audit.record(
        session,
        actor.name,
        Action.shift_withdraw,
        "shift_assignment",
        a.id,
        agency_id=a.agency_id,
        now=now,
    )
    if shift.starts_at > now:
        self_service = actor.volunteer_id is not None and actor.volunteer_id == a.volunteer_id
        shift_event(
            session,
            "shift_cancelled",
            volunteer_id=a.volunteer_id,
            agency_id=a.agency_id,
            shift_id=shift.id,
            assignment_id=a.id,
            now=now,
            why="withdrawn_self" if self_service else "withdrawn_by_staff",
        )


@service(Permission.volunteer_manage, Reach.agency)
def mark_no_show(
    session: Session, actor: Actor, assignment_id: int, now: datetime | None = None
) -> None:
    a, shift = _assignment(session, actor, assignment_id)
    require(actor, Permission.volunteer_manage, a.agency_id)
    now = now or utcnow()
    if shift.starts_at > now:
        raise Conflict("no_show_before_start")
    if a.checked_in_at is not None:
        raise Conflict("no_show_checked_in")
    if a.status not in ACTIVE:
        raise Conflict("shift_not_active")
    a.status = "no_show"
    audit.record(
        session, actor.name, Action.shift_no_show, "shift_assignment", a.id, agency_id=a.agency_id
    )


# -- check-in and out --------------------------------------------------------------------------


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own assignment",
    alternatives=(Permission.volunteer_self,),
)
def check_in(
    session: Session,
    actor: Actor,
    assignment_id: int,
    now: datetime | None = None,
    method: str = "screen",
) -> ShiftAssignment:
    a, shift = _assignment(session, actor, assignment_id)
    now = now or utcnow()
    if a.status not in ACTIVE:
        raise Conflict("shift_not_active")
    if a.checked_in_at is not None:
        raise Conflict("shift_already_checked_in", at=fmt_time(a.checked_in_at))
    if now < shift.starts_at - CHECKIN_EARLY:
        raise Conflict("shift_checkin_early", at=fmt_time(shift.starts_at - CHECKIN_EARLY))
    if now > shift.ends_at:
        raise Conflict("shift_checkin_late")
    a.checked_in_at = now
    audit.record(
        session,
        actor.name,
        Action.shift_checkin,
        "shift_assignment",
        a.id,
        agency_id=a.agency_id,
        method=method,
        now=now,
    )
    return a


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own assignment",
    alternatives=(Permission.volunteer_self,),
)
def check_out(
    session: Session,
    actor: Actor,
    assignment_id: int,
    now: datetime | None = None,
    method: str = "screen",
) -> ShiftAssignment:
    a, shift = _assignment(session, actor, assignment_id)
    now = now or utcnow()
    if a.checked_in_at is None:
        raise Conflict("shift_checkout_first")
    if a.checked_out_at is not None:
        raise Conflict("shift_checkin_done")
    if now > shift.ends_at + CHECKOUT_LATE:
        raise Conflict("shift_checkin_late")
    a.checked_out_at = max(now, a.checked_in_at)
    audit.record(
        session,
        actor.name,
        Action.shift_checkout,
        "shift_assignment",
        a.id,
        agency_id=a.agency_id,
        method=method,
        now=now,
    )
    return a


@dataclass(frozen=True)
class ScanOutcome:
    action: str  # "checked_in" | "checked_out"
    assignment_id: int
    role: str
    at: datetime
    hours: float


def _due(
    session: Session, actor: Actor, occurrence_id: int, now: datetime
) -> tuple[str, ShiftAssignment, Shift]:
    """What a scan at this occurrence does now: ("check_out"|"check_in", assignment, shift)."""
    volunteer_id = own_volunteer_id(actor)
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what="Der Termin")
    require(actor, Permission.volunteer_self, occ.agency_id)
    rows = session.execute(
        select(ShiftAssignment, Shift)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(
            Shift.occurrence_id == occ.id,
            ShiftAssignment.volunteer_id == volunteer_id,
            ShiftAssignment.status.in_(ACTIVE),
        )
        .order_by(Shift.starts_at)
    ).all()
    if not rows:
        raise Conflict("shift_not_assigned")
    # An open check-in first (check out), then the shift that is due now.
    for a, shift in rows:
        if a.checked_in_at is not None and a.checked_out_at is None:
            return "check_out", a, shift
    pending = [(a, s) for a, s in rows if a.checked_in_at is None]
    if not pending:
        raise Conflict("shift_checkin_done")
    a, shift = min(pending, key=lambda r: abs(r[1].starts_at - now))
    return "check_in", a, shift


@service(Permission.volunteer_self, Reach.own)
def scan_at_occurrence(
    session: Session, actor: Actor, occurrence_id: int, now: datetime | None = None
) -> ScanOutcome:
    """The volunteer QR: check the person in, or (when in) out, of their shift there."""
    now = now or utcnow()
    action, a, shift = _due(session, actor, occurrence_id, now)
    if action == "check_out":
        check_out(session, actor, a.id, now, method="qr")
        return ScanOutcome("checked_out", a.id, shift.role, now, _hours(a, shift))
    check_in(session, actor, a.id, now, method="qr")
    return ScanOutcome("checked_in", a.id, shift.role, now, 0.0)


def _token_occurrence(session: Session, keys: KeyRing, actor: Actor, token: str, now: datetime):
    from ia_events.attendance.checkin import resolve

    own_volunteer_id(actor)
    target = resolve(session, keys, token or "", now, purpose="volunteer")
    if target.occurrence_id is None or target.agency_id is None:
        raise Conflict("volunteer_qr_invalid")
    if target.agency_id != actor.agency_id:
        # Another agency's poster: answered like a broken link, naming nothing.
        raise Conflict("volunteer_qr_invalid")
    if not target.is_open:
        state = target.state if target.state in QR_STATES else "invalid"
        raise Conflict(f"volunteer_qr_{state}")
    return target


@dataclass(frozen=True)
class ScanPreview:
    action: str  # "check_in" | "check_out"
    title: str
    role: str
    starts_at: datetime
    ends_at: datetime
    place: str
    checked_in_at: datetime | None


@service(Permission.volunteer_self, Reach.own)
def scan_preview(
    session: Session, keys: KeyRing, actor: Actor, token: str, now: datetime | None = None
) -> ScanPreview:
    """What scanning ``token`` would do now (changes nothing; errors as ``scan_token``)."""
    now = now or utcnow()
    target = _token_occurrence(session, keys, actor, token, now)
    action, a, shift = _due(session, actor, target.occurrence_id, now)
    return ScanPreview(
        action, target.title, shift.role, shift.starts_at, shift.ends_at, target.place,
        a.checked_in_at,
    )  # fmt: skip


@service(Permission.volunteer_self, Reach.own)
def scan_token(
    session: Session, keys: KeyRing, actor: Actor, token: str, now: datetime | None = None
) -> ScanOutcome:
    """Resolve a volunteer QR token (``checkin.resolve``) and check in or out there."""
    now = now or utcnow()
    target = _token_occurrence(session, keys, actor, token, now)
    return scan_at_occurrence(session, actor, target.occurrence_id, now)


QR_STATES = ("invalid", "revoked", "not_open", "closed", "cancelled")


@dataclass(frozen=True)
class AtToken:
    """What a scanned volunteer QR offers the person: their own shift there (``assigned``:
    go on to check in or out), or the shifts there they could sign up for now."""

    title: str
    place: str
    assigned: bool
    offers: list[ShiftView]  # shifts with a free place the person may take at the door

    @property
    def can_sign_up(self) -> bool:
        return bool(self.offers)


def _door_open(shift: ShiftView, now: datetime) -> bool:
    """A shift can be taken at the door until it ends (``_enlist(at_door=True)``)."""
    return shift.open_slots > 0 and not shift.cancelled and shift.ends_at > now


@service(Permission.volunteer_self, Reach.own)
def open_at_token(
    session: Session, keys: KeyRing, actor: Actor, token: str, now: datetime | None = None
) -> AtToken:
    """Whether the person has a shift at the QR's occurrence, and if not, the shifts there
    with a free place (changes nothing; the same refusals as ``scan_token`` for a broken,
    closed or other agency's code)."""
    now = now or utcnow()
    target = _token_occurrence(session, keys, actor, token, now)
    volunteer_id = own_volunteer_id(actor)
    mine = set(
        session.scalars(
            select(ShiftAssignment.shift_id)
            .join(Shift, Shift.id == ShiftAssignment.shift_id)
            .where(
                Shift.occurrence_id == target.occurrence_id,
                ShiftAssignment.volunteer_id == volunteer_id,
                ShiftAssignment.status.in_(ACTIVE),
            )
        )
    )
    offers = []
    if not mine:
        views = _views(session, None, Shift.occurrence_id == target.occurrence_id,
                       with_names=False)  # fmt: skip
        offers = [v for v in views if _door_open(v, now)]
    return AtToken(target.title, target.place, bool(mine), offers)


@service(Permission.volunteer_self, Reach.own)
def sign_up_at_token(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    token: str,
    shift_id: int,
    now: datetime | None = None,
) -> ShiftAssignment:
    """Sign up at the door for a shift of the scanned QR's occurrence (also after it has
    begun, until it ends); every other check as ``sign_up``."""
    now = now or utcnow()
    target = _token_occurrence(session, keys, actor, token, now)
    volunteer = load_volunteer(session, actor, own_volunteer_id(actor))
    shift = _shift(session, shift_id)
    if shift.occurrence_id != target.occurrence_id or shift.agency_id != volunteer.agency_id:
        raise NotFound(what="Der Einsatz")
    return _enlist(session, actor, shift, volunteer, by_staff=False, now=now, at_door=True)


def _hours(a: ShiftAssignment, shift: Shift) -> float:
    return assignment_hours(
        a.status,
        a.hours_override,
        a.checked_in_at,
        a.checked_out_at,
        shift.starts_at,
        shift.ends_at,
    )


@service(Permission.volunteer_manage, Reach.agency)
def set_hours(
    session: Session,
    actor: Actor,
    assignment_id: int,
    *,
    hours: float | None = None,
    planned: bool = False,
) -> float:
    """Staff override: a number of hours, or the shift's planned times (``planned``);
    ``hours=None`` without ``planned`` removes the override."""
    a, shift = _assignment(session, actor, assignment_id)
    require(actor, Permission.volunteer_manage, a.agency_id)
    if a.status == "withdrawn":
        raise Conflict("shift_not_active")
    if planned:
        hours = round((shift.ends_at - shift.starts_at).total_seconds() / 3600, 2)
    if hours is not None and not 0 <= float(hours) <= 24:
        raise InvalidInput(field="Stunden", reason="Bitte 0 bis 24 Stunden.")
    a.hours_override = None if hours is None else round(float(hours), 2)
    a.override_by = actor.name if hours is not None else None
    if hours is not None and a.status == "no_show":
        a.status = "assigned"  # staff confirm the person did work after all
    audit.record(
        session,
        actor.name,
        Action.shift_hours_override,
        "shift_assignment",
        a.id,
        agency_id=a.agency_id,
        hours=a.hours_override,
        planned=planned,
    )
    return _hours(a, shift)


# -- views: rosters, open shifts, own shifts, reminders -----------------------------------


def _views(
    session: Session,
    keys: KeyRing | None,
    condition,
    *,
    with_names: bool,
) -> list[ShiftView]:
    rows = session.execute(
        select(
            Shift, Activity.title, Occurrence.place, Activity.place, Occurrence.status, Activity.id
        )
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(condition)
        .order_by(Shift.starts_at, Shift.id)
    ).all()
    ids = [r[0].id for r in rows]
    by_shift: dict[int, list[tuple[ShiftAssignment, Volunteer]]] = {i: [] for i in ids}
    if ids:
        for a, v in session.execute(
            select(ShiftAssignment, Volunteer)
            .join(Volunteer, Volunteer.id == ShiftAssignment.volunteer_id)
            .where(ShiftAssignment.shift_id.in_(ids))
            .order_by(ShiftAssignment.id)
        ).all():
            by_shift[a.shift_id].append((a, v))
    out = []
    for shift, title, occ_place, act_place, occ_status, activity_id in rows:
        pairs = by_shift[shift.id]
        assignments = []
        if with_names and keys is not None:
            assignments = [
                AssignmentView(
                    a.id,
                    v.id,
                    shown_text(
                        session, keys, v.agency_id, v.name_enc, "volunteer-name", v.restricted_at
                    ),
                    a.status,
                    a.checked_in_at,
                    a.checked_out_at,
                    a.hours_override,
                    _hours(a, shift),
                    a.assigned_by is None,
                )
                for a, v in pairs
            ]
        out.append(
            ShiftView(
                shift.id,
                shift.occurrence_id,
                title,
                shift.role,
                shift.needed,
                shift.starts_at,
                shift.ends_at,
                list(shift.required_qualifications or []),
                sum(1 for a, _ in pairs if a.status in ACTIVE),
                occ_place or act_place or "",
                occ_status != OccurrenceStatus.scheduled,
                assignments,
                activity_id,
            )
        )
    return out


@service(Permission.volunteer_manage, Reach.agency)
def roster_for_occurrence(
    session: Session, keys: KeyRing, actor: Actor, occurrence_id: int
) -> list[ShiftView]:
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what="Der Termin")
    require(actor, Permission.volunteer_manage, occ.agency_id)
    return _views(session, keys, Shift.occurrence_id == occ.id, with_names=True)


@service(Permission.volunteer_manage, Reach.agency)
def roster_for_week(
    session: Session, keys: KeyRing, actor: Actor, agency_id: int, week_of: date
) -> list[ShiftView]:
    """Every shift of the agency in the Monday-to-Sunday week containing ``week_of``."""
    require(actor, Permission.volunteer_manage, agency_id)
    monday = week_of - timedelta(days=week_of.weekday())
    start = datetime.combine(monday, datetime.min.time(), tzinfo=BERLIN)
    end = start + timedelta(days=7)
    return _views(
        session,
        keys,
        and_(Shift.agency_id == agency_id, Shift.starts_at >= start, Shift.starts_at < end),
        with_names=True,
    )


@service(Permission.volunteer_manage, Reach.agency)
def reminders(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_id: int,
    now: datetime | None = None,
    days: int = 3,
) -> list[ShiftView]:
    """Shifts of the next ``days`` days: whom to remind, and which still lack people."""
    require(actor, Permission.volunteer_manage, agency_id)
    now = now or utcnow()
    return [
        v
        for v in _views(
            session,
            keys,
            and_(
                Shift.agency_id == agency_id,
                Shift.starts_at >= now,
                Shift.starts_at < now + timedelta(days=days),
            ),
            with_names=True,
        )
        if not v.cancelled
    ]


@dataclass(frozen=True)
class ShiftFilter:
    """What a volunteer narrows the open shifts to; ``None`` means "any".

    ``date_from``/``date_to`` are local (Europe/Berlin) days, both included."""

    activity_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    role: str | None = None

    def matches(self, view: ShiftView) -> bool:
        day = berlin(view.starts_at).date()
        return (
            (self.activity_id is None or view.activity_id == self.activity_id)
            and (self.date_from is None or day >= self.date_from)
            and (self.date_to is None or day <= self.date_to)
            and (not self.role or view.role == self.role)
        )


@dataclass(frozen=True)
class OpenShiftChoices:
    """The values the open-shift filters offer: activities (id, title) and tasks, sorted."""

    activities: list[tuple[int, str]]
    roles: list[str]


def open_shift_choices(views: list[ShiftView]) -> OpenShiftChoices:
    activities = sorted(
        {(v.activity_id, v.activity_title) for v in views}, key=lambda a: (a[1].casefold(), a[0])
    )
    roles = sorted({v.role for v in views}, key=str.casefold)
    return OpenShiftChoices(activities, roles)


@service(Permission.volunteer_self, Reach.own)
def open_shifts(
    session: Session,
    actor: Actor,
    now: datetime | None = None,
    days: int = 60,
    where: ShiftFilter | None = None,
) -> list[ShiftView]:
    """Upcoming shifts of the volunteer's agency with free places (no names of others),
    soonest first; ``where`` narrows them by activity, local date range and task. A
    ``date_to`` beyond ``days`` reaches as far as that day."""
    volunteer = load_volunteer(session, actor, own_volunteer_id(actor))
    now = now or utcnow()
    where = where or ShiftFilter()
    until = now + timedelta(days=days)
    if where.date_to is not None:
        day_after = datetime.combine(where.date_to + timedelta(days=1), datetime.min.time())
        until = max(until, day_after.replace(tzinfo=BERLIN))
    mine = set(
        session.scalars(
            select(ShiftAssignment.shift_id).where(
                ShiftAssignment.volunteer_id == volunteer.id, ShiftAssignment.status.in_(ACTIVE)
            )
        )
    )
    return [
        v
        for v in _views(
            session,
            None,
            and_(
                Shift.agency_id == volunteer.agency_id,
                Shift.starts_at > now,
                Shift.starts_at < until,
            ),
            with_names=False,
        )
        if v.open_slots > 0 and not v.cancelled and v.id not in mine and where.matches(v)
    ]


@dataclass(frozen=True)
class MyShift:
    assignment_id: int
    shift: ShiftView
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: float
    # Overlaps another active shift of the same person (also at another agency).
    overlaps: bool = False

    def can_check_in(self, now: datetime) -> bool:
        s = self.shift
        return (
            self.status in ACTIVE
            and self.checked_in_at is None
            and s.starts_at - CHECKIN_EARLY <= now <= s.ends_at
        )

    def can_check_out(self, now: datetime) -> bool:
        return self.checked_in_at is not None and self.checked_out_at is None

    def is_done(self, now: datetime) -> bool:
        """Finished: checked out, marked no-show, or over -- one still checked in stays
        ahead while it can be checked out (``CHECKOUT_LATE`` after its end)."""
        if self.checked_out_at is not None or self.status == "no_show":
            return True
        if self.checked_in_at is not None:
            return now > self.shift.ends_at + CHECKOUT_LATE
        return self.shift.ends_at <= now


def split_mine(mine: list[MyShift], now: datetime) -> tuple[list[MyShift], list[MyShift]]:
    """ "Meine nächsten Einsätze": (upcoming soonest first, done most recent first)."""
    ahead = [m for m in mine if not m.is_done(now)]
    done = [m for m in mine if m.is_done(now)]
    ahead.sort(key=lambda m: (m.shift.starts_at, m.shift.id))
    done.sort(key=lambda m: (m.shift.starts_at, m.shift.id), reverse=True)
    return ahead, done


@service(Permission.volunteer_self, Reach.own)
def my_shifts(
    session: Session, actor: Actor, now: datetime | None = None, past_days: int = 14
) -> list[MyShift]:
    """The volunteer's own active shifts from ``past_days`` ago on."""
    volunteer_id = own_volunteer_id(actor)
    volunteer = load_volunteer(session, actor, volunteer_id)
    now = now or utcnow()
    rows = {
        a.shift_id: a
        for a in session.scalars(
            select(ShiftAssignment).where(
                ShiftAssignment.volunteer_id == volunteer.id,
                ShiftAssignment.status.in_((*ACTIVE, "no_show")),
            )
        )
    }
    if not rows:
        return []
    views = _views(
        session,
        None,
        and_(Shift.id.in_(list(rows)), Shift.ends_at >= now - timedelta(days=past_days)),
        with_names=False,
    )
    out = []
    for v in views:
        a = rows[v.id]
        shift = session.get(Shift, v.id)
        assert shift is not None
        clash = a.status in ACTIVE and (
            _clashes(session, volunteer, shift, own_agency_only=False) is not None
        )
        out.append(
            MyShift(a.id, v, a.status, a.checked_in_at, a.checked_out_at, _hours(a, shift), clash)
        )
    return out


@dataclass(frozen=True)
class VolunteerHome:
    """What "Meine Einsätze" shows: own shifts and the agency's open ones."""

    mine: list[MyShift]
    open: list[ShiftView]
    upcoming: list[MyShift] = field(default_factory=list)  # soonest first
    done: list[MyShift] = field(default_factory=list)  # "Erledigt", most recent first


@service(Permission.volunteer_self, Reach.own)
def volunteer_home(session: Session, actor: Actor, now: datetime | None = None) -> VolunteerHome:
    now = now or utcnow()
    mine = my_shifts(session, actor, now)
    upcoming, done = split_mine(mine, now)
    return VolunteerHome(mine, open_shifts(session, actor, now), upcoming, done)


@dataclass(frozen=True)
class OverviewNotes:
    """For the specialist's Übersicht: shifts to remind people of, qualifications running out."""

    reminders: list[ShiftView]
    expiring: list  # list[volunteers.ExpiringQualification]


@service(Permission.volunteer_manage, Reach.agency)
def overview_notes(
    session: Session, keys: KeyRing, actor: Actor, agency_id: int, now: datetime | None = None
) -> OverviewNotes:
    from ia_events.volunteers.registry import expiring_qualifications

    now = now or utcnow()
    return OverviewNotes(
        reminders(session, keys, actor, agency_id, now, days=3),
        expiring_qualifications(session, keys, actor, agency_id, berlin(now).date()),
    )
