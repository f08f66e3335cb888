"""The volunteer registry of an agency and the qualifications it has inspected.

A volunteer (*Ehrenamtliche\\*r*) belongs to one agency. Name and contact are
stored only sealed (``personal.seal_text``) with a keyed blind index of the
name for duplicate checks, plus a district-wide ``person_index`` (name +
contact) that lets ``shifts`` notice the same person's overlapping shift in
another agency without revealing anything about it. Consent to data
processing is recorded with its date and the version of the consent text.
Volunteers are deactivated, never deleted (their hours stay provable);
anonymisation is the retention run's job, not this module's.

Qualifications record that a document was *inspected* -- when, by whom, valid
until when -- never the document itself (an extended police certificate may
not be copied). Shifts, hours and certificates live in ``shifts`` and
``volunteer_hours``; the Ehrenamtskarte NRW threshold is a setting here.

Limits: no free-text search over names (they are encrypted); lists decrypt
one agency at a time.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, can, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.models import Qualification, Setting, Volunteer
from ia_events.core.permissions import Reach, service
from ia_events.privacy.personal import blind_index, normalise_name, open_text, seal_text
from ia_events.privacy.restriction import shown_text
from storage.db import utcnow
from storage.keys import KeyRing

# kind -> (label, default validity in years; None = does not expire)
QUALIFICATIONS: dict[str, tuple[str, int | None]] = {
    "fuehrungszeugnis": ("Erweitertes Führungszeugnis (eingesehen)", 5),
    "hygiene": ("Hygienebelehrung (§ 43 IfSG)", 2),
    "erste_hilfe": ("Erste-Hilfe-Kurs", 2),
    "einweisung": ("Einweisung/Belehrung", 1),
}
SHIFT_ROLES = [
    "Anleitung Nähen",
    "Fahrradreparatur",
    "Kinderbetreuung",
    "Dolmetschen",
    "Aufbau",
    "Abbau",
    "Empfang/Check-in",
    "Küche/Café",
]
# Suggested when a shift of this role is created; staff can change it.
ROLE_QUALIFICATIONS: dict[str, list[str]] = {
    "Kinderbetreuung": ["fuehrungszeugnis"],
    "Küche/Café": ["hygiene"],
}
EXPIRY_WARNING_DAYS = 60
CONSENT_VERSION = "EW-2026-01"

# Ehrenamtskarte NRW: the state's rule was reported to change in 2026 from
# 5 h/week or 250 h/year to 4 h/week or 200 h/year. Not verified here: the
# installation's admin sets the current values (docs/volunteers.md).
CARD_HOURS_YEAR_KEY = "ehrenamtskarte.hours_per_year"
CARD_HOURS_WEEK_KEY = "ehrenamtskarte.hours_per_week"
CARD_DEFAULT_YEAR = 200.0
CARD_DEFAULT_WEEK = 4.0


def qualification_label(kind: str) -> str:
    return QUALIFICATIONS.get(kind, (kind, None))[0]


# -- pure rules ---------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """Same day ``years`` later; 29 February becomes 28 February."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def default_valid_until(kind: str, checked_on: date) -> date | None:
    years = QUALIFICATIONS.get(kind, ("", None))[1]
    return add_years(checked_on, years) if years else None


def qualification_state(
    valid_until: date | None, on: date, warn_days: int = EXPIRY_WARNING_DAYS
) -> str:
    """``valid``, ``expiring`` (within ``warn_days``) or ``expired`` on day ``on``."""
    if valid_until is None:
        return "valid"
    if valid_until < on:
        return "expired"
    if valid_until <= on + timedelta(days=warn_days):
        return "expiring"
    return "valid"


def qualification_gaps(
    required: Iterable[str], held: dict[str, date | None], on: date
) -> list[tuple[str, str, date | None]]:
    """What blocks work on day ``on``: ``(kind, "missing"|"expired", valid_until)``.

    ``held`` maps a kind to the *latest* validity the volunteer has for it.
    """
    gaps: list[tuple[str, str, date | None]] = []
    for kind in required:
        if kind not in held:
            gaps.append((kind, "missing", None))
        elif qualification_state(held[kind], on, 0) == "expired":
            gaps.append((kind, "expired", held[kind]))
    return gaps


@dataclass(frozen=True)
class CardThreshold:
    hours_per_year: float = CARD_DEFAULT_YEAR
    hours_per_week: float = CARD_DEFAULT_WEEK


def card_reached(hours: float, year: int, today: date, threshold: CardThreshold) -> bool:
    """Does the year's total meet the Ehrenamtskarte threshold (per year or per week)?

    The weekly rule is read as an average over the weeks of the year elapsed so
    far (the whole year once it is over).
    """
    if hours >= threshold.hours_per_year:
        return True
    if year < today.year:
        weeks = 52.0
    elif year > today.year:
        return False
    else:
        weeks = max(today.timetuple().tm_yday / 7, 4.0)  # a few good days are no average
    return hours / weeks >= threshold.hours_per_week


