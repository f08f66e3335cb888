"""Benutzer (admin): create, deactivate/reactivate, reset a password."""

from __future__ import annotations

import streamlit as st

from ia_events.accounts import agencies
from ia_events.accounts import users as accounts
from ia_events.core.messages import fmt_datetime
from pages._ui import actor, guard, inst, md, writing

ROLES = {
    "specialist": "Fachkraft",
    "volunteer": "Ehrenamtliche*r",
    "coordinator": "Koordination",
    "admin": "Administration",
}

who = actor()
st.title("Benutzer")

with guard(stop=True), inst().db.read() as s:
    users = accounts.list_users(s, who)
    agency_list = agencies.list_agencies(s, who)

st.dataframe(
    [
        {
            "Benutzername": u.username,
            "Name": u.display_name,
            "Rolle": ROLES.get(u.role, u.role),
            "Agentur": u.agency_slug or "–",
            "Status": "gesperrt" if u.locked else ("aktiv" if u.active else "deaktiviert"),
            "Letzte Anmeldung": fmt_datetime(u.last_login_at) if u.last_login_at else "–",
        }
        for u in users
    ],
    hide_index=True,
    width="stretch",
)

with st.expander("Neues Konto anlegen"), st.form("users_add", clear_on_submit=True):
    username = st.text_input("Benutzername")
    display = st.text_input("Anzeigename")
    role = st.selectbox("Rolle", list(ROLES), format_func=ROLES.__getitem__)
    slugs = {a.slug: a.name for a in agency_list}
    agency = st.selectbox(
        "Integrationsagentur (für Fachkräfte und Ehrenamtliche)",
        [None, *slugs],
        format_func=lambda x: "–" if x is None else slugs[x],
    )
    password = st.text_input("Vorläufiges Passwort (mindestens 12 Zeichen)", type="password")
    if st.form_submit_button("Konto anlegen", type="primary"):
        with guard(), writing() as s:
            accounts.add_user(
                s,
                who,
                inst().settings,
                username=username,
                password=password,
                role=role,
                agency_slug=agency,
                display_name=display,
                must_change_password=True,
            )
            st.success(
                f"Konto „{md(username)}“ angelegt. Beim ersten Anmelden ändert die Person "
                "ihr Passwort."
            )

names = {u.id: f"{u.username} ({u.display_name})" for u in users}
if names:
    st.subheader("Konto bearbeiten")
    chosen = st.selectbox("Konto", list(names), format_func=names.__getitem__, key="users_pick")
    current = next(u for u in users if u.id == chosen)
    left, right = st.columns(2)
    with left:
        if current.active:
            if st.button("Deaktivieren", key="users_deactivate"):
                with guard(), writing() as s:
                    accounts.set_active(s, who, chosen, False)
                    st.success("Deaktiviert; alle Sitzungen des Kontos sind beendet.")
                    st.rerun()
        elif st.button("Wieder aktivieren", key="users_activate"):
            with guard(), writing() as s:
                accounts.set_active(s, who, chosen, True)
                st.rerun()
    with right, st.form("users_reset", clear_on_submit=True):
        pw = st.text_input("Neues vorläufiges Passwort", type="password")
        if st.form_submit_button("Passwort zurücksetzen"):
            with guard(), writing() as s:
                accounts.reset_password(s, who, inst().settings, chosen, pw)
                st.success(
                    "Zurückgesetzt; die Sperre ist aufgehoben. Beim nächsten Anmelden "
                    "muss die Person ein eigenes Passwort vergeben."
                )
