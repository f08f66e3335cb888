"""The Aufgabenplanung as a document: PDF (fpdf2, PDF/A) and Word (python-docx).

Structured as the handbook asks (3.5 (2) d: "eher einem Projektplan
entsprechen"): Thema, Anlass/Begründung with the needs of the analysis,
Ziel, Teilziele with Messgröße, Zielwert and Methoden, then Zielgruppe,
Zeitplan, Evaluation, Beteiligte and Finanzierung. Logos and letterhead come
from the templates valid on the document's date (``planning.templates``);
``warnings`` says when there is none or a newer one would apply today.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission
from ia_events.core.messages import INDICATOR_LABELS, fmt_date
from ia_events.core.permissions import Reach, service
from ia_events.planning import templates
from ia_events.planning.plans import PlanView, plan_view

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
STATUS = {"draft": "Entwurf", "submitted": "eingereicht", "approved": "freigegeben"}


@dataclass(frozen=True)
class PlanDocument:
    filename: str
    media_type: str
    content: bytes
    warnings: list[str]


def _rows(p: PlanView) -> list[tuple[str, str]]:
    return [
        ("Integrationsagentur", p.agency_name),
        ("Förderjahr", p.years),
        ("Handlungsfelder", ", ".join(p.fields) or "–"),
        ("Stand", f"Version {p.version}, {STATUS.get(p.status, p.status)}"),
        ("Thema / Problemlage", p.topic),
        ("Anlass/Begründung", p.reason or "–"),
        (
            "Bedarfe aus der Sozialraumanalyse",
            "; ".join(f"{n.title} ({n.phase_start}/{n.phase_start + 1})" for n in p.needs) or "–",
        ),
        ("Ziel", p.goal),
        ("Methoden", p.methods or "–"),
        ("Zielgruppe", p.target_group or "–"),
        ("Zeitplan", p.timeline or "–"),
        ("Evaluation", p.evaluation or "–"),
        ("Beteiligte / Partner", p.partners_text or "–"),
        ("Finanzierung", p.financing or "–"),
    ]


def _goals(p: PlanView) -> list[str]:
    return [
        f"{g.title} – {g.field}, {INDICATOR_LABELS.get(g.indicator, g.indicator)}: "
        f"Ziel {g.target:g}"
        + (f" ({g.funding_year})" if p.spans_phase else "")
        + (f"\nMethoden: {g.methods}" if g.methods else "")
        for g in p.subgoals
    ]


@service(Permission.agency_read, Reach.agency)
def export(
    session: Session, actor: Actor, plan_id: int, fmt: str, *, on: date, today: date
) -> PlanDocument:
    """The plan as ``pdf`` or ``docx`` with the templates valid ``on`` the document date."""
    p = plan_view(session, actor, plan_id)
    chosen = templates.for_document(session, on=on, today=today)
    base = f"Aufgabenplanung_{p.funding_year}_{p.agency_slug}_{p.id}"
    if fmt == "docx":
        return PlanDocument(f"{base}.docx", DOCX_MIME, _docx(p, chosen, on), chosen.warnings)
    return PlanDocument(f"{base}.pdf", "application/pdf", _pdf(p, chosen, on), chosen.warnings)


def _pdf(p: PlanView, chosen: templates.Chosen, on: date) -> bytes:
    from ia_events.core.pdf import Document

    doc = Document(f"Aufgabenplanung {p.years}", subtitle=f"{p.agency_name} · Stand {fmt_date(on)}")
    x = doc.get_x()
    for logo in chosen.images:
        doc.image(io.BytesIO(logo.content), x=x, h=12)
        x += 45
    if chosen.images:
        doc.ln(15)
    for label, value in _rows(p):
        doc.body(9, bold=True)
        doc.multi_cell(0, 5, label, new_x="LMARGIN", new_y="NEXT")
        doc.body(10)
        doc.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)
    doc.body(11, bold=True)
    doc.multi_cell(0, 6, "Teilziele (messbar)", new_x="LMARGIN", new_y="NEXT")
    doc.body(10)
    for line in _goals(p):
        doc.multi_cell(0, 5, f"• {line}", new_x="LMARGIN", new_y="NEXT")
    if chosen.used:
        doc.ln(3)
        doc.body(8)
        doc.multi_cell(0, 4, "Vorlagen: " + chosen.used_line(), new_x="LMARGIN", new_y="NEXT")
    return doc.render()


def _docx(p: PlanView, chosen: templates.Chosen, on: date) -> bytes:
    from docx import Document as Docx
    from docx.shared import Mm

    doc = Docx()
    if chosen.images:
        par = doc.add_paragraph()
        for logo in chosen.images:
            par.add_run().add_picture(io.BytesIO(logo.content), height=Mm(12))
            par.add_run("   ")
    doc.add_heading(f"Aufgabenplanung {p.years}", level=1)
    doc.add_paragraph(f"{p.agency_name} · Stand {fmt_date(on)}")
    table = doc.add_table(rows=0, cols=2)
    for label, value in _rows(p):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    doc.add_heading("Teilziele (messbar)", level=2)
    for line in _goals(p):
        doc.add_paragraph(line, style="List Bullet")
    if chosen.used:
        doc.add_paragraph("Vorlagen: " + chosen.used_line())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
