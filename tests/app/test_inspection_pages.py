"""AppTest: Prüfung (tree, flags, one-click export) and Berichte & Controlling (Sachbericht)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.messages import berlin
from ia_events.core.models import ActivityReport, Agency, AuditEvent
from ia_events.inspection.bundle import verify_bundle
from storage.db import utcnow
from tests.support import login, texts


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_coordinator_sees_flags_and_exports_a_bundle(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "koordination"), "pages/inspection.py")
    assert at.title[0].value == "Prüfung"
    agencies = at.selectbox(key="insp_agency")
    assert len(agencies.options) == 13
    agencies.set_value("kleve").run()
    shown = texts(at)
    assert "Vollständigkeit" in shown
    assert "Warnung" in shown
    # Last year: every held date's list is sealed; the paper day without its signed scan
    # is the gap that stays (issue 16 point 6), grouped by kind.
    picker = at.selectbox(key="ui_year_picker")
    picker.set_value(max(int(y) for y in picker.options if int(y) <= berlin(utcnow()).year) - 1)
    at.run()
    groups = [e.label.rsplit(" (", 1)[0] for e in at.expander]
    assert "Termine ohne Teilnehmerliste" not in groups, groups
    assert "Papierlisten ohne unterschriebenen Scan" in groups, groups
    assert not at.error, [e.value for e in at.error]
    next(b for b in at.button if b.label == "Prüfpaket erstellen").click().run()
    assert not at.exception, at.exception
    done = [s.value for s in at.success if "Prüfpaket erstellt" in s.value]
    assert done, texts(at)[-500:]
    result = at.session_state["insp_result"]
    path = Path(result["path"])
    assert path.name == f"Pruefpaket_kleve_{at.selectbox(key='ui_year_picker').value}.zip"
    assert verify_bundle(path, app_env.keys.public_key).ok
    with zipfile.ZipFile(path) as zf:
        assert any(n.endswith("00_Inhaltsverzeichnis.pdf") for n in zf.namelist())
    with app_env.db.read() as s:
        kleve = s.scalar(select(Agency.id).where(Agency.slug == "kleve"))
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "bundle:export")).one()
    assert event.actor == "koordination" and event.agency_id == kleve
    assert event.details["sha256"] == result["sha256"]


def test_specialist_inspects_only_her_agency(app) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "fk-essen"), "pages/inspection.py")
    assert at.selectbox(key="insp_agency").options == ["Integrationsagentur Essen"]
    assert "Aufgabenplanung → Teilziele" in texts(at)


def test_specialist_edits_and_saves_the_sachbericht(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "fk-essen"), "pages/reports.py")
    assert at.title[0].value == "Berichte"
    picker = at.selectbox(key="ui_year_picker")
    picker.set_value(int(picker.options[0])).run()
    year = int(at.selectbox(key="ui_year_picker").value)
    intro = next(t for t in at.text_area if t.label == "Einleitung")
    assert not intro.disabled
    intro.input("Ein gutes Jahr im Stadtteil.")
    next(b for b in at.button if b.label == "Entwurf speichern").click().run()
    assert not at.exception, at.exception
    assert "Entwurf gespeichert." in [s.value for s in at.success]
    with app_env.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        row = s.scalar(
            select(ActivityReport).where(
                ActivityReport.agency_id == essen, ActivityReport.funding_year == year
            )
        )
    assert row is not None and row.sections["texts"]["intro"] == "Ein gutes Jahr im Stadtteil."
    labels = [b.label for b in at.get("download_button")]
    assert "Sachbericht als Word (.docx)" in labels and "CSV" in labels


def test_coordinator_reads_reports_and_gets_all_agencies(app) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "koordination"), "pages/reports.py")
    assert at.title[0].value == "Berichte & Controlling"
    at.selectbox(key="rep_agency").set_value("essen").run()
    picker = at.selectbox(key="ui_year_picker")
    assert int(picker.value) == max(int(y) for y in picker.options)  # opens on this year
    picker.set_value(int(picker.options[1])).run()
    # Last year's Sachbericht of Essen was submitted in the demo: frozen, read-only.
    assert any("Eingereicht und eingefroren" in s.value for s in at.success)
    assert all(t.disabled for t in at.text_area)
    labels = [b.label for b in at.get("download_button")]
    assert "Alle Agenturen (XLSX, Bezirk gesamt und ein Blatt je Agentur)" in labels
    assert "Teilnahmen und Termine je Monat" in texts(at)
    assert "Je Handlungsfeld" in texts(at)  # the controlling figures per field of action
    table = at.dataframe[0].value
    assert {"Angebote", "Kooperationspartner", "Kooperationen"} <= set(table.columns)


def test_coordinator_sees_all_agencies_and_opens_one_by_its_row(app) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "koordination"), "pages/inspection.py")
    this_year = at.selectbox(key="ui_year_picker").value
    assert this_year == max(int(y) for y in at.selectbox(key="ui_year_picker").options)
    table = at.dataframe(key="insp_overview")
    frame = table.value
    assert len(frame) == 13  # every agency, none hidden behind a scroll box
    assert {"Termine mit Liste", "Teilziele mit Nachweis", "Teilziele ohne Pressebeleg"} <= set(
        frame.columns
    )
    row = int(frame.index[frame["Integrationsagentur"] == "Integrationsagentur Kleve"][0])
    at.session_state["insp_overview"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="insp_agency").value == "kleve"
    assert "Hinweise: Integrationsagentur Kleve" in [h.value for h in at.subheader]
    groups = {e.label.rsplit(" (", 1)[0]: e.label for e in at.expander}
    # Grouped by kind with a count, not one flat list of every warning.
    # (This year's held dates are all sealed in the demo, so their group is not among them.)
    assert "Zielwerte nicht erreicht" in groups
    assert groups["Zielwerte nicht erreicht"].endswith(")")
    # Hashes only under "Details".
    assert "SHA-256" not in texts(at)


def test_the_chosen_year_stays_while_moving_between_pages(app) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "koordination"), "pages/inspection.py")
    picker = at.selectbox(key="ui_year_picker")
    this_year = max(int(y) for y in picker.options)
    assert int(picker.value) == this_year  # the current funding year, not last year
    for page in ("pages/reports.py", "pages/planning.py", "pages/deadlines.py"):
        _open(at, page)
        assert int(at.selectbox(key="ui_year_picker").value) == this_year, page
    at.selectbox(key="ui_year_picker").set_value(this_year - 1).run()
    for page in ("pages/inspection.py", "pages/reports.py", "pages/planning.py"):
        _open(at, page)
        assert int(at.selectbox(key="ui_year_picker").value) == this_year - 1, page
        assert not at.error, (page, [e.value for e in at.error])


def test_coordinator_pages_speak_german(app) -> None:  # type: ignore[no-untyped-def]
    at = login(app, "koordination")
    raw = {"open", "submitted", "overdue", "draft", "approved", "user:login", "install:demo"}
    for page in (
        "pages/overview.py",
        "pages/inspection.py",
        "pages/planning.py",
        "pages/deadlines.py",
        "pages/audit_log.py",
    ):
        _open(at, page)
        # (The Audit-Log's second table, under "Details", shows the codes on purpose.)
        frames = list(at.dataframe)[:1] if page.endswith("audit_log.py") else list(at.dataframe)
        cells = {
            str(v) for frame in frames for col in frame.value.columns
            for v in frame.value[col].tolist()
        }  # fmt: skip
        words = set(texts(at).replace("(", " ").replace(")", " ").split())
        assert not raw & (cells | words), (page, raw & (cells | words))
        assert "✅" not in texts(at) and "⚠️" not in "".join(cells)
    # The Audit-Log says what happened in German; the codes only under "Details".
    _open(at, "pages/audit_log.py")
    first = at.dataframe[0].value
    assert "Was" in first.columns and "Anmeldung" in set(first["Was"])
    assert any(e.label.startswith("Details") for e in at.expander)
