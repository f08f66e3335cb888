"""Angebote & Termine: calendar (week/month with Zurück/Heute/Weiter; a click on a date
opens it: door screen, evidence upload, change, cancel), new activity or series, edit,
cancel or delete a whole activity (pages/_activity_forms.py), edit/cancel single dates,
closure periods and calendar subscriptions."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from ia_events.attendance import sealing
from ia_events.core.access import Actor, Permission, can
from ia_events.core.messages import (
    berlin,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_month,
    fmt_time,
    fmt_weekday_date,
)
from ia_events.planning import calendar_feeds, plans, schedule
from ia_events.planning.recurrence import WEEKDAYS, local
from pages import _activity_forms
from pages._ui import actor, base_url, commit, guard, inst, md, now, style, writing


def _agency(who: Actor) -> str | None:
    with inst().db.read() as s:
        from ia_events.accounts import agencies

        rows = agencies.list_agencies(s, who)
    if who.agency_id is not None:
        own = [a for a in rows if a.id == who.agency_id]
        return own[0].slug if own else None
    names = {a.slug: a.name for a in rows}
    return st.selectbox("Integrationsagentur", list(names), format_func=names.get, key="act_agency")


# -- calendar ---------------------------------------------------------------------------------

# Titles wrap between words, never inside one ("Fahrradwerks-tatt"); a day is at least
# 10rem wide, so on a narrow screen the grid scrolls sideways instead of breaking words.
_CALENDAR_CSS = """
.st-key-act_cal { overflow-x: auto; }
.st-key-act_cal [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; }
.st-key-act_cal [data-testid="stColumn"] { min-width: 10rem; }
.st-key-act_cal button p {
  word-break: normal; overflow-wrap: normal; hyphens: manual; white-space: normal;
  text-align: left; font-size: 0.85rem; line-height: 1.25;
}
.st-key-act_cal button { justify-content: flex-start; padding: 0.1rem 0.2rem; min-height: 0; }
"""


def _today() -> date:
    return berlin(now()).date()


def _move(step: int) -> None:
    """Zurück (-1), Heute (0), Weiter (+1): a week or a month from the shown date."""
    ref = st.session_state.get("act_ref") or _today()
    if step == 0:
        new = _today()
    elif st.session_state.get("act_view", "Woche") == "Woche":
        new = ref + timedelta(weeks=step)
    else:
        month = ref.month - 1 + step
        new = date(ref.year + month // 12, month % 12 + 1, 1)
    st.session_state["act_ref"] = new


def _calendar(who: Actor, slug: str) -> None:
    if "act_ref" not in st.session_state:
        st.session_state["act_ref"] = _today()
    c1, c2, c3 = st.columns([2, 2, 3], vertical_alignment="bottom")
    view = c1.radio("Ansicht", ["Woche", "Monat"], horizontal=True, key="act_view")
    ref = c2.date_input("Datum", format="DD.MM.YYYY", key="act_ref")
    b1, b2, b3 = c3.columns(3)
    b1.button("Zurück", icon=":material/chevron_left:", key="act_prev", on_click=_move, args=(-1,))
    b2.button("Heute", key="act_today", on_click=_move, args=(0,))
    b3.button("Weiter", icon=":material/chevron_right:", key="act_next", on_click=_move, args=(1,))
    if view == "Woche":
        days = schedule.week_days(ref)
        weeks = [days]
        st.subheader(f"Woche vom {fmt_date(days[0])} bis {fmt_date(days[-1])}")
    else:
        weeks = schedule.month_grid(ref.year, ref.month)
        st.subheader(fmt_month(ref))
    start, end = schedule.range_bounds(weeks[0][0], weeks[-1][-1])
    with inst().db.read() as s:
        rows = plans.list_occurrences(s, who, agency_slug=slug, start=start, end=end)
    by_day: dict[date, list[plans.OccurrenceView]] = {}
    for o in rows:
        by_day.setdefault(berlin(o.starts_at).date(), []).append(o)
    style(_CALENDAR_CSS)
    today = _today()
    with st.container(key="act_cal"):
        for i, col in enumerate(st.columns(7)):
            col.markdown(f"**{WEEKDAYS[i][:2]}**")
        for week in weeks:
            for col, day in zip(st.columns(7), week, strict=True):
                box = col.container(border=True)
                other_month = view == "Monat" and day.month != ref.month
                label = f":gray[{day.day}.]" if other_month else f"{day.day}."
                box.markdown(f"**{label}**" + (" · :blue[heute]" if day == today else ""))
                for o in by_day.get(day, []):
                    line = f"{fmt_time(o.starts_at)} {md(o.title)}"
                    cancelled = o.status == "cancelled"
                    box.button(
                        f"~~{line}~~ (abgesagt)" if cancelled else line,
                        key=f"act_cal_{o.id}",
                        type="tertiary",
                        width="stretch",
                        help="Termin öffnen: Einlass, Nachweis, ändern, absagen",
                        on_click=_open,
                        args=(o.id,),
                    )
    st.caption(
        f"{fmt_count(len(rows), 'Termin')} im Zeitraum, abgesagte durchgestrichen. "
        "Ein Klick auf einen Termin öffnet ihn."
    )
    opened = st.session_state.get(_OPEN)
    if opened is not None:
        _occurrence_dialog(who, opened)


_OPEN = "act_open"  # the date whose dialog is open (until closed or acted on)


def _open(occ_id: int) -> None:
    st.session_state[_OPEN] = occ_id


def _close() -> None:
    st.session_state.pop(_OPEN, None)


def _done(action):  # type: ignore[no-untyped-def]
    """``action`` for ``commit``, closing the dialog when it succeeds."""

    def run(s):  # type: ignore[no-untyped-def]
        result = action(s)
        _close()
        return result

    return run


@st.dialog("Termin", width="large", on_dismiss=_close)
def _occurrence_dialog(who: Actor, occ_id: int) -> None:
    """One date: to the door screen, upload evidence for it, change it, cancel it."""
    o = None
    with guard(), inst().db.read() as s:
        o = plans.get_occurrence(s, who, occ_id)
    if o is None:  # gone meanwhile, or not this user's: the error is shown
        _close()
        return
    cancelled = o.status == "cancelled"
    st.markdown(f"**{md(o.title)}**")
    st.caption(
        f"{fmt_weekday_date(o.starts_at)}, {fmt_time(o.starts_at)}–{fmt_time(o.ends_at)} Uhr · "
        f"{md(o.place or 'ohne Ort')} · " + ("abgesagt" if cancelled else "geplant")
    )
    on_the_day = berlin(o.starts_at).date() == _today()
    c1, c2 = st.columns(2)
    if c1.button(
        "Einlass öffnen (Check-in)",
        icon=":material/qr_code_scanner:",
        key="act_dlg_door",
        disabled=cancelled or not on_the_day,
        help="Der Einlass ist am Tag des Termins geöffnet.",
        width="stretch",
    ):
        _close()
        st.session_state["door_occ"] = occ_id
        st.switch_page("pages/checkin_door.py", query_params={"occurrence": str(occ_id)})
    if can(who, Permission.evidence_add) and c2.button(
        "Nachweis hochladen",
        icon=":material/upload_file:",
        key="act_dlg_evidence",
        width="stretch",
    ):
        _close()
        st.session_state["ev_occurrence"] = occ_id
        st.switch_page("pages/evidence.py", query_params={"occurrence": str(occ_id)})
    if cancelled:
        st.info("Der Termin ist abgesagt.")
        return
    change, cancel = st.tabs(["Ändern", "Absagen"])
    with change, st.form("act_dlg_edit"):
        day = st.date_input("Datum", value=berlin(o.starts_at).date(), format="DD.MM.YYYY")
        c1, c2 = st.columns(2)
        s_t = c1.time_input("Beginn", value=berlin(o.starts_at).time(), step=900)
        e_t = c2.time_input("Ende", value=berlin(o.ends_at).time(), step=900)
        place = st.text_input("Ort", value=o.place, key="act_dlg_place")
        if st.form_submit_button("Termin ändern", type="primary", key="act_dlg_edit_go"):
            commit(
                _done(
                    lambda s: schedule.edit_occurrence(
                        s,
                        who,
                        occ_id,
                        starts_at=local(day, s_t),
                        ends_at=local(day, e_t),
                        place=place,
                        now=now(),
                    )
                ),
                "Der Termin wurde geändert.",
            )
    with cancel, st.form("act_dlg_cancel"):
        reason = st.text_input(
            "Grund der Absage", placeholder="z. B. Kursleitung erkrankt", key="act_dlg_reason"
        )
        if st.form_submit_button("Termin absagen", key="act_dlg_cancel_go"):
            commit(
                _done(lambda s: schedule.cancel_occurrence(s, who, occ_id, reason, now=now())),
                "Der Termin ist abgesagt; er bleibt mit dem Grund im Verlauf.",
            )


# -- edit / cancel ----------------------------------------------------------------------------


def _edit(who: Actor, slug: str) -> None:
    current = now()
    with inst().db.read() as s:
        rows = plans.list_occurrences(
            s,
            who,
            agency_slug=slug,
            start=current - timedelta(days=14),
            end=current + timedelta(days=400),
            limit=400,
        )
    if not rows:
        st.info("Keine Termine in den nächsten Monaten.")
        return
    options = {o.id: o for o in rows}
    occ_id = st.selectbox(
        "Termin",
        list(options),
        format_func=lambda i: (
            f"{fmt_weekday_date(options[i].starts_at)}, {fmt_time(options[i].starts_at)} – "
            f"{options[i].title}" + (" (abgesagt)" if options[i].status == "cancelled" else "")
        ),
        key="act_occ",
    )
    o = options[occ_id]
    with inst().db.read() as s:
        seal = sealing.seal_state(s, who, occ_id)
    st.caption(
        f"{fmt_datetime(o.starts_at)}–{fmt_time(o.ends_at)} · {md(o.place or 'ohne Ort')} · "
        "Status: "
        + ("abgesagt" if o.status == "cancelled" else "geplant")
        + (
            f" · Teilnehmerliste abgeschlossen: Fassung {seal.version} vom "
            f"{fmt_datetime(seal.sealed_at)} (Nachweis {seal.evidence_id})"
            + (" – Nachträge seit dem Abschließen" if seal.stale else "")
            if seal is not None
            else ""
        )
    )
    one, future, cancel = st.tabs(["Nur diesen Termin", "Diesen und alle folgenden", "Absagen"])
    with one, st.form("act_edit_one"):
        day = st.date_input("Datum", value=berlin(o.starts_at).date(), format="DD.MM.YYYY")
        c1, c2 = st.columns(2)
        s_t = c1.time_input("Beginn", value=berlin(o.starts_at).time(), step=900)
        e_t = c2.time_input("Ende", value=berlin(o.ends_at).time(), step=900)
        place = st.text_input("Ort", value=o.place)
        note = st.text_input("Hinweis")
        if st.form_submit_button("Termin ändern"):
            with guard(), writing() as s:
                schedule.edit_occurrence(
                    s,
                    who,
                    occ_id,
                    starts_at=local(day, s_t),
                    ends_at=local(day, e_t),
                    place=place,
                    note=note,
                )
                st.success("Der Termin wurde geändert.")
    with future, st.form("act_edit_future"):
        c1, c2 = st.columns(2)
        s_t = c1.time_input("Neuer Beginn", value=berlin(o.starts_at).time(), step=900)
        e_t = c2.time_input("Neues Ende", value=berlin(o.ends_at).time(), step=900)
        place = st.text_input("Ort (leer lassen: unverändert)")
        if st.form_submit_button("Diesen und alle folgenden ändern"):
            with guard(), writing() as s:
                ids = schedule.edit_future(
                    s, who, occ_id, start_time=s_t, end_time=e_t, place=place or None, now=now()
                )
                st.success(
                    f"{fmt_count(len(ids), 'Termin')} geändert "
                    "(einzeln geänderte bleiben unverändert)."
                )
    with cancel, st.form("act_cancel"):
        reason = st.text_input("Grund der Absage", placeholder="z. B. Kursleitung erkrankt")
        if st.form_submit_button("Termin absagen"):
            with guard(), writing() as s:
                schedule.cancel_occurrence(s, who, occ_id, reason)
                st.success("Der Termin ist abgesagt; er bleibt mit dem Grund im Verlauf.")


# -- closures ---------------------------------------------------------------------------------


def _closures(who: Actor, slug: str) -> None:
    with inst().db.read() as s:
        rows = schedule.list_closures(s, who, slug)
    if rows:
        st.dataframe(
            [
                {"Von": fmt_date(c.starts_on), "Bis": fmt_date(c.ends_on), "Bezeichnung": c.label}
                for c in rows
            ],
            hide_index=True,
        )
    else:
        st.info("Noch keine Schließzeiten eingetragen.")
    with st.form("act_closure"):
        c1, c2 = st.columns(2)
        start = c1.date_input("Von", format="DD.MM.YYYY")
        end = c2.date_input("Bis", format="DD.MM.YYYY")
        label = st.text_input("Bezeichnung", placeholder="Sommerpause")
        cancel = st.checkbox("Geplante Termine in diesem Zeitraum absagen", value=True)
        if st.form_submit_button("Schließzeit eintragen"):
            with guard(), writing() as s:
                _, cancelled = schedule.add_closure(
                    s, who, slug, start, end, label, cancel_existing=cancel, now=now()
                )
                st.success(
                    f"Schließzeit eingetragen; {fmt_count(len(cancelled), 'Termin')} abgesagt."
                )


# -- calendar feeds ---------------------------------------------------------------------------


def _feeds(who: Actor, slug: str) -> None:
    st.write(
        "Kalender-Apps (Outlook, Google, iOS) können die Termine abonnieren. Der Link ist "
        "geheim – wer ihn kennt, sieht die Termine. Widerrufen Sie ihn, wenn er in falsche "
        "Hände geraten ist."
    )
    created = st.session_state.pop("act_feed_url", None)
    if created:
        st.success("Neuer Kalender-Link (wird nur jetzt angezeigt):")
        st.code(created, language=None, wrap_lines=True)
    with inst().db.read() as s:
        feeds = calendar_feeds.list_feeds(s, who, slug)
        activities = schedule.list_activities(s, who, slug)
    for f in feeds:
        c1, c2 = st.columns([4, 1])
        state = f"widerrufen am {fmt_date(f.revoked_at)}" if f.revoked_at else "aktiv"
        c1.write(f"{f.label} · angelegt {fmt_date(f.created_at)} von {f.created_by} · {state}")
        if f.revoked_at is None and c2.button("Widerrufen", key=f"act_revoke_{f.id}"):
            with guard(), writing() as s:
                calendar_feeds.revoke_feed(s, who, f.id)
            st.rerun()
    with st.form("act_feed"):
        kind = st.selectbox(
            "Kalender", list(calendar_feeds.KIND_LABELS), format_func=calendar_feeds.KIND_LABELS.get
        )
        names = {a.id: f"{a.title} ({a.funding_year})" for a in activities}
        activity_id = st.selectbox(
            "Angebot (nur für „Termine eines Angebots“)",
            [None, *names],
            format_func=lambda i: names.get(i, "–"),
        )
        if st.form_submit_button("Kalender-Link erzeugen"):
            with guard(), writing() as s:
                feed = calendar_feeds.create_feed(s, who, slug, kind, activity_id)
                st.session_state["act_feed_url"] = calendar_feeds.feed_url(base_url(), feed.token)
            st.rerun()


def render() -> None:
    who = actor()
    st.title("Angebote & Termine")
    with guard():
        slug = _agency(who)
        if slug is None:
            st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
            return
        tabs = st.tabs(
            [
                "Kalender",
                "Neues Angebot",
                "Angebote bearbeiten",
                "Termin ändern / absagen",
                "Schließzeiten",
                "Kalender-Abo",
            ]
        )
        with tabs[0]:
            _calendar(who, slug)
        with tabs[1]:
            _activity_forms.new_activity(who, slug)
        with tabs[2]:
            _activity_forms.activity_forms(who, slug)
        with tabs[3]:
            _edit(who, slug)
        with tabs[4]:
            _closures(who, slug)
        with tabs[5]:
            _feeds(who, slug)


render()
