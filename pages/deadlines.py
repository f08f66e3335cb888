"""Fristen: the funding cycle's deadlines with each agency's status.

Specialists see their agency's deadlines and mark one submitted by attaching
the document (it is archived as evidence). Coordinators see every agency.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from ia_events.core.access import Actor, sees_all_agencies
from ia_events.core.messages import berlin, fmt_count, fmt_date, status_label
from ia_events.planning import deadlines
from pages._ui import actor, guard, inst, now, row_table, rows_height, upload_limit_mb, year_picker

SOON_DAYS = 60


def _state(r: deadlines.DeadlineView, today: date) -> str:
    """eingereicht · überfällig · offen (fällig in 12 Tagen) · offen -- German words only."""
    word = status_label(r.status(today))
    days = (r.deadline.district_due - today).days
    if not r.submitted and 0 <= days <= SOON_DAYS:
        return (
            f"{word} (fällig in {fmt_count(days, 'Tag', 'Tagen')})"
            if days
            else f"{word} (heute fällig)"
        )
    return word


def _year() -> int:
    this = berlin(now()).year
    return year_picker([this - 1, this, this + 1])


def _specialist(who: Actor) -> None:
    today = berlin(now()).date()
    year = _year()
    with inst().db.read() as s:
        rows = deadlines.for_year(s, who, year)
    if not rows:
        st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
        return
    slug = rows[0].agency_slug
    row_table(
        [
            {
                "Unterlage": r.deadline.title,
                "an Bezirksverband": fmt_date(r.deadline.district_due),
                "an Land": fmt_date(r.deadline.state_due) if r.deadline.state_due else "–",
                "Status": _state(r, today),
                "eingereicht am": fmt_date(r.submitted_at) if r.submitted_at else "",
                "Nachweis": str(r.evidence_id or ""),
            }
            for r in rows
        ],
        [r.deadline.kind.value for r in rows],
        key="dl_table",
        opens="dl_kind",  # the form below: "Einreichung vermerken" for this document
        column_config={"Unterlage": st.column_config.TextColumn(width="large")},
        hint="Klicken Sie auf eine Zeile, um ihre Einreichung unten zu vermerken.",
    )
    st.subheader("Einreichung vermerken")
    kinds = {r.deadline.kind.value: r for r in rows}
    with st.form("dl_submit", clear_on_submit=True):
        kind = st.selectbox(
            "Unterlage",
            list(kinds),
            key="dl_kind",
            format_func=lambda k: (
                kinds[k].deadline.title
                + (" (schon eingereicht – neue Fassung)" if kinds[k].submitted else "")
            ),
        )
        upload = st.file_uploader("Eingereichtes Dokument", max_upload_size=upload_limit_mb())
        note = st.text_input("Bemerkung", placeholder="z. B. per Online-Controlling hochgeladen")
        if st.form_submit_button("Als eingereicht vermerken", type="primary"):
            with guard():
                if upload is None:
                    st.error("Bitte hängen Sie das eingereichte Dokument an.")
                else:
                    deadlines.submit(
                        inst(),
                        who,
                        agency_slug=slug,
                        funding_year=year,
                        kind=kind,
                        filename=upload.name,
                        content=upload.getvalue(),
                        media_type=upload.type or "application/octet-stream",
                        note=note,
                        now=now(),
                    )
                    st.success("Vermerkt; das Dokument liegt im Nachweis-Archiv.")
    st.caption(
        "Die Kalender-Abos für Fristen richten Sie unter *Angebote & Termine → Kalender-Abo* ein."
    )


def _coordinator(who: Actor) -> None:
    today = berlin(now()).date()
    year = _year()
    with inst().db.read() as s:
        rows = deadlines.for_year(s, who, year)
        soon = deadlines.upcoming(s, who, today=today, days=60)
    open_soon = [r for r in soon if not r.submitted]
    if open_soon:
        n = len(open_soon)
        st.warning(
            f"{fmt_count(n, 'offene Einreichung', 'offene Einreichungen')} "
            f"{'ist' if n == 1 else 'sind'} überfällig oder in den nächsten {SOON_DAYS} Tagen "
            "fällig."
        )
    titles = list(dict.fromkeys(r.deadline.title for r in rows))
    matrix: dict[str, dict[str, str]] = {}
    for r in rows:
        matrix.setdefault(r.agency_name, {"Integrationsagentur": r.agency_name})[
            r.deadline.title
        ] = _state(r, today)
    st.dataframe(
        list(matrix.values()),
        hide_index=True,
        width="stretch",
        height=rows_height(len(matrix)),
    )
    st.caption(
        " · ".join(
            f"{t}: {fmt_date(next(r.deadline.district_due for r in rows if r.deadline.title == t))}"
            for t in titles
        )
    )


def render() -> None:
    who = actor()
    st.title("Fristen")
    with guard():
        if sees_all_agencies(who):
            _coordinator(who)
        else:
            _specialist(who)


render()
