"""The Sachbericht (yearly activity report) per agency and funding year.

``draft`` builds it from live data: one section per sub-goal (measure) with
target vs. actual, the activities serving it with their dates and
participant figures, volunteer hours and the number of evidence items, plus
an introduction and a closing. The prose is the agency's: ``save_texts``
stores it in ``ActivityReport.sections["texts"]`` (a generated sentence
stands in until someone writes one). ``export`` renders PDF (PDF/A-2B) or
Word (.docx, python-docx) so staff can finish it in their usual tools.

``submit`` freezes the report: the PDF goes into the archive as evidence of
kind ``report``, the figures as they stood are kept beside the texts (the
inspection bundle lists any later difference), and nothing can be changed
afterwards. Every Sachbericht prints the installation's signing-key
fingerprint, which the funder compares with the key inside a bundle.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import (
    INDICATOR_LABELS,
    berlin,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_number,
)
from ia_events.core.models import (
    FIELD_LABELS,
    Activity,
    ActivityReport,
    Agency,
    Evidence,
    FieldOfAction,
    Occurrence,
    OccurrenceStatus,
    SubGoal,
    TaskPlan,
    activity_subgoals,
    evidence_subgoals,
)
from ia_events.core.outbox import report_event
from ia_events.core.permissions import Reach, service
from ia_events.planning.plans import review_step
from ia_events.reporting.controlling import metrics
from ia_events.reporting.progress import SubGoalProgress, progress_for_agency
from storage.db import utcnow

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_TEXT = 20_000

# Self-evaluation per Aufgabe: the handbook's Berichtswesen asks about the plan and
# the state of its realisation (3.5 (4)); the Sachbericht shows each measure "so konkret
# wie möglich" (3.5 (3)). Printed under each Aufgabe as a guide for the text.
SELF_EVALUATION = (
    "Wurde das Ziel erreicht? Woran sehen Sie das (Soll und Ist der Teilziele)?",
    "Wie wurden die Maßnahmen umgesetzt (Methoden, Termine, Beteiligte, Partner)?",
    "Was hat die Umsetzung erleichtert oder erschwert? Wurde die Planung angepasst?",
    "Welche integrationshemmenden Strukturen wurden abgebaut oder fördernde aufgebaut?",
    "Was folgt daraus für die Aufgabenplanung des nächsten Jahres?",
)
PLAIN_LANGUAGE = (
    "Bitte einfach schreiben: kurze Sätze, konkrete Zahlen und Beispiele, Abkürzungen "
    "beim ersten Mal ausschreiben."
)


@dataclass
class ActivityLine:
    id: int
    title: str
    dates: list[date]
    participants: int
    hours: float


@dataclass
class Section:
    key: str
    goal: SubGoalProgress
    activities: list[ActivityLine]
    volunteer_hours: float
    evidence_count: int
    text: str
    aufgabe_id: int = 0  # the task plan (Aufgabe) the sub-goal belongs to
    aufgabe: str = ""


@dataclass
class ReportDraft:
    agency_slug: str
    agency_name: str
    carrier: str
    year: int
    topic: str
    goal: str
    status: str
    submitted_at: datetime | None
    evidence_id: int | None
    fingerprint: str
    intro: str
    closing: str
    sections: list[Section] = field(default_factory=list)

    @property
    def submitted(self) -> bool:
        return self.status in ("submitted", "approved")


@service(Permission.agency_read, Reach.agency)
def draft(
    session: Session,
    actor: Actor,
    agency_slug: str,
    year: int,
    fingerprint: str,
    now: datetime | None = None,
) -> ReportDraft:
    now = now or utcnow()
    agency = _agency(session, actor, agency_slug, Permission.agency_read)
    aufgaben = session.scalars(
        select(TaskPlan)
        .where(TaskPlan.agency_id == agency.id, TaskPlan.funding_year == year)
        .order_by(TaskPlan.id)
    ).all()
    plan = aufgaben[0] if aufgaben else None
    row = _row(session, agency.id, year)
    texts: dict[str, str] = dict((row.sections or {}).get("texts", {})) if row else {}
    per_activity = metrics(session, agency.id, year, "activity", now)
    dates: dict[int, list[date]] = defaultdict(list)
    for aid, start in session.execute(
        select(Occurrence.activity_id, Occurrence.starts_at)
        .where(
            Occurrence.agency_id == agency.id,
            Occurrence.funding_year == year,
            Occurrence.status == OccurrenceStatus.scheduled,
            Occurrence.starts_at <= now,
        )
        .order_by(Occurrence.starts_at)
    ):
        dates[aid].append(berlin(start).date())
    acts = {
        a.id: a.title
        for a in session.scalars(
            select(Activity).where(Activity.agency_id == agency.id, Activity.funding_year == year)
        )
    }
    links: dict[int, list[int]] = defaultdict(list)
    for aid, sid in session.execute(
        select(activity_subgoals.c.activity_id, activity_subgoals.c.subgoal_id).where(
            activity_subgoals.c.activity_id.in_(list(acts) or [0])
        )
    ):
        links[sid].append(aid)
    evidence = _evidence_counts(session, agency.id, year)
    aufgabe_of = {
        gid: (pid, topic)
        for gid, pid, topic in session.execute(
            select(SubGoal.id, TaskPlan.id, TaskPlan.topic)
            .join(TaskPlan, TaskPlan.id == SubGoal.task_plan_id)
            .where(SubGoal.agency_id == agency.id, SubGoal.funding_year == year)
        )
    }
    sections = []
    for g in progress_for_agency(session, agency.id, year, now):
        lines = [
            ActivityLine(
                aid,
                acts[aid],
                dates.get(aid, []),
                int(per_activity.get(aid, {}).get("participants", 0)),
                float(per_activity.get(aid, {}).get("hours", 0.0)),
            )
            for aid in sorted(links.get(g.id, []), key=lambda i: acts[i])
        ]
        hours = sum(x.hours for x in lines)
        key = str(g.id)
        sections.append(
            Section(
                key,
                g,
                lines,
                hours,
                evidence.get(g.id, 0),
                texts.get(key) or _default_text(g, lines),
                *aufgabe_of.get(g.id, (0, "")),
            )
        )
    return ReportDraft(
        agency.slug,
        agency.name,
        agency.carrier,
        year,
        " · ".join(p.topic for p in aufgaben),
        plan.goal if plan and len(aufgaben) == 1 else "",
        row.status if row else "draft",
        row.submitted_at if row else None,
        row.submitted_evidence_id if row else None,
        fingerprint,
        texts.get("intro") or (f"Thema der Aufgabenplanung {year}: {plan.topic}" if plan else ""),
        texts.get("closing") or "",
        sections,
    )


def _agency(session: Session, actor: Actor, slug: str, permission: Permission) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.slug == slug))
    if agency is None:
        raise NotFound(what=f"Die Integrationsagentur „{slug}“")
    require(actor, permission, agency.id)
    return agency


def _row(session: Session, agency_id: int, year: int) -> ActivityReport | None:
    return session.scalar(
        select(ActivityReport).where(
            ActivityReport.agency_id == agency_id, ActivityReport.funding_year == year
        )
    )


def _evidence_counts(session: Session, agency_id: int, year: int) -> dict[int, int]:
    """Evidence per sub-goal: linked directly, or through an activity or occurrence of it."""
    rows = session.execute(
        select(Evidence.id, Evidence.activity_id, Occurrence.activity_id)
        .outerjoin(Occurrence, Occurrence.id == Evidence.occurrence_id)
        .where(
            Evidence.agency_id == agency_id,
            Evidence.funding_year == year,
            Evidence.deleted_at.is_(None),
        )
    ).all()
    act_goals: dict[int, set[int]] = defaultdict(set)
    for aid, sid in session.execute(
        select(activity_subgoals.c.activity_id, activity_subgoals.c.subgoal_id)
    ):
        act_goals[aid].add(sid)
    direct: dict[int, set[int]] = defaultdict(set)
    for eid, sid in session.execute(
        select(evidence_subgoals.c.evidence_id, evidence_subgoals.c.subgoal_id).where(
            evidence_subgoals.c.evidence_id.in_([r[0] for r in rows] or [0])
        )
    ):
        direct[eid].add(sid)
    counts: dict[int, int] = defaultdict(int)
    for eid, act_id, occ_act in rows:
        goals = set(direct.get(eid, set()))
        for a in (act_id, occ_act):
            if a is not None:
                goals |= act_goals.get(a, set())
        for sid in goals:
            counts[sid] += 1
    return counts


def _default_text(g: SubGoalProgress, lines: list[ActivityLine]) -> str:
    held = sum(len(x.dates) for x in lines)
    names = ", ".join(x.title for x in lines) or "keine zugeordneten Angebote"
    verdict = (
        "Das Ziel wurde erreicht."
        if g.actual >= g.target
        else "Das Ziel wurde noch nicht erreicht."
    )
    return (
        f"Angebote: {names}. Es {'fand' if held == 1 else 'fanden'} "
        f"{fmt_count(held, 'Termin')} statt. "
        f"Messgröße {INDICATOR_LABELS.get(g.indicator, g.indicator)}: "
        f"Soll {fmt_number(g.target)}, Ist {fmt_number(g.actual)}. {verdict}"
    )


@service(Permission.plan_edit, Reach.agency)
def save_texts(
    session: Session,
    actor: Actor,
    agency_slug: str,
    year: int,
    texts: dict[str, str],
    now: datetime | None = None,
) -> None:
    """Store the edited prose (keys ``intro``, ``closing`` and sub-goal ids)."""
    agency = _agency(session, actor, agency_slug, Permission.plan_edit)
    row = _row(session, agency.id, year)
    if row is None:
        row = ActivityReport(agency_id=agency.id, funding_year=year, sections={})
        session.add(row)
    if row.status in ("submitted", "approved"):
        raise Conflict("report_submitted", year=year)
    clean = {}
    for key, value in texts.items():
        value = (value or "").strip()
        if len(value) > MAX_TEXT:
            raise InvalidInput(field=f"Abschnitt {key}", reason=f"Höchstens {MAX_TEXT} Zeichen.")
        clean[str(key)] = value
    sections = dict(row.sections or {})
    sections["texts"] = {**sections.get("texts", {}), **clean}
    row.sections = sections
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.report_change,
        "activity_report",
        row.id,
        agency_id=agency.id,
        year=year,
        sections=sorted(clean),
        now=now,
    )


@service(Permission.agency_read, Reach.agency)
def export(
    inst: Installation, actor: Actor, agency_slug: str, year: int, fmt: str
) -> tuple[str, str, bytes]:
    """(file name, media type, bytes) as PDF or Word; audited."""
    from ia_events.reporting.documents import render_docx, render_pdf

    with inst.db.write() as s:
        d = draft(s, actor, agency_slug, year, inst.keys.fingerprint())
        agency_id = _agency(s, actor, agency_slug, Permission.agency_read).id
        if fmt == "docx":
            out = (f"Sachbericht_{year}_{agency_slug}.docx", DOCX_MIME, render_docx(d))
        else:
            out = (f"Sachbericht_{year}_{agency_slug}.pdf", "application/pdf", render_pdf(d))
        audit.record(
            s,
            actor.name,
            Action.report_export,
            "activity_report",
            d.evidence_id,
            agency_id=agency_id,
            year=year,
            format=fmt,
        )
    return out


@service(Permission.plan_edit, Reach.agency)
def submit(
    inst: Installation, actor: Actor, agency_slug: str, year: int, now: datetime | None = None
) -> int:
    """Freeze the report: its PDF becomes evidence (kind ``report``). Returns the evidence id."""
    from ia_events.archive.evidence import add_evidence
    from ia_events.reporting.documents import render_pdf

    now = now or utcnow()
    with inst.db.read() as s:
        agency = _agency(s, actor, agency_slug, Permission.plan_edit)
        row = _row(s, agency.id, year)
        if row is not None and row.status in ("submitted", "approved"):
            raise Conflict("report_submitted", year=year)
        d = draft(s, actor, agency_slug, year, inst.keys.fingerprint(), now)
        if not d.sections and not d.topic:
            raise Conflict("report_no_plan", year=year)
    d.status, d.submitted_at = "submitted", now
    pdf = render_pdf(d)
    view = add_evidence(
        inst,
        actor,
        agency_slug=agency_slug,
        funding_year=year,
        kind="report",
        filename=f"Sachbericht_{year}_{agency_slug}.pdf",
        content=pdf,
        title=f"Sachbericht {year} (eingereicht)",
        subgoal_ids=[int(x.key) for x in d.sections],
        doc_date=berlin(now).date(),
        media_type="application/pdf",
    )
    with inst.db.write() as s:
        agency_id = _agency(s, actor, agency_slug, Permission.plan_edit).id
        row = _row(s, agency_id, year)
        if row is None:
            row = ActivityReport(agency_id=agency_id, funding_year=year, sections={})
            s.add(row)
        elif row.status in ("submitted", "approved"):  # someone was faster; PDF stays evidence
            raise Conflict("report_submitted", year=year)
        sections: dict[str, Any] = dict(row.sections or {})
        sections["texts"] = {
            "intro": d.intro,
            "closing": d.closing,
            **{x.key: x.text for x in d.sections},
        }
        sections["_figures"] = {x.key: x.goal.actual for x in d.sections}
        sections["_fingerprint"] = d.fingerprint
        row.sections = sections
        row.status = "submitted"
        row.submitted_at = now
        row.submitted_evidence_id = view.id
        s.flush()
        review_step(s, actor, agency_id, "report", row.id, row.version, "submit", "", now)
        audit.record(
            s,
            actor.name,
            Action.report_submit,
            "activity_report",
            row.id,
            agency_id=agency_id,
            year=year,
            evidence=view.id,
            sha256=view.sha256,
            key=d.fingerprint,
            now=now,
        )
        report_event(s, report_id=row.id, agency_id=agency_id, now=now)
    return view.id


def field_label(code: str) -> str:
    try:
        return FIELD_LABELS[FieldOfAction(code)]
    except ValueError:
        return code


def status_line(d: ReportDraft) -> str:
    if d.submitted and d.submitted_at:
        return f"eingereicht am {fmt_datetime(d.submitted_at)} Uhr"
    return f"Entwurf, Stand {fmt_date(utcnow())}"
