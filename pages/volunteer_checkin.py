"""Check-in (volunteer, url_path ``volunteer_checkin``): the volunteer QR flow.

``GET /checkin?t=<token>`` sends volunteer tokens here. The token is copied
from ``st.query_params`` into the session on the first run (query params are
cleared on page changes, and the login in between must not lose it; the
login page carries it on through the cookie hand-off as ``next``). The
volunteer sees what the scan will do -- check in to, or out of, their shift
at that occurrence -- and confirms with one tap, so that reloading the page
never checks anyone in or out by itself.
"""

from __future__ import annotations

import streamlit as st

from ia_events.core.messages import fmt_hours, fmt_time, fmt_weekday_date
from ia_events.volunteers import shifts
from pages._ui import actor, guard, inst, md, now, writing

TOKEN_KEY = "volunteer_checkin_token"


def _preview_and_confirm(who, token: str) -> None:  # type: ignore[no-untyped-def]
    preview = None
    with guard(), inst().db.read() as s:
        preview = shifts.scan_preview(s, inst().keys, who, token, now())
    if preview is None:
        return
    with st.container(border=True):
        st.markdown(f"**{md(preview.role)}** · {md(preview.title)}")
        st.caption(
            f"{fmt_weekday_date(preview.starts_at)}, {fmt_time(preview.starts_at)}–"
            f"{fmt_time(preview.ends_at)} Uhr · {md(preview.place)}"
        )
        if preview.checked_in_at is not None:
            st.write(f":material/login: Eingecheckt seit {fmt_time(preview.checked_in_at)} Uhr")
    label = "Jetzt einchecken" if preview.action == "check_in" else "Jetzt auschecken"
    if st.button(label, type="primary", key="vc_confirm", width="stretch"):
        outcome = None
        with guard(), writing() as s:
            outcome = shifts.scan_token(s, inst().keys, who, token, now())
        if outcome is not None:  # committed: only now rerun (inside it would roll back)
            if outcome.action == "checked_in":
                st.session_state["vc_flash"] = (
                    f"Eingecheckt um {fmt_time(outcome.at)} Uhr. Schön, dass Sie da sind!"
                )
            else:
                st.session_state["vc_flash"] = (
                    f"Ausgecheckt um {fmt_time(outcome.at)} Uhr · "
                    f"{fmt_hours(outcome.hours)} Std. Danke für Ihren Einsatz!"
                )
            st.rerun()


def _offer(who, token: str, at: shifts.AtToken) -> None:  # type: ignore[no-untyped-def]
    """Not on a shift here: offer the free ones (one tap), or say that all are taken."""
    st.markdown(f"**{md(at.title)}** · {md(at.place)}")
    if not at.can_sign_up:
        st.warning(
            "Sie sind für diesen Termin nicht eingeteilt, und alle Einsätze hier sind schon "
            "besetzt. Andere offene Einsätze finden Sie unter „Meine Einsätze“.",
            icon=":material/event_busy:",
        )
        st.page_link(
            "pages/my_shifts.py", label="Offene Einsätze ansehen", icon=":material/search:"
        )
        return
    st.info(
        "Sie sind für diesen Termin noch nicht eingeteilt. Hier ist noch Platz:",
        icon=":material/person_add:",
    )
    for v in at.offers:
        with st.container(border=True):
            st.markdown(f"**{md(v.role)}**")
            places = "1 Platz frei" if v.open_slots == 1 else f"{v.open_slots} Plätze frei"
            needs = f" · Voraussetzung: {md(v.required_labels)}" if v.required else ""
            st.caption(f"{fmt_time(v.starts_at)}–{fmt_time(v.ends_at)} Uhr · {places}{needs}")
            if st.button(
                "Für diese Schicht eintragen",
                key=f"vc_signup_{v.id}",
                type="primary",
                width="stretch",
            ):
                done = None
                with guard(), writing() as s:
                    done = shifts.sign_up_at_token(s, inst().keys, who, token, v.id, now())
                if done is not None:  # committed: only now rerun
                    st.session_state["vc_flash"] = (
                        f"Sie sind für „{md(v.role)}“ eingetragen. Jetzt können Sie einchecken."
                    )
                    st.rerun()


def render() -> None:
    who = actor()
    if st.query_params.get("t"):
        st.session_state[TOKEN_KEY] = st.query_params["t"]
    token = st.session_state.get(TOKEN_KEY)

    st.title("Check-in für Ihren Einsatz")
    flash = st.session_state.pop("vc_flash", None)
    if flash:
        st.success(flash)

    if not token:
        st.info(
            "Scannen Sie den Ehrenamts-QR-Code am Eingang mit der Kamera Ihres Handys. "
            "Sie können auch unter „Meine Einsätze“ direkt ein- und auschecken."
        )
    else:
        at = None
        with guard(), inst().db.read() as s:
            at = shifts.open_at_token(s, inst().keys, who, token, now())
        if at is not None and at.assigned:
            _preview_and_confirm(who, token)
        elif at is not None:
            _offer(who, token, at)
    st.page_link("pages/my_shifts.py", label="Zu „Meine Einsätze“", icon=":material/event:")


render()
