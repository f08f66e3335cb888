"""Helpers for tests (not fixtures): logging in through the real AppTest form."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest


def demo_password(data_dir: Path | str | None = None) -> str:
    """The password of the demo accounts in ``data_dir`` (default: the data dir the
    app under test serves, ``$IA_EVENTS_DATA``). Every demo load draws its own and
    keeps it, for the operator, in ``demo-logins.txt`` (0600) in the data dir."""
    from ia_events.demo.loader import read_demo_password

    folder = Path(data_dir if data_dir is not None else os.environ["IA_EVENTS_DATA"])
    password = read_demo_password(folder)
    assert password, f"no demo password in {folder}"
    return password


def login(
    at: AppTest, username: str, password: str | None = None, *, follow: bool = True
) -> AppTest:
    """Fill the login form and submit (without ``password``: the demo accounts'
    password); with ``follow`` run once more, as the browser does after a login."""
    if password is None:
        password = demo_password()
    at.run()
    fields = {t.label: t for t in at.text_input}
    fields["Benutzername"].input(username)
    fields["Passwort"].input(password)
    next(b for b in at.button if b.label == "Anmelden").click().run()
    return at.run() if follow else at


def texts(at: AppTest) -> str:
    """Everything visible as text on the page, for assertions on what a user reads."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "success",
        "info",
        "warning",
        "error",
        "text",
    ):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)
