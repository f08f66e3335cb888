"""Meine Einsätze (volunteer, phone first): own shifts, check in/out, open shifts to take.

Upcoming shifts come first (soonest first), finished ones under "Erledigt" (most
recent first; the rule is ``shifts.split_mine``). Open shifts can be narrowed by
activity, dates and task (``shifts.ShiftFilter``). "Mein Kalender" offers the own
shifts as an .ics file and as a calendar subscription (``volunteers.feed``).

Shows only the volunteer's own shifts and their agency's open ones (no other
volunteers' names). Every button is one service call in one transaction.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from ia_events.core.messages import fmt_hours, fmt_time, fmt_weekday_date
from ia_events.volunteers import feed, shifts
from pages._ui import actor, base_url, commit, guard, inst, md, now


def _when(view: shifts.ShiftView) -> str:
    return (
        f"{fmt_weekday_date(view.starts_at)}, {fmt_time(view.starts_at)}–{fmt_time(view.ends_at)}"
    )


def _mine(who, m: shifts.MyShift, current) -> None:  # type: ignore[no-untyped-def]
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
                f":material/check_circle: Erledigt: {fmt_time(m.checked_in_at)}–"
                f"{fmt_time(m.checked_out_at)} Uhr · {fmt_hours(m.hours)} Std."
            )
        elif m.checked_in_at is not None:
            st.write(f":material/login: Eingecheckt seit {fmt_time(m.checked_in_at)} Uhr")
        aid = m.assignment_id
        can_in = m.can_check_in(current) and not v.cancelled
        if can_in and st.button("Einchecken", key=f"ms_in_{aid}", type="primary"):
            commit(lambda s: shifts.check_in(s, who, aid, now()), "Sie sind eingecheckt. Danke!")
        can_out = not can_in and m.can_check_out(current)
        if can_out and st.button("Auschecken", key=f"ms_out_{aid}", type="primary"):
            commit(
                lambda s: shifts.check_out(s, who, aid, now()),
                "Sie sind ausgecheckt. Danke für Ihren Einsatz!",
            )
        can_leave = m.checked_in_at is None and m.status in shifts.ACTIVE
        if can_leave and v.starts_at > current and st.button("Abmelden", key=f"ms_withdraw_{aid}"):
            commit(
                lambda s: shifts.withdraw(s, who, aid, now()),
                "Sie sind von diesem Einsatz abgemeldet.",
            )


def _done(m: shifts.MyShift) -> None:
    v = m.shift
    if v.cancelled:
        state = "abgesagt"
    elif m.status == "no_show":
        state = "nicht erschienen"
    elif m.checked_out_at is not None or m.hours:
        state = f"{fmt_hours(m.hours)} Std."
    else:
        state = "ohne Check-in"
    st.markdown(f"**{md(v.role)}** · {md(v.activity_title)}")
    st.caption(f"{_when(v)} · {md(v.place)} · {state}")


def _filter(choices: shifts.OpenShiftChoices) -> shifts.ShiftFilter:
    with st.expander("Einsätze filtern", icon=":material/filter_list:"):
        titles = dict(choices.activities)
        activity = st.selectbox(
            "Angebot",
            [None, *titles],
            format_func=lambda a: "Alle Angebote" if a is None else titles[a],
            key="ms_f_activity",
        )
        role = st.selectbox(
            "Aufgabe",
            [None, *choices.roles],
            format_func=lambda r: "Alle Aufgaben" if r is None else r,
            key="ms_f_role",
        )
        c1, c2 = st.columns(2)
        since: date | None = c1.date_input("Von", value=None, format="DD.MM.YYYY", key="ms_f_from")  # type: ignore[assignment]
        until: date | None = c2.date_input("Bis", value=None, format="DD.MM.YYYY", key="ms_f_to")  # type: ignore[assignment]
    return shifts.ShiftFilter(activity, since, until, role)


def _open(who, home: shifts.VolunteerHome) -> None:  # type: ignore[no-untyped-def]
    st.subheader("Offene Einsätze Ihrer Agentur", anchor="offene-einsaetze")
    if not home.open:
        st.info("Im Moment sind keine Einsätze offen.")
        return
    where = _filter(shifts.open_shift_choices(home.open))
    shown: list[shifts.ShiftView] | None = home.open
    if where != shifts.ShiftFilter():
        shown = None
        with guard(), inst().db.read() as s:
            shown = shifts.open_shifts(s, who, now(), where=where)
        if shown is None:
            return
        if shown:
            st.caption(
                "1 passender Einsatz" if len(shown) == 1 else f"{len(shown)} passende Einsätze"
            )
    if not shown:
        st.info("Keine offenen Einsätze passen zum Filter.")
    for v in shown:
        with st.container(border=True):
            st.markdown(f"**{md(v.role)}** · {md(v.activity_title)}")
            st.caption(f"{_when(v)} · {md(v.place)}")
            places = "1 Platz frei" if v.open_slots == 1 else f"{v.open_slots} Plätze frei"
            needs = f" · Voraussetzung: {md(v.required_labels)}" if v.required else ""
            st.write(places + needs)
            if st.button("Eintragen", key=f"ms_signup_{v.id}", type="primary"):
                commit(
                    lambda s, sid=v.id: shifts.sign_up(s, who, sid, now()),
                    f"Sie sind für „{md(v.role)}“ eingetragen.",
                )


def _calendar(who) -> None:  # type: ignore[no-untyped-def]
    st.subheader("Mein Kalender")
    st.caption(
        "Ihre Einsätze im Kalender Ihres Handys: einmal als Datei oder als Abo, das sich "
        "selbst aktualisiert. Das Abo zeigt nur Ihre eigenen Einsätze."
    )
    body = url = None
    with guard(), inst().db.read() as s:
        body = feed.my_calendar(s, who, now())
        url = feed.my_feed_url(s, inst().keys, who, base_url())
    if body is not None:
        st.download_button(
            "Einsätze als Kalenderdatei (.ics)",
            body,
            file_name="meine-einsaetze.ics",
            mime="text/calendar",
            icon=":material/calendar_month:",
            key="ms_ics",
        )
    if url is None:
        if st.button("Kalender-Abo einrichten", key="ms_feed_on"):
            base = base_url()
            commit(
                lambda s: feed.create_my_feed(s, inst().keys, who, base, now()),
                "Ihr Kalender-Abo ist eingerichtet.",
            )
        return
    st.write("Diese Adresse in Ihrer Kalender-App abonnieren (nicht weitergeben):")
    st.code(url, language=None, wrap_lines=True)
    if st.button("Kalender-Abo beenden", key="ms_feed_off"):
        commit(
            lambda s: feed.revoke_my_feed(s, inst().keys, who, now()),
            "Ihr Kalender-Abo ist beendet; die Adresse funktioniert nicht mehr.",
        )


def render() -> None:
    who = actor()
    st.title("Meine Einsätze")
    home = None
    with guard(), inst().db.read() as s:
        home = shifts.volunteer_home(s, who, now())
    if home is None:
        return
    current = now()
    st.subheader("Meine nächsten Einsätze")
    if not home.upcoming:
        st.info("Sie haben gerade keine anstehenden Einsätze. Unten finden Sie offene Einsätze.")
    for m in home.upcoming:
        _mine(who, m, current)
    if home.done:
        with st.expander(f"Erledigt ({len(home.done)})", icon=":material/task_alt:"):
            for m in home.done:
                _done(m)
    _open(who, home)
    _calendar(who)


render()
