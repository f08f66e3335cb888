"""Real-browser fixtures: ``streamlit run`` on a free port, Debian's Chromium via Playwright.

- ``live_server``  the app serving ``demo_dir`` (a private copy of the demo installation
                   on ``IA_EVENTS_TEST_DB``, in ``tmp_path / "data"``); yields its base URL.
                   For tests that need a demo nobody else touched (absolute counts, a
                   list sealed, a shift taken) and for those that kill the server.
- ``shared_server`` one ``streamlit run`` per test process (pytest-xdist worker) on one
                   demo copy, shared by the tests that only read or whose writes no other
                   sharer's assertions see (relative counts, their own new records): a
                   server start and a demo copy once instead of per test. Each test still
                   logs in itself in a fresh browser context, and must pass in any order.
                   ``served_data_dir(base)`` is its data dir.
- ``browser``      one headless Chromium per test session (``/usr/bin/chromium``)
- ``page``         a fresh context and page per test (desktop size)
- ``phone``        a fresh phone-sized context and page per test
- ``wait_ready(page)`` waits until Streamlit finished its script run
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_demo, database_url, skip_or_fail
from tests.support import demo_password

CHROMIUM = os.environ.get("IA_EVENTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser

# base URL -> data dir of each server started here, so a test can log in with
# that installation's demo password (random per demo load, see demo_password()).
_SERVED: dict[str, Path] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    data_dir: Path, port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IA_EVENTS_DATA": str(data_dir),
        "IA_EVENTS_BASE_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    if "IA_EVENTS_DATABASE_URL" not in (extra_env or {}):
        # The database that belongs to the data dir: a PostgreSQL copy of the demo
        # (IA_EVENTS_TEST_DB=postgres) or else the SQLite file inside it.
        url = database_url(data_dir)
        if url:
            env["IA_EVENTS_DATABASE_URL"] = url
        else:
            env.pop("IA_EVENTS_DATABASE_URL", None)
    _SERVED[f"http://127.0.0.1:{port}"] = Path(data_dir)
    log = open(data_dir.parent / f"streamlit-{port}.log", "wb")  # noqa: SIM115 - lives with the server
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "streamlit_app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")


@pytest.fixture
def live_server(demo_dir: Path) -> Iterator[str]:
    yield from _serve(demo_dir)


@pytest.fixture(scope="session")
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data = copy_demo(request, tmp_path_factory.mktemp("shared-server") / "data")
    yield from _serve(data)


def _serve(data_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = start_server(data_dir, port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def served_data_dir(base: str) -> Path:
    """The data dir the server at ``base`` serves (open it with ``make_settings``)."""
    return _SERVED[base.rstrip("/")]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        skip_or_fail("BROWSER", f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("BROWSER", "playwright is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="de-DE", timezone_id="Europe/Berlin"
    )
    p = ctx.new_page()
    p.set_default_timeout(20_000)
    yield p
    ctx.close()


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="de-DE",
        timezone_id="Europe/Berlin",
    )
    p = ctx.new_page()
    p.set_default_timeout(20_000)
    yield p
    ctx.close()


def wait_ready(page, timeout: float = 20_000) -> None:  # type: ignore[no-untyped-def]
    """Streamlit is connected and its script run has finished."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout
    )
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_timeout(150)
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout)


def served_demo_password(base: str) -> str:
    """The demo accounts' password of the installation the server at ``base`` serves."""
    return demo_password(served_data_dir(base))


def ui_login(page, base: str, username: str, password: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Log in through the form; without ``password`` with the demo accounts' password."""
    password = password if password is not None else served_demo_password(base)
    page.goto(base + "/")
    wait_ready(page)
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort", exact=True).fill(password)
    page.get_by_role("button", name="Anmelden").click()


def pick_option(page, box, name: str, attempts: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Choose ``name`` in the select ``box`` (a Streamlit selectbox's combobox) and
    check that the box shows it.

    Under load the list does not always stay open: a click now and then only focuses
    the box, or a late re-render closes the list while the option is being clicked.
    So: open it (click, else ArrowDown), click the option, check, and try again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    option = page.get_by_role("option", name=name, exact=True)
    for _ in range(attempts):
        try:
            if not option.is_visible():
                box.click()
            try:
                option.wait_for(timeout=3_000)
            except PlaywrightTimeout:
                box.press("ArrowDown")
            option.click(timeout=5_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        try:
            expect_value(box, name)
            return
        except AssertionError:
            continue
    expect_value(box, name)


def expect_value(box, value: str, timeout: float = 3_000) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    expect(box).to_have_value(value, timeout=timeout)
