"""Demo: the handbook's instruments per agency, following each agency's own fields.

For every Förderphase the demo touches there is a Sozialraum-/Bedarfsanalyse
with one need per Arbeitsschwerpunkt; every year has one Aufgabe per
Arbeitsschwerpunkt, answering that need, with measurable sub-goals and
methods. The four demo activities (Nähcafé, Fahrradwerkstatt, Infoveranstaltung,
Stadtteilfest) take the field the handbook gives its example in, falling back
to one the agency works in -- so no agency gets sub-goals outside its fields.

Afterwards (``after_load``): Kleve has a returned plan, Düsseldorf a
grundsätzliche change with its notice to the Bewilligungsbehörde still to
send, Wuppertal-Barmen's analysis waits for Freigabe, and a few personnel
changes show the consent warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import BERLIN
from ia_events.core.models import (
    Agency,
    AnalysisNeed,
    NeedsAnalysis,
    Role,
    SubGoal,
    TaskPlan,
    TaskPlanVersion,
)
from ia_events.core.permissions import Reach, service
from ia_events.planning.deadlines import phase_of
from ia_events.planning.plans import snapshot

COORDINATOR = Actor("koordination", Role.coordinator, display_name="Koordination")

# Activity kind -> fields in order of preference (the handbook's examples first:
# the Nähcafé is its SRO example, the Fahrradwerkstatt its ADA example).
ACTIVITY_FIELDS = {
    "naeh": ("SRO", "BE", "IKÖ"),
    "rad": ("ADA", "SRO", "BE", "IKÖ"),
    "info": ("IKÖ",),
    "fest": ("IKÖ", "SRO", "BE"),
}

NEEDS = {
    "BE": (
        "Wenige Ehrenamtliche mit Zuwanderungsgeschichte",
        "Migrantenselbstorganisationen sind kaum eingebunden; Ehrenamtliche fehlen für Angebote.",
    ),
    "IKÖ": (
        "Institutionen im Stadtteil sind Zugewanderten kaum bekannt",
        "Sprachbarrieren und Hemmschwellen: Beratungsstellen, Jobcenter und Bürgerhaus werden "
        "selten genutzt.",
    ),
    "SRO": (
        "Wenige niedrigschwellige Treffpunkte im Quartier",
        "Geflüchtete Frauen und junge Menschen finden kaum Orte der Begegnung.",
    ),
    "ADA": (
        "Vorbehalte gegenüber jungen Geflüchteten",
        "Sicherheitsbedenken im Stadtteil wachsen, rechtspopulistische Gruppen treten auf.",
    ),
}


@dataclass(frozen=True)
class Aufgabe:
    topic: str
    goal: str
    methods: str
    target_group: str
    evaluation: str


AUFGABEN = {
    "BE": Aufgabe(
        "Bürgerschaftliches Engagement von und für Zugewanderte stärken",
        "Ehrenamtliche mit und ohne Zuwanderungsgeschichte gestalten Angebote im Stadtteil mit.",
        "Ehrenamtliche gewinnen, qualifizieren und in ihren Einsätzen begleiten; "
        "Migrantenselbstorganisationen einbinden.",
        "Ehrenamtliche, Migrantenselbstorganisationen",
        "Einsatzstunden und Zahl der Ehrenamtlichen; Reflexionstreffen zweimal im Jahr.",
    ),
    "IKÖ": Aufgabe(
        "Interkulturelle Öffnung der Dienste und Einrichtungen im Stadtteil",
        "Die Institutionen des Stadtteils sind Zugewanderten bekannt und für sie erreichbar.",
        "Infoveranstaltungen „Institutionen stellen sich vor“, Co-Beratung von Einrichtungen, "
        "interkulturelle Feste.",
        "Einrichtungen im Sozialraum; Zugewanderte",
        "Teilnahmen und beteiligte Institutionen; Rückmeldebogen nach jeder Veranstaltung.",
    ),
    "SRO": Aufgabe(
        "Begegnung und Teilhabe im Quartier",
        "Geflüchtete Menschen im Quartier nehmen regelmäßig an Angeboten teil.",
        "Niedrigschwellige Treffpunkte mit Ehrenamtlichen; Bedarfsabfrage im Stadtteil.",
        "Geflüchtete Frauen und junge Menschen im Quartier",
        "Teilnahmen, erreichte Personen (Teilnahmekarten), Gespräche mit Teilnehmenden.",
    ),
    "ADA": Aufgabe(
        "Antidiskriminierungsarbeit im Sozialraum",
        "Junge Menschen und Fachkräfte erkennen Diskriminierung und wissen, wo sie Hilfe finden.",
        "Fahrradwerkstatt als Begegnungsort, Demokratie-Workshops mit Bildungsträgern.",
        "Junge Geflüchtete, Jugendliche, Fachkräfte",
        "Teilnahmen; kurze Befragung zu Beginn und Ende der Workshopreihe.",
    ),
}

# Activity kind -> (title, indicator, target, methods) of the sub-goal it serves.
ACTIVITY_GOALS = {
    "naeh": (
        "Mindestens 40 Frauen besuchen das Nähcafé regelmäßig",
        "distinct_persons",
        40,
        "Wöchentliches Nähcafé mit ehrenamtlicher Schneiderin; Ansprache über die "
        "Flüchtlingsberatung.",
    ),
    "rad": (
        "15 junge Menschen kommen regelmäßig in die Fahrradwerkstatt",
        "distinct_persons",
        15,
        "Werkstatt alle zwei Wochen unter Anleitung; Teilnahmekarten zählen Personen.",
    ),
    "info": (
        "4 Institutionen stellen sich vor",
        "occurrences",
        4,
        "Infoabende mit Jobcenter, Verbraucherzentrale und Polizei, mit Sprachmittlung.",
    ),
    "fest": (
        "6 Kooperationspartner im Sozialraum",
        "partners",
        6,
        "Stadtteilfest gemeinsam mit Gemeinden und Vereinen vorbereiten.",
    ),
}


def field_of(kind: str, fields: list[str]) -> str:
    """The field a demo activity belongs to at an agency: the handbook's, else its own."""
    for f in ACTIVITY_FIELDS[kind]:
        if f in fields:
            return f
    return fields[0]


