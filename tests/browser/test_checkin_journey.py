"""A participant checks in on a throttled phone; staff see the count at the door."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ia_events.attendance.checkin import occurrence_link
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, Occurrence
from storage.db import utcnow
from tests.browser.conftest import ui_login, wait_ready
from tests.conftest import make_settings

pytestmark = pytest.mark.browser

# Chrome DevTools' "Fast 3G" preset.
FAST_3G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1.6 * 1024 * 1024 / 8 * 0.9,
    "uploadThroughput": 750 * 1024 / 8 * 0.9,
}


def _essen_link(data_dir: Path, base: str) -> str:
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
            return occurrence_link(s, inst.keys, Actor.cli("test"), occ_id, base)
    finally:
        inst.close()


def _names_checked_in(data_dir: Path) -> list[str]:
    """The names on the list of Essen's running Nähcafé (as the staff see them)."""
    from ia_events.attendance.records import list_attendance

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
            rows = list_attendance(s, inst.keys, Actor.cli("test"), occ_id, names=True)
            return [r.name for r in rows if r.name]
    finally:
        inst.close()


def _throttle(page) -> None:  # type: ignore[no-untyped-def]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", FAST_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})


def test_phone_check_in_repeat_and_forged_link(phone, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = _essen_link(tmp_path / "data", live_server)
    _throttle(phone)

    started = time.monotonic()
    response = phone.goto(url, wait_until="commit")
    phone.get_by_role("button", name="Einchecken").wait_for()
    usable = time.monotonic() - started
    body = response.body()
    transfer = phone.evaluate(
        "() => performance.getEntriesByType('navigation')[0].transferSize || 0"
    )
    print(f"check-in page: {len(body)} bytes, {transfer} transferred, usable after {usable:.2f} s")
    assert len(body) <= 50_000 and transfer <= 50_000
    assert usable <= 2.0
    assert phone.locator("script").count() == 0
    assert "Nähcafé" in phone.content()

    phone.get_by_label("Ihr Name").fill("Svitlana Bondarenko")
    phone.get_by_role("button", name="Einchecken").click()
    phone.get_by_text("Sie sind eingecheckt. Herzlich willkommen!").wait_for()

    phone.goto(url)
    phone.get_by_label("Ihr Name").fill("Svitlana Bondarenko")
    phone.get_by_role("button", name="Einchecken").click()
    phone.get_by_text("Sie sind schon eingecheckt.").wait_for()
    assert phone.get_by_role("button", name="Ich bin eine andere Person").is_visible()

    # Switch the language by link: Arabic reads right to left.
    phone.goto(url)
    phone.get_by_role("link", name="العربية").click()
    assert phone.locator("html").get_attribute("dir") == "rtl"

    token = url.split("t=")[1]
    forged = url.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBA"))
    phone.goto(forged)
    phone.get_by_text("Dieser Link ist ungültig.").wait_for()
    assert phone.get_by_role("button", name="Einchecken").count() == 0


def test_staff_door_screen_shows_the_live_count(page, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ui_login(page, live_server, "fk-essen")
    wait_ready(page)
    page.get_by_role("link", name="Check-in").click()
    page.get_by_role("heading", name="Check-in an der Tür").wait_for()
    wait_ready(page)
    metric = page.locator('[data-testid="stMetricValue"]').first
    assert metric.inner_text().strip() == "3"  # the demo's three self check-ins
    page.get_by_label("Name", exact=True).fill("Hatice Çelik")
    page.get_by_role("button", name="Eintragen").click()
    page.get_by_text("Eingecheckt.", exact=True).wait_for()
    wait_ready(page)
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "4"
    # The QR code for participants is not beside the names: it is under "Drucken".
    qr = page.get_by_role("img", name=re.compile("QR-Code zum Selbst-Check-in"))
    assert qr.count() == 0
    page.get_by_role("tab", name="Drucken").click()
    qr.wait_for()


def test_the_display_at_the_door_shows_no_names(page, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ui_login(page, live_server, "fk-essen")
    wait_ready(page)
    page.get_by_role("link", name="Check-in").click()
    page.get_by_role("heading", name="Check-in an der Tür").wait_for()
    wait_ready(page)
    page.get_by_label("Name", exact=True).fill("Hatice Çelik")
    page.get_by_role("button", name="Eintragen").click()
    page.get_by_text("Eingecheckt.", exact=True).wait_for()
    wait_ready(page)
    names = _names_checked_in(tmp_path / "data")
    assert "Hatice Çelik" in names and len(names) >= 2

    page.get_by_role("button", name="Anzeige für die Tür").click()
    page.get_by_role("button", name="Anzeige beenden").wait_for()
    wait_ready(page)
    assert "anzeige=1" in page.url and "occurrence=" in page.url
    page.get_by_role("img", name=re.compile("QR-Code zum Selbst-Check-in")).wait_for()
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "4"
    assert "Nähcafé" in page.locator("h1").first.inner_text()
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    shown = page.content()
    for name in names:  # nobody who scans sees who else came
        assert name not in shown
    assert page.locator('[data-testid="stDataFrame"]').count() == 0

    page.get_by_role("button", name="Anzeige beenden").click()
    page.get_by_role("heading", name="Check-in an der Tür").wait_for()
