"""Personal data of participants and volunteers: anonymisation and data-subject requests.

- **Anonymisation rule** (own periods, versioned like the evidence policy):
  attendance names are part of the participant list an inspector may ask for,
  so they are kept until 31 December of funding year + 10; volunteers' personal
  fields until 31 December of (last year of engagement + 10), since hours are
  reported. Anonymising removes the encrypted name/contact and replaces the
  blind index by a random pseudonym that is the same within one run, so counts
  *and* distinct persons of the anonymised rows stay as they were.
- **Access (Art. 15 DSGVO):** ``find_subject`` finds everything stored about a
  named person through the keyed blind index (never by decrypting every row)
  and returns an exportable report.
- **Erasure (Art. 17):** while a retention duty runs, processing is restricted
  (Art. 18, 17(3)(b)) and the request waits; ``anonymise_due`` completes it
  when the duty ends. Without a running duty it is carried out at once.

Limits: names inside archived files (a signed paper list) cannot be searched;
the report names the items that may contain the person instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, can, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import fmt_count
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    DeletionRecord,
    ErasureRequest,
    Evidence,
    NotifyPreference,
    Occurrence,
    OutboxMessage,
    Shift,
    ShiftAssignment,
    User,
    UserSession,
    Volunteer,
    WorkLog,
)
from ia_events.core.permissions import Reach, service
from ia_events.privacy.personal import blind_index, normalise_name, open_text
from storage.db import utcnow

PERSONAL_POLICY = "personal-2026.1"
ATTENDANCE_YEARS = 10
VOLUNTEER_YEARS = 10


def attendance_until(funding_year: int) -> date:
    return date(funding_year + ATTENDANCE_YEARS, 12, 31)


def _require_subject_rights(actor: Actor, agency_id: int | None = None) -> None:
    if can(actor, Permission.system_run):
        return
    require(actor, Permission.attendance_names, agency_id)


def _pseudonym(run_key: bytes, old: str) -> str:
    return "anon-" + hashlib.sha256(run_key + old.encode()).hexdigest()[:40]


def _volunteer_last_year(session: Session, vol: Volunteer) -> int:
    last = session.scalar(select(func.max(WorkLog.day)).where(WorkLog.volunteer_id == vol.id))
    years = [vol.created_at.year]
    if last is not None:
        years.append(last.year)
    return max(years)


# -- the anonymisation rule -------------------------------------------------------------------


def _due_attendance(session: Session, today: date) -> list[tuple[int, int, int]]:
    """(agency id, funding year, rows) of named attendance past its period."""
    last_year = today.year - ATTENDANCE_YEARS - 1  # fy + 10 ended before today's year
    return [
        (a, y, n)
        for a, y, n in session.execute(
            select(Attendance.agency_id, Attendance.funding_year, func.count())
            .where(
                Attendance.anonymised_at.is_(None),
                Attendance.name_enc.is_not(None) | Attendance.name_index.is_not(None),
                Attendance.funding_year <= last_year,
            )
            .group_by(Attendance.agency_id, Attendance.funding_year)
        ).all()
    ]


def _due_volunteers(session: Session, today: date) -> list[Volunteer]:
    vols = session.scalars(select(Volunteer).where(Volunteer.anonymised_at.is_(None))).all()
    return [
        v for v in vols if date(_volunteer_last_year(session, v) + VOLUNTEER_YEARS, 12, 31) < today
    ]


def propose_lines(session: Session, today: date) -> list[str]:
    lines = [
        f"Teilnahme: {n} Namen der Agentur {a}, Förderjahr {y} werden anonymisiert"
        for a, y, n in _due_attendance(session, today)
    ]
    vols = _due_volunteers(session, today)
    if vols:
        lines.append(
            f"Ehrenamt: {fmt_count(len(vols), 'Person')} "
            f"{'wird' if len(vols) == 1 else 'werden'} anonymisiert"
        )
    return lines


def _anonymise_attendance_rows(session: Session, where: list, at: datetime) -> int:
    run_key = os.urandom(32)  # forgotten after this call: the pseudonyms lead nowhere
    rows = session.execute(select(Attendance.id, Attendance.name_index).where(*where)).all()
    by_index: dict[str | None, list[int]] = {}
    for rid, idx in rows:
        by_index.setdefault(idx, []).append(rid)
    for old, ids in by_index.items():
        for i in range(0, len(ids), 500):
            session.execute(
                update(Attendance)
                .where(Attendance.id.in_(ids[i : i + 500]))
                .values(
                    name_index=_pseudonym(run_key, old) if old else None,
                    name_enc=None,
                    anonymised_at=at,
                    restricted_at=None,
                    photo_consent=None,
                )
            )
    return len(rows)


def _anonymise_volunteer(session: Session, vol: Volunteer, at: datetime) -> None:
    vol.name_enc = b""
    vol.name_index = _pseudonym(os.urandom(32), vol.name_index)
    vol.contact_enc = None
    vol.availability = ""
    vol.languages = []
    vol.skills = []
    vol.person_index = None
    vol.anonymised_at = at
    vol.restricted_at = None
    vol.active = False


@service(Permission.system_run, Reach.installation)
def anonymise_due(
    inst: Installation, actor: Actor, today: date, *, approved_by: str | None = None
) -> list[str]:
    """Apply the personal-data rule and finish erasure requests whose duty ended."""
    require(actor, Permission.system_run)
    approver = approved_by or actor.name
    lines: list[str] = []
    at = utcnow()
    with inst.db.write() as s:
        for agency_id, year, _ in _due_attendance(s, today):
            n = _anonymise_attendance_rows(
                s,
                [
                    Attendance.agency_id == agency_id,
                    Attendance.funding_year == year,
                    Attendance.anonymised_at.is_(None),
                ],
                at,
            )
            rule = f"{PERSONAL_POLICY}/attendance/fy+{ATTENDANCE_YEARS}"
            s.add(
                DeletionRecord(
                    agency_id=agency_id,
                    object_type="attendance",
                    rule=rule,
                    approved_by=approver,
                    count=n,
                )
            )
            audit.record(
                s,
                actor.name,
                Action.retention_anonymise,
                "attendance",
                agency_id=agency_id,
                funding_year=year,
                rows=n,
                rule=rule,
            )
            lines.append(f"Teilnahme: {n} Namen (Agentur {agency_id}, {year}) anonymisiert")
        for vol in _due_volunteers(s, today):
            _anonymise_volunteer(s, vol, at)
            rule = f"{PERSONAL_POLICY}/volunteer/last+{VOLUNTEER_YEARS}"
            s.add(
                DeletionRecord(
                    agency_id=vol.agency_id,
                    object_type="volunteer",
                    object_id=vol.id,
                    rule=rule,
                    approved_by=approver,
                )
            )
            audit.record(
                s,
                actor.name,
                Action.retention_anonymise,
                "volunteer",
                vol.id,
                agency_id=vol.agency_id,
                rule=rule,
            )
            lines.append(f"Ehrenamt: Person {vol.id} anonymisiert")
        for req in s.scalars(
            select(ErasureRequest).where(
                ErasureRequest.status == "restricted", ErasureRequest.duty_until < today
            )
        ).all():
            _erase(s, actor, req, at, approver)
            lines.append(f"Löschersuchen {req.id} nach Ende der Aufbewahrungspflicht erledigt")
    return lines


# -- data-subject requests ------------------------------------------------------------------


@dataclass
class SubjectReport:
    """Everything stored about one person, per agency (Art. 15 export)."""

    generated_at: str
    attendance: list[dict[str, object]] = field(default_factory=list)
    volunteers: list[dict[str, object]] = field(default_factory=list)
    evidence_may_contain: list[dict[str, object]] = field(default_factory=list)
    erasure_requests: list[dict[str, object]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.attendance or self.volunteers)

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, default=str)


def _agencies_in_reach(session: Session, actor: Actor, agency_slug: str | None) -> list[Agency]:
    q = select(Agency).where(scope_filter(actor, Agency.id)).order_by(Agency.id)
    if agency_slug:
        q = q.where(Agency.slug == agency_slug)
    agencies = list(session.scalars(q).all())
    if agency_slug and not agencies:
        raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
    return agencies


@service(Permission.attendance_names, Reach.agency, alternatives=(Permission.system_run,))
def find_subject(
    inst: Installation, actor: Actor, name: str, agency_slug: str | None = None
) -> SubjectReport:
    """Find a participant or volunteer by full name in every agency the actor reaches."""
    _require_subject_rights(actor)
    if not normalise_name(name):
        raise InvalidInput("subject_name_missing")
    report = SubjectReport(generated_at=utcnow().isoformat(timespec="seconds"))
    with inst.db.write() as s:
        agencies = _agencies_in_reach(s, actor, agency_slug)
        found_in: list[int] = []
        for agency in agencies:
            idx = blind_index(inst.keys, agency.id, name)
            rows = s.execute(
                select(Attendance, Occurrence.starts_at, Activity.title, Occurrence.id)
                .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
                .join(Activity, Activity.id == Occurrence.activity_id)
                .where(Attendance.agency_id == agency.id, Attendance.name_index == idx)
                .order_by(Occurrence.starts_at)
            ).all()
            occ_ids = set()
            for att, starts, title, occ_id in rows:
                occ_ids.add(occ_id)
                report.attendance.append(
                    {
                        "agency": agency.slug,
                        "attendance_id": att.id,
                        "activity": title,
                        "date": starts.isoformat(),
                        "method": att.method,
                        "name": open_text(s, inst.keys, agency.id, att.name_enc, "attendance"),
                        "photo_consent": att.photo_consent,
                        "age_band": att.age_band,
                        "undone": att.undone_at is not None,
                        "restricted": att.restricted_at is not None,
                        "kept_until": attendance_until(att.funding_year).isoformat(),
                    }
                )
            for vol in s.scalars(
                select(Volunteer).where(
                    Volunteer.agency_id == agency.id, Volunteer.name_index == idx
                )
            ).all():
                hours = s.scalar(
                    select(func.coalesce(func.sum(WorkLog.hours), 0)).where(
                        WorkLog.volunteer_id == vol.id
                    )
                )
                report.volunteers.append(
                    {
                        "agency": agency.slug,
                        "volunteer_id": vol.id,
                        "name": open_text(s, inst.keys, agency.id, vol.name_enc, "volunteer-name"),
                        "contact": _safe_open(s, inst, agency.id, vol.contact_enc),
                        "languages": vol.languages,
                        "skills": vol.skills,
                        "availability": vol.availability,
                        "consent_at": vol.consent_at,
                        "active": vol.active,
                        "logged_hours": float(hours or 0),
                        "restricted": vol.restricted_at is not None,
                    }
                )
            if occ_ids:
                for ev in s.scalars(
                    select(Evidence).where(
                        Evidence.occurrence_id.in_(occ_ids), Evidence.deleted_at.is_(None)
                    )
                ).all():
                    report.evidence_may_contain.append(
                        {"agency": agency.slug, "evidence_id": ev.id, "kind": ev.kind}
                    )
            for req in s.scalars(
                select(ErasureRequest).where(
                    ErasureRequest.agency_id == agency.id, ErasureRequest.subject_index == idx
                )
            ).all():
                report.erasure_requests.append(
                    {"id": req.id, "status": req.status, "duty_until": req.duty_until}
                )
            if rows or report.volunteers:
                found_in.append(agency.id)
        audit.record(
            s,
            actor.name,
            Action.subject_access,
            "subject",
            agencies=found_in,
            attendance=len(report.attendance),
            volunteers=len(report.volunteers),
        )
    return report


def _safe_open(s: Session, inst: Installation, agency_id: int, sealed: bytes | None) -> str:
    for purpose in ("volunteer-contact", "contact", "volunteer"):
        try:
            return open_text(s, inst.keys, agency_id, sealed, purpose)
        except Exception:  # purpose label chosen by the volunteers module
            continue
    return "(verschlüsselt)" if sealed else ""


@dataclass(frozen=True)
class ErasureOutcome:
    request_id: int
    status: str  # "done" | "restricted"
    duty_until: date | None
    attendance: int
    volunteers: int


@service(Permission.attendance_names, Reach.agency, alternatives=(Permission.system_run,))
def request_erasure(
    inst: Installation,
    actor: Actor,
    name: str,
    agency_slug: str,
    *,
    case_ref: str = "",
    today: date | None = None,
) -> ErasureOutcome:
    """Erase a person's data now, or restrict processing until the retention duty ends."""
    today = today or utcnow().date()
    if not normalise_name(name):
        raise InvalidInput("subject_name_missing")
    with inst.db.write() as s:
        agency = s.scalar(select(Agency).where(Agency.slug == agency_slug))
        if agency is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        try:
            _require_subject_rights(actor, agency.id)
        except Forbidden:
            raise
        idx = blind_index(inst.keys, agency.id, name)
        years = s.scalars(
            select(Attendance.funding_year).where(
                Attendance.agency_id == agency.id, Attendance.name_index == idx
            )
        ).all()
        vols = s.scalars(
            select(Volunteer).where(Volunteer.agency_id == agency.id, Volunteer.name_index == idx)
        ).all()
        duties = [attendance_until(y) for y in years]
        duties += [date(_volunteer_last_year(s, v) + VOLUNTEER_YEARS, 12, 31) for v in vols]
        duty = max(duties) if duties else None
        req = ErasureRequest(
            agency_id=agency.id,
            subject_index=idx,
            case_ref=case_ref.strip()[:200],
            received_by=actor.name,
            duty_until=duty,
        )
        s.add(req)
        s.flush()
        at = utcnow()
        if duty is None or duty < today:
            _erase(s, actor, req, at, actor.name)
        else:
            s.execute(
                update(Attendance)
                .where(Attendance.agency_id == agency.id, Attendance.name_index == idx)
                .values(restricted_at=at)
            )
            for v in vols:
                _restrict_volunteer(s, v, at)
            audit.record(
                s,
                actor.name,
                Action.subject_erasure,
                "erasure_request",
                req.id,
                agency_id=agency.id,
                status="restricted",
                duty_until=duty.isoformat(),
                attendance=len(years),
                volunteers=len(vols),
            )
        return ErasureOutcome(req.id, req.status, duty, len(years), len(vols))