def analyses(s: Session, agency: Agency, years: list[int]) -> dict[int, dict[str, AnalysisNeed]]:
    """One analysis per phase of ``years``, one need per field: {phase start: {field: need}}."""
    out: dict[int, dict[str, AnalysisNeed]] = {}
    for start in sorted({phase_of(y)[0] for y in years}):
        row = NeedsAnalysis(
            agency_id=agency.id,
            phase_start=start,
            orientation="sozialraum" if "SRO" in agency.fields else "bedarf",
            raster=f"Raster Sozialraumanalyse Integrationsagenturen NRW ({start - 1})",
            sources=["integrationskonzept", "ki", "andere_ia", "statistik"],
            sources_note="Integrationskonzept der Stadt, Abstimmung mit dem KI im September.",
            continued=start != min(phase_of(y)[0] for y in years),
            summary=f"Analyse für {agency.city}: Bedarfe in den Arbeitsschwerpunkten "
            f"{', '.join(agency.fields)}.",
            status="approved",
            version=1,
            submitted_at=datetime(start - 1, 11, 10, 10, tzinfo=BERLIN),
            approved_at=datetime(start - 1, 11, 20, 10, tzinfo=BERLIN),
            approved_by="koordination",
            approved_version=1,
        )
        s.add(row)
        s.flush()
        needs = {}
        for i, f in enumerate(agency.fields):
            title, text = NEEDS[f]
            need = AnalysisNeed(
                analysis_id=row.id,
                agency_id=agency.id,
                position=i,
                title=title,
                description=text,
                field=f,
            )
            s.add(need)
            needs[f] = need
        s.flush()
        out[start] = needs
    return out