# -- views ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualificationView:
    id: int
    kind: str
    label: str
    checked_on: date
    checked_by: str
    valid_until: date | None
    state: str


@dataclass(frozen=True)
class VolunteerView:
    id: int
    agency_id: int
    name: str
    contact: str
    languages: list[str]
    skills: list[str]
    availability: str
    consent_at: date | None
    consent_version: str | None
    agreement_at: date | None
    active: bool
    qualifications: list[QualificationView] = field(default_factory=list)


def _view(
    session: Session, keys: KeyRing, v: Volunteer, quals: list[Qualification], today: date
) -> VolunteerView:
    return VolunteerView(
        v.id,
        v.agency_id,
        shown_text(session, keys, v.agency_id, v.name_enc, "volunteer-name", v.restricted_at),
        shown_text(session, keys, v.agency_id, v.contact_enc, "volunteer-contact", v.restricted_at),
        list(v.languages or []),
        list(v.skills or []),
        v.availability,
        v.consent_at,
        v.consent_version,
        v.agreement_at,
        v.active,
        [
            QualificationView(
                q.id,
                q.kind,
                qualification_label(q.kind),
                q.checked_on,
                q.checked_by,
                q.valid_until,
                qualification_state(q.valid_until, today),
            )
            for q in sorted(quals, key=lambda q: (q.kind, q.checked_on))
        ],
    )


# -- access --------------------------------------------------------------------------------------


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own record",
    alternatives=(Permission.volunteer_self,),
)
def load_volunteer(session: Session, actor: Actor, volunteer_id: int) -> Volunteer:
    """The volunteer record if the actor may see it: staff of its agency, or the person."""
    v = session.get(Volunteer, volunteer_id)
    if v is None:
        raise NotFound(what="Die ehrenamtliche Person")
    if can(actor, Permission.volunteer_manage):
        require(actor, Permission.volunteer_manage, v.agency_id)
    else:
        require(actor, Permission.volunteer_self, v.agency_id)
        if actor.volunteer_id != v.id:
            raise NotFound(what="Die ehrenamtliche Person")
    return v


@service(Permission.volunteer_self, Reach.own)
def own_volunteer_id(actor: Actor) -> int:
    """The volunteer record behind a volunteer's account (or a clear refusal)."""
    require(actor, Permission.volunteer_self)
    if actor.volunteer_id is None:
        raise Conflict("volunteer_not_linked")
    return actor.volunteer_id


