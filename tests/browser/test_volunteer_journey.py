"""A volunteer on her phone: log in, take a shift, check in by the QR link, check out,
see the worked shift under "Erledigt"; and a QR link opened before logging in survives the
login and offers the free shift there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from ia_events.attendance import checkin
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, Shift
from storage.db import utcnow
from tests.browser.conftest import served_demo_password, ui_login, wait_ready
from tests.conftest import make_settings

pytestmark = pytest.mark.browser


def _qr_link(data: Path, base: str) -> str:
    """The volunteer QR of the Nähcafé running now (what staff print with checkin-link)."""
    inst = Installation.open(make_settings(data))
    try:
        with inst.db.read() as s:
            essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
            shift = s.scalars(
                select(Shift).where(
                    Shift.agency_id == essen, Shift.role == "Abbau", Shift.starts_at > utcnow()
                )
            ).first()
            return checkin.occurrence_link(
                s, inst.keys, Actor.cli(), shift.occurrence_id, base, purpose="volunteer"
            )
    finally:
        inst.close()


def test_volunteer_signs_up_checks_in_by_qr_and_out(phone, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ui_login(phone, live_server, "ehrenamt-essen")
    phone.get_by_role("heading", name="Meine Einsätze").wait_for()
    wait_ready(phone)
    card = (
        phone.locator('[data-testid="stVerticalBlock"]')
        .filter(has_text="Abbau")
        .filter(has=phone.get_by_role("button", name="Eintragen"))
        .last
    )
    card.get_by_role("button", name="Eintragen").click()
    phone.get_by_text("Sie sind für „Abbau“ eingetragen.").wait_for()

    link = _qr_link(tmp_path / "data", live_server)
    phone.goto(link)  # /checkin?t=... sends volunteer tokens on to /volunteer_checkin
    wait_ready(phone)
    phone.get_by_role("heading", name="Check-in für Ihren Einsatz").wait_for()
    phone.get_by_role("button", name="Jetzt einchecken").click()
    phone.get_by_text(re.compile("Eingecheckt um")).wait_for()
    wait_ready(phone)
    phone.get_by_role("button", name="Jetzt auschecken").click()
    phone.get_by_text(re.compile(r"Ausgecheckt um .* Std\.")).wait_for()

    phone.goto(live_server + "/")
    wait_ready(phone)
    phone.get_by_role("heading", name="Meine Einsätze").wait_for()
    wait_ready(phone)
    # The worked shift is finished: under "Erledigt" (closed), with its hours.
    done = phone.locator('[data-testid="stExpander"]').filter(has_text=re.compile(r"Erledigt \("))
    done.get_by_text(re.compile(r"Erledigt \(\d+\)")).click()
    done.locator('[data-testid="stVerticalBlock"]').filter(has_text="Abbau").get_by_text(
        re.compile(r"· [\d,]+ Std\.$")
    ).first.wait_for()


def test_qr_link_opened_before_login_is_kept_through_the_login(page, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    link = _qr_link(tmp_path / "data", live_server)
    page.goto(link)
    wait_ready(page)
    page.get_by_role("heading", name="Anmelden").wait_for()
    page.get_by_label("Benutzername").fill("ehrenamt-essen")
    page.get_by_label("Passwort", exact=True).fill(served_demo_password(live_server))
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_role("heading", name="Check-in für Ihren Einsatz").wait_for()
    wait_ready(page)
    # Not signed up for a shift there yet: the free one is offered; one tap, then check in.
    page.get_by_text(re.compile("Sie sind für diesen Termin noch nicht eingeteilt")).wait_for()
    assert page.get_by_role("button", name="Jetzt einchecken").count() == 0
    page.get_by_role("button", name="Für diese Schicht eintragen").first.click()
    page.get_by_text(re.compile("Jetzt können Sie einchecken")).wait_for()
    page.get_by_role("button", name="Jetzt einchecken").wait_for()