def plans(
    s: Session,
    agency: Agency,
    year: int,
    status: str,
    needs: dict[str, AnalysisNeed],
) -> dict[str, list[SubGoal]]:
    """One Aufgabe per field of the agency; returns the sub-goals each activity serves."""
    fields = list(agency.fields)
    act_field = {kind: field_of(kind, fields) for kind in ACTIVITY_GOALS}
    served: dict[str, list[SubGoal]] = {kind: [] for kind in ACTIVITY_GOALS}
    participation_field = act_field["naeh"]
    for f in fields:
        a = AUFGABEN[f]
        need = needs.get(f)
        plan = TaskPlan(
            agency_id=agency.id,
            funding_year=year,
            topic=a.topic,
            reason=(
                f"Sozialraumanalyse {phase_of(year)[0]}/{phase_of(year)[1]}: {need.title}."
                if need
                else ""
            ),
            goal=a.goal,
            methods=a.methods,
            status=status,
            fields=[f],
            target_group=a.target_group,
            timeline=f"Januar bis Dezember {year}; Zwischenstand im Juni.",
            evaluation=a.evaluation,
            partners_text="Kommunales Integrationszentrum, Migrationsberatung, Stadtteilvereine",
            financing="Landesförderung Integrationsagenturen; Eigenanteil des Trägers (10 %).",
            submitted_at=datetime(year - 1, 11, 10, 10, tzinfo=BERLIN),
            analysis_id=need.analysis_id if need else None,
        )
        plan.needs = [need] if need else []
        s.add(plan)
        s.flush()
        goals: list[tuple[str | None, tuple[str, str, float, str]]] = [
            (kind, spec) for kind, spec in ACTIVITY_GOALS.items() if act_field[kind] == f
        ]
        if f == participation_field:
            goals.append(
                (
                    None,
                    (
                        "450 Teilnahmen an Begegnungsangeboten",
                        "participants",
                        450,
                        "Alle Angebote zählen Teilnahmen (Check-in, Kopfzahl, Listen).",
                    ),
                )
            )
        if f == "BE":
            goals.append(
                (
                    None,
                    (
                        "8 Ehrenamtliche engagieren sich regelmäßig",
                        "volunteers",
                        8,
                        "Ehrenamtsbörse, Schulung im Frühjahr, Einsatzplanung in der App.",
                    ),
                )
            )
        for position, (kind, (title, indicator, target, methods)) in enumerate(goals):
            goal = SubGoal(
                task_plan_id=plan.id,
                agency_id=agency.id,
                funding_year=year,
                position=position,
                title=title,
                field=f,
                indicator=indicator,
                target=target,
                methods=methods,
            )
            s.add(goal)
            s.flush()
            if kind:
                served[kind].append(goal)
            elif indicator == "participants":
                for k in served:
                    served[k].append(goal)
        s.refresh(plan)
        s.add(
            TaskPlanVersion(
                task_plan_id=plan.id,
                agency_id=agency.id,
                version=1,
                snapshot=snapshot(plan),
                changed_by="demo",
                reason="Erstfassung",
            )
        )
        if status == "approved":
            plan.approved_at = datetime(year - 1, 12, 10, 10, tzinfo=BERLIN)
            plan.approved_by = "koordination"
            plan.approved_version = 1
    return served


def activity_field(agency: Agency, kind: str) -> str:
    return field_of(kind, list(agency.fields))


