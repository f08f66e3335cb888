"""Mein Nachweis (volunteer): own hours of a year and the certificate (PDF) to download."""

from __future__ import annotations

import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import berlin, fmt_date, fmt_hours
from ia_events.volunteers.certificates import volunteer_certificate
from ia_events.volunteers.hours import YearSummary, own_year_summary
from pages._ui import actor, guard, inst, now, writing, year_picker


def render() -> None:
    who = actor()
    st.title("Mein Nachweis")
    this_year = berlin(now()).year
    year = year_picker([this_year, this_year - 1, this_year - 2], label="Jahr", key="mc_year")
    summary = None
    with guard(), inst().db.read() as s:
        summary = own_year_summary(s, inst().keys, who, year)
    if summary is None:
        return
    _hours(summary, year)
    _certificate(who, summary, year)


def _hours(summary: YearSummary, year: int) -> None:
    """The year's hours, the Ehrenamtskarte threshold, activities and other work."""
    st.metric(f"Ihre Stunden {year}", f"{fmt_hours(summary.total)} Std.")
    if summary.card_reached:
        st.success(
            "Sie erreichen die Schwelle für die Ehrenamtskarte NRW "
            f"({fmt_hours(summary.card_threshold.hours_per_year)} Std. im Jahr oder "
            f"{fmt_hours(summary.card_threshold.hours_per_week)} Std. pro Woche). "
            "Fragen Sie Ihre Fachkraft nach dem Antrag bei Ihrer Stadt."
        )
    if summary.activities:
        st.dataframe(
            [
                {
                    "Angebot": a.activity,
                    "Aufgabe": a.role,
                    "Einsätze": a.shifts,
                    "Stunden": fmt_hours(a.hours),
                }
                for a in summary.activities
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
    if summary.worklogs:
        st.caption("Weitere Tätigkeiten (von der Fachkraft eingetragen)")
        st.dataframe(
            [
                {"Datum": fmt_date(d), "Tätigkeit": t, "Stunden": fmt_hours(h)}
                for d, h, t in summary.worklogs
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
    if not summary.activities and not summary.worklogs:
        st.info(f"Für {year} sind noch keine Stunden erfasst.")


def _certificate(who: Actor, summary: YearSummary, year: int) -> None:
    """The certificate as a PDF: made (and recorded) on the click, then offered."""
    if st.button("Nachweis als PDF erstellen", key="mc_make"):
        with guard(), writing() as s:
            name, pdf = volunteer_certificate(s, inst().keys, who, summary.volunteer_id, year)
            st.download_button(
                "PDF herunterladen",
                data=pdf,
                file_name=name,
                mime="application/pdf",
                type="primary",
                on_click="ignore",
                key="mc_download",
            )


render()
