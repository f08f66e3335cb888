"""The Sachbericht as documents: PDF (PDF/A-2B, fpdf2) and Word (.docx, python-docx).

Both carry the same content from an ``activity_report.ReportDraft``: head
data, one section per sub-goal with target vs. actual, the activities with
their dates and participant figures, volunteer hours, evidence count and
the agency's text, and -- on every page -- the fingerprint of the
installation's signing key. Layout only; no data access.
"""

from __future__ import annotations

import io
from datetime import date

from ia_events.core.messages import INDICATOR_LABELS, fmt_count, fmt_number
from ia_events.core.pdf import Document
from ia_events.reporting.activity_report import (
    PLAIN_LANGUAGE,
    SELF_EVALUATION,
    ActivityLine,
    ReportDraft,
    field_label,
    status_line,
)


def _dates(days: list[date], limit: int = 60) -> str:
    if not days:
        return "keine Termine"
    shown = ", ".join(d.strftime("%d.%m.") for d in days[:limit])
    return shown + (f" … (insgesamt {fmt_count(len(days), 'Termin')})" if len(days) > limit else "")


def _subtitle(d: ReportDraft) -> str:
    """Carrier and status -- the status line already carries the date ("Stand …")."""
    return f"Träger: {d.carrier} · {status_line(d)}"


def _activity_line(a: ActivityLine) -> str:
    return (
        f"{a.title}: {fmt_count(len(a.dates), 'Termin')}, {fmt_count(a.participants, 'Teilnahme')}"
        + (f", {fmt_count(a.hours, 'Ehrenamtsstunde')}" if a.hours else "")
        + f" – {_dates(a.dates)}"
    )


def _key_line(d: ReportDraft) -> str:
    return f"Signaturschlüssel der Installation (Fingerabdruck): {d.fingerprint}"


def render_pdf(d: ReportDraft) -> bytes:
    doc = Document(
        f"Sachbericht {d.year} – {d.agency_name}",
        subtitle=f"{_subtitle(d)} · {_key_line(d)}",
    )
    doc.body(10)
    if d.topic:
        doc.multi_cell(0, 5, f"Thema: {d.topic}\nZiel: {d.goal}", new_x="LMARGIN", new_y="NEXT")
        doc.ln(2)
    if d.intro:
        doc.multi_cell(0, 5, d.intro, new_x="LMARGIN", new_y="NEXT")
    previous = None
    for n, sec in enumerate(d.sections, 1):
        g = sec.goal
        if sec.aufgabe_id and sec.aufgabe_id != previous:
            previous = sec.aufgabe_id
            doc.ln(4)
            doc.body(12.5, bold=True)
            doc.multi_cell(0, 6.5, f"Aufgabe: {sec.aufgabe}", new_x="LMARGIN", new_y="NEXT")
            doc.body(8.5)
            doc.multi_cell(
                0,
                4.2,
                "Selbstevaluation: " + " ".join(SELF_EVALUATION) + f"\n{PLAIN_LANGUAGE}",
                new_x="LMARGIN",
                new_y="NEXT",
            )
        doc.ln(3)
        doc.body(11.5, bold=True)
        doc.multi_cell(0, 6, f"{n}. {g.title}", new_x="LMARGIN", new_y="NEXT")
        doc.body(9.5)
        doc.multi_cell(
            0,
            4.8,
            f"Handlungsfeld: {field_label(g.field)} · Messgröße: "
            f"{INDICATOR_LABELS.get(g.indicator, g.indicator)} · Soll {fmt_number(g.target)} · "
            f"Ist {fmt_number(g.actual)} · Ehrenamtsstunden {fmt_number(sec.volunteer_hours)} · "
            f"Nachweise {fmt_number(sec.evidence_count)}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        for a in sec.activities:
            doc.multi_cell(
                0,
                4.8,
                f"• {_activity_line(a)}",
                new_x="LMARGIN",
                new_y="NEXT",
            )
        doc.ln(1)
        doc.body(10)
        doc.multi_cell(0, 5, sec.text or "–", new_x="LMARGIN", new_y="NEXT")
    if d.closing:
        doc.ln(3)
        doc.body(11.5, bold=True)
        doc.cell(0, 6, "Fazit", new_x="LMARGIN", new_y="NEXT")
        doc.body(10)
        doc.multi_cell(0, 5, d.closing, new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    doc.body(8)
    doc.multi_cell(
        0,
        4,
        f"{_key_line(d)}. Mit diesem Schlüssel signiert die Installation die Prüfpakete "
        "(Nachweise) der Integrationsagentur; vergleichen Sie den Fingerabdruck mit dem "
        "Schlüssel in einem Prüfpaket.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return doc.render()


def render_docx(d: ReportDraft) -> bytes:
    from docx import Document as Docx
    from docx.shared import Pt

    doc = Docx()
    doc.core_properties.title = f"Sachbericht {d.year} – {d.agency_name}"
    doc.core_properties.language = "de-DE"
    footer = doc.sections[0].footer.paragraphs[0]
    footer.text = _key_line(d)
    footer.runs[0].font.size = Pt(8)
    doc.add_heading(f"Sachbericht {d.year} – {d.agency_name}", level=0)
    doc.add_paragraph(_subtitle(d))
    if d.topic:
        doc.add_paragraph(f"Thema: {d.topic}")
        doc.add_paragraph(f"Ziel: {d.goal}")
    if d.intro:
        doc.add_paragraph(d.intro)
    previous = None
    for n, sec in enumerate(d.sections, 1):
        g = sec.goal
        if sec.aufgabe_id and sec.aufgabe_id != previous:
            previous = sec.aufgabe_id
            doc.add_heading(f"Aufgabe: {sec.aufgabe}", level=1)
            doc.add_paragraph("Fragen zur Selbstevaluation:")
            for q in SELF_EVALUATION:
                doc.add_paragraph(q, style="List Bullet")
            doc.add_paragraph(PLAIN_LANGUAGE)
        doc.add_heading(f"{n}. {g.title}", level=2)
        table = doc.add_table(rows=1, cols=2)
        table.style = "Table Grid"
        facts = [
            ("Handlungsfeld", field_label(g.field)),
            ("Messgröße", INDICATOR_LABELS.get(g.indicator, g.indicator)),
            ("Soll / Ist", f"{fmt_number(g.target)} / {fmt_number(g.actual)}"),
            ("Ehrenamtsstunden", fmt_number(sec.volunteer_hours)),
            ("Nachweise", fmt_number(sec.evidence_count)),
        ]
        table.rows[0].cells[0].text, table.rows[0].cells[1].text = facts[0]
        for label, value in facts[1:]:
            cells = table.add_row().cells
            cells[0].text, cells[1].text = label, value
        for a in sec.activities:
            doc.add_paragraph(_activity_line(a), style="List Bullet")
        doc.add_paragraph(sec.text)
    if d.closing:
        doc.add_heading("Fazit", level=1)
        doc.add_paragraph(d.closing)
    doc.add_paragraph(_key_line(d))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
