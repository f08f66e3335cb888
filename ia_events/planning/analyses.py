"""Sozialraum- und Bedarfsanalyse: one record per agency and Förderphase.

The handbook (3.5 (1)) asks every two years for an updated analysis with the
funder's current Raster, social-space or needs orientation (the agency
chooses), a reference to the kommunales Integrationskonzept, the
Kommunales Integrationszentrum and other agencies' analyses, and -- above
all -- the concrete Handlungs- und Integrationsbedarfe it finds. When work
continues the analysis is *fortgeschrieben*, new approaches need a new one
(3.5 (2) f). Task plans name the needs they answer (``TaskPlan.needs``):
``get_analysis`` shows that link from the analysis' side.

The analysis goes through the same Freigabe as task plans and Sachberichte
(submit -> approve or return with a reason), recorded as ``ReviewEvent`` rows.
Its documents are archived as evidence of the phase's first year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.models import (
    Agency,
    AnalysisNeed,
    FieldOfAction,
    NeedsAnalysis,
    PlanStatus,
    TaskPlan,
    task_plan_needs,
)
from ia_events.core.permissions import Reach, service
from ia_events.planning.deadlines import phase_of
from ia_events.planning.plans import _text, agency_id_for, review_step
from storage.db import utcnow

if TYPE_CHECKING:
    from ia_events.core.installation import Installation

ORIENTATIONS = {"sozialraum": "sozialraumorientiert", "bedarf": "bedarfsorientiert"}
SOURCES = {
    "integrationskonzept": "Kommunales Integrationskonzept",
    "ki": "Kommunales Integrationszentrum",
    "andere_ia": "Abstimmung/Analysen anderer Integrationsagenturen vor Ort",
    "statistik": "Kommunale Statistik, Sozialberichte",
    "befragung": "Eigene Bedarfsabfrage, Gespräche im Sozialraum",
}


@dataclass(frozen=True)
class NeedView:
    id: int
    title: str
    description: str
    field: str
    plans: list[tuple[int, str, int]]  # (plan id, topic, funding year) answering it


@dataclass(frozen=True)
class AnalysisView:
    id: int
    agency_slug: str
    agency_name: str
    phase_start: int
    orientation: str
    raster: str
    sources: list[str]
    sources_note: str
    continued: bool
    summary: str
    evidence_ids: list[int]
    status: str
    version: int
    submitted_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    review_note: str
    needs: list[NeedView]
    current_raster: str = ""  # the funder's Raster valid today (templates), if recorded

    @property
    def phase(self) -> str:
        return f"{self.phase_start}/{self.phase_start + 1}"

    @property
    def missing_points(self) -> list[str]:
        """The handbook's points (3.5 (1) a, b, e) this analysis does not cover yet."""
        out = []
        if not self.raster:
            out.append("Raster des Fördergebers nicht angegeben")
        elif self.current_raster and self.raster != self.current_raster:
            out.append(
                f"Raster „{self.raster}“ ist nicht das aktuelle („{self.current_raster}“) – "
                "Dokumente auf alten Vorlagen werden nicht akzeptiert"
            )
        if "integrationskonzept" not in self.sources:
            out.append("Kein Bezug zum kommunalen Integrationskonzept")
        if "ki" not in self.sources:
            out.append("Keine Abstimmung mit dem Kommunalen Integrationszentrum")
        if "andere_ia" not in self.sources:
            out.append("Keine Abstimmung mit anderen Integrationsagenturen vor Ort")
        if not self.needs:
            out.append("Keine Bedarfe abgeleitet")
        return out


def _phase_start(year: int) -> int:
    if not 2000 <= int(year) <= 2100:
        raise InvalidInput(field="Förderphase", reason="Bitte ein Jahr zwischen 2000 und 2100.")
    return phase_of(int(year))[0]


