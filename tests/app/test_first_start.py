"""AppTest: the start page of a fresh server. Loading the demo needs the setup code
(anyone could reach the page), and the demo password is shown once, to that browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ia_events.accounts import users
from ia_events.core.installation import Installation, initialise, reset_shared
from ia_events.core.messages import text
from tests.conftest import ROOT, make_settings, point_app_at
from tests.support import login, texts


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    inst, _ = initialise(make_settings(tmp_path / "data"))
    point_app_at(inst, monkeypatch)
    yield inst
    reset_shared()
    inst.close()


def _start(inst: Installation):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()


def _load_demo(at, code: str):  # type: ignore[no-untyped-def]
    next(t for t in at.text_input if t.key == "login_demo_code").input(code)
    # Loading the whole demo takes a while on a busy machine.
    return next(b for b in at.button if b.label == "Demodaten laden").click().run(timeout=300)


def test_an_anonymous_visitor_cannot_load_the_demo(fresh: Installation) -> None:
    at = _start(fresh)
    assert at.title[0].value == "Willkommen bei ia-events"
    at = _load_demo(at, "")
    assert text("setup_token_invalid") in [e.value for e in at.error]
    at = _load_demo(at, "123456-123456-123456-123456")
    assert text("setup_token_invalid") in [e.value for e in at.error]
    assert not users.has_users(fresh)


def test_with_the_setup_code_the_demo_loads_and_its_password_is_shown_once(
    fresh: Installation,
) -> None:
    code = users.ensure_setup_token(fresh)
    at = _load_demo(_start(fresh), code)
    assert not at.exception
    assert users.has_users(fresh)
    shown = [c.value for c in at.code]
    from ia_events.demo.loader import read_demo_password

    password = read_demo_password(fresh.settings.data_dir)
    assert shown == [password]
    assert "Demo-Installation" in texts(at)
    # Once: the next visit of the page shows no password.
    again = _start(fresh)
    assert [c.value for c in again.code] == []
    assert password not in texts(again)
    at = login(again, "admin", password)
    assert not at.exception and at.title[0].value != "Anmelden"
