"""One way to write numbers, counts and sizes (Babel, de_DE), and the Sachbericht read back:
the PDF through PDFium's text layer, the Word file through python-docx."""

from __future__ import annotations

import io
from datetime import date

import pypdfium2 as pdfium
from docx import Document as Docx

from ia_events.core.messages import (
    csv_number,
    fmt_count,
    fmt_hours,
    fmt_number,
    fmt_percent,
    fmt_size,
)
from ia_events.reporting.activity_report import ActivityLine, ReportDraft, Section
from ia_events.reporting.documents import render_docx, render_pdf
from ia_events.reporting.progress import SubGoalProgress


def test_numbers_counts_and_sizes_read_german() -> None:
    assert fmt_number(25.6333) == "25,63"
    assert fmt_number(40.0) == "40" and fmt_number(1234.5) == "1.234,5"
    assert fmt_number(None) == "–"
    assert fmt_hours(11.85) == "11,85" and fmt_hours(3.0) == "3"
    assert fmt_count(1, "Termin") == "1 Termin"
    assert fmt_count(2, "Termin") == "2 Termine" and fmt_count(0, "Termin") == "0 Termine"
    assert fmt_count(1234, "Teilnahme") == "1.234 Teilnahmen"
    assert fmt_count(1.5, "Stunde") == "1,5 Stunden" and fmt_count(1, "Stunde") == "1 Stunde"
    assert fmt_percent(0.834).replace("\xa0", " ") == "83 %"
    assert fmt_size(999) == "999 Bytes" and fmt_size(1_234_567) == "1,2 MB"
    # CSV numbers: decimal comma, no grouping (a German spreadsheet reads them as numbers).
    assert csv_number(34.333) == "34,33" and csv_number(1234.5) == "1234,5"
    assert csv_number(40.0) == "40" and csv_number(None) == ""


def _draft() -> ReportDraft:
    goal = SubGoalProgress(7, "Nähcafé", "BE", "occurrences", 20.0, 12.5)
    one = ActivityLine(1, "Nähcafé", [date(2026, 3, 3)], 1, 25.6333)
    two = ActivityLine(2, "Sprachtreff", [date(2026, 3, 4), date(2026, 3, 11)], 14, 0.0)
    section = Section("7", goal, [one, two], 25.6333, 1, "Text")
    return ReportDraft(
        "essen", "IA Essen", "Träger e.V.", 2026, "Begegnung", "Teilhabe", "draft",
        None, None, "AAAA:BBBB", "", "", [section],
    )  # fmt: skip


def test_sachbericht_pdf_prints_german_numbers_and_plurals() -> None:
    pdf = pdfium.PdfDocument(render_pdf(_draft()))
    text = " ".join(page.get_textpage().get_text_range() for page in pdf)
    text = " ".join(text.split())
    assert "Ehrenamtsstunden 25,63" in text and "25.6333" not in text
    assert "Nähcafé: 1 Termin, 1 Teilnahme, 25,63 Ehrenamtsstunden" in text
    assert "Sprachtreff: 2 Termine, 14 Teilnahmen" in text
    assert "Soll 20 · Ist 12,5" in text
    assert "1 Termine" not in text and "1 Teilnahmen" not in text


def test_sachbericht_word_subtitle_says_stand_once_and_numbers_are_german() -> None:
    doc = Docx(io.BytesIO(render_docx(_draft())))
    paragraphs = [p.text for p in doc.paragraphs]
    subtitle = next(p for p in paragraphs if p.startswith("Träger:"))
    assert subtitle.count("Stand") == 1, subtitle
    cells = {row.cells[0].text: row.cells[1].text for row in doc.tables[0].rows}
    assert cells["Ehrenamtsstunden"] == "25,63" and cells["Soll / Ist"] == "20 / 12,5"
    assert "Nähcafé: 1 Termin, 1 Teilnahme, 25,63 Ehrenamtsstunden – 03.03." in paragraphs


def test_sachbericht_pdf_holds_up_to_the_pdfa_2b_checks_we_can_make() -> None:
    from tests.pdfa_support import pdfa_problems

    assert pdfa_problems(render_pdf(_draft())) == []


def test_status_words_and_audit_actions_read_as_german_sentences() -> None:
    from ia_events.core.audit import Action
    from ia_events.core.messages import AUDIT_LABELS, audit_label, object_label, status_label

    assert status_label("open") == "offen" and status_label("submitted") == "eingereicht"
    assert status_label("overdue") == "überfällig" and status_label(None) == "–"
    assert audit_label("user:login") == "Anmeldung"
    assert set(AUDIT_LABELS) >= {a.value for a in Action}  # every action has its sentence
    assert object_label("occurrence", 218) == "Termin 218"
    assert fmt_number(280.9) == "280,9" and fmt_size(2_150_000) == "2,2 MB"


def test_retention_rules_read_as_german_sentences() -> None:
    from ia_events.archive.retention import retention_for, rule_text

    _until, rule = retention_for("photo", 2026)
    assert rule_text(rule) == (
        "Foto: aufbewahrt bis zum 31.12. des 10. Jahres nach dem Förderjahr (Regelwerk 2026.1)"
    )
    assert "Art. 17 DSGVO" in rule_text("art17-erasure-request")
