"""Planung: the Aufgaben (task plans) of a year with their sub-goals and progress.

Specialists plan several Aufgaben per year (one may span the Förderphase),
each answering needs of the Sozialraumanalyse; once submitted, every change
needs a reason and becomes a new version (a grundsätzliche one creates a
notice to the Bewilligungsbehörde). Coordinators see all plans of a year and
approve or return them (the combined Freigabe screen is pages/approvals.py).
The forms live in pages/_plan_forms.py.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import (
    INDICATOR_LABELS,
    berlin,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_number,
    status_label,
)
from ia_events.planning import plans as planning
from ia_events.reporting import progress
from pages import _plan_forms
from pages._ui import actor, bar_chart, guard, inst, md, now, rows_height, writing, year_picker


def _year() -> int:
    this = berlin(now()).year
    return year_picker([this - 1, this, this + 1])


def _status_line(plan: planning.PlanView) -> None:
    parts = [f"Status: **{status_label(plan.status)}**", f"Version {plan.version}"]
    if plan.approved_version:
        parts.append(
            f"freigegeben: Version {plan.approved_version} am {fmt_date(plan.approved_at)} "
            f"von {md(plan.approved_by)}"
        )
    st.markdown(" · ".join(parts))
    if plan.changed_since_approval:
        st.warning("Seit der letzten Freigabe angepasst – die Koordination prüft die Änderungen.")
    if plan.status == "draft" and plan.review_note:
        st.warning(f"Hinweis der Koordination: {md(plan.review_note)}")


def _progress(who: Actor, slug: str, year: int) -> None:
    with inst().db.read() as s:
        goals = progress.subgoal_progress(s, who, slug, year, now=now())
    if not goals:
        st.info("Noch keine Teilziele.")
        return
    frame = pd.DataFrame(
        [
            {
                "Teilziel": g.title[:60],
                "Ist": g.actual,
                "Ziel": g.target,
                "Erreicht (%)": round(100 * g.ratio),
            }
            for g in goals
        ]
    )
    bar_chart(frame, x="Teilziel", y=["Erreicht (%)"], horizontal=True, height=60 + 45 * len(goals))
    for g in goals:
        st.progress(
            min(g.ratio, 1.0),
            text=f"{md(g.title)} ({g.field}; {INDICATOR_LABELS.get(g.indicator, g.indicator)}): "
            f"{fmt_number(g.actual)} von {fmt_number(g.target)}",
        )


def _history(who: Actor, plan_id: int) -> None:
    with inst().db.read() as s:
        versions = planning.plan_history(s, who, plan_id)
    if not versions:
        st.caption("Noch keine Versionen (die erste entsteht beim Einreichen).")
    for v in versions:
        st.markdown(
            f"**Version {v.version}** – {fmt_datetime(v.changed_at)}, {md(v.changed_by)}"
            + (f": {md(v.reason)}" if v.reason else "")
        )
        st.caption("; ".join(md(c) for c in v.changes))


def _plan_text(plan: planning.PlanView) -> None:
    """What the plan says and where it comes from (user text: never Markdown)."""
    st.caption(f"Aufgabe {plan.years} · Handlungsfelder: {', '.join(plan.fields) or '–'}")
    for label, value in (
        ("Thema", plan.topic),
        ("Anlass/Begründung", plan.reason),
        ("Ziel", plan.goal),
        ("Methoden", plan.methods),
        ("Zielgruppe", plan.target_group),
        ("Zeitplan", plan.timeline),
        ("Evaluation", plan.evaluation),
        ("Beteiligte", plan.partners_text),
        ("Finanzierung", plan.financing),
    ):
        if value:
            st.text(f"{label}: {value}")
    if plan.needs:
        st.text(
            "Antwortet auf die Bedarfe: "
            + "; ".join(
                f"{n.title} (Analyse {n.phase_start}/{n.phase_start + 1})" for n in plan.needs
            )
        )
    for flag in plan.off_field:
        st.warning(f"Außerhalb der Arbeitsschwerpunkte – {md(flag)}")
    if plan.open_notices:
        st.warning(
            f"{plan.open_notices} Mitteilung(en) an die Bewilligungsbehörde noch nicht versandt "
            "(siehe *Mitteilungen & Personal*)."
        )


def _pick(plans: list[planning.PlanView], key: str) -> planning.PlanView:
    by_id = {p.id: p for p in plans}
    return by_id[
        st.selectbox(
            "Aufgabe",
            list(by_id),
            format_func=lambda i: (
                f"{by_id[i].topic[:70]} ({status_label(by_id[i].status)}, {by_id[i].agency_name})"
            ),
            key=key,
        )
    ]


def _specialist(who: Actor) -> None:
    from ia_events.accounts import agencies
    from ia_events.planning import analyses

    with inst().db.read() as s:
        own = [a for a in agencies.list_agencies(s, who) if a.id == who.agency_id]
    if not own:
        st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
        return
    slug = own[0].slug
    st.caption(f"Arbeitsschwerpunkte Ihrer Agentur: {', '.join(own[0].fields) or '–'}")
    year = _year()
    with inst().db.read() as s:
        aufgaben = planning.plans_for(s, who, slug, year)
        analysis = analyses.get_analysis(s, who, slug, year)
    with st.expander("Neue Aufgabe anlegen", expanded=not aufgaben):
        _plan_forms.create_form(who, slug, year, analysis)
    if not aufgaben:
        st.info(f"Für {year} gibt es noch keine Aufgabenplanung.")
        return
    st.subheader("Teilziele: Stand")
    _progress(who, slug, year)
    st.subheader(f"Aufgaben {year} ({len(aufgaben)})")
    plan = _pick(aufgaben, "plan_sel")
    _status_line(plan)
    _plan_text(plan)
    if plan.status == "draft" and st.button("Zur Freigabe einreichen", type="primary"):
        with guard():
            with writing() as s:
                planning.submit_plan(s, who, plan.id, now=now())
            st.rerun()
    with st.expander("Aufgabenplanung bearbeiten", expanded=False):
        _plan_forms.edit_form(who, plan, analysis)
    with st.expander("Teilziele anlegen und ändern", expanded=not plan.subgoals):
        _plan_forms.subgoal_forms(who, plan)
    with st.expander("Versionen (wer, wann, warum)"):
        _history(who, plan.id)
    with st.expander("Aufgabenplanung als PDF/Word"):
        _plan_forms.export_buttons(who, plan)


def _coordinator(who: Actor) -> None:
    year = _year()
    with inst().db.read() as s:
        plans = planning.list_plans(s, who, year)
    if not plans:
        st.info(f"Für {year} liegen keine Aufgabenplanungen vor.")
        return
    st.dataframe(
        [
            {
                "Integrationsagentur": p.agency_name,
                "Aufgabe": p.topic[:60],
                "Status": status_label(p.status),
                "Version": p.version,
                "Freigegeben (Version)": str(p.approved_version or "–"),
                "Angepasst seit Freigabe": "ja" if p.changed_since_approval else "",
                "Teilziele": len(p.subgoals),
            }
            for p in plans
        ],
        hide_index=True,
        width="stretch",
        height=rows_height(len(plans)),
    )
    waiting = [p for p in plans if p.status == "submitted"]
    st.caption(
        f"{fmt_count(len(waiting), 'Planung')} "
        f"{'wartet' if len(waiting) == 1 else 'warten'} auf Freigabe."
    )
    default = plans.index(waiting[0]) if waiting else 0
    by_id = {p.id: p for p in plans}
    plan = by_id[
        st.selectbox(
            "Planung ansehen",
            list(by_id),
            index=default,
            format_func=lambda i: (
                f"{by_id[i].agency_name}: {by_id[i].topic[:60]} ({status_label(by_id[i].status)})"
            ),
            key="plan_pick",
        )
    ]
    slug = plan.agency_slug
    st.subheader(f"{md(plan.agency_name)} – {year}")
    _status_line(plan)
    _plan_text(plan)
    _progress(who, slug, year)
    with st.expander("Versionen (wer, wann, warum)", expanded=plan.changed_since_approval):
        _history(who, plan.id)
    if plan.status == "submitted":
        c1, c2 = st.columns(2)
        if c1.button("Freigeben", type="primary", key="plan_approve"):
            with guard():
                with writing() as s:
                    planning.approve_plan(s, who, plan.id, now=now())
                st.rerun()
        with c2.form("plan_return"):
            note = st.text_input("Hinweis an die Agentur")
            if st.form_submit_button("Zur Überarbeitung zurückgeben"):
                with guard():
                    with writing() as s:
                        planning.return_plan(s, who, plan.id, note, now=now())
                    st.rerun()


def render() -> None:
    who = actor()
    st.title("Planung" if who.role != "coordinator" else "Planung – Freigabe")
    with guard():
        if who.role == "coordinator":
            _coordinator(who)
        else:
            _specialist(who)


render()
