"""Helpers for tests (not fixtures): logging in through the real AppTest form."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

DEMO_PASSWORD = "Demo-Passwort-2026"


def login(
    at: AppTest, username: str, password: str = DEMO_PASSWORD, *, follow: bool = True
) -> AppTest:
    """Fill the login form and submit; with ``follow`` run once more, as the browser
    does after a successful login."""
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
