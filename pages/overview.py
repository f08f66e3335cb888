"""Übersicht: what the role needs first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from ia_events.accounts import agencies
from ia_events.core.access import Actor
from ia_events.core.messages import (
    INDICATOR_LABELS,
    berlin,
    fmt_count,
    fmt_date,
    fmt_number,
    fmt_time,
    fmt_weekday_date,
    status_label,
)
from ia_events.core.models import FIELD_LABELS, FieldOfAction
from ia_events.planning import plans
from ia_events.reporting import progress
from pages._deadline_ui import due_soon_notice
from pages._ui import actor, bar_chart, guard, inst, md, now, rows_height

DISTRICT_TTL = 300  # seconds; figures of the whole district may lag this much


def _upcoming(who: Actor, slug: str | None) -> None:
    st.subheader("Heute und in den nächsten 7 Tagen")
    current = now()
    with inst().db.read() as s:
        rows = plans.list_occurrences(
            s, who, agency_slug=slug, start=current, end=current + timedelta(days=7), limit=30
        )
    if not rows:
        st.info("In den nächsten 7 Tagen sind keine Termine geplant.")
        return
    today = berlin(current).date()
    table = [
        {
            "Tag": "Heute"
            if berlin(o.starts_at).date() == today
            else fmt_weekday_date(o.starts_at),
            "Zeit": f"{fmt_time(o.starts_at)}–{fmt_time(o.ends_at)}",
            "Angebot": o.title,
            "Ort": o.place,
            "Status": "abgesagt"
            if o.status == "cancelled"
            else ("läuft" if o.starts_at <= current <= o.ends_at else "geplant"),
        }
        for o in rows
    ]
    if slug is None:
        for row, o in zip(table, rows, strict=True):
            row["Agentur"] = o.agency_name
    st.dataframe(table, hide_index=True, width="stretch", height=rows_height(len(table)))


def _progress(who: Actor, slug: str, year: int) -> None:
    st.subheader(f"Teilziele {year}: Stand")
    with inst().db.read() as s:
        goals = progress.subgoal_progress(s, who, slug, year, now=now())
    if not goals:
        st.info(f"Für {year} sind noch keine Teilziele angelegt.")
        return
    frame = pd.DataFrame(
        [{"Teilziel": g.title[:60], "Erreicht (%)": round(100 * g.ratio)} for g in goals]
    )
    bar_chart(frame, x="Teilziel", y=["Erreicht (%)"], horizontal=True, height=60 + 45 * len(goals))
    for g in goals:
        label = (
            f"{g.title} ({FIELD_LABELS.get(FieldOfAction(g.field), g.field)}; "
            f"{INDICATOR_LABELS.get(g.indicator, g.indicator)})"
        )
        st.progress(
            min(g.ratio, 1.0), text=f"{label}: {fmt_number(g.actual)} von {fmt_number(g.target)}"
        )


def _deadlines(who: Actor, slug: str | None) -> None:
    """Open deadlines: overdue ones and those due within 60 days (the agency's own, or all
    agencies' for coordinators); when none is due soon, the next one ahead."""
    from ia_events.planning import deadlines

    st.subheader("Fristen")
    today = berlin(now()).date()
    with inst().db.read() as s:
        ahead = deadlines.upcoming(s, who, slug, today=today, days=366)
    open_ = [r for r in ahead if not r.submitted]
    rows = [r for r in open_ if (r.deadline.district_due - today).days <= 60]
    if not rows:
        if open_:
            nxt = min(open_, key=lambda r: r.deadline.district_due)
            count = sum(r.deadline == nxt.deadline for r in open_)
            who_owes = f" ({fmt_count(count, 'Integrationsagentur')} offen)" if slug is None else ""
            st.success(
                "Keine Frist überfällig, keine in den nächsten 60 Tagen fällig. Nächste: "
                f"{nxt.deadline.title} am {fmt_date(nxt.deadline.district_due)}{who_owes}."
            )
        else:
            st.success("Keine offenen Fristen.")
        return
    due_soon_notice(rows, today, per_agency=slug is None)
    table = [
        {
            "Unterlage": r.deadline.title,
            "fällig (Bezirksverband)": fmt_date(r.deadline.district_due),
            "Status": status_label(r.state(today)),  # überfällig · bald fällig · offen
        }
        for r in rows
    ]
    if slug is None:
        for row, r in zip(table, rows, strict=True):
            row["Integrationsagentur"] = r.agency_name
    shown = table[:50]
    st.dataframe(shown, hide_index=True, width="stretch", height=rows_height(len(shown)))


def _volunteer_notes(who: Actor) -> None:
    """Ehrenamt: shifts of the next 3 days (whom to remind) and expiring qualifications."""
    from ia_events.volunteers.shifts import ACTIVE, overview_notes

    with inst().db.read() as s:
        notes = overview_notes(s, inst().keys, who, who.agency_id, now())
    if notes.reminders:
        st.subheader("Ehrenamt: Einsätze der nächsten 3 Tage")
        for v in notes.reminders:
            names = ", ".join(md(a.name) for a in v.assignments if a.status in ACTIVE)
            gap = f" · **noch {v.open_slots} offen**" if v.open_slots else ""
            st.write(
                f"{fmt_weekday_date(v.starts_at)}, {fmt_time(v.starts_at)} Uhr · {md(v.role)} "
                f"({md(v.activity_title)}): {names or 'niemand eingeteilt'}{gap}"
            )
    if notes.expiring:
        st.subheader("Ehrenamt: Nachweise laufen ab")
        for q in notes.expiring:
            state = "abgelaufen seit" if q.state == "expired" else "gültig bis"
            until = fmt_date(q.valid_until)
            st.write(f":material/warning: {md(q.name)}: {md(q.label)} – {state} {until}")


def _specialist(who: Actor) -> None:
    with inst().db.read() as s:
        own = [a for a in agencies.list_agencies(s, who) if a.id == who.agency_id]
    if not own:
        st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
        return
    agency = own[0]
    st.title(f"Übersicht – {md(agency.name)}")
    st.caption(f"Träger: {md(agency.carrier)} · Stand {fmt_date(now())}")
    _upcoming(who, agency.slug)
    _volunteer_notes(who)
    _progress(who, agency.slug, berlin(now()).year)
    _deadlines(who, agency.slug)


@st.cache_data(ttl=DISTRICT_TTL, max_entries=32, show_spinner=False)
def _district(
    database: str, year: int, role: str, agency_id: int | None, _who: Actor
) -> tuple[datetime, list[progress.AgencySummary]]:
    """The district's year in figures: a year of every agency's attendance, so it
    is computed at most every few minutes per database, year and scope (what the
    actor may see depends on role and agency only); the page says from when."""
    current = now()
    with inst().db.read() as s:
        return current, progress.district_summary(s, _who, year, now=current)


def _coordinator(who: Actor) -> None:
    year = berlin(now()).year
    st.title("Übersicht – alle Integrationsagenturen")
    computed, rows = _district(
        inst().settings.database_url, year, str(who.role), who.agency_id, who
    )
    st.caption(
        f"Förderjahr {year} · Stand {fmt_date(computed)}, {fmt_time(computed)} Uhr "
        f"(die Zahlen sind höchstens {DISTRICT_TTL // 60} Minuten alt)"
    )
    st.dataframe(
        [
            {
                "Integrationsagentur": r.name,
                "Termine durchgeführt": r.occurrences_held,
                "Teilnahmen": r.participants,
                "Teilziele erreicht": f"{r.subgoals_met} von {r.subgoals_total}",
                "Ehrenamtliche": r.volunteers,
                # German figures whatever the browser's language: "280,9", not "280.9".
                "Ehrenamtsstunden": fmt_number(r.volunteer_hours),
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
        height=rows_height(len(rows)),  # every agency visible, no scroll box
    )
    _upcoming(who, None)
    _deadlines(who, None)


def _admin(who: Actor) -> None:
    st.title("Übersicht – Administration")
    with inst().db.read() as s:
        agency_count = len(agencies.list_agencies(s, who))
    st.metric("Integrationsagenturen", agency_count)
    st.write("Benutzer, Prüfsummen und das Audit-Log finden Sie links unter *Verwaltung*.")


def render() -> None:
    who = actor()
    with guard():
        if who.role == "coordinator":
            _coordinator(who)
        elif who.role == "admin":
            _admin(who)
        else:
            _specialist(who)


render()
