"""Every page of every role opens on the demo data without an error or a traceback."""

from __future__ import annotations

import pytest

from ia_events.core.messages import text
from ia_events.demo.loader import DEMO_USERS
from tests.conftest import ROOT
from tests.support import demo_password, login, texts

ROLE_USERS = {"admin": "admin", "coordinator": "koordination", "specialist": "fk-essen"}
volunteer_users = [u for u, _ in DEMO_USERS if u.startswith("ehrenamt-")]
if volunteer_users:
    ROLE_USERS["volunteer"] = volunteer_users[0]


def _page_files(role: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The page files the navigation offers this role (st.Page replaced by its path)."""
    import streamlit_app

    with monkeypatch.context() as m:
        m.setattr(streamlit_app.st, "Page", lambda page, **_: page)
        pages = [p for section in streamlit_app._pages_for(role).values() for p in section]
    files = [str(p) for p in pages if isinstance(p, str)]
    assert all((ROOT / f).exists() for f in files)
    return files


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_every_page_in_the_navigation_renders(app, role, monkeypatch):  # type: ignore[no-untyped-def]
    files = _page_files(role, monkeypatch)
    at = login(app, ROLE_USERS[role])
    assert not at.exception
    # The shell says "demo" above every page (AppTest's switch_page runs a page
    # without the shell, so it is checked here, on the shell's own run).
    assert "Demo-Installation" in texts(at)
    for page in files:
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {at.exception}"
        assert at.title, f"{page} shows no title"
        shown = texts(at)
        assert "Traceback" not in shown
        assert "unerwarteter Fehler" not in shown, f"{page}: {shown[-400:]}"


def test_nothing_of_any_agency_before_login(app):  # type: ignore[no-untyped-def]
    at = app.run()
    assert [t.value for t in at.title] == ["Anmelden"]
    shown = texts(at)
    assert "Integrationsagentur Essen" not in shown
    # Demo mode names the demo logins and says it is a demo, but shows no password:
    # that was shown once to whoever loaded the demo.
    assert "fk-essen" in str([df.value for df in at.dataframe])
    assert "Demo-Installation" in shown
    assert demo_password() not in shown and "Demo-Passwort-2026" not in shown


def test_wrong_password_is_refused_in_german(app):  # type: ignore[no-untyped-def]
    at = login(app, "fk-essen", "voellig-falsches-passwort", follow=False)
    assert [e.value for e in at.error] == [text("login_invalid")]
    assert text("login_invalid").startswith("Benutzername oder Passwort ist falsch")
    assert [t.value for t in at.title] == ["Anmelden"]


def test_specialist_overview_shows_today_and_subgoals(app):  # type: ignore[no-untyped-def]
    at = login(app, "fk-essen")
    assert at.title[0].value == "Übersicht – Integrationsagentur Essen"
    shown = texts(at)
    assert "Heute und in den nächsten 7 Tagen" in shown
    assert "Teilziele" in shown
    table = at.dataframe[0].value
    assert "Nähcafé" in set(table["Angebot"]) and "Heute" in set(table["Tag"])


def test_coordinator_sees_all_thirteen_agencies(app):  # type: ignore[no-untyped-def]
    at = login(app, "koordination")
    table = at.dataframe[0].value
    assert len(table) == 13


def test_logout_returns_to_the_login(app):  # type: ignore[no-untyped-def]
    at = login(app, "fk-essen")
    at.switch_page("pages/account.py").run()
    next(b for b in at.button if b.label == "Abmelden").click().run()
    assert "auth_token" not in at.session_state
    # The browser is sent to "/" (the cookie route); AppTest goes there by hand.
    at.switch_page("streamlit_app.py").run()
    assert [t.value for t in at.title] == ["Anmelden"]
    assert "Sie sind abgemeldet." in texts(at)


def test_admin_creates_an_account_and_the_person_can_log_in(app):  # type: ignore[no-untyped-def]
    at = login(app, "admin")
    at.switch_page("pages/users.py").run()
    fields = {t.label: t for t in at.text_input}
    fields["Benutzername"].input("neue-kollegin")
    fields["Anzeigename"].input("Neue Kollegin")
    fields["Vorläufiges Passwort (mindestens 12 Zeichen)"].input("ein-vorlaeufiges-pw")
    boxes = {b.label: b for b in at.selectbox}
    boxes["Integrationsagentur (für Fachkräfte und Ehrenamtliche)"].set_value("essen")
    next(b for b in at.button if b.label == "Konto anlegen").click().run()
    assert not at.exception
    assert any("angelegt" in s.value for s in at.success), texts(at)
    # The new colleague logs in with the temporary password and is asked to change it.
    fresh = type(app).from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at2 = login(fresh, "neue-kollegin", "ein-vorlaeufiges-pw")
    assert at2.title[0].value == "Konto"
    assert "Bitte vergeben Sie zuerst ein eigenes Passwort." in texts(at2)
    fields = {t.label: t for t in at2.text_input}
    fields["Bisheriges Passwort"].input("ein-vorlaeufiges-pw")
    fields["Neues Passwort (mindestens 12 Zeichen)"].input("mein-eigenes-langes-pw")
    fields["Neues Passwort wiederholen"].input("mein-eigenes-langes-pw")
    next(b for b in at2.button if b.label == "Passwort ändern").click().run()
    assert "Das Passwort wurde geändert." in texts(at2)
    at2.switch_page("streamlit_app.py").run()
    assert at2.title[0].value == "Übersicht – Integrationsagentur Essen"


def test_deactivating_an_account_survives_the_rerun(app, app_env):  # type: ignore[no-untyped-def]
    """A page that reruns right after a change must not lose the change."""
    from sqlalchemy import select

    from ia_events.core.models import User

    with app_env.db.read() as s:
        uid = s.scalar(select(User.id).where(User.username == "fk-kleve"))
    at = login(app, "admin")
    at.switch_page("pages/users.py").run()
    next(b for b in at.selectbox if b.label == "Konto").set_value(uid).run()
    next(b for b in at.button if b.label == "Deaktivieren").click().run()
    assert not at.exception
    with app_env.db.read() as s:
        assert s.scalar(select(User.active).where(User.id == uid)) is False
    table = at.dataframe[0].value
    assert table.loc[table["Benutzername"] == "fk-kleve", "Status"].item() == "deaktiviert"