def _restrict_volunteer(s: Session, v: Volunteer, at: datetime) -> None:
    """Art. 18: keep the records, stop the processing. The person is no longer planned
    (future shifts are given back), cannot log in, and screens show a marker instead of
    the name (``privacy.restriction``). Worked hours stay, as the funding must be proved."""
    v.restricted_at = at
    v.active = False
    v.deactivated_at = v.deactivated_at or at
    future = select(Shift.id).where(Shift.starts_at > at).scalar_subquery()
    s.execute(
        update(ShiftAssignment)
        .where(
            ShiftAssignment.volunteer_id == v.id,
            ShiftAssignment.status.in_(("signed_up", "assigned")),
            ShiftAssignment.checked_in_at.is_(None),
            ShiftAssignment.shift_id.in_(future),
        )
        .values(status="withdrawn")
    )
    for user in s.scalars(select(User).where(User.volunteer_id == v.id, User.active)):
        user.active = False
        s.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=at)
        )


def erase_notify_contact(s: Session, user_id: int) -> None:
    """Forget the person's notification address and drop messages not yet sent
    (the outbox holds no address; its unsent bodies go with the person)."""
    pref = s.get(NotifyPreference, user_id)
    if pref is not None:
        pref.email_enc = None
    s.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.user_id == user_id,
            OutboxMessage.status.in_(("pending", "failed", "review")),
        )
        .values(status="skipped", subject=None, body_text=None, body_html=None, params={})
    )


def _erase(s: Session, actor: Actor, req: ErasureRequest, at: datetime, approver: str) -> None:
    where = [Attendance.agency_id == req.agency_id, Attendance.name_index == req.subject_index]
    n = _anonymise_attendance_rows(s, where, at)
    vols = s.scalars(
        select(Volunteer).where(
            Volunteer.agency_id == req.agency_id, Volunteer.name_index == req.subject_index
        )
    ).all()
    for v in vols:
        _restrict_volunteer(s, v, at)
        _anonymise_volunteer(s, v, at)
        for user in s.scalars(select(User).where(User.volunteer_id == v.id)):
            user.display_name = "(gelöscht)"
            user.email = None
            erase_notify_contact(s, user.id)
    req.status = "done"
    req.done_at = at
    s.add(
        DeletionRecord(
            agency_id=req.agency_id,
            object_type="subject",
            object_id=req.id,
            rule="art17-erasure-request",
            approved_by=approver,
            count=n + len(vols),
        )
    )
    audit.record(
        s,
        actor.name,
        Action.subject_erasure,
        "erasure_request",
        req.id,
        agency_id=req.agency_id,
        status="done",
        attendance=n,
        volunteers=len(vols),
    )
