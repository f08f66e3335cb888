"""Audit-Log: the hash-chained record of every change, newest first, in German sentences
(the stable codes and details only under "Details")."""

from __future__ import annotations

import streamlit as st

from ia_events.core import audit
from ia_events.core.messages import audit_label, fmt_datetime, fmt_number, object_label
from pages._ui import actor, guard, inst, rows_height

# The filter: what a reader looks for, as the action codes begin.
AREAS = {
    "": "Alle Aktionen",
    "user:": "Konten und Anmeldungen",
    "evidence:": "Nachweise",
    "plan:": "Aufgabenplanung",
    "analysis:": "Sozialraumanalyse",
    "report:": "Sachbericht",
    "activity:": "Angebote",
    "occurrence:": "Termine",
    "attendance:": "Teilnahmen",
    "checkin:": "Check-in",
    "volunteer:": "Ehrenamt",
    "shift:": "Einsätze",
    "deadline:": "Fristen",
    "retention:": "Aufbewahrung und Löschung",
    "system:": "System",
    "bundle:": "Prüfpakete",
}
PAGE = 50


def render() -> None:
    who = actor()
    st.title("Audit-Log")
    st.caption(
        "Jede Änderung, jeder Abruf eines Nachweises, jede Anmeldung – unveränderlich "
        "verkettet. Einträge enthalten nur Kennungen und Prüfsummen, keine "
        "personenbezogenen Werte."
    )
    prefix = st.selectbox("Bereich", list(AREAS), format_func=AREAS.get, key="audit_area")
    before = st.session_state.get("audit_before")
    with guard(stop=True), inst().db.read() as s:
        events = audit.list_events(s, who, action_prefix=prefix, limit=PAGE, before_seq=before)
    if not events:
        st.info("Keine Einträge.")
    rows = [
        {
            "Nr.": fmt_number(e.seq),
            "Zeit": fmt_datetime(e.at),
            "Wer": e.actor,
            "Was": audit_label(e.action),
            "Betrifft": object_label(e.object_type, e.object_id),
        }
        for e in events
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        height=rows_height(len(rows)),
        column_config={"Was": st.column_config.TextColumn(width="large")},
    )
    if events:
        with st.expander("Details (Codes und Angaben je Eintrag)"):
            st.dataframe(
                [
                    {
                        "Nr.": e.seq,
                        "Code": e.action,
                        "Objekt": f"{e.object_type} {e.object_id or ''}".strip(),
                        "Angaben": ", ".join(f"{k}={v}" for k, v in e.details.items()),
                    }
                    for e in events
                ],
                hide_index=True,
                width="stretch",
                height="content",
            )
    left, right = st.columns(2)
    if before is not None and left.button("Neueste anzeigen", key="audit_newest"):
        st.session_state.pop("audit_before", None)
        st.rerun()
    if len(events) == PAGE and right.button("Ältere anzeigen", key="audit_older"):
        st.session_state["audit_before"] = events[-1].seq
        st.rerun()


render()
