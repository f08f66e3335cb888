"""Page parts of issue 19 (4)-(6): the funding sources of an activity or an opening
process (one form for both), the agency-year's funding overview (own share against
10 %), the district's controlling table, and the Multiplikator*innen marks on
volunteers and partners' contact persons.

Widgets and one service call each; the rules live in ``ia_events.network.funding``,
``ia_events.network.multipliers`` and ``ia_events.reporting.controlling``. Amounts are
shown as German readers write money ("1.234,50 €", ``messages.fmt_euro``); typed notes
are shown as plain table cells, never as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import streamlit as st

from ia_events.core.access import Actor, Permission, can, sees_all_agencies
from ia_events.core.messages import fmt_date, fmt_euro, fmt_number
from ia_events.network import funding, multipliers
from ia_events.network.partners import ContactView
from ia_events.reporting import controlling
from ia_events.volunteers import registry
from pages._ui import cached, commit, guard, inst, md, now, rows_height

EURO_HELP = "In Euro, z. B. 1.234,50 – leer lassen, wenn (noch) nicht bekannt."


# -- an activity's funding (Angebote & Termine → Angebot bearbeiten → Finanzierung) -----------


def activity_funding(who: Actor, activity_id: int) -> None:
    """The activity's sources and amounts, its total cost, a form to add a source."""
    view: funding.ActivityFunding | None = None
    with guard(), inst().db.read() as s:
        view = funding.activity_funding(s, inst().keys, who, activity_id)
    if view is not None:
        _measure(who, view)


def process_funding(who: Actor, process_id: int) -> None:
    """The same for an opening process (Netzwerk → Prozesse & Beratung)."""
    view: funding.ActivityFunding | None = None
    with guard(), inst().db.read() as s:
        view = funding.process_funding(s, inst().keys, who, process_id)
    if view is not None:
        _measure(who, view)


def _measure(who: Actor, view: funding.ActivityFunding) -> None:
    _show_activity(view)
    if not can(who, Permission.plan_edit):
        return
    _total_cost_form(who, view)
    _add_source_form(who, view)
    _remove_source_form(who, view)


def _show_activity(view: funding.ActivityFunding) -> None:
    if view.lines:
        st.dataframe(
            [
                {
                    "Quelle": line.source,
                    "Betrag": fmt_euro(line.amount_cents),
                    "Notiz": line.note,
                }
                for line in view.lines
            ],
            hide_index=True,
            width="stretch",
        )
    else:
        st.info(f"Für diesen Eintrag ({view.kind}) ist noch keine Finanzierung eingetragen.")
    st.caption(
        f"Zugeordnet: {fmt_euro(view.assigned_cents)} · Gesamtkosten: "
        f"{fmt_euro(view.total_cost_cents)}"
    )
    if view.over_assigned:
        st.warning(
            f"Den Quellen sind {fmt_euro(view.assigned_cents)} zugeordnet, die Maßnahme "
            f"({view.kind}) kostet "
            f"aber nur {fmt_euro(view.total_cost_cents)} – {fmt_euro(view.excess_cents)} "
            "wären doppelt finanziert. Bitte Beträge oder Gesamtkosten prüfen.",
            icon=":material/warning:",
        )


def _total_cost_form(who: Actor, view: funding.ActivityFunding) -> None:
    current = "" if view.total_cost_cents is None else fmt_number(view.total_cost_cents / 100)
    with st.form(f"fund_cost_{view.key}"):
        total = st.text_input(
            f"Gesamtkosten {view.funding_year} (EUR)",
            value=current,
            help="Was die Maßnahme im Förderjahr insgesamt kostet. Leer: nicht angegeben.",
        )
        if st.form_submit_button("Gesamtkosten speichern"):
            commit(
                lambda s: funding.set_total_cost(
                    s, who, view.activity_id, total, process_id=view.process_id
                ),
                "Gesamtkosten gespeichert.",
            )


