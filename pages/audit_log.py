"""Audit-Log: the hash-chained record of every change, newest first."""

from __future__ import annotations

import streamlit as st

from ia_events.core import audit
from ia_events.core.messages import fmt_datetime
from pages._ui import actor, guard, inst

who = actor()
st.title("Audit-Log")
st.caption(
    "Jede Änderung, jeder Abruf eines Nachweises, jede Anmeldung – unveränderlich verkettet. "
    "Einträge enthalten nur Kennungen und Prüfsummen, keine personenbezogenen Werte."
)

prefix = st.text_input(
    "Aktion beginnt mit", placeholder="z. B. user: oder evidence:", key="audit_prefix"
)
before = st.session_state.get("audit_before")
with guard(stop=True), inst().db.read() as s:
    events = audit.list_events(s, who, action_prefix=prefix.strip(), limit=50, before_seq=before)
st.dataframe(
    [
        {
            "Nr.": e.seq,
            "Zeit": fmt_datetime(e.at),
            "Wer": e.actor,
            "Aktion": e.action,
            "Objekt": f"{e.object_type} {e.object_id or ''}".strip(),
            "Details": ", ".join(f"{k}={v}" for k, v in e.details.items()),
        }
        for e in events
    ],
    hide_index=True,
    width="stretch",
)
left, right = st.columns(2)
if before is not None and left.button("Neueste anzeigen", key="audit_newest"):
    st.session_state.pop("audit_before", None)
    st.rerun()
if len(events) == 50 and right.button("Ältere anzeigen", key="audit_older"):
    st.session_state["audit_before"] = events[-1].seq
    st.rerun()