def _sources(values: list[str] | None) -> list[str]:
    out = []
    for v in values or []:
        if v not in SOURCES:
            raise InvalidInput(field="Quellen", reason=f"„{v}“ ist unbekannt.")
        if v not in out:
            out.append(v)
    return out


def _orientation(value: str) -> str:
    if value not in ORIENTATIONS:
        raise InvalidInput(field="Ausrichtung", reason="sozialraum oder bedarf.")
    return value


@service(Permission.plan_edit, Reach.agency)
def create_analysis(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    year: int,
    orientation: str = "sozialraum",
    raster: str = "",
    sources: list[str] | None = None,
    sources_note: str = "",
    continued: bool = False,
    summary: str = "",
    now: datetime | None = None,
) -> NeedsAnalysis:
    """The analysis of the Förderphase ``year`` belongs to (one per agency and phase)."""
    agency_id = agency_id_for(session, actor, agency_slug, Permission.plan_edit)
    start = _phase_start(year)
    if session.scalar(
        select(NeedsAnalysis.id).where(
            NeedsAnalysis.agency_id == agency_id, NeedsAnalysis.phase_start == start
        )
    ):
        raise Conflict(
            reason=f"Für die Förderphase {start}/{start + 1} gibt es schon eine Analyse."
        )
    row = NeedsAnalysis(
        agency_id=agency_id,
        phase_start=start,
        orientation=_orientation(orientation),
        raster=_text(raster, "Raster", required=False, limit=200),
        sources=_sources(sources),
        sources_note=_text(sources_note, "Quellen", required=False),
        continued=bool(continued),
        summary=_text(summary, "Zusammenfassung", required=False, limit=20000),
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.analysis_add,
        "analysis",
        row.id,
        agency_id=agency_id,
        phase=start,
        now=now,
    )
    return row


def _for_edit(session: Session, actor: Actor, analysis_id: int) -> NeedsAnalysis:
    row = session.get(NeedsAnalysis, analysis_id)
    if row is None:
        raise NotFound(what="Die Sozialraumanalyse")
    require(actor, Permission.plan_edit, row.agency_id)
    return row


def _changed(
    session: Session, actor: Actor, row: NeedsAnalysis, why: str, fields: list[str], now
) -> None:
    """Once submitted, a change needs a reason, is a new version and goes back for Freigabe."""
    submitted = row.submitted_at is not None
    why = (why or "").strip()[:2000]
    if submitted and not why:
        raise InvalidInput(
            field="Grund der Anpassung",
            reason="Die Analyse wurde schon eingereicht: Bitte begründen Sie die Änderung.",
        )
    if submitted:
        row.version += 1
        if row.status == PlanStatus.approved:
            row.status = PlanStatus.submitted
        review_step(
            session, actor, row.agency_id, "analysis", row.id, row.version, "change", why, now
        )
    audit.record(
        session,
        actor.name,
        Action.analysis_change,
        "analysis",
        row.id,
        agency_id=row.agency_id,
        fields=fields,
        version=row.version,
    )


@service(Permission.plan_edit, Reach.agency)
def update_analysis(
    session: Session,
    actor: Actor,
    analysis_id: int,
    *,
    orientation: str,
    raster: str,
    sources: list[str],
    sources_note: str,
    continued: bool,
    summary: str,
    why: str = "",
    now: datetime | None = None,
) -> NeedsAnalysis:
    row = _for_edit(session, actor, analysis_id)
    values = {
        "orientation": _orientation(orientation),
        "raster": _text(raster, "Raster", required=False, limit=200),
        "sources": _sources(sources),
        "sources_note": _text(sources_note, "Quellen", required=False),
        "continued": bool(continued),
        "summary": _text(summary, "Zusammenfassung", required=False, limit=20000),
    }
    changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
    if not changed:
        return row
    for k, v in values.items():
        setattr(row, k, v)
    _changed(session, actor, row, why, changed, now)
    return row