def _add_source_form(who: Actor, view: funding.ActivityFunding) -> None:
    with st.form(f"fund_add_{view.key}", clear_on_submit=True):
        st.markdown("**Finanzierungsquelle hinzufügen**")
        c1, c2 = st.columns([2, 1])
        source = c1.selectbox("Quelle", funding.SOURCES, key=f"fund_src_{view.key}")
        amount = c2.text_input(
            "Betrag (EUR, optional)", help=EURO_HELP, key=f"fund_amount_{view.key}"
        )
        note = st.text_input("Notiz (optional)", max_chars=500)
        if st.form_submit_button("Quelle speichern", type="primary"):
            commit(
                lambda s: funding.add_funding(
                    s,
                    inst().keys,
                    who,
                    view.activity_id,
                    process_id=view.process_id,
                    source=source,
                    amount=amount,
                    note=note,
                ),
                "Finanzierungsquelle gespeichert.",
            )


def _remove_source_form(who: Actor, view: funding.ActivityFunding) -> None:
    if not view.lines:
        return
    with st.expander("Quelle entfernen"):
        labels = {line.id: f"{line.source} – {fmt_euro(line.amount_cents)}" for line in view.lines}
        pick = st.selectbox(
            "Quelle", list(labels), format_func=labels.get, key=f"fund_rm_{view.key}"
        )
        if st.button("Entfernen", key=f"fund_rm_btn_{view.key}") and pick is not None:
            commit(lambda s: funding.remove_funding(s, who, pick), "Quelle entfernt.")


# -- the agency-year's overview (Berichte → Finanzierung) ----------------------------------------


def overview(who: Actor, slug: str, year: int) -> None:
    """Totals by source, the carrier's own share against 10 %, over-assigned activities."""
    with guard(stop=True):
        ov = cached(
            "funding.overview", who, (slug, year), lambda s, _: funding.overview(s, who, slug, year)
        )
    st.write(
        "Finanzierung der Angebote im Förderjahr nach Quelle. Der Träger bringt mindestens "
        "10 % der Finanzierung als Eigenanteil ein."
    )
    if not ov.activities:
        st.info("Für dieses Förderjahr ist noch keine Finanzierung eingetragen.")
        return
    st.dataframe(
        [
            {"Quelle": source, "Betrag": fmt_euro(cents)}
            for source, cents in ov.by_source.items()
            if cents
        ]
        + [{"Quelle": "Gesamt", "Betrag": fmt_euro(ov.total_cents)}],
        hide_index=True,
        width="stretch",
    )
    share = ov.own_share_cents / ov.total_cents if ov.total_cents else 0.0
    text = (
        f"Eigenanteil {fmt_euro(ov.own_share_cents)} ({fmt_number(share * 100, 1)} %), "
        f"mindestens 10 %: {fmt_euro(ov.required_own_share_cents)}"
    )
    if ov.own_share_met:
        st.success(f"{text} – erfüllt.", icon=":material/check_circle:")
    else:
        st.error(f"{text} – nicht erfüllt.", icon=":material/error:")
    for a in ov.over_assigned:
        st.warning(
            f"„{md(a.title)}“: {fmt_euro(a.assigned_cents)} zugeordnet bei Gesamtkosten von "
            f"{fmt_euro(a.total_cost_cents)} – dieselben Kosten sind mehreren Quellen "
            "zugeordnet.",
            icon=":material/warning:",
        )
    with st.expander("Je Angebot und Prozess"):
        st.dataframe(
            [
                {
                    "Art": a.kind,
                    "Titel": a.title,
                    "Quellen": ", ".join(dict.fromkeys(line.source for line in a.lines)),
                    "Zugeordnet": fmt_euro(a.assigned_cents),
                    "Gesamtkosten": fmt_euro(a.total_cost_cents),
                }
                for a in ov.activities
            ],
            hide_index=True,
            width="stretch",
        )


# -- the district's controlling table (Berichte & Controlling, coordinator) -------------------