@service(None, Reach.setup)
def after_load(inst: Installation, actor: Actor, today: date, now: datetime) -> None:
    """The demo's Freigabe stories: a returned plan, a grundsätzliche change, waiting items."""
    from ia_events.accounts import personnel
    from ia_events.planning import analyses as analysis_service
    from ia_events.planning import plans as plan_service

    year = today.year
    with inst.db.write() as s:

        def first_plan(slug: str, status: str) -> TaskPlan | None:
            return s.scalar(
                select(TaskPlan)
                .join(Agency, Agency.id == TaskPlan.agency_id)
                .where(Agency.slug == slug, TaskPlan.funding_year == year)
                .where(TaskPlan.status == status)
                .order_by(TaskPlan.id)
            )

        kleve = first_plan("kleve", "submitted")
        if kleve is not None:
            plan_service.review_step(
                s, actor, kleve.agency_id, "plan", kleve.id, 1, "submit", "", kleve.submitted_at
            )
            plan_service.return_plan(
                s,
                COORDINATOR,
                kleve.id,
                "Bitte das Teilziel zu den Institutionen messbar fassen (welche, bis wann) "
                "und den Bezug zur Sozialraumanalyse im Anlass ausführen.",
                now=now - timedelta(days=3),
            )
        dus = first_plan("duesseldorf", "submitted")
        if dus is not None:
            dus.status = "approved"
            dus.approved_at = datetime(year - 1, 12, 12, 10, tzinfo=BERLIN)
            dus.approved_by = "koordination"
            dus.approved_version = 1
            plan_service.update_plan(
                s,
                actor,
                dus.id,
                topic=dus.topic + " – mit Schwerpunkt Gesundheitswesen",
                goal="Arztpraxen, Pflegedienste und das Gesundheitsamt sind für Zugewanderte "
                "erreichbar; Zugewanderte kennen die Angebote.",
                reason=dus.reason,
                methods=dus.methods,
                why="Nach Rücksprache mit der Koordination: Die Aufgabe wird auf das "
                "Gesundheitswesen ausgerichtet (neuer Bedarf aus dem Integrationsrat).",
                fundamental=True,
                now=now - timedelta(days=2),
            )
        waiting = s.scalar(
            select(NeedsAnalysis)
            .join(Agency, Agency.id == NeedsAnalysis.agency_id)
            .where(
                Agency.slug == "wuppertal-barmen", NeedsAnalysis.phase_start == phase_of(year)[0]
            )
        )
        if waiting is not None:
            waiting.status, waiting.approved_at, waiting.approved_by = "submitted", None, None
            waiting.approved_version = None
            plan_service.review_step(
                s, actor, waiting.agency_id, "analysis", waiting.id, 1, "submit", "", now
            )
        for slug, kind, days, requested, consent, text in (
            (
                "moenchengladbach",
                "neueinstellung",
                21,
                -7,
                None,
                "Vertretung Elternzeit, 0,5 Stelle",
            ),
            ("du-marxloh", "verlaengerung", -3, -40, -20, "Verlängerung befristete Stelle"),
            ("essen", "reduzierung", 30, None, None, "Reduzierung von 1,0 auf 0,75 Stelle"),
            ("kleve", "standort", 60, -10, -2, "Außenstelle Goch"),
        ):
            personnel.add_change(
                s,
                actor,
                agency_slug=slug,
                kind=kind,
                planned_on=today + timedelta(days=days),
                description=text,
                requested_on=today + timedelta(days=requested) if requested is not None else None,
                consent_on=today + timedelta(days=consent) if consent is not None else None,
                today=today,
                now=now,
            )
    # The Essen analysis' filled-in Raster, archived as evidence.
    from ia_events.core.pdf import Document

    with inst.db.read() as s:
        essen = s.scalar(
            select(NeedsAnalysis.id)
            .join(Agency, Agency.id == NeedsAnalysis.agency_id)
            .where(Agency.slug == "essen", NeedsAnalysis.phase_start == phase_of(year)[0])
        )
    if essen is not None:
        doc = Document(
            "Sozialraumanalyse (Demodokument, fiktiv)", subtitle="Integrationsagentur Essen"
        )
        doc.body(10)
        doc.multi_cell(0, 5, "\n".join(f"• {t}: {d}" for t, d in NEEDS.values()))
        analysis_service.attach_document(
            inst,
            actor,
            essen,
            filename=f"Sozialraumanalyse_{phase_of(year)[0]}_essen.pdf",
            content=doc.render(),
            media_type="application/pdf",
        )