@service(Permission.plan_edit, Reach.agency)
def add_need(
    session: Session,
    actor: Actor,
    analysis_id: int,
    *,
    title: str,
    description: str = "",
    field: str = "",
    why: str = "",
    now: datetime | None = None,
) -> AnalysisNeed:
    """A Handlungs-/Integrationsbedarf the analysis found."""
    row = _for_edit(session, actor, analysis_id)
    if field:
        try:
            FieldOfAction(field)
        except ValueError as exc:
            raise InvalidInput(field="Handlungsfeld", reason="BE, IKÖ, SRO oder ADA.") from exc
    need = AnalysisNeed(
        analysis_id=row.id,
        agency_id=row.agency_id,
        position=len(row.needs),
        title=_text(title, "Bedarf", limit=500),
        description=_text(description, "Beschreibung", required=False),
        field=field,
    )
    row.needs.append(need)
    session.flush()
    _changed(session, actor, row, why, ["needs"], now)
    return need


@service(Permission.plan_edit, Reach.agency)
def attach_document(
    inst: Installation,
    actor: Actor,
    analysis_id: int,
    *,
    filename: str,
    content: bytes,
    media_type: str = "application/octet-stream",
) -> int:
    """Archive a document of the analysis (the filled-in Raster, data) as evidence."""
    from ia_events.archive import evidence

    with inst.db.read() as s:
        row = _for_edit(s, actor, analysis_id)
        slug, start = row.agency.slug, row.phase_start
    item = evidence.add_evidence(
        inst,
        actor,
        agency_slug=slug,
        funding_year=start,
        kind="report",
        filename=filename,
        content=content,
        title=f"Sozialraum-/Bedarfsanalyse {start}/{start + 1}",
        media_type=media_type,
        source="Sozialraumanalyse",
    )
    with inst.db.write() as s:
        row = _for_edit(s, actor, analysis_id)
        row.evidence_ids = [*row.evidence_ids, item.id]
        audit.record(
            s,
            actor.name,
            Action.analysis_change,
            "analysis",
            row.id,
            agency_id=row.agency_id,
            fields=["evidence"],
            evidence=item.id,
            sha256=item.sha256,
        )
    return item.id


@service(Permission.plan_edit, Reach.agency)
def submit_analysis(
    session: Session, actor: Actor, analysis_id: int, now: datetime | None = None
) -> NeedsAnalysis:
    row = _for_edit(session, actor, analysis_id)
    if row.status != PlanStatus.draft:
        raise Conflict(reason="Die Analyse ist schon eingereicht.")
    if not row.needs:
        raise Conflict(reason="Bitte leiten Sie zuerst mindestens einen Bedarf ab.")
    now = now or utcnow()
    row.status = PlanStatus.submitted
    row.submitted_at = now
    review_step(session, actor, row.agency_id, "analysis", row.id, row.version, "submit", "", now)
    audit.record(
        session,
        actor.name,
        Action.analysis_submit,
        "analysis",
        row.id,
        agency_id=row.agency_id,
        version=row.version,
    )
    return row


def _for_review(session: Session, actor: Actor, analysis_id: int) -> NeedsAnalysis:
    row = session.get(NeedsAnalysis, analysis_id)
    if row is None:
        raise NotFound(what="Die Sozialraumanalyse")
    require(actor, Permission.plan_approve, row.agency_id)
    if row.status != PlanStatus.submitted:
        raise Conflict(reason="Nur eingereichte Analysen können geprüft werden.")
    return row


@service(Permission.plan_approve, Reach.agency)
def approve_analysis(
    session: Session, actor: Actor, analysis_id: int, now: datetime | None = None
) -> NeedsAnalysis:
    row = _for_review(session, actor, analysis_id)
    row.status = PlanStatus.approved
    row.approved_at = now or utcnow()
    row.approved_by = actor.name
    row.approved_version = row.version
    row.review_note = ""
    review_step(session, actor, row.agency_id, "analysis", row.id, row.version, "approve", "", now)
    audit.record(
        session,
        actor.name,
        Action.analysis_approve,
        "analysis",
        row.id,
        agency_id=row.agency_id,
        version=row.version,
    )
    return row


