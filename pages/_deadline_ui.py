"""What the Fristen page and the overview both show of deadlines."""

from __future__ import annotations

from datetime import date

import streamlit as st

from ia_events.core.messages import fmt_count, fmt_date
from ia_events.planning import deadlines


def due_soon_notice(rows: list[deadlines.DeadlineView], today: date, *, per_agency: bool) -> None:
    """The "bald fällig" ones, set apart above a table (also used by the overview)."""
    soon = [r for r in rows if r.due_soon(today)]
    if not soon:
        return
    if per_agency:
        by_title: dict[tuple[str, date], int] = {}
        for r in soon:
            k = (r.deadline.title, r.deadline.district_due)
            by_title[k] = by_title.get(k, 0) + 1
        items = [
            f"{title} am {fmt_date(due)} ({fmt_count(n, 'Integrationsagentur')} offen)"
            for (title, due), n in by_title.items()
        ]
    else:
        items = [f"{r.deadline.title} am {fmt_date(r.deadline.district_due)}" for r in soon]
    st.warning(
        f"**Bald fällig** (in den nächsten {deadlines.DUE_SOON_DAYS} Tagen): " + " · ".join(items),
        icon=":material/schedule:",
    )
