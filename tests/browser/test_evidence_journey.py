"""A specialist uploads the signed list scan of an occurrence, finds it under its sub-goal
and downloads it again -- in a real Chromium against ``streamlit run``."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Agency, Occurrence, SubGoal
from tests.browser.conftest import ui_login, wait_ready
from tests.conftest import make_settings

pytestmark = pytest.mark.browser

SCAN = b"%PDF-1.4\n1 0 obj<<>>endobj\n% unterschriebene Liste, Browser-Test\n%%EOF\n"


def _target(demo_template: Path) -> tuple[int, str]:
    inst = Installation.open(make_settings(demo_template))
    try:
        with inst.db.read() as s:
            year = date.today().year - 1
            essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
            occ = s.scalars(
                select(Occurrence.id)
                .join(Activity, Activity.id == Occurrence.activity_id)
                .where(
                    Occurrence.agency_id == essen,
                    Occurrence.funding_year == year,
                    Activity.type == "Nähcafé",
                )
                .order_by(Occurrence.starts_at)
            ).all()[3]
            goal = s.scalar(
                select(SubGoal.title).where(
                    SubGoal.agency_id == essen, SubGoal.funding_year == year, SubGoal.position == 2
                )
            )
        return occ, goal
    finally:
        inst.close()


def _open_and_choose(page, box, name: str) -> None:  # type: ignore[no-untyped-def]
    """Open a select/multiselect (scrolled into view; under load a click may only focus
    it, then ArrowDown opens it) and click the option ``name``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    option = page.get_by_role("option", name=name)
    box.scroll_into_view_if_needed()
    for _ in range(4):
        box.click()
        try:
            option.first.wait_for(timeout=3_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("ArrowDown")
            try:
                option.first.wait_for(timeout=2_000)
                break
            except PlaywrightTimeout:
                page.keyboard.press("Escape")
    option.first.click()


def test_upload_signed_list_find_under_subgoal_download(  # type: ignore[no-untyped-def]
    page, shared_server, demo_template, tmp_path
) -> None:
    occ, goal = _target(demo_template)
    scan = tmp_path / "Liste unterschrieben.pdf"
    scan.write_bytes(SCAN)
    ui_login(page, shared_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
    page.goto(f"{shared_server}/evidence?occurrence={occ}")
    wait_ready(page)
    page.get_by_text("Termin vorausgewählt").wait_for()

    form = page.locator('[data-testid="stForm"]').first
    form.locator('input[type="file"]').set_input_files(str(scan))
    page.get_by_text(re.compile(r"rieben\.pdf")).first.wait_for()
    form.get_by_label("Titel").fill("Unterschriebene Liste Browser-Test")
    # The date's activity brings its sub-goals: filled in already.
    form.locator('[data-testid="stMultiSelect"]').get_by_text(goal).wait_for()
    form.get_by_role("button", name="Hochladen").click()
    wait_ready(page)
    # Archiving (content check, encryption, fsync, journal) on a CI machine running two
    # workers and a PostgreSQL server can take longer than the usual 20 s.
    page.get_by_text(re.compile(r"1 Nachweis archiviert")).wait_for(timeout=90_000)
    # The new item is shown at once, and the list below opens it.
    page.get_by_role(
        "heading", name=re.compile(r"Nr\. \d+: Unterschriebene Liste Browser-Test")
    ).wait_for()

    # Find it under its sub-goal.
    _open_and_choose(
        page, page.locator('[data-testid="stSelectbox"]').filter(has_text="Teilziel"), goal
    )
    wait_ready(page)
    # Ours among the sub-goal's items (the demo links a varying number of others to it).
    page.get_by_text(re.compile(r"\d+ Nachweise? · Seite 1 von \d+")).wait_for()
    page.get_by_text(re.compile(r"Nr\. \d+: Unterschriebene Liste Browser-Test")).first.wait_for()

    with page.expect_download(timeout=90_000) as info:
        page.get_by_role("button", name="Herunterladen").click()
    download = info.value
    assert download.suggested_filename == "Liste unterschrieben.pdf"
    assert Path(download.path()).read_bytes() == SCAN