@service(Permission.plan_approve, Reach.agency)
def return_analysis(
    session: Session, actor: Actor, analysis_id: int, note: str, now: datetime | None = None
) -> NeedsAnalysis:
    row = _for_review(session, actor, analysis_id)
    note = (note or "").strip()[:4000]
    if not note:
        raise InvalidInput(field="Hinweis", reason="Bitte schreiben Sie, was zu ändern ist.")
    row.status = PlanStatus.draft
    row.review_note = note
    review_step(session, actor, row.agency_id, "analysis", row.id, row.version, "return", note, now)
    audit.record(
        session,
        actor.name,
        Action.analysis_return,
        "analysis",
        row.id,
        agency_id=row.agency_id,
        version=row.version,
    )
    return row


def _view(session: Session, row: NeedsAnalysis) -> AnalysisView:
    need_ids = [n.id for n in row.needs]
    answering: dict[int, list[tuple[int, str, int]]] = {i: [] for i in need_ids}
    if need_ids:
        for need_id, pid, topic, year in session.execute(
            select(task_plan_needs.c.need_id, TaskPlan.id, TaskPlan.topic, TaskPlan.funding_year)
            .join(TaskPlan, TaskPlan.id == task_plan_needs.c.task_plan_id)
            .where(task_plan_needs.c.need_id.in_(need_ids))
            .order_by(TaskPlan.funding_year, TaskPlan.id)
        ):
            answering[need_id].append((pid, topic, year))
    return AnalysisView(
        row.id,
        row.agency.slug,
        row.agency.name,
        row.phase_start,
        row.orientation,
        row.raster,
        list(row.sources or []),
        row.sources_note,
        row.continued,
        row.summary,
        list(row.evidence_ids or []),
        row.status,
        row.version,
        row.submitted_at,
        row.approved_at,
        row.approved_by,
        row.review_note,
        [NeedView(n.id, n.title, n.description, n.field, answering[n.id]) for n in row.needs],
        _current_raster(session),
    )


def _current_raster(session: Session) -> str:
    from datetime import date

    from ia_events.planning import templates

    used = templates.for_document(
        session, on=date.today(), today=date.today(), kinds=("raster_sra",)
    )
    return used.used[0].title if used.used else ""


@service(Permission.agency_read, Reach.agency)
def get_analysis(
    session: Session, actor: Actor, agency_slug: str, year: int
) -> AnalysisView | None:
    """The analysis of the phase ``year`` belongs to, with the plans answering each need."""
    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    row = session.scalar(
        select(NeedsAnalysis).where(
            NeedsAnalysis.agency_id == agency_id, NeedsAnalysis.phase_start == _phase_start(year)
        )
    )
    return _view(session, row) if row else None


@service(Permission.agency_read, Reach.agency)
def analysis_by_id(session: Session, actor: Actor, analysis_id: int) -> AnalysisView:
    row = session.get(NeedsAnalysis, analysis_id)
    if row is None:
        raise NotFound(what="Die Sozialraumanalyse")
    require(actor, Permission.agency_read, row.agency_id)
    return _view(session, row)


@service(Permission.agency_read, Reach.listing)
def list_analyses(session: Session, actor: Actor, year: int) -> list[AnalysisView]:
    """Every analysis of the phase ``year`` belongs to, in the agencies the actor reaches."""
    require(actor, Permission.agency_read)
    rows = session.scalars(
        select(NeedsAnalysis)
        .join(Agency, Agency.id == NeedsAnalysis.agency_id)
        .where(
            scope_filter(actor, NeedsAnalysis.agency_id),
            NeedsAnalysis.phase_start == _phase_start(year),
        )
        .order_by(Agency.name)
    ).unique()
    return [_view(session, r) for r in rows]
