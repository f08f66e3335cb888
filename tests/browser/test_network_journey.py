"""Network work in a real browser: the specialist records a Facharbeitskreis on the
Netzwerk page, sees the year's count move, opens the meeting from the table and archives
its Protokoll, which then shows with the meeting (and as evidence of kind "minutes");
and she adds a partner, links it to an activity, records a meeting and sees the figures
move in the controlling CSV she downloads from Berichte."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from tests.browser.conftest import pick_option, ui_login, wait_ready

pytestmark = pytest.mark.browser

PROTOKOLL = b"%PDF-1.4\n1 0 obj<<>>endobj\n% Protokoll, Browser-Test\n%%EOF\n"
TITLE = "AK Browser-Test"


def _held(page) -> int:  # type: ignore[no-untyped-def]
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Facharbeitskreise")
    metric.first.wait_for()
    value = metric.first.locator('[data-testid="stMetricValue"]').inner_text()
    return int(value.split()[0])


def test_record_a_facharbeitskreis_with_its_protokoll(  # type: ignore[no-untyped-def]
    page, shared_server, tmp_path: Path
) -> None:
    scan = tmp_path / "Protokoll AK.pdf"
    scan.write_bytes(PROTOKOLL)
    ui_login(page, shared_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
    wait_ready(page)
    page.get_by_role("link", name="Netzwerk").click()
    page.get_by_role("heading", name="Netzwerk").wait_for()
    wait_ready(page)
    page.get_by_role("tab", name=re.compile("Sitzungen")).click()
    before = _held(page)

    form = page.locator('[data-testid="stForm"]').filter(has_text="Sitzung speichern")
    form.get_by_label("Titel").fill(TITLE)
    # The date field is a row of spin buttons (day, month, year) that take typed digits.
    form.get_by_role("spinbutton", name="day, Datum").click()
    page.keyboard.type(f"0501{date.today().year}")
    page.keyboard.press("Tab")
    assert form.get_by_role("spinbutton", name="month, Datum").get_attribute("aria-valuenow") == "1"
    form.get_by_label("Tagesordnung").fill("1. Berichte\n2. Planung")
    form.get_by_role("button", name="Sitzung speichern").click()
    page.get_by_text("Sitzung gespeichert.").wait_for()
    wait_ready(page)
    page.get_by_role("tab", name=re.compile("Sitzungen")).click()
    assert _held(page) == before + 1

    # The new meeting is the year's first: a click on its row opens it.
    # The meetings table: the first one in the visible tab (the grid is a canvas).
    table = page.locator('[data-testid="stDataFrame"]:visible')
    table.first.wait_for()
    box = table.first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    wait_ready(page)
    tab = page.get_by_role("tab", name=re.compile("Sitzungen"))
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    page.get_by_role("heading", name=re.compile(r"Facharbeitskreis am 05\.01\.")).wait_for()
    wait_ready(page)
    minutes = page.locator('[data-testid="stForm"]').filter(has_text="Protokoll archivieren")
    minutes.locator('input[type="file"]').set_input_files(str(scan))
    page.get_by_text(re.compile(r"Protokoll AK\.pdf")).first.wait_for()
    minutes.get_by_role("button", name="Protokoll archivieren").click()
    page.get_by_text(re.compile(r"Protokoll als Nachweis Nr\. \d+ archiviert")).wait_for(
        timeout=90_000
    )


def _record_meeting(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """A Facharbeitskreis on 5 January of this year, through the Sitzungen tab's form."""
    page.get_by_role("tab", name=re.compile("Sitzungen")).click()
    form = page.locator('[data-testid="stForm"]').filter(has_text="Sitzung speichern")
    form.get_by_label("Titel").fill(title)
    form.get_by_role("spinbutton", name="day, Datum").click()
    page.keyboard.type(f"0501{date.today().year}")
    page.keyboard.press("Tab")
    form.get_by_role("button", name="Sitzung speichern").click()
    page.get_by_text("Sitzung gespeichert.").wait_for()
    wait_ready(page)


def _controlling_totals(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The agency's total row of the controlling CSV, downloaded as a user does."""
    page.get_by_role("link", name="Berichte").click()
    page.get_by_role("heading", name=re.compile("^Berichte")).wait_for()
    wait_ready(page)
    page.get_by_role("tab", name="Controlling").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    return next(r for r in rows if r["Ebene"] == "Gesamt")


def test_partner_link_and_meeting_move_the_controlling_figures(  # type: ignore[no-untyped-def]
    page, shared_server
) -> None:
    ui_login(page, shared_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
    wait_ready(page)
    before = _controlling_totals(page)

    page.get_by_role("link", name="Netzwerk").click()
    page.get_by_role("heading", name="Netzwerk").wait_for()
    wait_ready(page)
    add = page.locator('[data-testid="stForm"]').filter(has_text="Partner speichern")
    add.get_by_label("Name der Organisation").fill("Stadtteilverein Browser-Test")
    add.get_by_label("Ort").fill("Essen-Altendorf")
    add.get_by_role("button", name="Partner speichern").click()
    page.get_by_text("Partner gespeichert.").wait_for()
    wait_ready(page)
    link = page.locator('[data-testid="stForm"]').filter(has_text="Verknüpfen")
    pick_option(
        page,
        link.get_by_role("combobox", name=re.compile("^Partner")),
        "Stadtteilverein Browser-Test",
    )
    link.get_by_role("button", name="Verknüpfen", exact=True).click()
    page.get_by_text("Partner und Angebot verknüpft.").wait_for()
    wait_ready(page)
    _record_meeting(page, "AK Controlling-Test")

    after = _controlling_totals(page)
    for column in ("Kooperationspartner", "Kooperationen", "Sitzungen"):
        assert int(after[column]) == int(before[column]) + 1, column
