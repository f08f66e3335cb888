"""A specialist logs in, sees her overview, stays logged in across a reload, logs out."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ui_login, wait_ready

pytestmark = pytest.mark.browser


def test_login_overview_reload_logout(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    wait_ready(page)
    # Nothing of any agency before a login.
    assert (
        "Integrationsagentur Essen"
        not in page.locator("section.main, [data-testid='stMain']").inner_text()
    )

    ui_login(page, live_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht – Integrationsagentur Essen")).wait_for()
    wait_ready(page)
    assert "Teilziele" in page.content()

    page.reload()
    wait_ready(page)
    page.get_by_role("heading", name=re.compile("Übersicht – Integrationsagentur Essen")).wait_for()

    page.get_by_role("link", name="Konto").click()
    wait_ready(page)
    page.get_by_role("button", name="Abmelden", exact=True).click()
    page.get_by_role("heading", name="Anmelden").wait_for()
    page.reload()
    wait_ready(page)
    page.get_by_role("heading", name="Anmelden").wait_for()


def test_wrong_password_is_refused(page, live_server):  # type: ignore[no-untyped-def]
    ui_login(page, live_server, "fk-essen", "falsches-Passwort-123")
    page.get_by_text("Benutzername oder Passwort ist falsch.").wait_for()
    assert page.get_by_role("heading", name="Anmelden").is_visible()
    assert "Übersicht" not in page.get_by_role("heading").all_inner_texts()
