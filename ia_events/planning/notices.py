"""Notices of a grundsätzliche change of a task plan to the Bewilligungsbehörde.

Handbook 3.5 (2) a: a task plan may be adjusted during the year after
consulting the coordination; "Die Anpassung muss nur dann der
Bewilligungsbehörde mitgeteilt werden, wenn die Aufgabenplanung grundsätzlich
verändert wird." A change marked grundsätzlich (``plans.update_plan(...,
fundamental=True)``) creates a ``PlanNotice``: a dated to-do. Here the notice
letter is generated (PDF and Word, from the plan version it reports) and the
sending date recorded; the sent PDF is archived as evidence.
Ordinary changes create no notice. Limits: the letter is addressed via the
AWO Bezirksverband (the district files it with the Bezirksregierung).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.messages import fmt_date
from ia_events.core.models import Agency, PlanNotice, TaskPlan, TaskPlanVersion
from ia_events.core.permissions import Reach, service
from ia_events.planning.plans import describe_changes

if TYPE_CHECKING:
    from ia_events.core.installation import Installation

RECIPIENT = (
    "Bezirksregierung Arnsberg – Kompetenzzentrum für Integration "
    "(über den AWO Bezirksverband Niederrhein e.V.)"
)
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class NoticeView:
    id: int
    agency_slug: str
    agency_name: str
    carrier: str
    plan_id: int
    plan_topic: str
    funding_year: int
    plan_version: int
    reason: str
    created_by: str
    created_at: datetime
    due_on: date
    sent_on: date | None
    sent_by: str | None
    evidence_id: int | None
    changes: list[str]

    @property
    def sent(self) -> bool:
        return self.sent_on is not None

    def overdue(self, today: date) -> bool:
        return not self.sent and self.due_on < today


def _view(session: Session, n: PlanNotice) -> NoticeView:
    plan = session.get(TaskPlan, n.task_plan_id)
    assert plan is not None
    versions = {
        v.version: v.snapshot
        for v in session.scalars(
            select(TaskPlanVersion).where(
                TaskPlanVersion.task_plan_id == plan.id,
                TaskPlanVersion.version.in_([n.plan_version - 1, n.plan_version]),
            )
        )
    }
    old, new = versions.get(n.plan_version - 1), versions.get(n.plan_version)
    changes = describe_changes(old, new) if old and new else []
    return NoticeView(
        n.id,
        plan.agency.slug,
        plan.agency.name,
        plan.agency.carrier,
        plan.id,
        plan.topic,
        plan.funding_year,
        n.plan_version,
        n.reason,
        n.created_by,
        n.created_at,
        n.due_on,
        n.sent_on,
        n.sent_by,
        n.evidence_id,
        changes,
    )


@service(Permission.agency_read, Reach.listing)
def list_notices(
    session: Session, actor: Actor, agency_slug: str | None = None, *, open_only: bool = False
) -> list[NoticeView]:
    """Notices the actor reaches (one agency's when named), due date first."""
    require(actor, Permission.agency_read)
    q = select(PlanNotice).where(scope_filter(actor, PlanNotice.agency_id))
    if agency_slug:
        agency = session.scalar(select(Agency).where(Agency.slug == agency_slug))
        if agency is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        require(actor, Permission.agency_read, agency.id)
        q = q.where(PlanNotice.agency_id == agency.id)
    if open_only:
        q = q.where(PlanNotice.sent_on.is_(None))
    return [
        _view(session, n) for n in session.scalars(q.order_by(PlanNotice.due_on, PlanNotice.id))
    ]


@service(Permission.agency_read, Reach.agency)
def get_notice(session: Session, actor: Actor, notice_id: int) -> NoticeView:
    n = session.get(PlanNotice, notice_id)
    if n is None:
        raise NotFound(what="Die Mitteilung")
    require(actor, Permission.agency_read, n.agency_id)
    return _view(session, n)


def _lines(v: NoticeView) -> list[tuple[str, str]]:
    return [
        ("An", RECIPIENT),
        ("Integrationsagentur", f"{v.agency_name} (Träger: {v.carrier})"),
        ("Aufgabenplanung", f"„{v.plan_topic}“, Förderjahr {v.funding_year}"),
        ("Fassung", f"Version {v.plan_version} vom {fmt_date(v.created_at)}"),
        ("Begründung der Änderung", v.reason or "–"),
        ("Änderungen", "; ".join(v.changes) or "–"),
    ]


INTRO = (
    "hiermit teilen wir mit, dass die Aufgabenplanung der oben genannten Integrationsagentur "
    "nach Rücksprache mit der Koordination grundsätzlich verändert wurde. Die geänderte "
    "Aufgabenplanung liegt bei."
)


@service(Permission.agency_read, Reach.agency)
def template_warnings(session: Session, actor: Actor, notice_id: int, today: date) -> list[str]:
    """What is missing or outdated among the logos the notice of this date carries."""
    from ia_events.planning import templates

    v = get_notice(session, actor, notice_id)
    return templates.for_document(
        session, on=v.created_at.date(), today=today, kinds=templates.LOGOS
    ).warnings


@service(Permission.agency_read, Reach.agency)
def notice_pdf(session: Session, actor: Actor, notice_id: int) -> bytes:
    from ia_events.core.pdf import Document
    from ia_events.planning import templates

    v = get_notice(session, actor, notice_id)
    logos = templates.for_document(
        session, on=v.created_at.date(), today=v.created_at.date(), kinds=templates.LOGOS
    ).images
    doc = Document(
        "Mitteilung einer grundsätzlichen Änderung der Aufgabenplanung",
        subtitle=f"{v.agency_name} · Förderjahr {v.funding_year}",
    )
    x = doc.get_x()
    for logo in logos:  # the logos valid on the notice's date
        doc.image(io.BytesIO(logo.content), x=x, h=12)
        x += 45
    if logos:
        doc.ln(15)
    doc.body(10)
    doc.multi_cell(0, 5, "Sehr geehrte Damen und Herren,", new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    doc.multi_cell(0, 5, INTRO, new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    for label, value in _lines(v):
        doc.body(10, bold=True)
        doc.multi_cell(0, 5, label, new_x="LMARGIN", new_y="NEXT")
        doc.body(10)
        doc.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)
    doc.ln(4)
    doc.multi_cell(0, 5, "Mit freundlichen Grüßen", new_x="LMARGIN", new_y="NEXT")
    return doc.render()


@service(Permission.agency_read, Reach.agency)
def notice_docx(session: Session, actor: Actor, notice_id: int) -> bytes:
    from docx import Document as Docx

    v = get_notice(session, actor, notice_id)
    doc = Docx()
    doc.add_heading("Mitteilung einer grundsätzlichen Änderung der Aufgabenplanung", level=1)
    doc.add_paragraph(f"{v.agency_name} · Förderjahr {v.funding_year}")
    doc.add_paragraph("Sehr geehrte Damen und Herren,")
    doc.add_paragraph(INTRO)
    for label, value in _lines(v):
        p = doc.add_paragraph()
        p.add_run(f"{label}: ").bold = True
        p.add_run(value)
    doc.add_paragraph("Mit freundlichen Grüßen")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@service(Permission.plan_edit, Reach.agency)
def mark_sent(
    inst: Installation,
    actor: Actor,
    notice_id: int,
    sent_on: date,
    now: datetime | None = None,
) -> NoticeView:
    """Record the sending date; the notice PDF as sent is archived as evidence."""
    from ia_events.archive import evidence

    with inst.db.read() as s:
        n = s.get(PlanNotice, notice_id)
        if n is None:
            raise NotFound(what="Die Mitteilung")
        require(actor, Permission.plan_edit, n.agency_id)
        if n.sent_on is not None:
            raise Conflict(reason=f"Die Mitteilung ist schon am {fmt_date(n.sent_on)} versandt.")
        if sent_on < n.created_at.date():
            raise InvalidInput(
                field="Versanddatum", reason="Das Datum liegt vor der Änderung der Planung."
            )
        v = _view(s, n)
        pdf = notice_pdf(s, actor, notice_id)
    item = evidence.add_evidence(
        inst,
        actor,
        agency_slug=v.agency_slug,
        funding_year=v.funding_year,
        kind="report",
        filename=f"Mitteilung_Aufgabenplanung_{v.funding_year}_v{v.plan_version}.pdf",
        content=pdf,
        title=f"Mitteilung grundsätzliche Änderung Aufgabenplanung {v.funding_year}",
        media_type="application/pdf",
        source="Mitteilung Bewilligungsbehörde",
    )
    with inst.db.write() as s:
        n = s.get(PlanNotice, notice_id)
        assert n is not None
        n.sent_on = sent_on
        n.sent_by = actor.name
        n.evidence_id = item.id
        audit.record(
            s,
            actor.name,
            Action.plan_notice_sent,
            "plan_notice",
            n.id,
            agency_id=n.agency_id,
            evidence=item.id,
            sha256=item.sha256,
            now=now,
        )
        return _view(s, n)
