"""Freigaben: the coordinator's one screen for Sozialraumanalysen, Aufgabenplanungen
and Sachberichte -- what waits, everything needed to decide, approve or return.

A plan is shown with its Anlass/Begründung, the needs it answers and the
analysis they come from, flags (outside the agency's fields, open notices)
and its versions; an analysis with the handbook's points it still misses.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import fmt_count, fmt_datetime
from ia_events.planning import analyses, approvals, plans
from pages._ui import actor, cached, commit, guard, md, now, year_picker

TABS = ["Sozialraumanalysen", "Aufgabenplanungen", "Sachberichte"]
TAB_KEY = "appr_tab"
NOTHING = "Hier wartet nichts auf Freigabe."
STATUS = {"draft": "Entwurf", "submitted": "wartet auf Freigabe", "approved": "freigegeben"}


def _steps(steps: list[approvals.Step]) -> None:
    for step in steps:
        st.caption(
            f"Version {step.version}: {step.label} am {fmt_datetime(step.at)} von {step.actor}"
            + (f" – {step.note}" if step.note else "")
        )


_APPROVE = {
    "analysis": analyses.approve_analysis,
    "plan": plans.approve_plan,
    "report": approvals.approve_report,
}
_RETURN = {
    "analysis": analyses.return_analysis,
    "plan": plans.return_plan,
    "report": approvals.return_report,
}
_WHAT = {
    "analysis": "Die Sozialraumanalyse",
    "plan": "Die Aufgabenplanung",
    "report": "Der Sachbericht",
}


def _decide(who: Actor, doc_type: str, doc_id: int) -> None:
    c1, c2 = st.columns(2)
    what = _WHAT.get(doc_type, "Das Dokument")
    if c1.button("Freigeben", type="primary", key=f"ok_{doc_type}_{doc_id}"):
        commit(
            lambda s: _APPROVE.get(doc_type, approvals.approve_report)(s, who, doc_id, now=now()),
            f"{what} ist freigegeben.",
        )
    with c2.form(f"back_{doc_type}_{doc_id}"):
        note = st.text_input("Hinweis an die Agentur (was ist zu ändern?)")
        if st.form_submit_button("Zur Überarbeitung zurückgeben"):
            commit(
                lambda s: _RETURN.get(doc_type, approvals.return_report)(
                    s, who, doc_id, note, now=now()
                ),
                f"{what} ist mit Ihrem Hinweis zur Überarbeitung zurückgegeben.",
            )


def _analysis(who: Actor, a: analyses.AnalysisView) -> None:
    st.text(
        f"{analyses.ORIENTATIONS.get(a.orientation, a.orientation)}, "
        f"{'fortgeschrieben' if a.continued else 'neu'} · Raster: {a.raster or '–'}"
    )
    st.text("Quellen: " + ("; ".join(analyses.SOURCES.get(x, x) for x in a.sources) or "–"))
    if a.summary:
        st.text(a.summary)
    for point in a.missing_points:
        st.warning(point)
    for n in a.needs:
        answered = "; ".join(f"{t} ({y})" for _, t, y in n.plans) or "noch keine Aufgabe"
        st.text(f"Bedarf: {n.title} ({n.field or '–'}) → {answered}")
    if a.evidence_ids:
        st.caption("Dokumente im Archiv: " + ", ".join(f"Nachweis {i}" for i in a.evidence_ids))


def _plan(who: Actor, p: plans.PlanView, by_analysis: dict[int, analyses.AnalysisView]) -> None:
    st.text(f"Thema: {p.topic}")
    st.text(f"Anlass/Begründung: {p.reason or '– (fehlt)'}")
    st.text(f"Ziel: {p.goal}")
    if p.methods:
        st.text(f"Methoden: {p.methods}")
    st.caption(f"Laufzeit {p.years} · Handlungsfelder {', '.join(p.fields) or '–'}")
    if p.needs:
        st.text("Bedarfe aus der Analyse: " + "; ".join(n.title for n in p.needs))
    else:
        st.warning("Kein Bezug zu einem Bedarf der Sozialraumanalyse.")
    for g in p.subgoals:
        st.text(
            f"• {g.title} ({g.field}, Ziel {g.target:g})" + (f" – {g.methods}" if g.methods else "")
        )
    for flag in p.off_field:
        st.warning(f"Außerhalb der Arbeitsschwerpunkte: {md(flag)}")
    if p.open_notices:
        st.warning(f"{p.open_notices} Mitteilung(en) an die Bewilligungsbehörde offen.")
    if p.changed_since_approval:
        st.info(f"Geändert seit der Freigabe von Version {p.approved_version}.")
    analysis = by_analysis.get(p.analysis_id or 0)
    if analysis is not None:
        with st.expander(f"Die Analyse dazu: Förderphase {analysis.phase}"):
            _analysis(who, analysis)


def render() -> None:
    who = actor()
    st.title("Freigaben")
    st.caption(
        "Sozialraumanalysen, Aufgabenplanungen und Sachberichte: freigeben oder mit "
        "Hinweis zurückgeben. Jeder Schritt wird mit Version, Person, Zeit und Grund vermerkt."
    )
    with guard():
        year = year_picker(key="appr_year")
        only_waiting = st.toggle("Nur Wartende zeigen", value=True, key="appr_waiting")
        screen = cached(
            "approvals.screen", who, (year,), lambda s, _: approvals.screen(s, who, year)
        )
        q, by_analysis, steps = screen.queue, screen.answered, screen.steps
        st.metric("Warten auf Freigabe", q.waiting)
        st.caption(
            "Wartend: "
            + ", ".join(
                [
                    fmt_count(
                        sum(a.status == "submitted" for a in q.analyses), "Sozialraumanalyse"
                    ),
                    fmt_count(sum(p.status == "submitted" for p in q.plans), "Aufgabenplanung"),
                    fmt_count(sum(r.status == "submitted" for r in q.reports), "Sachbericht"),
                ]
            )
        )
        if q.off_field_activities:
            with st.expander(
                f"{fmt_count(len(q.off_field_activities), 'Angebot')} außerhalb der "
                "Arbeitsschwerpunkte"
            ):
                for name, title, f, reason in q.off_field_activities:
                    st.text(f"{name}: {title} ({f}) – Begründung: {reason}")

        def show(status: str) -> bool:
            return status == "submitted" or not only_waiting

        # Only the open tab is drawn (a click on another reruns the page): the plans of
        # every agency are dozens of boxes with a form each, the browser's slowest part.
        tabs = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
        if tabs[0].open is not False:
            with tabs[0]:
                _analyses(who, q, show, steps)
        if tabs[1].open:
            with tabs[1]:
                _plans(who, q, show, steps, by_analysis)
        if tabs[2].open:
            with tabs[2]:
                _reports(who, q, show, steps)


def _analyses(
    who: Actor,
    q: approvals.Queue,
    show: Callable[[str], bool],
    steps: dict[tuple[str, int], list[approvals.Step]],
) -> None:
    if not any(show(a.status) for a in q.analyses):
        st.info(NOTHING)
    for a in q.analyses:
        if not show(a.status):
            continue
        with st.container(border=True):
            st.markdown(f"**{md(a.agency_name)}** – Förderphase {a.phase}")
            st.caption(f"{STATUS.get(a.status, a.status)} · Version {a.version}")
            _analysis(who, a)
            if a.status == "submitted":
                _decide(who, "analysis", a.id)
            _steps(steps[("analysis", a.id)])


def _plans(
    who: Actor,
    q: approvals.Queue,
    show: Callable[[str], bool],
    steps: dict[tuple[str, int], list[approvals.Step]],
    by_analysis: dict[int, analyses.AnalysisView],
) -> None:
    if not any(show(p.status) for p in q.plans):
        st.info(NOTHING)
    for p in q.plans:
        if not show(p.status):
            continue
        with st.container(border=True):
            st.markdown(f"**{md(p.agency_name)}** – Aufgabe {p.years}")
            st.caption(f"{STATUS.get(p.status, p.status)} · Version {p.version}")
            _plan(who, p, by_analysis)
            if p.status == "submitted":
                _decide(who, "plan", p.id)
            _steps(steps[("plan", p.id)])


def _reports(
    who: Actor,
    q: approvals.Queue,
    show: Callable[[str], bool],
    steps: dict[tuple[str, int], list[approvals.Step]],
) -> None:
    if not any(show(r.status) for r in q.reports):
        st.info(NOTHING)
    for r in q.reports:
        if not show(r.status):
            continue
        with st.container(border=True):
            st.markdown(f"**{md(r.agency_name)}** – Sachbericht {r.funding_year}")
            st.caption(
                f"{STATUS.get(r.status, r.status)} · Version {r.version}"
                + (f" · PDF: Nachweis {r.evidence_id}" if r.evidence_id else "")
            )
            if r.status == "submitted":
                _decide(who, "report", r.id)
            _steps(steps[("report", r.id)])


render()
