"""The Netzwerk page's tabs for work that is not an event: Sitzungen (with the Protokoll),
Prozesse & Beratung (opening processes, anonymous counselling counts) and Verleih.

Rules live in ``ia_events.network.meetings`` and ``ia_events.network.processes``; typed
text is shown with ``st.text``/tables, never as Markdown.
"""

from __future__ import annotations

from datetime import date, time

import streamlit as st

from ia_events.core.access import Actor, Permission, can
from ia_events.core.messages import berlin, fmt_date, fmt_time
from ia_events.network import meetings, processes
from ia_events.network.meetings import MEETING_KINDS, REQUIRED_KIND, REQUIRED_WORKING_GROUPS
from ia_events.network.partners import PartnerView
from ia_events.network.processes import (
    COUNSELLING_OUTCOMES,
    DISCRIMINATION_KINDS,
    PROCESS_STATUSES,
)
from pages import _funding
from pages._ui import commit, flash, guard, inst, now, rows_height, upload_limit_mb

REPEAT = {"einmalig": (0, 0), "wöchentlich": (1, 0), "monatlich": (0, 1)}
MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]


def _picked(event: object) -> int | None:
    rows = list(getattr(getattr(event, "selection", None), "rows", None) or [])
    return rows[0] if rows else None


def _names(ids: list[int], names: dict[int, str]) -> str:
    return ", ".join(names.get(i, f"Partner {i}") for i in ids)


# -- Sitzungen --------------------------------------------------------------------------


def meetings_tab(
    who: Actor,
    slug: str,
    year: int,
    partners: list[PartnerView],
    goals: dict[int, str],
) -> None:
    with guard(), inst().db.read() as s:
        rows = meetings.list_meetings(s, who, slug, year)
    names = {p.id: p.name for p in partners}
    current = now()
    held = sum(
        1 for m in rows if m.kind == REQUIRED_KIND and not m.cancelled and m.starts_at <= current
    )
    st.metric(f"Facharbeitskreise {year} durchgeführt (mindestens {REQUIRED_WORKING_GROUPS})", held)
    if held < REQUIRED_WORKING_GROUPS:
        st.warning(
            f"Es fehlen noch {REQUIRED_WORKING_GROUPS - held} Facharbeitskreise für {year}.",
            icon=":material/groups:",
        )
    if not rows:
        st.info("Noch keine Sitzungen in diesem Förderjahr.")
    else:
        event = st.dataframe(
            [
                {
                    "Datum": fmt_date(berlin(m.starts_at)),
                    "Zeit": f"{fmt_time(m.starts_at)}–{fmt_time(m.ends_at)}",
                    "Art": m.kind,
                    "Titel": m.title,
                    "Organisationen": _names(m.partner_ids, names),
                    "Protokoll": "ja" if m.minutes_evidence_ids else "–",
                    "Status": "abgesagt" if m.cancelled else "",
                }
                for m in rows
            ],
            hide_index=True,
            width="stretch",
            height=rows_height(len(rows)),
            key="net_meetings",
            on_select="rerun",
            selection_mode="single-row",
        )
        st.caption("Ein Klick auf eine Zeile öffnet die Sitzung.")
        picked = _picked(event)
        if picked is not None and picked < len(rows):
            _meeting_details(who, rows[picked], names, goals)
    if can(who, Permission.plan_edit):
        _meeting_form(who, slug, year, partners, goals)


