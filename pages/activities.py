"""Angebote & Termine: calendar (week/month), new activity or series, edit/cancel dates,
closure periods and calendar subscriptions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

from ia_events.attendance import sealing
from ia_events.core.access import Actor
from ia_events.core.errors import InvalidInput
from ia_events.core.messages import (
    INDICATOR_LABELS,
    berlin,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_time,
    fmt_weekday_date,
)
from ia_events.core.models import FIELD_LABELS, AttendanceMode
from ia_events.planning import calendar_feeds, plans, schedule
from ia_events.planning.activities import ActivitySpec
from ia_events.planning.recurrence import WEEKDAYS, SeriesRule, local
from pages._ui import actor, guard, inst, md, now, writing

MODES = {
    AttendanceMode.named: "namentlich (z. B. Nähcafé)",
    AttendanceMode.anonymous: "anonym zählen (Kopfzahl)",
    AttendanceMode.card: "persönliche QR-Karten",
}
RHYTHMS = {
    "single": "Einzeltermin",
    "weekly": "wöchentlich / alle n Wochen",
    "dates": "ausgewählte Termine",
}
OTHER = "Andere Art …"


def _md(value: str) -> str:
    """User text shown inside markdown: no accidental formatting."""
    for ch in "\\`*_[]<>#|~$":
        value = value.replace(ch, "\\" + ch)
    return value


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


def _calendar(who: Actor, slug: str) -> None:
    c1, c2, c3 = st.columns([1, 1, 2])
    view = c1.radio("Ansicht", ["Woche", "Monat"], horizontal=True, key="act_view")
    ref = c2.date_input("Datum", value=berlin(now()).date(), format="DD.MM.YYYY", key="act_ref")
    if view == "Woche":
        days = schedule.week_days(ref)
        weeks = [days]
        c3.markdown(f"**Woche vom {fmt_date(days[0])} bis {fmt_date(days[-1])}**")
    else:
        weeks = schedule.month_grid(ref.year, ref.month)
        c3.markdown(f"**{ref.month:02d}/{ref.year}**")
    start, end = schedule.range_bounds(weeks[0][0], weeks[-1][-1])
    with inst().db.read() as s:
        rows = plans.list_occurrences(s, who, agency_slug=slug, start=start, end=end)
    by_day: dict[date, list[plans.OccurrenceView]] = {}
    for o in rows:
        by_day.setdefault(berlin(o.starts_at).date(), []).append(o)
    header = st.columns(7)
    for i, col in enumerate(header):
        col.markdown(f"**{WEEKDAYS[i][:2]}**")
    today = berlin(now()).date()
    for week in weeks:
        cols = st.columns(7)
        for col, day in zip(cols, week, strict=True):
            box = col.container(border=True)
            muted = view == "Monat" and day.month != ref.month
            label = f"{day.day}." if not muted else f":gray[{day.day}.]"
            box.markdown(f"**{label}**" + (" · heute" if day == today else ""))
            for o in by_day.get(day, []):
                line = f"{fmt_time(o.starts_at)} {_md(o.title)}"
                if o.status == "cancelled":
                    box.caption(f"~~{line}~~ (abgesagt)")
                else:
                    box.caption(line)
    st.caption(f"{fmt_count(len(rows), 'Termin')} im Zeitraum, abgesagte durchgestrichen.")


# -- new activity -----------------------------------------------------------------------------


def _parse_dates(raw: str) -> tuple[date, ...]:
    out = []
    for part in raw.replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(datetime.strptime(part, "%d.%m.%Y").date())
        except ValueError as exc:
            raise InvalidInput(
                field="Termine", reason=f"„{part}“ ist kein Datum (TT.MM.JJJJ)."
            ) from exc
    return tuple(out)


def _new_activity(who: Actor, slug: str) -> None:
    year = berlin(now()).year
    year = st.number_input("Förderjahr", 2000, 2100, year, key="act_year")
    with inst().db.read() as s:
        aufgaben = plans.plans_for(s, who, slug, int(year))
    # The sub-goals of every Aufgabe of the year (a phase plan's only for this year).
    goals = {g.id: g for p in aufgaben for g in p.subgoals if g.funding_year in (0, int(year))}
    if not goals:
        st.info(f"Für {year} gibt es noch keine Teilziele – legen Sie sie unter *Planung* an.")
    with st.form("act_new", clear_on_submit=False):
        title = st.text_input("Titel", placeholder="z. B. Nähcafé im Stadtteilzentrum")
        c1, c2 = st.columns(2)
        kind = c1.selectbox("Art", [*plans.ACTIVITY_TYPES, OTHER])
        custom = c2.text_input("Andere Art (falls gewählt)")
        field = c1.selectbox(
            "Handlungsfeld", list(FIELD_LABELS), format_func=lambda f: f"{f} – {FIELD_LABELS[f]}"
        )
        subgoal_ids = c2.multiselect(
            "Teilziele",
            list(goals),
            format_func=lambda i: (
                f"{goals[i].title} ({INDICATOR_LABELS.get(goals[i].indicator, '')})"
            ),
        )
        off_reason = st.text_input(
            "Begründung, falls außerhalb der Arbeitsschwerpunkte",
            placeholder="nur nötig, wenn das Handlungsfeld nicht zu Ihrer Agentur gehört",
        )
        place = st.text_input("Ort im Sozialraum")
        partners = st.text_area("Kooperationspartner (eine Zeile je Partner)", height=80)
        c1, c2, c3 = st.columns(3)
        mode = c1.selectbox("Teilnahme-Erfassung", list(MODES), format_func=MODES.get)
        categories = c2.text_input(
            "Zählkategorien (bei anonym, mit Komma)", placeholder="Frauen, Männer, Kinder"
        )
        photographed = c3.checkbox("Es wird fotografiert")
        st.markdown("**Termine**")
        rhythm = st.radio("Rhythmus", list(RHYTHMS), format_func=RHYTHMS.get, horizontal=True)
        c1, c2, c3 = st.columns(3)
        first = c1.date_input(
            "Erster Termin / Datum", value=berlin(now()).date(), format="DD.MM.YYYY"
        )
        start_t = c2.time_input("Beginn", value=time(9, 30), step=900)
        end_t = c3.time_input("Ende", value=time(12, 0), step=900)
        c1, c2, c3 = st.columns(3)
        interval = c1.number_input("Alle … Wochen", 1, 52, 1)
        weekdays = c2.multiselect(
            "Wochentage (leer: wie erster Termin)",
            list(range(7)),
            format_func=lambda d: WEEKDAYS[d],
        )
        open_end = c3.checkbox("Offenes Ende (bis 31.12.)", value=True)
        until = c3.date_input(
            "Letzter Termin (ohne offenes Ende)", value=date(int(year), 12, 31), format="DD.MM.YYYY"
        )
        dates = st.text_input(
            "Ausgewählte Termine (TT.MM.JJJJ, mit Komma)", placeholder="12.03.2026, 26.03.2026"
        )
        skip = st.checkbox("Feiertage (NRW) und Schließzeiten auslassen", value=True)
        submitted = st.form_submit_button("Angebot anlegen", type="primary")
    if not submitted:
        return
    with guard():
        rule = SeriesRule(
            kind=rhythm,
            start_time=start_t,
            end_time=end_t,
            first_day=first,
            interval=int(interval),
            weekdays=tuple(weekdays),
            until=None if open_end else until,
            dates=_parse_dates(dates) if rhythm == "dates" else (),
            skip_holidays=skip,
            skip_closures=skip,
        )
        with writing() as s:
            result = schedule.create_series(
                s,
                who,
                ActivitySpec(
                    agency_slug=slug,
                    funding_year=int(year),
                    title=title,
                    type=custom.strip() if kind == OTHER else kind,
                    field=field,
                    attendance_mode=mode,
                    place=place,
                    partners=partners.splitlines(),
                    subgoal_ids=subgoal_ids,
                    photographed=photographed,
                    count_categories=categories.split(","),
                    off_field_reason=off_reason,
                    rule=rule,
                ),
            )
        st.success(
            f"Angebot „{md(title.strip())}“ angelegt: "
            f"{fmt_count(len(result.occurrence_ids), 'Termin')} "
            f"({rule.describe()})."
        )
        if result.expansion.skipped:
            st.info(
                "Ausgelassen: "
                + "; ".join(f"{fmt_date(k.day)} ({md(k.reason)})" for k in result.expansion.skipped)
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
                st.session_state["act_feed_url"] = calendar_feeds.feed_url(
                    inst().settings.base_url, feed.token
                )
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
                "Termin ändern / absagen",
                "Schließzeiten",
                "Kalender-Abo",
            ]
        )
        with tabs[0]:
            _calendar(who, slug)
        with tabs[1]:
            _new_activity(who, slug)
        with tabs[2]:
            _edit(who, slug)
        with tabs[3]:
            _closures(who, slug)
        with tabs[4]:
            _feeds(who, slug)


render()
