"""AppTest: Prüfung (tree, flags, one-click export) and Berichte & Controlling (Sachbericht)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import ActivityReport, Agency, AuditEvent
from ia_events.inspection.bundle import verify_bundle
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
    assert "Warnungen" in shown
    flags = at.dataframe[0].value
    assert list(flags.columns) == ["Art", "Hinweis"]
    # Last year (the default): every date's list is sealed; the paper day without its
    # signed scan is the gap that stays (issue 16 point 6).
    assert not flags["Hinweis"].str.contains("keine Teilnehmerliste").any()
    assert flags["Hinweis"].str.contains("von der Papierliste übertragen").any()
    assert not at.error, [e.value for e in at.error]
    next(b for b in at.button if b.label == "Prüfpaket erstellen").click().run()
    assert not at.exception, at.exception
    done = [s.value for s in at.success if "Prüfpaket erstellt" in s.value]
    assert done, texts(at)[-500:]
    result = at.session_state["insp_result"]
    path = Path(result["path"])
    assert path.name == f"Pruefpaket_kleve_{at.selectbox(key='insp_year').value}.zip"
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
    at.selectbox(key="rep_year").set_value(at.selectbox(key="rep_year").options[0]).run()
    year = int(at.selectbox(key="rep_year").value)
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
    # Last year's Sachbericht of Essen was submitted in the demo: frozen, read-only.
    assert any("Eingereicht und eingefroren" in s.value for s in at.success)
    assert all(t.disabled for t in at.text_area)
    labels = [b.label for b in at.get("download_button")]
    assert "Alle Agenturen (XLSX, ein Blatt je Agentur)" in labels
    assert "Teilnahmen und Termine je Monat" in texts(at)