def _meeting_details(
    who: Actor, m: meetings.MeetingView, names: dict[int, str], goals: dict[int, str]
) -> None:
    with st.container(border=True):
        st.subheader(f"{m.kind} am {fmt_date(berlin(m.starts_at))}")
        st.text(m.title)
        if m.place:
            st.text(f"Ort: {m.place}")
        st.text(f"Anwesende Organisationen: {_names(m.partner_ids, names) or '–'}")
        st.text(
            "Teilziele: " + (", ".join(goals.get(g, f"Teilziel {g}") for g in m.subgoal_ids) or "–")
        )
        st.markdown("**Tagesordnung**")
        st.text(m.agenda or "–")
        st.markdown("**Ergebnisse und Beschlüsse**")
        st.text(m.decisions or "–")
        st.markdown("**Protokoll**")
        st.text(", ".join(f"Nachweis Nr. {e}" for e in m.minutes_evidence_ids) or "noch keines")
        if m.cancelled:
            st.caption("Die Sitzung ist abgesagt.")
            return
        if can(who, Permission.evidence_add):
            with st.form(f"net_minutes_{m.id}", clear_on_submit=True):
                upload = st.file_uploader(
                    "Protokoll hochladen (PDF, Bild)",
                    key=f"net_minutes_file_{m.id}",
                    max_upload_size=upload_limit_mb(),
                )
                go = st.form_submit_button("Protokoll archivieren", type="primary")
            if go:
                with guard():
                    if upload is None:
                        st.error("Bitte eine Datei auswählen.")
                    else:
                        view = meetings.attach_minutes(
                            inst(), who, m.id, upload.name, upload.getvalue()
                        )
                        flash(f"Protokoll als Nachweis Nr. {view.id} archiviert.")
                        st.rerun()
        if can(who, Permission.plan_edit) and st.button(
            "Sitzung absagen", key=f"net_cancel_{m.id}"
        ):
            commit(lambda s: meetings.cancel_meeting(s, who, m.id), "Sitzung abgesagt.")


def _meeting_form(
    who: Actor, slug: str, year: int, partners: list[PartnerView], goals: dict[int, str]
) -> None:
    st.subheader("Sitzung eintragen")
    names = {p.id: p.name for p in partners if not p.archived}
    with st.form("net_meeting_add", clear_on_submit=True):
        c1, c2 = st.columns(2)
        kind = c1.selectbox("Art", MEETING_KINDS, index=MEETING_KINDS.index(REQUIRED_KIND))
        title = c2.text_input("Titel", max_chars=200, key="net_m_title")
        c1, c2, c3 = st.columns(3)
        default_day = min(berlin(now()).date(), date(year, 12, 31))
        if default_day.year != year:
            default_day = date(year, 1, 1)
        on = c1.date_input("Datum", value=default_day, format="DD.MM.YYYY", key="net_m_on")
        start = c2.time_input("Beginn", value=time(10), key="net_m_start")
        end = c3.time_input("Ende", value=time(12), key="net_m_end")
        place = st.text_input("Ort (optional)", max_chars=200, key="net_m_place")
        present = st.multiselect(
            "Anwesende Organisationen", list(names), format_func=names.get, key="net_m_partners"
        )
        linked = st.multiselect(
            "Teilziele (optional)", list(goals), format_func=goals.get, key="net_m_goals"
        )
        agenda = st.text_area("Tagesordnung", max_chars=5000, key="net_m_agenda")
        decisions = st.text_area("Ergebnisse und Beschlüsse", max_chars=5000, key="net_m_dec")
        c1, c2, c3 = st.columns(3)
        repeat = c1.selectbox("Wiederholung", list(REPEAT), key="net_m_repeat")
        every = c2.number_input("alle … Wochen/Monate", 1, 12, 1, key="net_m_every")
        until = c3.date_input(
            "bis (bei Serien)", value=date(year, 12, 31), format="DD.MM.YYYY", key="net_m_until"
        )
        submitted = st.form_submit_button("Sitzung speichern", type="primary")
    if submitted:
        weeks, months = REPEAT[repeat]
        commit(
            lambda s: meetings.create_meeting(
                s,
                who,
                agency_slug=slug,
                kind=kind,
                title=title,
                on=on,
                start=start,
                end=end,
                place=place,
                agenda=agenda,
                decisions=decisions,
                partner_ids=present,
                subgoal_ids=linked,
                every_weeks=weeks * int(every),
                every_months=months * int(every),
                until=until if weeks or months else None,
            ),
            "Sitzung gespeichert.",
        )


# -- Prozesse & Beratung ----------------------------------------------------------------


