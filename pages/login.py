"""Anmelden -- and, on a fresh installation, the first start.

Shows nothing of any agency before a login. On a fresh installation (no
account yet) it explains how to create the first admin and offers the demo.
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from ia_events.accounts import users
from ia_events.core.installation import is_demo
from ia_events.demo import loader
from pages._ui import demo_banner, guard, inst, redirect, sso_configured

LOGIN_COOKIE = "ia_login"  # ia_events.web.routes.LOGIN_COOKIE, set by /auth/prepare


def _first_start() -> None:
    st.title("Willkommen bei ia-events")
    st.write(
        "Diese Installation ist neu: Es gibt noch kein Konto. Sie können die Demodaten "
        "laden, um alles mit erfundenen Beispieldaten auszuprobieren, oder das erste "
        "Administrator-Konto anlegen."
    )
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.subheader("Ausprobieren")
        st.write(
            "13 Integrationsagenturen mit erfundenen Personen, Aufgabenplanungen, "
            "Angeboten und Terminen. Zum Laden brauchen Sie den Einrichtungs-Code "
            "(rechts erklärt); das Passwort der Demo-Konten wird danach einmal angezeigt."
        )
        with st.form("login_load_demo_form"):
            demo_code = st.text_input("Einrichtungs-Code", key="login_demo_code")
            if st.form_submit_button("Demodaten laden", type="primary"):
                with guard(), st.spinner("Demodaten werden geladen …"):
                    summary = loader.load_with_setup_code(inst(), demo_code)
                    st.session_state["login_demo_password"] = summary.password
                    st.rerun()
    with right, st.container(border=True):
        st.subheader("Erstes Administrator-Konto")
        # Printed on the server console and kept in a 0600 file, never shown here.
        users.ensure_setup_token(inst())
        st.write(
            "Den Einrichtungs-Code hat der Server beim Start in der Konsole ausgegeben; "
            f"er steht auch in der Datei `{users.setup_token_path(inst().settings)}`. "
            "Alternativ auf dem Server: `ia-events user add NAME --role admin`."
        )
        with st.form("login_first_admin"):
            code = st.text_input("Einrichtungs-Code")
            username = st.text_input("Benutzername", placeholder="z. B. admin")
            name = st.text_input("Anzeigename", placeholder="z. B. Maria Muster")
            pw = st.text_input("Passwort (mindestens 12 Zeichen)", type="password")
            if st.form_submit_button("Konto anlegen"):
                with guard():
                    users.create_first_admin(inst(), code, username, pw, name)
                    st.success("Das Konto ist angelegt. Bitte melden Sie sich jetzt an.")
                    st.rerun()


def _demo_hint() -> None:
    """The demo logins; their password only once, right after this browser loaded them."""
    with st.expander("Demo-Zugänge (erfundene Daten)", expanded=True):
        password = st.session_state.pop("login_demo_password", None)
        if password:
            st.write("Passwort für alle Demo-Konten (wird nur dieses eine Mal angezeigt):")
            st.code(password, language=None)
        else:
            st.write(
                "Das Passwort der Demo-Konten wurde beim Laden einmal angezeigt; auf dem "
                "Server steht es in der Datei `demo-logins.txt` im Datenordner."
            )
        rows = [{"Benutzername": u, "Rolle": label} for u, label in loader.DEMO_USERS]
        st.dataframe(rows, hide_index=True, width="stretch", height=230)


def _ensure_login_cookie() -> str | None:
    """The browser's login cookie, which binds the hand-off code to this browser.
    A browser without it is sent once to ``/auth/prepare`` (and straight back)."""
    binding = st.context.cookies.get(LOGIN_COOKIE)
    if not binding and st.query_params.get("bound") != "1":
        redirect("/auth/prepare?next=", append_here=True)
    return binding or None


def render() -> None:
    installation = inst()
    # Bind the browser first, also on the first-start screen: the redirect starts a new
    # session, and the demo password (kept in this session only) must survive to be shown.
    binding = _ensure_login_cookie()
    if not users.has_users(installation):
        _first_start()
        return
    with installation.db.read() as s:
        demo_mode = is_demo(s)
    if demo_mode:
        demo_banner()
    st.title("Anmelden")
    st.caption("ia-events – Angebote, Teilnahme und Nachweise der Integrationsagenturen")
    if st.session_state.pop("login_logged_out", False):
        st.info("Sie sind abgemeldet.")
    col, side = st.columns([1, 1])
    with col, st.form("login_form"):
        username = st.text_input("Benutzername", autocomplete="username")
        password = st.text_input("Passwort", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Anmelden", type="primary")
    if submitted:
        with guard():
            login = users.login(installation, username, password)
            st.session_state["auth_token"] = login.token
            st.success("Willkommen! Einen Moment …")
            if binding is None:  # no login cookie (cookies refused): this tab only
                st.rerun()
            code = users.create_handoff(installation, login.token, binding)
            # The browser fetches an HttpOnly cookie, so a reload keeps the login.
            pending = st.session_state.get("volunteer_checkin_token")
            after = ""
            if pending and login.actor.role == "volunteer":  # back to the scanned QR link
                after = "&next=" + quote(f"/volunteer_checkin?t={quote(pending)}", safe="")
            redirect(f"/auth/session?code={code}{after}")
    if sso_configured():
        with col:
            st.button("Mit Single Sign-On anmelden", on_click=st.login)
    if demo_mode:
        with side:
            _demo_hint()
