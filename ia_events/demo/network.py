"""Demo partner directory: every agency's cooperation partners of several types, most
of them linked to the agency's demo activities (both years), one archived.

Called once from ``demo.load`` inside its transaction, after the activities exist;
``load_work`` adds the network work (meetings, an opening process, counselling counts,
a lending) in the same transaction, ``load_minutes`` the Protokolle afterwards.
Written as rows (the demo load is one audited action, not one event per row); the
organisation-level contact is sealed like every personal value. Names are invented.
"""

from __future__ import annotations

import functools
from datetime import date, time, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    CounsellingCount,
    CounsellingOutcome,
    DiscriminationKind,
    FundingShare,
    FundingSourceKind,
    Lending,
    MeetingKind,
    NetworkMeeting,
    OpeningProcess,
    Partner,
    PartnerContact,
    PartnerType,
    ProcessContact,
    ProcessStatus,
    SubGoal,
    meeting_partners,
    meeting_subgoals,
    opening_process_subgoals,
    partner_activities,
)
from ia_events.core.pdf import Document
from ia_events.core.permissions import Reach, service
from ia_events.network.meetings import attach_minutes, local_utc
from ia_events.network.partners import CONTACT_PURPOSE, EMAIL_PURPOSE, PHONE_PURPOSE
from ia_events.privacy.personal import seal_text
from storage.db import utcnow
from storage.keys import KeyRing

T = PartnerType
# A contact person: (function, name, phone, e-mail); {slug} in the e-mail. Fictitious.
Contact = tuple[str, str, str, str]
# (name with {city}, type, contact persons, activity types it cooperates on)
PARTNERS: list[tuple[str, PartnerType, tuple[Contact, ...], tuple[str, ...]]] = [
    (
        "Kommunales Integrationszentrum {city}",
        T.integration_centre,
        (
            ("Geschäftsstelle", "", "", "ki@{slug}.example"),
            ("Leitung", "Dr. Hanna Beispiel", "0201 000 1001", ""),
        ),
        ("Infoveranstaltung",),
    ),
    (
        "Jobcenter {city}",
        T.jobcenter,
        (("Team Integration", "", "0800 000 0000", ""),),
        ("Infoveranstaltung",),
    ),
    ("Ausländerbehörde {city}", T.immigration_office, (), ("Infoveranstaltung",)),
    (
        "Frauen-Kulturverein {city} e. V.",
        T.migrant_organisation,
        (("Vorsitzende", "Leyla Fiktiv", "", ""),),
        ("Nähcafé", "Fest/Begegnung"),
    ),
    (
        "Radsportverein {city} 1921 e. V.",
        T.association,
        (("Vorstand", "Jens Mustermann", "", "info@rsv-{slug}.example"),),
        ("Fahrradwerkstatt",),
    ),
    (
        "Gemeinschaftsgrundschule am Park",
        T.school,
        (
            ("Sekretariat", "", "0201 000 2002", ""),
            ("Schulleitung", "Ayşe Erfunden", "", ""),
        ),
        ("Fest/Begegnung",),
    ),
    ("Moscheegemeinde {city}-Mitte", T.religious_community, (), ("Fest/Begegnung",)),
    (
        "Migrationsberatung für Erwachsene (MBE)",
        T.counselling,
        (("Beratungsstelle", "", "", "mbe@{slug}.example"),),
        ("Nähcafé",),
    ),
    # In the directory but not (yet) cooperating on an activity.
    ("Caritasverband {city}", T.welfare_association, (), ()),
    (
        "Lokalzeitung {city}",
        T.media,
        (("Lokalredaktion", "", "", "redaktion@zeitung-{slug}.example"),),
        (),
    ),
]
# The function of the contact marked as Multiplikator*in (demo.funding), per agency.
MULTIPLIER_ROLES = ("Vorsitzende", "Leitung")
ARCHIVED = "Stadtteilbüro {city} (geschlossen)"


