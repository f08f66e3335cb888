"""Attendance becomes evidence, in a real browser: three QR check-ins on a phone, the
door seals the list ("Liste abschließen"), the coordinator's completeness has no gap
for that date and the downloaded bundle holds the sealed list in the date's folder."""

from __future__ import annotations

import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ia_events.attendance.checkin import occurrence_link
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin
from ia_events.core.models import Agency, Occurrence
from ia_events.inspection.completeness import inspect
from storage.db import utcnow
from tests.browser.conftest import pick_option, ui_login, wait_ready
from tests.conftest import make_settings

pytestmark = pytest.mark.browser


def _running_naehcafe(data_dir: Path, base: str) -> tuple[str, int]:
    inst = Installation.open(make_settings(data_dir))
    try:
        now = utcnow()
        with inst.db.read() as s:
            agency_id = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
            occ_id = s.scalar(
                select(Occurrence.id).where(
                    Occurrence.agency_id == agency_id,
                    Occurrence.starts_at <= now,
                    Occurrence.ends_at >= now,
                )
            )
            assert occ_id is not None
            return occurrence_link(s, inst.keys, Actor.cli("test"), occ_id, base), occ_id
    finally:
        inst.close()


def test_checkins_are_sealed_shown_complete_and_bundled(  # type: ignore[no-untyped-def]
    browser, phone, page, live_server, tmp_path
) -> None:
    data = tmp_path / "data"
    url, occ_id = _running_naehcafe(data, live_server)
    for name in ("Mariam Sultani", "Oksana Hrytsenko", "Elif Arslan"):
        phone.goto(url)
        phone.get_by_label("Ihr Name").fill(name)
        phone.get_by_role("button", name="Einchecken").click()
        phone.get_by_text("Sie sind eingecheckt. Herzlich willkommen!").wait_for()

    ui_login(page, live_server, "fk-essen")
    wait_ready(page)
    page.get_by_role("link", name="Check-in").click()
    page.get_by_role("heading", name="Check-in an der Tür").wait_for()
    wait_ready(page)
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "6"
    page.get_by_role("tab", name="Liste").click()
    page.get_by_role("button", name="Liste abschließen").click()
    page.get_by_text(re.compile(r"Liste abgeschlossen: Fassung 1")).wait_for(timeout=60_000)

    inst = Installation.open(make_settings(data))
    try:
        with inst.db.read() as s:
            occ = s.get(Occurrence, occ_id)
            assert occ is not None
            year = occ.funding_year
            tree = inspect(
                s, Actor.cli("test"), "essen", year, now=occ.ends_at + timedelta(hours=3)
            )
    finally:
        inst.close()
    assert ("occurrence_without_list", occ_id) not in {(f.code, f.object_id) for f in tree.findings}

    coordinator = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="de-DE", timezone_id="Europe/Berlin"
    )
    page = coordinator.new_page()  # her own browser, not the specialist's session
    page.set_default_timeout(20_000)
    ui_login(page, live_server, "koordination")
    wait_ready(page)
    page.get_by_role("link", name="Prüfung").click()
    page.get_by_role("heading", name="Prüfung").wait_for()
    wait_ready(page)
    pick_option(
        page, page.get_by_label("Integrationsagentur", exact=True), "Integrationsagentur Essen"
    )
    wait_ready(page)
    pick_option(page, page.get_by_label("Förderjahr"), str(year))
    wait_ready(page)
    page.get_by_role("button", name="Prüfpaket erstellen").click()
    page.get_by_text("Prüfpaket erstellt").wait_for(timeout=120_000)
    wait_ready(page)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Prüfpaket herunterladen").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    day = berlin(occ.starts_at).strftime("%Y-%m-%d")
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        lists = [
            n for n in names if f"{day}_" in n and f"_T{occ_id}/" in n and "_participant_list_" in n
        ]
        assert any(n.endswith(".pdf") for n in lists), names[:3]
        assert any(n.endswith(".csv") for n in lists), lists
        pdf = next(n for n in lists if n.endswith(".pdf"))
        assert zf.read(pdf).startswith(b"%PDF")
        table = zf.read(next(n for n in lists if n.endswith(".csv"))).decode("utf-8-sig")
    assert "Mariam Sultani" in table and "Elif Arslan" in table
    coordinator.close()
