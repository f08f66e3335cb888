"""Netzwerk: the agency's cooperation partners and the activities they work on.

Tabs: Partner (the directory: add, contact persons, link to an activity, archive),
Sitzungen,
Prozesse & Beratung, Verleih (``pages._network_work``). Specialists keep their agency's;
the coordinator reads every agency's. Rules live in ``ia_events.network``.
"""

from __future__ import annotations

from functools import partial

import streamlit as st
from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission, can
from ia_events.network import partners
from ia_events.network.partners import PARTNER_TYPES, ContactView, PartnerView
from ia_events.planning import schedule
from ia_events.planning.schedule import ActivityView
from ia_events.reporting import progress
from pages import _funding
from pages import _network_work as work
from pages._ui import actor, agency_picker, commit, guard, inst, year_picker


def _table(rows: list[PartnerView], titles: dict[int, str], contacts: dict[int, int]) -> None:
    if not rows:
        st.info("Noch keine Partner eingetragen.")
        return
    st.dataframe(
        [
            {
                "Name": p.name,
                "Art": p.type,
                "Ort": p.place,
                "Kontaktpersonen": contacts.get(p.id, 0),
                "Angebote (Kooperationen)": ", ".join(
                    titles.get(a, f"Angebot {a}") for a in p.activity_ids
                ),
                "Status": "archiviert" if p.archived else "aktiv",
            }
            for p in rows
        ],
        hide_index=True,
        width="stretch",
    )


def _add_form(who: Actor, slug: str) -> None:
    st.subheader("Partner hinzufügen")
    with st.form("net_add", clear_on_submit=True):
        name = st.text_input("Name der Organisation", max_chars=200)
        kind = st.selectbox("Art", PARTNER_TYPES, key="net_add_type")
        place = st.text_input("Ort", max_chars=200)
        contact = st.text_input(
            "Name einer Kontaktperson (optional)",
            max_chars=200,
            help="Weitere Kontaktpersonen, Funktion, Telefon und E-Mail unter "
            "„Kontaktpersonen“. Wird verschlüsselt gespeichert.",
        )
        if st.form_submit_button("Partner speichern", type="primary"):
            commit(
                lambda s: partners.create_partner(
                    s,
                    inst().keys,
                    who,
                    agency_slug=slug,
                    name=name,
                    type=kind,
                    place=place,
                    contact=contact,
                ),
                "Partner gespeichert.",
            )


def _link_form(who: Actor, active: list[PartnerView], activities: list[ActivityView]) -> None:
    st.subheader("Mit einem Angebot verknüpfen")
    if not active or not activities:
        st.caption("Dafür braucht es einen aktiven Partner und ein Angebot im Förderjahr.")
        return
    names = {p.id: p.name for p in active}
    titles = {a.id: a.title for a in activities}
    with st.form("net_link"):
        partner_id = st.selectbox("Partner", list(names), format_func=names.get, key="net_link_p")
        activity_id = st.selectbox(
            "Angebot", list(titles), format_func=titles.get, key="net_link_a"
        )
        left, right = st.columns(2)
        link = left.form_submit_button("Verknüpfen", type="primary")
        unlink = right.form_submit_button("Verknüpfung lösen")
    if partner_id is None or activity_id is None:
        return
    if link:
        commit(
            lambda s: partners.link_partner(s, who, partner_id, activity_id),
            "Partner und Angebot verknüpft.",
        )
    elif unlink:
        commit(
            lambda s: partners.unlink_partner(s, who, partner_id, activity_id),
            "Verknüpfung gelöst.",
        )


CONTACT_HELP = (
    "Nur so viel wie nötig: ein Name – oder für ein Funktionspostfach ohne Person nur die "
    "E-Mail-Adresse oder Telefonnummer. Name, Telefon und E-Mail werden verschlüsselt "
    "gespeichert; die Funktion (z. B. „Leitung“) beschreibt eine Rolle, keine Person."
)


def _contact_fields(key: str, c: ContactView | None = None) -> tuple[str, str, str, str]:
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", value=c.name if c else "", max_chars=200, key=f"{key}_name")
    role = c2.text_input(
        "Funktion (optional)",
        value=c.role if c else "",
        max_chars=100,
        key=f"{key}_role",
        placeholder="z. B. Leitung, Integrationsbeauftragte",
    )
    c3, c4 = st.columns(2)
    phone = c3.text_input(
        "Telefon (optional)", value=c.phone if c else "", max_chars=40, key=f"{key}_phone"
    )
    email = c4.text_input(
        "E-Mail (optional)", value=c.email if c else "", max_chars=200, key=f"{key}_email"
    )
    return name, role, phone, email


