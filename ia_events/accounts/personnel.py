"""Personnel and position changes (handbook 4.2, Personal- und Stellenverwaltung).

Every change goes through the AWO Bezirksverband to the Bezirksregierung
Arnsberg. Two kinds:

- *anzeigepflichtig* (vacancy, end of employment, fewer hours, personal
  changes such as a name, the agency's address): told to the district
  beforehand -- due at the latest on the planned date;
- *zustimmungspflichtig* (new hire incl. substitutes, extension, hire with a
  different formal qualification, opening/closing a site, more hours): needs
  the Bezirksregierung's prior consent, requested through the district.
  "Eine nachträgliche Zustimmung ist nicht möglich": a change that would take
  effect before the consent date (or without one) is warned about loudly.

The handbook gives no fixed lead time ("so früh wie möglich", "rechtzeitig vor
Beginn"); we set the request deadline ``REQUEST_LEAD_DAYS`` before the planned
date so there is time for questions and processing -- a house rule, not the
funder's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.messages import fmt_date
from ia_events.core.models import Agency, PersonnelChange
from ia_events.core.permissions import Reach, service
from storage.db import utcnow

REQUEST_LEAD_DAYS = 42

NOTIFY = {
    "vakanz": "Vakanz (Krankheit nach Lohnfortzahlung, Mutterschutz, Elternzeit, unbesetzt)",
    "beendigung": "Beendigung des Arbeitsverhältnisses",
    "reduzierung": "Reduzierung des Stellenumfangs",
    "persoenlich": "Persönliche Veränderung (z. B. Namensänderung)",
    "agentur": "Veränderung der Agentur (Adresse, Kontaktdaten)",
}
CONSENT = {
    "neueinstellung": "Neueinstellung (auch Vertretung)",
    "verlaengerung": "Verlängerung des Beschäftigungszeitraums",
    "qualifikation": "Einstellung bei abweichender formaler Qualifikation",
    "standort": "Standorteröffnung oder -schließung (auch Außenstellen)",
    "aufstockung": "Stellenaufstockung",
}
KINDS = {**NOTIFY, **CONSENT}


@service(None, Reach.internal, "checks the permission it is given")
def agency_id_for(session: Session, actor: Actor, slug: str, permission: Permission) -> int:
    agency_id = session.scalar(select(Agency.id).where(Agency.slug == slug))
    if agency_id is None:
        raise NotFound(what=f"Die Integrationsagentur „{slug}“")
    require(actor, permission, agency_id)
    return agency_id


def _description(value: str) -> str:
    value = (value or "").strip()
    if len(value) > 500 or any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InvalidInput(
            field="Beschreibung", reason="Höchstens 500 Zeichen, keine Steuerzeichen."
        )
    return value


@dataclass(frozen=True)
class ChangeView:
    id: int
    agency_slug: str
    agency_name: str
    kind: str
    description: str
    planned_on: date
    requested_on: date | None
    consent_on: date | None
    warning: str  # empty when all is in order

    @property
    def label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def needs_consent(self) -> bool:
        return self.kind in CONSENT

    @property
    def due(self) -> date:
        """By when the request/notice must reach the Bezirksverband."""
        if self.needs_consent:
            return self.planned_on - timedelta(days=REQUEST_LEAD_DAYS)
        return self.planned_on


def assess(
    kind: str, planned_on: date, requested_on: date | None, consent_on: date | None, today: date
) -> str:
    """The German warning for a change, or "" (pure)."""
    if kind in CONSENT:
        if consent_on is not None and consent_on > planned_on:
            return (
                f"Achtung: Die Zustimmung ({fmt_date(consent_on)}) liegt nach dem Beginn "
                f"({fmt_date(planned_on)}). Die Änderung würde vor der Zustimmung wirksam – "
                "eine nachträgliche Zustimmung ist nicht möglich."
            )
        if consent_on is None:
            if planned_on <= today:
                return (
                    f"Achtung: Die Änderung ist seit {fmt_date(planned_on)} geplant, eine "
                    "Zustimmung der Bezirksregierung liegt nicht vor. Eine nachträgliche "
                    "Zustimmung ist nicht möglich."
                )
            due = planned_on - timedelta(days=REQUEST_LEAD_DAYS)
            if requested_on is None and due < today:
                return (
                    f"Antrag überfällig (Frist {fmt_date(due)}): Die Änderung ab "
                    f"{fmt_date(planned_on)} braucht die vorherige Zustimmung."
                )
            return (
                f"Zustimmung steht aus: Die Änderung darf erst nach Zustimmung wirksam werden "
                f"(geplant ab {fmt_date(planned_on)})."
            )
        return ""
    if requested_on is None and planned_on < today:
        return f"Mitteilung an den Bezirksverband überfällig (fällig bis {fmt_date(planned_on)})."
    return ""


def _view(c: PersonnelChange, slug: str, name: str, today: date) -> ChangeView:
    return ChangeView(
        c.id,
        slug,
        name,
        c.kind,
        c.description,
        c.planned_on,
        c.requested_on,
        c.consent_on,
        assess(c.kind, c.planned_on, c.requested_on, c.consent_on, today),
    )


def _dates(planned_on: date, requested_on: date | None, consent_on: date | None) -> None:
    if consent_on is not None and requested_on is None:
        raise InvalidInput(field="Zustimmung", reason="Bitte zuerst das Antragsdatum eintragen.")
    if requested_on and consent_on and consent_on < requested_on:
        raise InvalidInput(field="Zustimmung", reason="Die Zustimmung liegt vor dem Antrag.")
    if not isinstance(planned_on, date):
        raise InvalidInput(field="Geplant ab", reason="Bitte ein Datum angeben.")


@service(Permission.plan_edit, Reach.agency)
def add_change(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    kind: str,
    planned_on: date,
    description: str = "",
    requested_on: date | None = None,
    consent_on: date | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> ChangeView:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.plan_edit)
    if kind not in KINDS:
        raise InvalidInput(field="Art der Änderung", reason=f"„{kind}“ ist unbekannt.")
    if kind not in CONSENT and consent_on is not None:
        raise InvalidInput(field="Zustimmung", reason="Diese Änderung ist nur anzuzeigen.")
    _dates(planned_on, requested_on, consent_on)
    row = PersonnelChange(
        agency_id=agency_id,
        kind=kind,
        # The description names no person: it is a position, not a personnel file.
        description=_description(description),
        planned_on=planned_on,
        requested_on=requested_on,
        consent_on=consent_on,
        created_by=actor.name,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor.name, Action.personnel_add, "personnel_change", row.id, agency_id=agency_id
    )
    name = session.scalar(select(Agency.name).where(Agency.id == agency_id)) or agency_slug
    return _view(row, agency_slug, name, today or date.today())


@service(Permission.plan_edit, Reach.agency)
def set_dates(
    session: Session,
    actor: Actor,
    change_id: int,
    *,
    requested_on: date | None,
    consent_on: date | None,
    today: date | None = None,
) -> ChangeView:
    """Record the request date (agency) and the consent date (as the district passes it on)."""
    row = session.get(PersonnelChange, change_id)
    if row is None:
        raise NotFound(what="Die Personalveränderung")
    require(actor, Permission.plan_edit, row.agency_id)
    if row.kind not in CONSENT and consent_on is not None:
        raise InvalidInput(field="Zustimmung", reason="Diese Änderung ist nur anzuzeigen.")
    _dates(row.planned_on, requested_on, consent_on)
    row.requested_on, row.consent_on = requested_on, consent_on
    audit.record(
        session,
        actor.name,
        Action.personnel_change,
        "personnel_change",
        row.id,
        agency_id=row.agency_id,
    )
    agency = session.get(Agency, row.agency_id)
    assert agency is not None
    return _view(row, agency.slug, agency.name, today or date.today())


@service(Permission.agency_read, Reach.listing)
def list_changes(
    session: Session, actor: Actor, agency_slug: str | None = None, *, today: date | None = None
) -> list[ChangeView]:
    """Changes the actor reaches, planned date first, each with its warning."""
    require(actor, Permission.agency_read)
    q = (
        select(PersonnelChange, Agency.slug, Agency.name)
        .join(Agency, Agency.id == PersonnelChange.agency_id)
        .where(scope_filter(actor, PersonnelChange.agency_id))
        .order_by(PersonnelChange.planned_on, PersonnelChange.id)
    )
    if agency_slug:
        q = q.where(
            PersonnelChange.agency_id
            == agency_id_for(session, actor, agency_slug, Permission.agency_read)
        )
    today = today or date.today()
    return [_view(c, slug, name, today) for c, slug, name in session.execute(q).all()]