def processes_tab(
    who: Actor,
    slug: str,
    year: int,
    partners: list[PartnerView],
    goals: dict[int, str],
) -> None:
    names = {p.id: p.name for p in partners}
    editing = can(who, Permission.plan_edit)
    with guard(), inst().db.read() as s:
        procs = processes.list_processes(s, who, slug, year)
        counts = processes.list_counselling(s, who, slug, year)
    st.subheader("Öffnungsprozesse (IKÖ)")
    if not procs:
        st.info("Keine Öffnungsprozesse in diesem Förderjahr.")
    else:
        event = st.dataframe(
            [
                {
                    "Beginn": fmt_date(p.started_on),
                    "Organisation": names.get(p.partner_id, f"Partner {p.partner_id}"),
                    "Titel": p.title,
                    "Stand": p.status,
                    "Kontakte": len(p.contacts),
                    "Letzter Kontakt": fmt_date(p.contacts[-1].on) if p.contacts else "–",
                }
                for p in procs
            ],
            hide_index=True,
            width="stretch",
            key="net_procs",
            on_select="rerun",
            selection_mode="single-row",
        )
        picked = _picked(event)
        if picked is not None and picked < len(procs):
            _process_details(who, procs[picked], editing)
    if editing:
        active = {p.id: p.name for p in partners if not p.archived}
        with st.expander("Öffnungsprozess beginnen"), st.form("net_proc_add", clear_on_submit=True):
            partner = st.selectbox(
                "Organisation", list(active), format_func=active.get, key="net_p_partner"
            )
            title = st.text_input("Titel", max_chars=200, key="net_p_title")
            started = st.date_input("Beginn", format="DD.MM.YYYY", key="net_p_start")
            linked = st.multiselect(
                "Teilziele (optional)", list(goals), format_func=goals.get, key="net_p_goals"
            )
            if st.form_submit_button("Prozess speichern", type="primary"):
                commit(
                    lambda s: processes.create_process(
                        s,
                        who,
                        agency_slug=slug,
                        partner_id=int(partner or 0),
                        title=title,
                        started_on=started,
                        subgoal_ids=linked,
                    ),
                    "Öffnungsprozess gespeichert.",
                )
    _counselling(who, slug, year, counts, goals, editing)


def _process_details(who: Actor, p: processes.ProcessView, editing: bool) -> None:
    with st.container(border=True):
        st.text(p.title)
        st.text(f"Stand: {p.status}")
        if p.outcome:
            st.text(f"Ergebnis: {p.outcome}")
        st.dataframe(
            [{"Datum": fmt_date(c.on), "Notiz": c.note} for c in p.contacts],
            hide_index=True,
            width="stretch",
        )
        st.markdown("**Finanzierung des Prozesses**")
        _funding.process_funding(who, p.id)  # issue 19 (5): funding per measure
        if not editing:
            return
        with st.form(f"net_contact_{p.id}", clear_on_submit=True):
            on = st.date_input("Kontakt am", format="DD.MM.YYYY", key=f"net_c_on_{p.id}")
            note = st.text_input(
                "Kurze Notiz zur Arbeit (keine Angaben zu Personen)",
                max_chars=500,
                key=f"net_c_note_{p.id}",
            )
            if st.form_submit_button("Kontakt eintragen"):
                commit(
                    lambda s: processes.add_contact(s, who, p.id, on=on, note=note),
                    "Kontakt eingetragen.",
                )
        with st.form(f"net_status_{p.id}"):
            status = st.selectbox(
                "Stand",
                PROCESS_STATUSES,
                index=PROCESS_STATUSES.index(p.status),
                key=f"net_s_{p.id}",
            )
            outcome = st.text_area("Ergebnis", value=p.outcome, max_chars=2000, key=f"net_o_{p.id}")
            if st.form_submit_button("Stand speichern"):
                commit(
                    lambda s: processes.set_status(s, who, p.id, status=status, outcome=outcome),
                    "Stand gespeichert.",
                )


