"""Übersicht: what the role needs first."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from ia_events import agencies, planning, reports
from ia_events.access import Actor
from ia_events.messages import berlin, fmt_date, fmt_time, fmt_weekday_date
from ia_events.models import FIELD_LABELS, FieldOfAction
from ia_events.reports import INDICATOR_LABELS
from pages._ui import actor, guard, inst, now


def _upcoming(who: Actor, slug: str | None) -> None:
    st.subheader("Heute und in den nächsten 7 Tagen")
    current = now()
    with inst().db.read() as s:
        rows = planning.list_occurrences(
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
    st.dataframe(table, hide_index=True, width="stretch")


def _progress(who: Actor, slug: str, year: int) -> None:
    st.subheader(f"Teilziele {year}: Stand")
    with inst().db.read() as s:
        goals = reports.subgoal_progress(s, who, slug, year, now=now())
    if not goals:
        st.info(f"Für {year} sind noch keine Teilziele angelegt.")
        return
    frame = pd.DataFrame(
        [{"Teilziel": g.title[:60], "Erreicht (%)": round(100 * g.ratio)} for g in goals]
    )
    st.bar_chart(
        frame, x="Teilziel", y="Erreicht (%)", horizontal=True, height=60 + 45 * len(goals)
    )
    for g in goals:
        label = (
            f"{g.title} ({FIELD_LABELS.get(FieldOfAction(g.field), g.field)}; "
            f"{INDICATOR_LABELS.get(g.indicator, g.indicator)})"
        )
        st.progress(min(g.ratio, 1.0), text=f"{label}: {g.actual:g} von {g.target:g}")


def _specialist(who: Actor) -> None:
    with inst().db.read() as s:
        own = [a for a in agencies.list_agencies(s, who) if a.id == who.agency_id]
    if not own:
        st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
        return
    agency = own[0]
    st.title(f"Übersicht – {agency.name}")
    st.caption(f"Träger: {agency.carrier} · Stand {fmt_date(now())}")
    _upcoming(who, agency.slug)
    _progress(who, agency.slug, berlin(now()).year)


def _coordinator(who: Actor) -> None:
    year = berlin(now()).year
    st.title("Übersicht – alle Integrationsagenturen")
    st.caption(f"Förderjahr {year} · Stand {fmt_date(now())}")
    with inst().db.read() as s:
        rows = reports.district_summary(s, who, year, now=now())
    st.dataframe(
        [
            {
                "Integrationsagentur": r.name,
                "Termine durchgeführt": r.occurrences_held,
                "Teilnahmen": r.participants,
                "Teilziele erreicht": f"{r.subgoals_met} von {r.subgoals_total}",
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )
    _upcoming(who, None)


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
