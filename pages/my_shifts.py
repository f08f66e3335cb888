"""Meine Einsätze (volunteer, phone first): own shifts, check in/out, open shifts to take.

Shows only the volunteer's own shifts and their agency's open ones (no other
volunteers' names). Every button is one service call in one transaction.
"""

from __future__ import annotations

import streamlit as st

from ia_events.core.messages import fmt_hours, fmt_time, fmt_weekday_date
from ia_events.volunteers import shifts
from pages._ui import actor, guard, inst, md, now, writing

who = actor()
st.title("Meine Einsätze")
flash = st.session_state.pop("ms_flash", None)
if flash:
    st.success(flash)


def _act(label: str, fn, *args) -> None:  # type: ignore[no-untyped-def]
    done = False
    with guard():
        with writing() as s:
            fn(s, who, *args, now())
        done = True  # committed; st.rerun() inside the block would roll it back
    if done:
        st.session_state["ms_flash"] = label
        st.rerun()


def _when(view: shifts.ShiftView) -> str:
    return (
        f"{fmt_weekday_date(view.starts_at)}, {fmt_time(view.starts_at)}–{fmt_time(view.ends_at)}"
    )


home = None
with guard(), inst().db.read() as s:
    home = shifts.volunteer_home(s, who, now())

if home is not None:
    current = now()
    st.subheader("Meine nächsten Einsätze")
    if not home.mine:
        st.info("Sie haben gerade keine Einsätze. Unten finden Sie offene Einsätze.")
    for m in home.mine:
        v = m.shift
        with st.container(border=True):
            st.markdown(f"**{md(v.role)}** · {md(v.activity_title)}")
            st.caption(f"{_when(v)} · {md(v.place)}")
            if m.overlaps and not v.cancelled:
                st.warning(
                    "Dieser Einsatz überschneidet sich mit einem anderen Ihrer Einsätze "
                    "(vielleicht bei einer anderen Integrationsagentur). Bitte melden Sie sich "
                    "bei einem der beiden ab."
                )
            if v.cancelled:
                st.warning("Der Termin ist abgesagt.")
            elif m.status == "no_show":
                st.caption("Als „nicht erschienen“ vermerkt.")
            elif m.checked_out_at is not None:
                st.write(
                    f"✅ Erledigt: {fmt_time(m.checked_in_at)}–{fmt_time(m.checked_out_at)} Uhr "
                    f"· {fmt_hours(m.hours)} Std."
                )
            elif m.checked_in_at is not None:
                st.write(f"🟢 Eingecheckt seit {fmt_time(m.checked_in_at)} Uhr")
            can_in = m.can_check_in(current) and not v.cancelled
            if can_in and st.button("Einchecken", key=f"ms_in_{m.assignment_id}", type="primary"):
                _act("Sie sind eingecheckt. Danke!", shifts.check_in, m.assignment_id)
            can_out = not can_in and m.can_check_out(current)
            if can_out and st.button("Auschecken", key=f"ms_out_{m.assignment_id}", type="primary"):
                _act("Sie sind ausgecheckt. Danke für Ihren Einsatz!", shifts.check_out,
                     m.assignment_id)  # fmt: skip
            can_leave = m.checked_in_at is None and m.status in shifts.ACTIVE
            if (
                can_leave
                and v.starts_at > current
                and st.button("Abmelden", key=f"ms_withdraw_{m.assignment_id}")
            ):
                _act("Sie sind von diesem Einsatz abgemeldet.", shifts.withdraw, m.assignment_id)

    st.subheader("Offene Einsätze Ihrer Agentur")
    if not home.open:
        st.info("Im Moment sind keine Einsätze offen.")
    for v in home.open:
        with st.container(border=True):
            st.markdown(f"**{md(v.role)}** · {md(v.activity_title)}")
            st.caption(f"{_when(v)} · {md(v.place)}")
            places = "1 Platz frei" if v.open_slots == 1 else f"{v.open_slots} Plätze frei"
            needs = f" · Voraussetzung: {md(v.required_labels)}" if v.required else ""
            st.write(places + needs)
            if st.button("Eintragen", key=f"ms_signup_{v.id}", type="primary"):
                _act(f"Sie sind für „{md(v.role)}“ eingetragen.", shifts.sign_up, v.id)
