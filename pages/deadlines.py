"""Fristen: the funding cycle's deadlines and the district's own (Eigene Fristen) with
each agency's status.

Specialists see their agency's deadlines and mark one submitted by attaching the
document (it is archived as evidence), or an Eigene Frist done (a document is
optional). Coordinators see every agency, and set or withdraw Eigene Fristen.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from ia_events.accounts import agencies
from ia_events.core.access import Actor, Permission, can, sees_all_agencies
from ia_events.core.messages import berlin, fmt_count, fmt_date
from ia_events.planning import deadlines
from pages._deadline_ui import due_soon_notice
from pages._ui import (
    actor,
    commit,
    guard,
    inst,
    now,
    row_table,
    rows_height,
    upload_limit_mb,
    year_picker,
)

SOON_DAYS = 60


def _state(r: deadlines.DeadlineView, today: date) -> str:
    """eingereicht · erledigt · überfällig · bald fällig (in 5 Tagen) · offen (fällig in
    40 Tagen) · offen -- German words only."""
    word = r.state_label(today)
    days = (r.deadline.district_due - today).days
    if r.submitted or days < 0:
        return word
    if r.due_soon(today):
        return f"{word} (heute)" if not days else f"{word} (in {fmt_count(days, 'Tag', 'Tagen')})"
    if days <= SOON_DAYS:
        return f"{word} (fällig in {fmt_count(days, 'Tag', 'Tagen')})"
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
    due_soon_notice(rows, today, per_agency=False)
    row_table(
        [
            {
                "Unterlage": r.deadline.title,
                "an Bezirksverband": fmt_date(r.deadline.district_due),
                "an Land": fmt_date(r.deadline.state_due) if r.deadline.state_due else "–",
                "Status": _state(r, today),
                "eingereicht am": fmt_date(r.submitted_at) if r.submitted_at else "",
                "Nachweis": str(r.evidence_id or ""),
                "Hinweis": (
                    f"Eigene Frist der Koordination. {r.deadline.custom_note}".strip()
                    if r.deadline.is_custom
                    else ""
                ),
            }
            for r in rows
        ],
        [r.deadline.key for r in rows],
        key="dl_table",
        opens="dl_kind",  # the form below: "Einreichung vermerken" for this document
        column_config={"Unterlage": st.column_config.TextColumn(width="large")},
        hint="Klicken Sie auf eine Zeile, um ihre Einreichung unten zu vermerken.",
    )
    st.subheader("Einreichung vermerken")
    kinds = {r.deadline.key: r for r in rows}
    if st.session_state.get("dl_kind") not in kinds:
        st.session_state.pop("dl_kind", None)
    with st.form("dl_submit", clear_on_submit=True):
        kind = st.selectbox(
            "Unterlage",
            list(kinds),
            key="dl_kind",
            format_func=lambda k: (
                kinds[k].deadline.title
                + (
                    " (schon vermerkt – neue Fassung)"
                    if kinds[k].submitted
                    else (
                        " (Eigene Frist: Dokument freiwillig)"
                        if kinds[k].deadline.is_custom
                        else ""
                    )
                )
            ),
        )
        upload = st.file_uploader("Eingereichtes Dokument", max_upload_size=upload_limit_mb())
        note = st.text_input("Bemerkung", placeholder="z. B. per Online-Controlling hochgeladen")
        if st.form_submit_button("Als eingereicht vermerken", type="primary"):
            picked = kinds[kind].deadline
            with guard():
                if picked.is_custom:
                    deadlines.complete_custom(
                        inst(),
                        who,
                        agency_slug=slug,
                        deadline_id=picked.custom_id or 0,
                        filename=upload.name if upload else None,
                        content=upload.getvalue() if upload else None,
                        media_type=(upload.type if upload else None) or "application/octet-stream",
                        note=note,
                        now=now(),
                    )
                    st.success(
                        "Als erledigt vermerkt"
                        + ("; das Dokument liegt im Nachweis-Archiv." if upload else ".")
                    )
                elif upload is None:
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


def _custom(who: Actor, year: int, today: date) -> None:
    """Eigene Fristen: the list with how many agencies are done, set a new one, withdraw."""
    st.subheader("Eigene Fristen")
    st.caption(
        "Interne Termine der Koordination vor den Fristen des Landes, z. B. „Entwurf "
        "Sachbericht an die Koordination“. Die Integrationsagenturen vermerken sie hier als "
        "erledigt."
    )
    with inst().db.read() as s:
        mine = deadlines.custom_overview(s, who, year, today=today)
        names = {a.slug: a.name for a in agencies.list_agencies(s, who)}
    if mine:
        st.dataframe(
            [
                {
                    "Frist": d.title,
                    "fällig am": fmt_date(d.district_due),
                    "für": "alle Integrationsagenturen"
                    if d.agency_ids is None
                    else fmt_count(len(d.agency_ids), "Integrationsagentur"),
                    "erledigt": f"{done} von {total}",
                    "Hinweis": d.custom_note,
                }
                for d, done, total in mine
            ],
            hide_index=True,
            width="stretch",
            height=rows_height(len(mine)),
        )
    else:
        st.info(f"Für {year} sind keine eigenen Fristen gesetzt.")
    if not can(who, Permission.deadline_set):
        return
    with st.form("dl_custom_add", clear_on_submit=True):
        title = st.text_input("Titel", placeholder="z. B. Entwurf Sachbericht an die Koordination")
        c1, c2 = st.columns(2)
        due = c1.date_input(
            "Fällig am", value=today + timedelta(days=28), format="DD.MM.YYYY", key="dl_due"
        )
        fyear = c2.selectbox(
            "Förderjahr", [year - 1, year, year + 1], index=1, key="dl_custom_year"
        )
        note = st.text_area("Bemerkung (freiwillig)", height=80)
        chosen = st.multiselect(
            "Nur für diese Integrationsagenturen (leer: für alle)",
            list(names),
            format_func=names.get,
            placeholder="alle Integrationsagenturen",
        )
        if st.form_submit_button("Eigene Frist setzen", type="primary"):
            commit(
                lambda s: deadlines.add_custom(
                    s,
                    who,
                    title=title,
                    due_on=due,  # type: ignore[arg-type]
                    funding_year=int(fyear),
                    note=note,
                    agency_slugs=chosen,
                    now=now(),
                ),
                "Eigene Frist gesetzt.",
            )
    if mine:
        with st.expander("Eigene Frist zurückziehen"):
            ids = {d.custom_id or 0: d for d, _done, _total in mine}
            pick = st.selectbox(
                "Frist",
                list(ids),
                format_func=lambda i: f"{ids[i].title} ({fmt_date(ids[i].district_due)})",
                key="dl_withdraw_pick",
            )
            if st.button("Zurückziehen", key="dl_withdraw"):
                commit(
                    lambda s: deadlines.withdraw_custom(s, who, pick, now=now()),
                    "Eigene Frist zurückgezogen.",
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
    due_soon_notice(soon, today, per_agency=True)
    titles = list(dict.fromkeys(r.deadline.title for r in rows))
    matrix: dict[str, dict[str, str]] = {}
    for r in rows:
        matrix.setdefault(
            r.agency_name,
            {"Integrationsagentur": r.agency_name, **dict.fromkeys(titles, "–")},
        )[r.deadline.title] = _state(r, today)
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
    _custom(who, year, today)


def render() -> None:
    who = actor()
    st.title("Fristen")
    with guard():
        if sees_all_agencies(who):
            _coordinator(who)
        else:
            _specialist(who)


render()
