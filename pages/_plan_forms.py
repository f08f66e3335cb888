"""The specialist's forms of the Planung page: create an Aufgabe, edit it (Projektplan
fields, the needs it answers, a grundsätzliche change), its sub-goals with methods.

Widgets and one service call each; the rules live in ``ia_events.planning.plans``.
"""

from __future__ import annotations

import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import INDICATOR_LABELS
from ia_events.core.models import FIELD_LABELS, FieldOfAction, Indicator
from ia_events.planning import plans as planning
from ia_events.planning.analyses import AnalysisView
from pages._ui import guard, now, writing

WHY = "Grund der Anpassung (nötig, sobald eingereicht)"
OFF_FIELD = "Begründung, falls außerhalb der Arbeitsschwerpunkte"
PROJECT = {
    "target_group": "Zielgruppe",
    "timeline": "Zeitplan / Meilensteine",
    "evaluation": "Evaluation (wie wird gemessen?)",
    "partners_text": "Beteiligte und Partner",
    "financing": "Finanzierung (Hinweis)",
}


def field_label(f: str) -> str:
    return f"{f} – {FIELD_LABELS[FieldOfAction(f)]}"


def _need_options(analysis: AnalysisView | None) -> dict[int, str]:
    if analysis is None:
        return {}
    return {n.id: f"{n.title} ({n.field or '–'})" for n in analysis.needs}


def create_form(who: Actor, slug: str, year: int, analysis: AnalysisView | None) -> None:
    needs = _need_options(analysis)
    if not needs:
        st.caption(
            "Tipp: Legen Sie zuerst unter *Sozialraumanalyse* die Bedarfe an – die Aufgabe "
            "nennt dann unter Anlass/Begründung den Bedarf, auf den sie antwortet."
        )
    with st.form("plan_create"):
        topic = st.text_area("Thema / Problemlage", placeholder="ein Thema, keine Einzelaktion")
        need_ids = st.multiselect(
            "Bedarfe aus der Sozialraumanalyse",
            list(needs),
            format_func=needs.get,
            placeholder="Bitte auswählen",
        )
        reason = st.text_area("Anlass/Begründung (aus der Sozialraumanalyse)")
        goal = st.text_area("Ziel")
        methods = st.text_area("Methoden")
        fields = st.multiselect(
            "Handlungsfelder",
            [f.value for f in FieldOfAction],
            format_func=field_label,
            placeholder="Bitte auswählen",
        )
        spans = st.checkbox(
            f"Für die ganze Förderphase ({year}/{year + 1})",
            disabled=year % 2 != 0,
            help="Eine Förderphase beginnt in einem geraden Jahr.",
        )
        project = {k: st.text_input(label) for k, label in PROJECT.items()}
        if st.form_submit_button("Aufgabe anlegen", type="primary"):
            with guard():
                with writing() as s:
                    planning.create_task_plan(
                        s,
                        who,
                        agency_slug=slug,
                        funding_year=year,
                        topic=topic,
                        goal=goal,
                        reason=reason,
                        methods=methods,
                        spans_phase=spans,
                        fields=fields,
                        need_ids=need_ids,
                        now=now(),
                        **project,
                    )
                st.rerun()


def edit_form(who: Actor, plan: planning.PlanView, analysis: AnalysisView | None) -> None:
    needs = _need_options(analysis)
    current = [n.id for n in plan.needs if n.id in needs]
    with st.form("plan_edit"):
        topic = st.text_area("Thema / Problemlage", value=plan.topic, height=80)
        need_ids = st.multiselect(
            "Bedarfe aus der Sozialraumanalyse",
            list(needs),
            default=current,
            format_func=needs.get,
            placeholder="Bitte auswählen",
        )
        reason = st.text_area(
            "Anlass/Begründung (aus der Sozialraumanalyse)", value=plan.reason, height=80
        )
        goal = st.text_area("Ziel", value=plan.goal, height=80)
        methods = st.text_area("Methoden", value=plan.methods, height=80)
        fields = st.multiselect(
            "Handlungsfelder",
            [f.value for f in FieldOfAction],
            default=plan.plan_fields,
            format_func=field_label,
            placeholder="Bitte auswählen",
        )
        project = {k: st.text_input(label, value=getattr(plan, k)) for k, label in PROJECT.items()}
        why = st.text_input(WHY)
        fundamental = st.checkbox(
            "Grundsätzliche Änderung (der Bewilligungsbehörde mitzuteilen)",
            help="Nur wenn die Aufgabenplanung grundsätzlich verändert wird; kleinere "
            "Anpassungen nach Rücksprache mit der Koordination brauchen keine Mitteilung.",
        )
        if st.form_submit_button("Speichern"):
            with guard(), writing() as s:
                planning.update_plan(
                    s,
                    who,
                    plan.id,
                    topic=topic,
                    goal=goal,
                    reason=reason,
                    methods=methods,
                    why=why,
                    fundamental=fundamental,
                    project=project,
                    fields=fields,
                    need_ids=need_ids if needs else None,
                    now=now(),
                )
                st.success(
                    "Gespeichert. Die Mitteilung an die Bewilligungsbehörde finden Sie unter "
                    "*Mitteilungen & Personal*."
                    if fundamental
                    else "Gespeichert."
                )


