"""One Freigabe for the three documents the coordination releases.

The handbook (3.5): "Die Koordination ... gibt die einzelnen Sozialraumanalysen,
die Aufgabenplanungen sowie die Sachberichte ... frei". Each goes
submit -> approve, or return with a reason; every step is a ``ReviewEvent``
(who, when, which version, why). The analysis and plan steps live with their
documents (``analyses``, ``plans``); the Sachbericht's approve/return are here
(its text and submission stay in ``reporting.activity_report``).

``queue`` gathers everything waiting for one coordinator screen, with what is
needed to decide: a plan's Anlass/Begründung, the needs it answers and the
analysis they come from, and flags (sub-goals outside the agency's fields,
open notices to the Bewilligungsbehörde).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.models import Activity, ActivityReport, Agency, ReviewEvent
from ia_events.core.permissions import Reach, service
from ia_events.planning import analyses, plans
from ia_events.planning.deadlines import phase_of
from ia_events.planning.plans import review_step
from storage.db import utcnow

DOC_LABELS = {
    "analysis": "Sozialraum-/Bedarfsanalyse",
    "plan": "Aufgabenplanung",
    "report": "Sachbericht",
}
ACTION_LABELS = {
    "submit": "eingereicht",
    "approve": "freigegeben",
    "return": "zurückgegeben",
    "change": "geändert",
}


@dataclass(frozen=True)
class ReportItem:
    id: int
    agency_slug: str
    agency_name: str
    funding_year: int
    status: str
    version: int
    submitted_at: datetime | None
    evidence_id: int | None
    review_note: str


@dataclass
class Queue:
    year: int
    analyses: list[analyses.AnalysisView] = dc_field(default_factory=list)
    plans: list[plans.PlanView] = dc_field(default_factory=list)
    reports: list[ReportItem] = dc_field(default_factory=list)
    # Activities outside their agency's Arbeitsschwerpunkte: (agency, title, field, reason).
    off_field_activities: list[tuple[str, str, str, str]] = dc_field(default_factory=list)

    @property
    def waiting(self) -> int:
        return (
            sum(a.status == "submitted" for a in self.analyses)
            + sum(p.status == "submitted" for p in self.plans)
            + sum(r.status == "submitted" for r in self.reports)
        )


@service(Permission.agency_read, Reach.listing)
def queue(session: Session, actor: Actor, year: int) -> Queue:
    """The analyses of the year's phase, the year's plans and last year's Sachberichte."""
    require(actor, Permission.agency_read)
    q = Queue(year)
    q.analyses = analyses.list_analyses(session, actor, phase_of(year)[0])
    q.plans = plans.list_plans(session, actor, year)
    rows = session.execute(
        select(ActivityReport, Agency.slug, Agency.name)
        .join(Agency, Agency.id == ActivityReport.agency_id)
        .where(
            scope_filter(actor, ActivityReport.agency_id),
            ActivityReport.funding_year.in_([year - 1, year]),
        )
        .order_by(Agency.name, ActivityReport.funding_year)
    ).all()
    q.off_field_activities = [
        (name, title, f, reason)
        for name, title, f, reason in session.execute(
            select(Agency.name, Activity.title, Activity.field, Activity.off_field_reason)
            .join(Agency, Agency.id == Activity.agency_id)
            .where(
                scope_filter(actor, Activity.agency_id),
                Activity.funding_year == year,
                Activity.off_field_reason != "",
            )
            .order_by(Agency.name, Activity.title)
        )
    ]
    q.reports = [
        ReportItem(
            r.id,
            slug,
            name,
            r.funding_year,
            r.status,
            r.version,
            r.submitted_at,
            r.submitted_evidence_id,
            r.review_note,
        )
        for r, slug, name in rows
    ]
    return q


@dataclass(frozen=True)
class Step:
    version: int
    action: str
    actor: str
    at: datetime
    note: str

    @property
    def label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)


@dataclass(frozen=True)
class Screen:
    """Everything the coordinator's Freigaben screen shows of a year, read at once."""

    queue: Queue
    # The analyses the queue's plans answer (also those of another phase), by id.
    answered: dict[int, analyses.AnalysisView]
    # Each document's Freigabe steps, newest first, by (doc_type, id).
    steps: dict[tuple[str, int], list[Step]]


@service(Permission.agency_read, Reach.listing)
def screen(session: Session, actor: Actor, year: int) -> Screen:
    """The year's queue, the analyses its plans answer and every document's steps, in one
    read (the Freigaben page keeps it until the next change, ``pages._ui.cached``)."""
    q = queue(session, actor, year)
    by_analysis = {a.id: a for a in q.analyses}
    for aid in {p.analysis_id for p in q.plans if p.analysis_id} - set(by_analysis):
        by_analysis[aid] = analyses.analysis_by_id(session, actor, aid)
    docs = [
        *(("analysis", a.id) for a in q.analyses),
        *(("plan", p.id) for p in q.plans),
        *(("report", r.id) for r in q.reports),
    ]
    steps = {(kind, doc): history(session, actor, kind, doc) for kind, doc in docs}
    return Screen(q, by_analysis, steps)


@service(Permission.agency_read, Reach.agency)
def history(session: Session, actor: Actor, doc_type: str, doc_id: int) -> list[Step]:
    """Every Freigabe step of a document, newest first."""
    if doc_type not in DOC_LABELS:
        raise InvalidInput(field="Dokument", reason="analysis, plan oder report.")
    rows = session.scalars(
        select(ReviewEvent)
        .where(ReviewEvent.doc_type == doc_type, ReviewEvent.doc_id == doc_id)
        .order_by(ReviewEvent.at.desc(), ReviewEvent.id.desc())
    ).all()
    if rows:
        require(actor, Permission.agency_read, rows[0].agency_id)
    else:
        require(actor, Permission.agency_read)
    return [Step(r.version, r.action, r.actor, r.at, r.note) for r in rows]


def _report(session: Session, actor: Actor, report_id: int) -> ActivityReport:
    row = session.get(ActivityReport, report_id)
    if row is None:
        raise NotFound(what="Der Sachbericht")
    require(actor, Permission.plan_approve, row.agency_id)
    if row.status != "submitted":
        raise Conflict(reason="Nur eingereichte Sachberichte können geprüft werden.")
    return row


@service(Permission.plan_approve, Reach.agency)
def approve_report(
    session: Session, actor: Actor, report_id: int, now: datetime | None = None
) -> ActivityReport:
    row = _report(session, actor, report_id)
    row.status = "approved"
    row.approved_at = now or utcnow()
    row.approved_by = actor.name
    row.review_note = ""
    review_step(session, actor, row.agency_id, "report", row.id, row.version, "approve", "", now)
    audit.record(
        session,
        actor.name,
        Action.report_approve,
        "activity_report",
        row.id,
        agency_id=row.agency_id,
        version=row.version,
    )
    return row


@service(Permission.plan_approve, Reach.agency)
def return_report(
    session: Session, actor: Actor, report_id: int, note: str, now: datetime | None = None
) -> ActivityReport:
    """Back to the agency as a draft; its next submission is a new version."""
    row = _report(session, actor, report_id)
    note = (note or "").strip()[:4000]
    if not note:
        raise InvalidInput(field="Hinweis", reason="Bitte schreiben Sie, was zu ändern ist.")
    row.status = "draft"
    row.review_note = note
    review_step(session, actor, row.agency_id, "report", row.id, row.version, "return", note, now)
    row.version += 1
    audit.record(
        session,
        actor.name,
        Action.report_return,
        "activity_report",
        row.id,
        agency_id=row.agency_id,
        version=row.version - 1,
    )
    return row