def district_table(who: Actor, year: int) -> None:
    """ "Bezirk gesamt": every agency's total row and rows per field of action, summed."""
    with guard(stop=True):
        data = cached(
            "controlling.figures",
            who,
            (year, None),
            lambda s, at: controlling.figures(s, who, year, None, at),
        )
    if not controlling.with_district(sees_all_agencies(who), data, None):
        return
    whole = controlling.district(data, year)
    st.subheader("Bezirk gesamt")
    st.caption(
        f"Summe der {len(data)} aktiven Integrationsagenturen; erreichte Personen sind die "
        "Summe der Agenturen (wer von zwei Agenturen erreicht wird, zählt zweimal)."
    )
    table = pd.DataFrame([f.row() for f in whole.rows], columns=controlling.HEADERS)
    table["Ehrenamtsstunden"] = [fmt_number(v) for v in table["Ehrenamtsstunden"]]
    table = euro_columns(table).drop(columns=["Messgröße", "Soll", "Ist"])
    st.dataframe(table, hide_index=True, width="stretch", height=rows_height(len(table)))


def euro_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The controlling table's funding columns as "1.234,50 €"."""
    for column in [h for h in controlling.HEADERS if h.startswith("Finanzierung")]:
        table[column] = [fmt_euro(int(v * 100)) for v in table[column]]
    table["Multiplikator*innen"] = [
        "–" if pd.isna(v) else fmt_number(v) for v in table["Multiplikator*innen"]
    ]
    return table


# -- Multiplikator*innen -------------------------------------------------------------------------


def _mark_form(
    key: str,
    names: dict[int, str],
    marked: dict[int, multipliers.Mark],
    label: str,
) -> tuple[int | None, bool, date | None, bool]:
    pick = st.selectbox(label, list(names), format_func=names.get, key=f"{key}_pick")
    current = marked.get(pick) if pick is not None else None
    with st.form(f"{key}_form"):
        is_multiplier = st.checkbox(
            "Multiplikator*in", value=current is not None, key=f"{key}_flag_{pick}"
        )
        since = st.date_input(
            "Seit (optional)",
            value=current.since if current else None,
            format="DD.MM.YYYY",
            key=f"{key}_since_{pick}",
        )
        saved = st.form_submit_button("Speichern", key=f"{key}_save")
    return pick, is_multiplier, since if isinstance(since, date) else None, saved


def volunteer_marks(
    who: Actor, agency_id: int | None, people: Sequence[registry.VolunteerView]
) -> None:
    """Mark volunteers of the registry as multipliers (Ehrenamt → Verzeichnis)."""
    if agency_id is None or not people:
        return
    with guard(), inst().db.read() as s:
        marked = multipliers.marks(s, who, agency_id)["volunteer"]
    names = {p.id: p.name for p in people}
    with st.expander("Multiplikator*innen"):
        shown = [
            md(names[v]) + (f" (seit {fmt_date(m.since)})" if m.since else "")
            for v, m in marked.items()
            if v in names
        ]
        st.caption(
            "Ehrenamtliche, die das Anliegen weitertragen, zählen im Controlling als "
            "Multiplikator*innen. Markiert: " + (", ".join(shown) if shown else "niemand") + "."
        )
        pick, flag, since, saved = _mark_form("vo_mult", names, marked, "Person")
        if saved and pick is not None:
            commit(
                lambda s: multipliers.mark_volunteer(s, who, pick, flag, since, now()),
                "Multiplikator*in gespeichert.",
            )


def contact_marks(who: Actor, agency_id: int, contacts: Sequence[ContactView]) -> None:
    """Mark one of a partner's contact persons as multiplier (Netzwerk → Kontaktpersonen)."""
    if not contacts:
        return
    with guard(), inst().db.read() as s:
        marked = multipliers.marks(s, who, agency_id)["contact"]
    names = {c.id: c.label for c in contacts}
    with st.expander("Kontaktperson als Multiplikator*in"):
        shown = [md(names[c]) for c in marked if c in names]
        st.caption(
            "Kontaktpersonen, die das Anliegen in ihre Organisation tragen, zählen im "
            "Controlling als Multiplikator*innen. Markiert: "
            + (", ".join(shown) if shown else "niemand")
            + "."
        )
        pick, flag, since, saved = _mark_form("net_mult", names, marked, "Kontaktperson")
        if saved and pick is not None:
            commit(
                lambda s: multipliers.mark_partner_contact(s, who, pick, flag, since, now()),
                "Multiplikator*in gespeichert.",
            )