def _list(value: Iterable[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    return [v.strip()[:60] for v in value if v and v.strip()][:20]


def person_index(keys: KeyRing, name: str, contact: str) -> str:
    return keys.keyed_hash(
        "person-index", f"{normalise_name(name)}\0{normalise_name(contact)}".encode()
    )


# -- registry ------------------------------------------------------------------------------------


@service(Permission.volunteer_manage, Reach.agency)
def add_volunteer(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_id: int,
    *,
    name: str,
    contact: str = "",
    languages: Iterable[str] | str | None = None,
    skills: Iterable[str] | str | None = None,
    availability: str = "",
    consent_at: date | None = None,
    consent_version: str | None = CONSENT_VERSION,
    agreement_at: date | None = None,
    now: datetime | None = None,
) -> Volunteer:
    """Register a volunteer. Consent (date and text version) is required."""
    require(actor, Permission.volunteer_manage, agency_id)
    name = (name or "").strip()
    contact = (contact or "").strip()
    if not name:
        raise InvalidInput(field="Name", reason="Bitte ausfüllen.")
    if len(name) > 200 or len(contact) > 300:
        raise InvalidInput(field="Name/Kontakt", reason="Höchstens 200 bzw. 300 Zeichen.")
    if consent_at is None:
        raise InvalidInput(
            field="Einwilligung", reason="Ohne Einwilligung dürfen wir keine Daten speichern."
        )
    if not (consent_version or "").strip():
        raise InvalidInput(field="Fassung der Einwilligung", reason="Bitte angeben.")
    today = (now or utcnow()).date()
    if consent_at > today + timedelta(days=1) or (agreement_at and agreement_at > today):
        raise InvalidInput(field="Datum", reason="Das Datum liegt in der Zukunft.")
    index = blind_index(keys, agency_id, name)
    if session.scalar(
        select(Volunteer.id).where(Volunteer.agency_id == agency_id, Volunteer.name_index == index)
    ):
        raise Conflict("volunteer_duplicate", name=name)
    v = Volunteer(
        agency_id=agency_id,
        name_enc=seal_text(session, keys, agency_id, name, "volunteer-name"),
        name_index=index,
        contact_enc=seal_text(session, keys, agency_id, contact, "volunteer-contact")
        if contact
        else None,
        person_index=person_index(keys, name, contact),
        languages=_list(languages),
        skills=_list(skills),
        availability=(availability or "").strip()[:500],
        consent_at=consent_at,
        consent_version=(consent_version or "").strip()[:40],
        agreement_at=agreement_at,
    )
    session.add(v)
    session.flush()
    audit.record(
        session, actor.name, Action.volunteer_add, "volunteer", v.id, agency_id=agency_id, now=now
    )
    return v


@service(Permission.volunteer_manage, Reach.agency)
def update_volunteer(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    volunteer_id: int,
    *,
    contact: str | None = None,
    languages: Iterable[str] | str | None = None,
    skills: Iterable[str] | str | None = None,
    availability: str | None = None,
    agreement_at: date | None = None,
) -> None:
    v = load_volunteer(session, actor, volunteer_id)
    require(actor, Permission.volunteer_manage, v.agency_id)
    if v.restricted_at is not None:
        raise Conflict("volunteer_restricted")
    changed: list[str] = []
    if contact is not None:
        name = open_text(session, keys, v.agency_id, v.name_enc, "volunteer-name")
        v.contact_enc = (
            seal_text(session, keys, v.agency_id, contact.strip(), "volunteer-contact")
            if contact.strip()
            else None
        )
        v.person_index = person_index(keys, name, contact.strip())
        changed.append("contact")
    if languages is not None:
        v.languages = _list(languages)
        changed.append("languages")
    if skills is not None:
        v.skills = _list(skills)
        changed.append("skills")
    if availability is not None:
        v.availability = availability.strip()[:500]
        changed.append("availability")
    if agreement_at is not None:
        v.agreement_at = agreement_at
        changed.append("agreement")
    audit.record(
        session,
        actor.name,
        Action.volunteer_change,
        "volunteer",
        v.id,
        agency_id=v.agency_id,
        fields=changed,
    )


@service(Permission.volunteer_manage, Reach.agency)
def set_volunteer_active(
    session: Session, actor: Actor, volunteer_id: int, active: bool, now: datetime | None = None
) -> None:
    """Deactivate (or reactivate). Never deletes: worked hours must stay provable."""
    v = load_volunteer(session, actor, volunteer_id)
    require(actor, Permission.volunteer_manage, v.agency_id)
    if active and v.restricted_at is not None:
        raise Conflict("volunteer_restricted")
    v.active = active
    v.deactivated_at = None if active else (now or utcnow())
    audit.record(
        session,
        actor.name,
        Action.volunteer_change if active else Action.volunteer_deactivate,
        "volunteer",
        v.id,
        agency_id=v.agency_id,
        active=active,
    )


def _qualifications(session: Session, ids: list[int]) -> dict[int, list[Qualification]]:
    out: dict[int, list[Qualification]] = {i: [] for i in ids}
    if ids:
        for q in session.scalars(select(Qualification).where(Qualification.volunteer_id.in_(ids))):
            out[q.volunteer_id].append(q)
    return out


@service(Permission.volunteer_manage, Reach.agency)
def list_volunteers(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_id: int,
    *,
    include_inactive: bool = False,
    today: date | None = None,
) -> list[VolunteerView]:
    require(actor, Permission.volunteer_manage, agency_id)
    q = select(Volunteer).where(Volunteer.agency_id == agency_id)
    if not include_inactive:
        q = q.where(Volunteer.active.is_(True))
    rows = list(session.scalars(q.order_by(Volunteer.id)))
    quals = _qualifications(session, [v.id for v in rows])
    day = today or utcnow().date()
    views = [_view(session, keys, v, quals[v.id], day) for v in rows]
    return sorted(views, key=lambda v: normalise_name(v.name))


@service(
    Permission.volunteer_manage,
    Reach.agency,
    "volunteer: own record",
    alternatives=(Permission.volunteer_self,),
)
def get_volunteer(
    session: Session, keys: KeyRing, actor: Actor, volunteer_id: int, today: date | None = None
) -> VolunteerView:
    v = load_volunteer(session, actor, volunteer_id)
    return _view(session, keys, v, _qualifications(session, [v.id])[v.id], today or utcnow().date())


# -- qualifications ---------------------------------------------------------------------------


@service(Permission.volunteer_manage, Reach.agency)
def add_qualification(
    session: Session,
    actor: Actor,
    volunteer_id: int,
    *,
    kind: str,
    checked_on: date,
    checked_by: str = "",
    valid_until: date | None = None,
    note: str = "",
    today: date | None = None,
) -> Qualification:
    """Record that a document was inspected. The document itself is never stored."""
    v = load_volunteer(session, actor, volunteer_id)
    require(actor, Permission.volunteer_manage, v.agency_id)
    if kind not in QUALIFICATIONS:
        raise InvalidInput(field="Nachweis", reason=f"„{kind}“ ist unbekannt.")
    today = today or utcnow().date()
    if checked_on > today:
        raise InvalidInput(field="Eingesehen am", reason="Das Datum liegt in der Zukunft.")
    valid_until = valid_until or default_valid_until(kind, checked_on)
    if valid_until is not None and valid_until < checked_on:
        raise InvalidInput(field="Gültig bis", reason="Das Datum liegt vor der Einsicht.")
    q = Qualification(
        volunteer_id=v.id,
        agency_id=v.agency_id,
        kind=kind,
        checked_on=checked_on,
        checked_by=(checked_by or actor.label).strip()[:80],
        valid_until=valid_until,
        note=(note or "").strip()[:500],
    )
    session.add(q)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.qualification_add,
        "qualification",
        q.id,
        agency_id=v.agency_id,
        volunteer=v.id,
        kind=kind,
        valid_until=valid_until.isoformat() if valid_until else None,
    )
    return q


def held_qualifications(session: Session, volunteer_id: int) -> dict[str, date | None]:
    """Latest validity per kind (``None`` = does not expire)."""
    held: dict[str, date | None] = {}
    for kind, until in session.execute(
        select(Qualification.kind, Qualification.valid_until).where(
            Qualification.volunteer_id == volunteer_id
        )
    ):
        if until is None or (kind in held and held[kind] is None):
            held[kind] = None
        else:
            held[kind] = max(until, held.get(kind) or until)
    return held


@dataclass(frozen=True)
class ExpiringQualification:
    volunteer_id: int
    name: str
    kind: str
    label: str
    valid_until: date
    state: str


@service(Permission.volunteer_manage, Reach.agency)
def expiring_qualifications(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_id: int,
    today: date | None = None,
    days: int = EXPIRY_WARNING_DAYS,
) -> list[ExpiringQualification]:
    """Active volunteers' expired or soon-expiring qualifications (latest per kind)."""
    today = today or utcnow().date()
    out = []
    for v in list_volunteers(session, keys, actor, agency_id, today=today):
        latest: dict[str, QualificationView | None] = {}
        for q in v.qualifications:
            prev = latest.get(q.kind, q)
            if q.valid_until is None or (prev is None or prev.valid_until is None):
                latest[q.kind] = None if q.valid_until is None or prev is None else q
            else:
                latest[q.kind] = q if q.valid_until >= prev.valid_until else prev
        for kind, best in latest.items():
            if best is None or best.valid_until is None:
                continue
            state = qualification_state(best.valid_until, today, days)
            if state != "valid":
                out.append(
                    ExpiringQualification(v.id, v.name, kind, best.label, best.valid_until, state)
                )
    return sorted(out, key=lambda e: e.valid_until)


# -- Ehrenamtskarte threshold (a setting) -----------------------------------------------------


def card_threshold(session: Session) -> CardThreshold:
    values = dict(
        session.execute(
            select(Setting.key, Setting.value).where(
                Setting.key.in_([CARD_HOURS_YEAR_KEY, CARD_HOURS_WEEK_KEY])
            )
        ).all()
    )
    return CardThreshold(
        float(values.get(CARD_HOURS_YEAR_KEY, CARD_DEFAULT_YEAR)),
        float(values.get(CARD_HOURS_WEEK_KEY, CARD_DEFAULT_WEEK)),
    )


@service(Permission.system_run, Reach.installation)
def set_card_threshold(
    session: Session, actor: Actor, *, hours_per_year: float, hours_per_week: float
) -> CardThreshold:
    """Set the Ehrenamtskarte NRW threshold for the whole installation (admin)."""
    require(actor, Permission.system_run)
    if not (0 < hours_per_year <= 2000 and 0 < hours_per_week <= 60):
        raise InvalidInput(field="Schwelle", reason="Bitte realistische Stundenzahlen angeben.")
    for key, value in (
        (CARD_HOURS_YEAR_KEY, hours_per_year),
        (CARD_HOURS_WEEK_KEY, hours_per_week),
    ):
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=str(float(value))))
        else:
            row.value = str(float(value))
    audit.record(
        session,
        actor.name,
        Action.setting_change,
        "setting",
        "ehrenamtskarte",
        hours_per_year=hours_per_year,
        hours_per_week=hours_per_week,
    )
    return CardThreshold(float(hours_per_year), float(hours_per_week))
