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
    st.page_link("pages/my_shifts.py", label="Zu „Meine Einsätze“", icon="🙋")
else:
    preview = None
    with guard(), inst().db.read() as s:
        preview = shifts.scan_preview(s, inst().keys, who, token, now())
    if preview is not None:
        with st.container(border=True):
            st.markdown(f"**{md(preview.role)}** · {md(preview.title)}")
            st.caption(
                f"{fmt_weekday_date(preview.starts_at)}, {fmt_time(preview.starts_at)}–"
                f"{fmt_time(preview.ends_at)} Uhr · {md(preview.place)}"
            )
            if preview.checked_in_at is not None:
                st.write(f"🟢 Eingecheckt seit {fmt_time(preview.checked_in_at)} Uhr")
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
    st.page_link("pages/my_shifts.py", label="Zu „Meine Einsätze“", icon="🙋")
