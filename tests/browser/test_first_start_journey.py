"""A new installation in a real browser: the first-start screen, the setup code, the
first administrator, the login.

The browser must be bound (login cookie) before anything is entered on the first-start
screen: the binding is a redirect that starts a new Streamlit session, and what this
session holds -- the demo accounts' one-time password after "Demodaten laden" -- would be
lost with it (a new user saw "wurde beim Laden einmal angezeigt" without ever seeing it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import free_port, start_server, wait_http, wait_ready

pytestmark = pytest.mark.browser


@pytest.fixture
def empty_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    # An empty data folder (its own SQLite file): the first start sets it up itself.
    proc = start_server(data, port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        yield f"http://127.0.0.1:{port}", data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_first_start_binds_the_browser_then_creates_the_first_admin(page, empty_server):  # type: ignore[no-untyped-def]
    base, data = empty_server
    page.goto(base + "/")
    page.get_by_role("heading", name="Willkommen bei ia-events").wait_for(timeout=60_000)
    wait_ready(page)
    # Bound before the user typed anything: the cookie is set and no redirect follows.
    assert any(c["name"] == "ia_login" for c in page.context.cookies()), page.url
    page.wait_for_timeout(1_000)
    page.get_by_role("heading", name="Willkommen bei ia-events").wait_for()

    code = (data / "setup-token.txt").read_text().strip()
    form = page.locator('[data-testid="stForm"]').filter(has_text="Konto anlegen")
    form.get_by_label("Einrichtungs-Code").fill(code)
    form.get_by_label("Benutzername").fill("admin")
    form.get_by_label("Anzeigename").fill("Maria Muster")
    form.get_by_label("Passwort (mindestens 12 Zeichen)").fill("ein-langes-passwort-42")
    form.get_by_role("button", name="Konto anlegen").click()
    page.get_by_role("heading", name="Anmelden").wait_for(timeout=60_000)
    wait_ready(page)
    page.get_by_label("Benutzername").fill("admin")
    page.get_by_label("Passwort", exact=True).fill("ein-langes-passwort-42")
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_role("link", name="Konto").wait_for(timeout=60_000)