def _counselling(
    who: Actor,
    slug: str,
    year: int,
    counts: list[processes.CountView],
    goals: dict[int, str],
    editing: bool,
) -> None:
    st.subheader("Antidiskriminierungsberatung")
    st.caption(
        "Nur anonyme Fallzahlen nach Diskriminierungsmerkmal und Ergebnis – keine Namen, "
        "keine Angaben zu Personen."
    )
    table = processes.counselling_table(counts)
    st.dataframe(
        [{"Merkmal": kind, **row, "Summe": sum(row.values())} for kind, row in table.items()],
        hide_index=True,
        width="stretch",
        key="net_counts",
    )
    st.caption(f"Beratungsfälle {year} insgesamt: {sum(c.cases for c in counts)}")
    if not editing:
        return
    with st.form("net_count_add", clear_on_submit=True):
        c1, c2 = st.columns(2)
        month = c1.selectbox(
            "Monat", list(range(1, 13)), format_func=lambda m: MONTHS[m - 1], key="net_k_month"
        )
        cases = c2.number_input("Fälle", 1, processes.MAX_CASES, 1, key="net_k_cases")
        kind = st.selectbox("Diskriminierungsmerkmal", DISCRIMINATION_KINDS, key="net_k_kind")
        outcome = st.selectbox("Ergebnis", COUNSELLING_OUTCOMES, key="net_k_outcome")
        options: list[int | None] = [None, *goals]
        goal = st.selectbox(
            "Teilziel (optional)",
            options,
            format_func=lambda g: "–" if g is None else goals[g],
            key="net_k_goal",
        )
        if st.form_submit_button("Fälle erfassen", type="primary"):
            commit(
                lambda s: processes.add_counselling(
                    s,
                    who,
                    agency_slug=slug,
                    year=year,
                    month=int(month),
                    discrimination=kind,
                    outcome=outcome,
                    cases=int(cases),
                    subgoal_id=goal,
                ),
                "Beratungsfälle erfasst.",
            )
    if counts:
        with st.expander("Falschen Eintrag löschen"):
            labels = {
                c.id: f"{MONTHS[c.period.month - 1]}: {c.cases} × {c.discrimination}, {c.outcome}"
                for c in counts
            }
            wrong = st.selectbox("Eintrag", list(labels), format_func=labels.get, key="net_k_del")
            if st.button("Eintrag löschen", key="net_k_del_go") and wrong is not None:
                commit(lambda s: processes.delete_counselling(s, who, wrong), "Eintrag gelöscht.")


# -- Verleih ----------------------------------------------------------------------------


def lending_tab(who: Actor, slug: str, year: int, partners: list[PartnerView]) -> None:
    names = {p.id: p.name for p in partners}
    with guard(), inst().db.read() as s:
        rows = processes.list_lendings(s, who, slug, year)
    today = berlin(now()).date()
    if not rows:
        st.info("Kein Material verliehen.")
    else:
        st.dataframe(
            [
                {
                    "Material": r.item,
                    "An": names.get(r.partner_id, f"Partner {r.partner_id}"),
                    "Verliehen am": fmt_date(r.lent_on),
                    "Zurück bis": fmt_date(r.due_on),
                    "Zurück am": fmt_date(r.returned_on) if r.returned_on else "–",
                    "Status": "überfällig" if r.overdue(today) else "",
                }
                for r in rows
            ],
            hide_index=True,
            width="stretch",
            key="net_lendings",
        )
    if not can(who, Permission.plan_edit):
        return
    active = {p.id: p.name for p in partners if not p.archived}
    with st.form("net_lend", clear_on_submit=True):
        st.markdown("**Material verleihen**")
        item = st.text_input("Material", max_chars=200, key="net_l_item")
        partner = st.selectbox("An", list(active), format_func=active.get, key="net_l_partner")
        c1, c2 = st.columns(2)
        lent_on = c1.date_input("Verliehen am", format="DD.MM.YYYY", key="net_l_on")
        due_on = c2.date_input("Zurück bis", format="DD.MM.YYYY", key="net_l_due")
        if st.form_submit_button("Verleih speichern", type="primary"):
            commit(
                lambda s: processes.lend(
                    s,
                    who,
                    agency_slug=slug,
                    item=item,
                    partner_id=int(partner or 0),
                    lent_on=lent_on,
                    due_on=due_on,
                ),
                "Verleih gespeichert.",
            )
    out = {r.id: f"{r.item} ({names.get(r.partner_id, '')})" for r in rows if not r.returned_on}
    if out:
        with st.form("net_return"):
            which = st.selectbox("Zurückgegeben", list(out), format_func=out.get, key="net_r_which")
            on = st.date_input("Zurück am", format="DD.MM.YYYY", key="net_r_on")
            if st.form_submit_button("Rückgabe speichern") and which is not None:
                commit(
                    lambda s: processes.mark_returned(s, who, which, on=on),
                    "Rückgabe gespeichert.",
                )
