"""Benutzer (admin): create, deactivate/reactivate, reset a password."""

from __future__ import annotations

import streamlit as st

from ia_events.accounts import agencies
from ia_events.accounts import users as accounts
from ia_events.accounts.users import UserView
from ia_events.core.access import Actor
from ia_events.core.messages import fmt_datetime
from pages._ui import actor, commit, guard, inst, md

ROLES = {
    "specialist": "Fachkraft",
    "volunteer": "Ehrenamtliche*r",
    "coordinator": "Koordination",
    "admin": "Administration",
}


def render() -> None:
    who = actor()
    st.title("Benutzer")
    with guard(stop=True), inst().db.read() as s:
        users = accounts.list_users(s, who)
        agency_list = agencies.list_agencies(s, who)
    _table(users)
    _add_form(who, {a.slug: a.name for a in agency_list})
    if users:
        _edit(who, users)


def _table(users: list[UserView]) -> None:
    """All accounts, every row visible; clicking a row opens it under "Konto bearbeiten"."""
    rows = [
        {
            "Benutzername": u.username,
            "Name": u.display_name,
            "Rolle": ROLES.get(u.role, u.role),
            "Agentur": u.agency_slug or "–",
            "Status": "gesperrt" if u.locked else ("aktiv" if u.active else "deaktiviert"),
            "Letzte Anmeldung": fmt_datetime(u.last_login_at) if u.last_login_at else "–",
        }
        for u in users
    ]
    event = st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        height=38 + 35 * max(len(rows), 1),
        on_select="rerun",
        selection_mode="single-row",
        key="users_table",
    )
    picked = event.selection.rows if event is not None else []
    if picked and st.session_state.get("users_table_last") != picked[0]:
        st.session_state["users_table_last"] = picked[0]
        st.session_state["users_pick"] = users[picked[0]].id
    st.caption("Klicken Sie auf eine Zeile, um das Konto zu bearbeiten.")


def _add_form(who: Actor, slugs: dict[str, str]) -> None:
    with st.expander("Neues Konto anlegen"), st.form("users_add", clear_on_submit=True):
        username = st.text_input("Benutzername")
        display = st.text_input("Anzeigename")
        role = st.selectbox("Rolle", list(ROLES), format_func=ROLES.__getitem__)
        agency = st.selectbox(
            "Integrationsagentur (für Fachkräfte und Ehrenamtliche)",
            [None, *slugs],
            format_func=lambda x: "–" if x is None else slugs[x],
        )
        password = st.text_input("Vorläufiges Passwort (mindestens 12 Zeichen)", type="password")
        if st.form_submit_button("Konto anlegen", type="primary"):
            commit(
                lambda s: accounts.add_user(
                    s,
                    who,
                    inst().settings,
                    username=username,
                    password=password,
                    role=role,
                    agency_slug=agency,
                    display_name=display,
                    must_change_password=True,
                ),
                f"Konto „{md(username)}“ angelegt. Beim ersten Anmelden ändert die Person "
                "ihr Passwort.",
            )


def _edit(who: Actor, users: list[UserView]) -> None:
    names = {u.id: f"{u.username} ({u.display_name})" for u in users}
    st.subheader("Konto bearbeiten")
    if st.session_state.get("users_pick") not in names:
        st.session_state.pop("users_pick", None)
    chosen = st.selectbox("Konto", list(names), format_func=names.__getitem__, key="users_pick")
    current = next(u for u in users if u.id == chosen)
    left, right = st.columns(2)
    with left:
        if current.active:
            if st.button("Deaktivieren", key="users_deactivate"):
                commit(
                    lambda s: accounts.set_active(s, who, chosen, False),
                    "Deaktiviert; alle Sitzungen des Kontos sind beendet.",
                )
        elif st.button("Wieder aktivieren", key="users_activate"):
            commit(lambda s: accounts.set_active(s, who, chosen, True), "Wieder aktiviert.")
    with right, st.form("users_reset", clear_on_submit=True):
        pw = st.text_input("Neues vorläufiges Passwort", type="password")
        if st.form_submit_button("Passwort zurücksetzen"):
            commit(
                lambda s: accounts.reset_password(s, who, inst().settings, chosen, pw),
                "Zurückgesetzt; die Sperre ist aufgehoben. Beim nächsten Anmelden "
                "muss die Person ein eigenes Passwort vergeben.",
            )


render()
