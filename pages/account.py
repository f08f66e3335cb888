"""Konto: who am I, change my password, log out (here or everywhere)."""

from __future__ import annotations

import streamlit as st

from ia_events.accounts import users
from pages._ui import actor, guard, inst, redirect, writing

ROLE_LABELS = {
    "specialist": "Fachkraft",
    "volunteer": "Ehrenamtliche*r",
    "coordinator": "Koordination",
    "admin": "Administration",
}

who = actor()
st.title("Konto")
# The display name is typed by people: shown as plain text, never as Markdown.
st.text(f"{who.label} · Benutzername {who.name} · Rolle: {ROLE_LABELS.get(who.role, who.role)}")

with st.form("account_password", clear_on_submit=True):
    st.subheader("Passwort ändern")
    old = st.text_input("Bisheriges Passwort", type="password")
    new = st.text_input("Neues Passwort (mindestens 12 Zeichen)", type="password")
    repeat = st.text_input("Neues Passwort wiederholen", type="password")
    if st.form_submit_button("Passwort ändern"):
        if new != repeat:
            st.error("Die beiden neuen Passwörter stimmen nicht überein.")
        else:
            with guard(), writing() as s:
                users.change_own_password(
                    s, who, inst().settings, old, new, keep_token=st.session_state.get("auth_token")
                )
                st.success(
                    "Das Passwort wurde geändert. Alle anderen Anmeldungen dieses Kontos "
                    "(andere Geräte und Browser) sind beendet."
                )

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