def _contacts(who: Actor, active: list[PartnerView]) -> None:
    """The contact persons of one partner: listed (opened for the agency's own staff),
    added, changed, removed, marked as Multiplikator*in."""
    if not active:
        return
    st.subheader("Kontaktpersonen")
    names = {p.id: p.name for p in active}
    partner_id = st.selectbox("Partner", list(names), format_func=names.get, key="net_c_p")
    if partner_id is None:
        return
    contacts: list[ContactView] = []
    with guard(), inst().db.read() as s:
        contacts = partners.list_contacts(s, inst().keys, who, partner_id)
    if contacts:
        st.dataframe(
            [
                {
                    "Name": c.name,
                    "Funktion": c.role,
                    "Telefon": c.phone,
                    "E-Mail": c.email,
                    "Multiplikator*in": "ja" if c.multiplier else "",
                }
                for c in contacts
            ],
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("Für diesen Partner ist noch keine Kontaktperson eingetragen.")
    with st.form(f"net_c_add_{partner_id}", clear_on_submit=True):
        st.markdown("**Kontaktperson hinzufügen**")
        st.caption(CONTACT_HELP)
        name, role, phone, email = _contact_fields(f"net_c_add_{partner_id}")
        if st.form_submit_button("Kontaktperson speichern", type="primary"):
            commit(
                lambda s: partners.add_contact(
                    s, inst().keys, who, partner_id, name=name, role=role, phone=phone, email=email
                ),
                "Kontaktperson gespeichert.",
            )
    if not contacts:
        return
    with st.expander("Kontaktperson ändern oder entfernen"):
        labels = {c.id: c.label for c in contacts}
        pick = st.selectbox("Kontaktperson", list(labels), format_func=labels.get, key="net_c_pick")
        chosen = next((c for c in contacts if c.id == pick), None)
        if chosen is not None:
            with st.form(f"net_c_edit_{chosen.id}"):
                name, role, phone, email = _contact_fields(f"net_c_edit_{chosen.id}", chosen)
                left, right = st.columns(2)
                save = left.form_submit_button("Änderung speichern")
                remove = right.form_submit_button("Kontaktperson entfernen")
            if save:
                commit(
                    lambda s: partners.update_contact(
                        s, inst().keys, who, chosen.id, name=name, role=role, phone=phone,
                        email=email,
                    ),
                    "Kontaktperson geändert.",
                )  # fmt: skip
            elif remove:
                commit(
                    lambda s: partners.remove_contact(s, who, chosen.id),
                    "Kontaktperson entfernt; ihre Daten sind gelöscht.",
                )
    _funding.contact_marks(who, active[0].agency_id, contacts)


def _archive_form(who: Actor, active: list[PartnerView]) -> None:
    if not active:
        return
    with st.expander("Partner archivieren"):
        names = {p.id: p.name for p in active}
        partner_id = st.selectbox("Partner", list(names), format_func=names.get, key="net_arch_p")
        st.caption("Archivierte Partner bleiben mit ihren Kooperationen erhalten.")
        if st.button("Archivieren", key="net_arch"):
            commit(lambda s: partners.archive_partner(s, who, partner_id), "Partner archiviert.")


def _merge(s: Session, *, who: Actor, keep_id: int, drop_ids: list[int]) -> None:
    for drop_id in drop_ids:
        partners.merge_partners(s, inst().keys, who, keep_id, drop_id)


def _duplicates_form(who: Actor, slug: str) -> None:
    """Partners whose names look like one organisation; one click merges each group into
    its oldest record (links, meetings, processes, lendings and the mark move with it)."""
    with guard(stop=True), inst().db.read() as s:
        groups = partners.duplicate_groups(s, who, slug)
    if not groups:
        return
    with st.expander(f"Mögliche doppelte Einträge ({len(groups)})", icon=":material/merge:"):
        st.caption(
            "Diese Partner heißen fast gleich. Beim Zusammenführen bleibt der älteste Eintrag; "
            "Kooperationen, Kontaktpersonen, Sitzungen, Prozesse und Verleih der anderen gehen "
            "auf ihn über, "
            "die anderen werden archiviert."
        )
        for n, group in enumerate(groups):
            keep, *rest = group
            st.text(" · ".join(f"{p.name} ({p.place or p.type})" for p in group))
            if st.button(f"Zu „{keep.name}“ zusammenführen", key=f"net_merge_{n}"):
                drop = [p.id for p in rest]
                commit(partial(_merge, who=who, keep_id=keep.id, drop_ids=drop), "Zusammengeführt.")


def render() -> None:
    who = actor()
    st.title("Netzwerk")
    st.caption(
        "Kooperationspartner, Sitzungen im Netzwerk und Arbeit, die keine Veranstaltung ist "
        "(Öffnungsprozesse, Antidiskriminierungsberatung, Verleih). Alles zählt im "
        "Controlling und bei den Teilzielen."
    )
    slug = agency_picker(who, key="net_agency")
    if slug is None:
        st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
        return
    year = year_picker()
    tab_partners, tab_meetings, tab_processes, tab_lending = st.tabs(
        [
            ":material/handshake: Partner",
            ":material/groups: Sitzungen",
            ":material/route: Prozesse & Beratung",
            ":material/inventory_2: Verleih",
        ]
    )
    with tab_partners:
        show_archived = st.checkbox("Archivierte Partner zeigen", key="net_archived")
    with guard(stop=True), inst().db.read() as s:
        rows = partners.list_partners(s, who, slug, include_archived=show_archived)
        everyone = partners.list_partners(s, who, slug, include_archived=True)
        all_activities = schedule.list_activities(s, who, slug)
        goals = {g.id: g.title for g in progress.subgoal_progress(s, who, slug, year)}
        contact_counts = partners.contact_counts(s, who, slug)
    titles = {a.id: f"{a.title} ({a.funding_year})" for a in all_activities}
    with tab_partners:
        _table(rows, titles, contact_counts)
        if can(who, Permission.plan_edit):
            active = [p for p in rows if not p.archived]
            _add_form(who, slug)
            _contacts(who, active)  # issue 19 (1), (4): contact persons, Multiplikator*innen
            _link_form(who, active, [a for a in all_activities if a.funding_year == year])
            _archive_form(who, active)
            _duplicates_form(who, slug)
    with tab_meetings:
        work.meetings_tab(who, slug, year, everyone, goals)
    with tab_processes:
        work.processes_tab(who, slug, year, everyone, goals)
    with tab_lending:
        work.lending_tab(who, slug, year, everyone)


render()