def _contact(
    session: Session,
    keys: KeyRing,
    agency_id: int,
    partner_id: int,
    role: str,
    name: str,
    phone: str,
    email: str,
) -> PartnerContact:
    def sealed(value: str, purpose: str) -> bytes | None:
        return seal_text(session, keys, agency_id, value, purpose) if value else None

    return PartnerContact(
        agency_id=agency_id,
        partner_id=partner_id,
        role=role,
        name_enc=sealed(name, CONTACT_PURPOSE),
        phone_enc=sealed(phone, PHONE_PURPOSE),
        email_enc=sealed(email, EMAIL_PURPOSE),
    )


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
        for name, kind, contacts, types in chosen:
            partner = Partner(
                agency_id=agency.id, name=name.format(city=city), type=kind.value, place=city
            )
            session.add(partner)
            session.flush()
            for role, person, phone, email in contacts:
                session.add(_contact(session, keys, agency.id, partner.id, role, person, phone,
                                     email.format(slug=agency.slug)))  # fmt: skip
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


# -- network work: meetings, an opening process, counselling counts, a lending ----------

# The agency (by slug) that held only two Facharbeitskreise last year: the coordinator's
# completeness overview shows its shortfall.
SHORT_OF_WORKING_GROUPS = "kleve"
WG_TITLE = "Facharbeitskreis Integration {city}"
AGENDA = "1. Berichte aus den Einrichtungen\n2. Planung gemeinsamer Angebote\n3. Verschiedenes"
DECISIONS = "Gemeinsames Fest im Sommer; nächste Sitzung reihum bei einem Partner."
CONTACTS = [
    (20, "Erstgespräch mit der Leitung: Ziele der Öffnung"),
    (55, "Workshop mit dem Team: mehrsprachige Aushänge"),
    (110, "Auswertung: Leitbild um Vielfalt ergänzt"),
]
COUNTS = [  # (month, kind, outcome, cases)
    (2, DiscriminationKind.ethnic, CounsellingOutcome.advised, 3),
    (4, DiscriminationKind.religion, CounsellingOutcome.referred, 1),
    (6, DiscriminationKind.language, CounsellingOutcome.intervention, 2),
    (9, DiscriminationKind.gender, CounsellingOutcome.advised, 1),
]


