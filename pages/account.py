"""Konto: who am I, e-mail notifications, change my password, log out (here or everywhere)."""

from __future__ import annotations

import streamlit as st

from ia_events.accounts import users
from ia_events.core.access import Actor
from ia_events.notify import prefs
from ia_events.notify.kinds import kinds_for
from pages._ui import actor, commit, guard, inst, redirect

ROLE_LABELS = {
    "specialist": "Fachkraft",
    "volunteer": "Ehrenamtliche*r",
    "coordinator": "Koordination",
    "admin": "Administration",
}


def render() -> None:
    who = actor()
    st.title("Konto")
    # The display name is typed by people: shown as plain text, never as Markdown.
    st.text(f"{who.label} · Benutzername {who.name} · Rolle: {ROLE_LABELS.get(who.role, who.role)}")
    _notifications(who)
    _password(who)
    _logout()


def _notifications(who: Actor) -> None:
    if who.user_id is None or not kinds_for(str(who.role)):
        return
    st.subheader("Benachrichtigungen per E-Mail")
    current = None
    with guard(), inst().db.read() as s:
        current = prefs.get_preferences(s, inst().keys, who)
    if current is None:
        return
    st.caption(
        "Die Adresse nutzen wir nur für diese Benachrichtigungen; ohne Adresse senden wir "
        "nichts. Jede E-Mail enthält einen Link zum Abbestellen."
    )
    with st.form("account_notify"):
        email = st.text_input(
            "E-Mail-Adresse für Benachrichtigungen",
            value=current.email,
            placeholder="name@beispiel.de",
        )
        chosen = [
            kind.code
            for kind in current.available
            if st.checkbox(
                kind.label, value=kind.code in current.enabled, key=f"account_notify_{kind.code}"
            )
        ]
        hour = current.reminder_hour
        if any(k.code == "shift_reminder" for k in current.available):
            hour = st.number_input(
                "Erinnerung am Vortag ab (Uhr)",
                min_value=0,
                max_value=23,
                value=current.reminder_hour,
                step=1,
            )
        if st.form_submit_button("Benachrichtigungen speichern"):
            commit(
                lambda s: prefs.set_preferences(
                    s, inst().keys, who, email=email, enabled=chosen, reminder_hour=int(hour)
                ),
                "Ihre Einstellungen sind gespeichert.",
            )


def _password(who: Actor) -> None:
    with st.form("account_password", clear_on_submit=True):
        st.subheader("Passwort ändern")
        old = st.text_input("Bisheriges Passwort", type="password")
        new = st.text_input("Neues Passwort (mindestens 12 Zeichen)", type="password")
        repeat = st.text_input("Neues Passwort wiederholen", type="password")
        if st.form_submit_button("Passwort ändern"):
            if new != repeat:
                st.error("Die beiden neuen Passwörter stimmen nicht überein.")
            else:
                token = st.session_state.get("auth_token")
                commit(
                    lambda s: users.change_own_password(
                        s, who, inst().settings, old, new, keep_token=token
                    ),
                    "Das Passwort wurde geändert. Alle anderen Anmeldungen dieses Kontos "
                    "(andere Geräte und Browser) sind beendet.",
                )


def _logout() -> None:
    st.subheader("Abmelden")
    left, right = st.columns(2)
    logout = left.button("Abmelden", type="primary", key="account_logout")
    everywhere = right.button("Auf allen Geräten abmelden", key="account_logout_all")
    if logout or everywhere:
        with guard():
            users.logout(inst(), st.session_state.get("auth_token"), everywhere=everywhere)
        for key in ("auth_token", "actor"):
            st.session_state.pop(key, None)
        st.session_state["login_logged_out"] = True
        st.info("Sie sind abgemeldet.")
        redirect("/auth/logout")


render()
