"""Nachweise and Aufbewahrung pages in AppTest: what specialists, coordinators and admins see."""

from __future__ import annotations

from datetime import date

from tests.support import login, texts


def test_specialist_browses_own_archive_and_sees_no_other_agency(app) -> None:  # type: ignore[no-untyped-def]
    at = login(app, "fk-essen")
    at.switch_page("pages/evidence.py").run()
    assert not at.exception
    at.selectbox(key="ev_year").select(date.today().year - 1).run()
    # Sealed lists (issue 16) are the newest items: look at the scans of signed lists.
    at.selectbox(key="ev_f_kind").select("signed_list_scan").run()
    shown = texts(at)
    assert "Nachweise" in shown and "Integrationsagentur Essen" in shown
    assert "Nachweise · Seite 1" in shown
    table = at.dataframe[0].value
    assert "Unterschriebene Teilnehmerliste Nähcafé" in " ".join(table["Titel"])
    assert not [s for s in at.selectbox if s.label == "Integrationsagentur"]
    # Preview of the selected item: a read of the content, audited.
    next(b for b in at.button if b.label == "Vorschau anzeigen").click().run()
    assert not at.exception and not at.error


def test_occurrence_preselected_from_query_param(app, app_env) -> None:  # type: ignore[no-untyped-def]
    from ia_events.archive.query import EvidenceFilter, search_evidence
    from ia_events.core.access import Actor

    with app_env.db.read() as s:
        item = next(
            e
            for e in search_evidence(
                s, Actor.cli(), EvidenceFilter(agency_slug="essen", kind="signed_list_scan")
            ).items
            if e.occurrence_id is not None  # not the demo's unassigned scan (inbox)
        )
    at = login(app, "fk-essen")
    at.query_params["occurrence"] = str(item.occurrence_id)
    at.switch_page("pages/evidence.py").run()
    assert not at.exception
    assert "Termin vorausgewählt" in texts(at)
    assert at.session_state["ev_occurrence"] == item.occurrence_id


def test_coordinator_sees_holds_and_all_agencies(app) -> None:  # type: ignore[no-untyped-def]
    at = login(app, "koordination")
    at.switch_page("pages/evidence.py").run()
    assert not at.exception
    assert any(s.label == "Integrationsagentur" for s in at.selectbox)
    at.switch_page("pages/retention.py").run()
    assert not at.exception
    shown = texts(at)
    assert "H1" in shown and "Prüfung vor Ort angekündigt" in shown
    assert "Löschprotokoll" in shown
    assert "Löschvorschlag" not in shown  # runs are the admin's


def test_admin_creates_proposal_and_finds_nothing_due_today(app) -> None:  # type: ignore[no-untyped-def]
    at = login(app, "admin")
    at.switch_page("pages/retention.py").run()
    assert not at.exception
    next(b for b in at.button if b.label == "Vorschlag erstellen").click().run()
    assert not at.exception
    assert "Zum Stichtag ist nichts zu löschen." in texts(at)
    at.switch_page("pages/system.py").run()
    assert not at.exception and "Schlüssel und Sicherung" in texts(at)
    assert "Archiv: Ablage und Objektsperre" in texts(at)
    assert any("Aufbewahrung und Sperren setzt die App selbst durch" in t.value for t in at.text)


BEACON = "![b](http://attacker.example/beacon) [Anmeldung](http://attacker.example/phish)"


def _all_rendered(at) -> list[str]:  # type: ignore[no-untyped-def]
    """Everything the page hands to Streamlit's Markdown renderer."""
    kinds = ("markdown", "caption", "success", "info", "warning", "error", "subheader", "title")
    out = [str(e.value) for kind in kinds for e in getattr(at, kind)]
    out += [str(e.label) for e in at.expander] if hasattr(at, "expander") else []
    return out


def test_an_evidence_title_with_markdown_is_shown_literally(app, app_env) -> None:  # type: ignore[no-untyped-def]
    """A title that would load an image from another server and show a phishing link."""
    from ia_events.archive.evidence import add_evidence
    from ia_events.core.access import Actor
    from tests.pdf_samples import PLAIN

    item = add_evidence(
        app_env, Actor.cli("test"), agency_slug="essen", funding_year=date.today().year,
        kind="flyer", filename="![x](http://attacker.example/f).pdf", content=PLAIN,
        title=BEACON,
    )  # fmt: skip
    at = login(app, "koordination")
    at.switch_page("pages/evidence.py").run()
    at.selectbox(key="ev_agency").select("essen").run()
    at.session_state["ev_open"] = item.id  # as a click on its row in the archive does
    at.run()
    assert not at.exception
    rendered = _all_rendered(at)
    heading = next(r for r in rendered if r.startswith(f"#### Nr. {item.id}:"))
    from pages._ui import md

    assert heading.endswith(md(BEACON))
    # No Markdown image or link reaches the renderer unescaped.
    for value in rendered:
        assert "](http" not in value.replace("\\]\\(", ""), value


def test_inbox_scan_is_assigned_with_one_click(app, app_env) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ia_events.core.models import Agency, Occurrence

    with app_env.db.read() as s:
        occ_id = s.scalar(
            select(Occurrence.id)
            .join(Agency, Agency.id == Occurrence.agency_id)
            .where(Agency.slug == "essen", Occurrence.funding_year == date.today().year - 1)
            .limit(1)
        )
    at = login(app, "fk-essen")
    at.switch_page("pages/evidence.py").run()
    at.selectbox(key="ev_year").select(date.today().year - 1).run()
    assert not at.exception
    shown = texts(at)
    assert "Posteingang: nicht zugeordnete Scans" in shown and "IMG_2417.jpg" in shown
    box = next(s for s in at.selectbox if str(s.key).startswith("ev_inbox_occ_"))
    box.set_value(occ_id).run()
    next(b for b in at.button if b.label == "Zuordnen").click().run()
    assert not at.exception
    assert any("zugeordnet" in s.value for s in at.success)
    assert "Posteingang: nicht zugeordnete Scans" not in texts(at)