def load_work(session: Session, agencies: list[Agency], today: date) -> int:
    """Meetings, one opening process with contacts, counselling counts and a lending per
    agency, as rows (part of the demo's one audited load). Returns the meetings written."""
    last = today.year - 1
    made = 0
    for n, agency in enumerate(agencies):
        city = agency.city or agency.name.removeprefix("Integrationsagentur ")
        partner_ids = list(
            session.scalars(
                select(Partner.id)
                .where(Partner.agency_id == agency.id, Partner.archived_at.is_(None))
                .order_by(Partner.id)
            )
        )
        if not partner_ids:
            continue
        goals = session.execute(
            select(SubGoal.id, SubGoal.field)
            .where(SubGoal.agency_id == agency.id, SubGoal.funding_year == last)
            .order_by(SubGoal.position, SubGoal.id)
        ).all()
        first_goal = goals[0][0] if goals else None
        ikoe_goal = next((g for g, f in goals if f == "IKÖ"), first_goal)
        # Facharbeitskreise: quarterly last year (one agency held only two), every four
        # months this year; a Netzwerktreffen this year.
        months = (3, 9) if agency.slug == SHORT_OF_WORKING_GROUPS else (2, 5, 8, 11)
        plan: list[tuple[str, str, date, int | None]] = [
            (MeetingKind.working_group.value, WG_TITLE, date(last, m, 10 + n % 5), first_goal)
            for m in months
        ]
        plan += [
            (MeetingKind.working_group.value, WG_TITLE, date(today.year, m, 12 + n % 5), None)
            for m in (2, 6, 10)
        ]
        plan.append(
            (
                MeetingKind.network.value,
                "Netzwerktreffen Stadtteil {city}",
                date(today.year, 3, 20 + n % 5),
                None,
            )
        )
        series: dict[int, int] = {}
        for kind, title, day, linked in plan:
            m = NetworkMeeting(
                agency_id=agency.id,
                funding_year=day.year,
                kind=kind,
                title=title.format(city=city),
                starts_at=local_utc(day, time(10)),
                ends_at=local_utc(day, time(12)),
                place=f"Begegnungszentrum {city}",
                agenda=AGENDA,
                decisions=DECISIONS if day < today else "",
            )
            session.add(m)
            session.flush()
            if kind == MeetingKind.working_group.value:
                m.series_id = series.setdefault(day.year, m.id)
            session.execute(
                insert(meeting_partners),
                [{"meeting_id": m.id, "partner_id": p} for p in partner_ids[:3]],
            )
            if linked is not None:
                session.execute(
                    insert(meeting_subgoals), [{"meeting_id": m.id, "subgoal_id": linked}]
                )
            made += 1
        start = date(last, 3, 1 + n % 20)
        process = OpeningProcess(
            agency_id=agency.id,
            funding_year=last,
            partner_id=partner_ids[-1],
            title="Interkulturelle Öffnung begleiten",
            started_on=start,
            status=ProcessStatus.completed.value if n % 2 else ProcessStatus.running.value,
            outcome="Leitbild ergänzt, mehrsprachige Beschilderung" if n % 2 else "",
        )
        session.add(process)
        session.flush()
        if n == 0:  # funding per measure: a process co-funded by Aktion Mensch
            process.total_cost_cents = 150_000
            for kind, cents in (
                (FundingSourceKind.aktion_mensch, 120_000),
                (FundingSourceKind.own_share, 30_000),
            ):
                session.add(
                    FundingShare(
                        agency_id=agency.id,
                        process_id=process.id,
                        funding_year=last,
                        source=kind.value,
                        amount_cents=cents,
                    )
                )
        if ikoe_goal is not None:
            session.execute(
                insert(opening_process_subgoals),
                [{"process_id": process.id, "subgoal_id": ikoe_goal}],
            )
        session.add_all(
            ProcessContact(
                process_id=process.id,
                agency_id=agency.id,
                contact_on=start + timedelta(days=offset),
                note=note,
            )
            for offset, note in CONTACTS[: 2 + n % 2]
        )
        ada = "ADA" in (agency.fields or [])
        session.add_all(
            CounsellingCount(
                agency_id=agency.id,
                funding_year=last,
                period=date(last, month, 1),
                discrimination=kind.value,
                outcome=outcome.value,
                cases=cases * (2 if ada else 1),
            )
            for month, kind, outcome, cases in COUNTS[: 4 if ada else 2]
        )
        session.add(
            Lending(
                agency_id=agency.id,
                funding_year=last,
                item="Plakatausstellung „Vielfalt leben“ (12 Plakate)",
                partner_id=partner_ids[min(1, len(partner_ids) - 1)],
                lent_on=date(last, 5, 5),
                due_on=date(last, 6, 5),
                returned_on=date(last, 6, 2),
                subgoal_id=first_goal,
            )
        )
    session.flush()
    return made


@functools.cache
def _minutes_pdf(title: str, when: str) -> bytes:
    doc = Document(f"Protokoll – {title}", subtitle=when, pdfa=False)
    doc.body(10)
    for line in ("Anwesend: Vertreter*innen der Partnerorganisationen (Demo)", *AGENDA.split("\n")):
        doc.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    doc.cell(0, 6, "Ergebnis: " + DECISIONS, new_x="LMARGIN", new_y="NEXT")
    return doc.render()


@service(None, Reach.setup)
def load_minutes(inst: Installation, actor: Actor, today: date) -> int:
    """The Protokoll of each agency's first Facharbeitskreis last year, archived as
    evidence (one small PDF, rendered once). Returns the items added."""
    with inst.db.read() as s:
        firsts = s.execute(
            select(func.min(NetworkMeeting.id))
            .where(
                NetworkMeeting.funding_year == today.year - 1,
                NetworkMeeting.kind == MeetingKind.working_group.value,
            )
            .group_by(NetworkMeeting.agency_id)
        ).scalars()
        ids = sorted(firsts)
    pdf = _minutes_pdf("Facharbeitskreis Integration", f"Förderjahr {today.year - 1}")
    for meeting_id in ids:
        attach_minutes(inst, actor, meeting_id, "Protokoll-Facharbeitskreis.pdf", pdf)
    return len(ids)