def subgoal_forms(who: Actor, plan: planning.PlanView) -> None:
    fields = [f.value for f in FieldOfAction]
    indicators = [i.value for i in Indicator]
    years = [plan.funding_year, plan.funding_year + 1] if plan.spans_phase else [plan.funding_year]
    with st.form("plan_subgoal_add", clear_on_submit=True):
        st.markdown("**Neues Teilziel**")
        title = st.text_input(
            "Teilziel", placeholder="z. B. 40 Frauen besuchen das Nähcafé regelmäßig"
        )
        c1, c2, c3 = st.columns(3)
        field = c1.selectbox("Handlungsfeld", fields, format_func=field_label)
        indicator = c2.selectbox("Messgröße", indicators, format_func=lambda i: INDICATOR_LABELS[i])
        target = c3.text_input("Zielwert", placeholder="40")
        methods = st.text_area("Methoden", placeholder="Wie wird das Teilziel erreicht?", height=68)
        year = st.selectbox("Förderjahr", years) if len(years) > 1 else years[0]
        off_reason = st.text_input(OFF_FIELD, key="plan_sg_off")
        why = st.text_input(WHY, key="plan_sg_why")
        if st.form_submit_button("Teilziel hinzufügen"):
            with guard(), writing() as s:
                planning.add_subgoal(
                    s,
                    who,
                    plan.id,
                    title=title,
                    field=field,
                    indicator=indicator,
                    target=target,
                    methods=methods,
                    why=why,
                    off_field_reason=off_reason,
                    funding_year=int(year),
                    now=now(),
                )
                st.success("Teilziel angelegt.")
    if not plan.subgoals:
        return
    goals = {g.id: g for g in plan.subgoals}
    gid = st.selectbox(
        "Teilziel ändern", list(goals), format_func=lambda i: goals[i].title, key="plan_sg_pick"
    )
    g = goals[gid]
    with st.form("plan_subgoal_edit"):
        title = st.text_input("Teilziel", value=g.title)
        c1, c2, c3 = st.columns(3)
        field = c1.selectbox(
            "Handlungsfeld", fields, index=fields.index(g.field), format_func=field_label
        )
        indicator = c2.selectbox(
            "Messgröße",
            indicators,
            index=indicators.index(g.indicator),
            format_func=lambda i: INDICATOR_LABELS[i],
        )
        target = c3.text_input("Zielwert", value=f"{g.target:g}")
        methods = st.text_area("Methoden", value=g.methods, height=68, key="plan_sg_edit_methods")
        off_reason = st.text_input(OFF_FIELD, value=g.off_field_reason)
        why = st.text_input(WHY, key="plan_sg_edit_why")
        if st.form_submit_button("Teilziel speichern"):
            with guard(), writing() as s:
                planning.change_subgoal(
                    s,
                    who,
                    gid,
                    title=title,
                    field=field,
                    indicator=indicator,
                    target=target,
                    methods=methods,
                    off_field_reason=off_reason,
                    why=why,
                    now=now(),
                )
                st.success("Teilziel gespeichert.")
    if g.indicator == "manual":
        with st.form("plan_manual"):
            value = st.text_input("Erreichter Wert (manuell)", value=f"{g.manual_actual or 0:g}")
            if st.form_submit_button("Wert speichern"):
                with guard(), writing() as s:
                    planning.set_manual_actual(s, who, gid, value)
                    st.success("Wert gespeichert.")


def export_buttons(who: Actor, plan: planning.PlanView) -> None:
    """PDF and Word of the Aufgabenplanung, with the templates valid on the chosen date."""
    from ia_events.core.messages import berlin
    from ia_events.planning import plan_export, templates
    from pages._ui import inst

    today = berlin(now()).date()
    on = st.date_input("Datum des Dokuments", value=today, format="DD.MM.YYYY", key="plan_doc_on")
    with inst().db.read() as s:
        warnings = templates.for_document(s, on=on, today=today).warnings
    for w in warnings:
        st.warning(w)

    def make(fmt: str):  # type: ignore[no-untyped-def]
        def build() -> bytes:  # runs on click, outside the script run: own session
            with inst().db.read() as s:
                return plan_export.export(s, who, plan.id, fmt, on=on, today=today).content

        return build

    base = f"Aufgabenplanung_{plan.funding_year}_{plan.agency_slug}_{plan.id}"
    c1, c2 = st.columns(2)
    c1.download_button("Als PDF", make("pdf"), f"{base}.pdf", "application/pdf", key="plan_pdf")
    c2.download_button(
        "Als Word", make("docx"), f"{base}.docx", plan_export.DOCX_MIME, key="plan_docx"
    )
