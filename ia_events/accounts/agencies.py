"""Agencies (Integrationsagenturen): the tenants of an installation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.models import Agency, FieldOfAction
from ia_events.core.permissions import Reach, service


@dataclass(frozen=True)
class AgencyView:
    id: int
    slug: str
    name: str
    carrier: str
    city: str
    fields: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "slug": self.slug,
            "name": self.name,
            "carrier": self.carrier,
            "fields": list(self.fields),
        }


def _view(a: Agency) -> AgencyView:
    return AgencyView(a.id, a.slug, a.name, a.carrier, a.city, list(a.fields or []))


@service(Permission.agency_read, Reach.listing)
def list_agencies(session: Session, actor: Actor) -> list[AgencyView]:
    require(actor, Permission.agency_read)
    rows = session.scalars(
        select(Agency).where(scope_filter(actor, Agency.id), Agency.active).order_by(Agency.name)
    ).all()
    return [_view(a) for a in rows]


@service(Permission.agency_read, Reach.agency)
def get_by_slug(session: Session, actor: Actor, slug: str) -> AgencyView:
    """An agency the actor reaches; another agency's slug reads as unknown."""
    require(actor, Permission.agency_read)
    agency = session.scalar(select(Agency).where(Agency.slug == slug))
    if agency is None:
        raise NotFound(what=f"Die Integrationsagentur „{slug}“")
    require(actor, Permission.agency_read, agency.id)
    return _view(agency)


@service(Permission.users_manage, Reach.installation)
def add_agency(
    session: Session,
    actor: Actor,
    *,
    slug: str,
    name: str,
    carrier: str,
    city: str = "",
    fields: list[str] | None = None,
    privacy_law: str = "DSGVO",
) -> Agency:
    require(actor, Permission.users_manage)
    fields = list(fields or [])
    known = {f.value for f in FieldOfAction}
    for f in fields:
        if f not in known:
            raise InvalidInput(field="Handlungsfeld", reason=f"„{f}“ ist unbekannt.")
    if session.scalar(select(Agency.id).where(Agency.slug == slug)) is not None:
        raise Conflict(reason=f"Die Kennung „{slug}“ ist schon vergeben.")
    agency = Agency(
        slug=slug, name=name, carrier=carrier, city=city, fields=fields, privacy_law=privacy_law
    )
    session.add(agency)
    session.flush()
    audit.record(session, actor.name, Action.agency_add, "agency", agency.id, agency_id=agency.id)
    return agency


# -- the district's reference data (handbook 3.2, DESIGN.md section 2) ------------------------

BEZIRKSVERBAND = "AWO Bezirksverband Niederrhein e.V."


@dataclass(frozen=True)
class ReferenceAgency:
    """One of the 13 agencies of the AWO Bezirk Niederrhein as the handbook lists it."""

    slug: str
    name: str
    city: str
    carrier: str
    fields: tuple[str, ...]  # Arbeitsschwerpunkte, in the handbook's order
    area: str = ""
    privacy_law: str = "DSGVO"  # AWO is no church: the DSGVO applies, not KDG/DSG-EKD


def _kv(place: str) -> str:
    return f"AWO Kreisverband {place}"


DISTRICT_AGENCIES: tuple[ReferenceAgency, ...] = (
    ReferenceAgency(
        "self-i-essen",
        "SELF-i Essen",
        "Essen",
        BEZIRKSVERBAND,
        ("BE", "IKÖ"),
        area="gesamter Bezirk Niederrhein",
    ),
    ReferenceAgency(
        "essen", "Integrationsagentur Essen", "Essen", _kv("Essen"), ("IKÖ", "SRO", "BE")
    ),
    ReferenceAgency(
        "wesel-moers", "Integrationsagentur Wesel-Moers", "Moers", _kv("Wesel"), ("IKÖ", "SRO")
    ),
    ReferenceAgency(
        "wesel-kamp-lintfort",
        "Integrationsagentur Wesel-Kamp-Lintfort",
        "Kamp-Lintfort",
        _kv("Wesel"),
        ("IKÖ", "SRO"),
    ),
    ReferenceAgency("kleve", "Integrationsagentur Kleve", "Kleve", _kv("Kleve"), ("IKÖ", "SRO")),
    ReferenceAgency(
        "moenchengladbach",
        "Integrationsagentur Mönchengladbach",
        "Mönchengladbach",
        _kv("Mönchengladbach"),
        ("BE", "IKÖ", "SRO"),
    ),
    ReferenceAgency(
        "meerbusch",
        "Integrationsagentur Meerbusch",
        "Meerbusch",
        _kv("Mönchengladbach"),
        ("BE", "IKÖ", "SRO"),
    ),
    *(
        ReferenceAgency(
            slug,
            f"Integrationsagentur {name}",
            "Duisburg",
            _kv("Duisburg"),
            ("BE", "IKÖ", "SRO", "ADA"),
        )
        for slug, name in (
            ("duisburg-laar", "Duisburg-Laar"),
            ("du-meiderich", "DU-Meiderich"),
            ("du-marxloh", "DU-Marxloh"),
            ("du-neumuehl", "DU-Neumühl"),
        )
    ),
    ReferenceAgency(
        "duesseldorf",
        "Integrationsagentur Düsseldorf",
        "Düsseldorf",
        _kv("Düsseldorf"),
        ("IKÖ", "ADA", "BE"),
    ),
    ReferenceAgency(
        "wuppertal-barmen",
        "Integrationsagentur Wuppertal-Barmen",
        "Wuppertal",
        _kv("Wuppertal"),
        ("IKÖ", "SRO", "BE"),
    ),
)
