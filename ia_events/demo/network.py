"""Demo partner directory: every agency's cooperation partners of several types, most
of them linked to the agency's demo activities (both years), one archived.

Called once from ``demo.load`` inside its transaction, after the activities exist.
Written as rows (the demo load is one audited action, not one event per row); the
organisation-level contact is sealed like every personal value. Names are invented.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ia_events.core.models import Activity, Agency, Partner, PartnerType, partner_activities
from ia_events.network.partners import CONTACT_PURPOSE
from ia_events.privacy.personal import seal_text
from storage.db import utcnow
from storage.keys import KeyRing

T = PartnerType
# (name with {city}, type, contact or "", activity types it cooperates on)
PARTNERS: list[tuple[str, PartnerType, str, tuple[str, ...]]] = [
    (
        "Kommunales Integrationszentrum {city}",
        T.integration_centre,
        "Geschäftsstelle, ki@{slug}.example",
        ("Infoveranstaltung",),
    ),
    (
        "Jobcenter {city}",
        T.jobcenter,
        "Team Integration, Tel. 0800 000 0000",
        ("Infoveranstaltung",),
    ),
    ("Ausländerbehörde {city}", T.immigration_office, "", ("Infoveranstaltung",)),
    ("Frauen-Kulturverein {city} e. V.", T.migrant_organisation, "", ("Nähcafé", "Fest/Begegnung")),
    (
        "Radsportverein {city} 1921 e. V.",
        T.association,
        "Vorstand, info@rsv-{slug}.example",
        ("Fahrradwerkstatt",),
    ),
    ("Gemeinschaftsgrundschule am Park", T.school, "Sekretariat", ("Fest/Begegnung",)),
    ("Moscheegemeinde {city}-Mitte", T.religious_community, "", ("Fest/Begegnung",)),
    ("Migrationsberatung für Erwachsene (MBE)", T.counselling, "Beratungsstelle", ("Nähcafé",)),
    # In the directory but not (yet) cooperating on an activity.
    ("Caritasverband {city}", T.welfare_association, "", ()),
]
ARCHIVED = "Stadtteilbüro {city} (geschlossen)"


def load(session: Session, keys: KeyRing, agencies: list[Agency]) -> tuple[int, int]:
    """(partners, cooperations) written for ``agencies``."""
    made = links = 0
    for n, agency in enumerate(agencies):
        city = agency.city or agency.name.removeprefix("Integrationsagentur ")
        by_type: dict[str, list[int]] = {}
        for act_id, act_type in session.execute(
            select(Activity.id, Activity.type).where(Activity.agency_id == agency.id)
        ):
            by_type.setdefault(act_type, []).append(act_id)
        # Not every agency works with every kind: drop one or two per agency, by turn.
        chosen = [p for i, p in enumerate(PARTNERS) if (i + n) % 5 != 0]
        for name, kind, contact, types in chosen:
            partner = Partner(
                agency_id=agency.id, name=name.format(city=city), type=kind.value, place=city
            )
            session.add(partner)
            session.flush()
            if contact:
                partner.contact_enc = seal_text(
                    session,
                    keys,
                    agency.id,
                    contact.format(slug=agency.slug),
                    CONTACT_PURPOSE,
                )
            rows = [
                {"partner_id": partner.id, "activity_id": a}
                for t in types
                for a in by_type.get(t, [])
            ]
            if rows:
                session.execute(insert(partner_activities), rows)
            made += 1
            links += len(rows)
        session.add(
            Partner(
                agency_id=agency.id,
                name=ARCHIVED.format(city=city),
                type=PartnerType.administration.value,
                place=city,
                archived_at=utcnow(),
            )
        )
        made += 1
    session.flush()
    return made, links
