"""Planung: the task plan (Aufgabenplanung) with its sub-goals and their progress.

Specialists write and submit their agency's plan; once submitted, every
change needs a reason and becomes a new version. Coordinators see all plans
of a year, their versions, and approve them (Freigabe) or return them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import (
    berlin,
    csv_number,
    fmt_count,
    fmt_date,
    fmt_datetime,
    fmt_number,
)
from ia_events.core.models import FIELD_LABELS, FieldOfAction, Indicator
from ia_events.planning import plans as planning
from ia_events.reporting import progress
from ia_events.reporting.progress import INDICATOR_LABELS
from pages._ui import actor, guard, inst, md, now, writing

STATUS = {"draft": "Entwurf", "submitted": "eingereicht", "approved": "freigegeben"}


def _year() -> int:
    this = berlin(now()).year
    return int(st.selectbox("Förderjahr", [this - 1, this, this + 1], index=1, key="plan_year"))


def _status_line(plan: planning.PlanView) -> None:
    parts = [f"Status: **{STATUS.get(plan.status, plan.status)}**", f"Version {plan.version}"]
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
    st.bar_chart(
        frame, x="Teilziel", y="Erreicht (%)", horizontal=True, height=60 + 45 * len(goals)
    )
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


def _field_label(f: str) -> str:
    return f"{f} – {FIELD_LABELS[FieldOfAction(f)]}"


def _plan_form(who: Actor, plan: planning.PlanView) -> None:
    with st.form("plan_edit"):
        topic = st.text_area("Thema / Problemlage", value=plan.topic, height=80)
        reason = st.text_area(
            "Begründung (aus der Sozialraumanalyse)", value=plan.reason, height=80
        )
        goal = st.text_area("Ziel", value=plan.goal, height=80)
        methods = st.text_area("Methoden", value=plan.methods, height=80)
        why = st.text_input("Grund der Anpassung (nötig, sobald eingereicht)")
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
                    now=now(),
                )
                st.success("Gespeichert.")


def _subgoal_forms(who: Actor, plan: planning.PlanView) -> None:
    fields = [f.value for f in FieldOfAction]
    indicators = [i.value for i in Indicator]
    with st.form("plan_subgoal_add", clear_on_submit=True):
        st.markdown("**Neues Teilziel**")
        title = st.text_input(
            "Teilziel", placeholder="z. B. 40 Frauen besuchen das Nähcafé regelmäßig"
        )
        c1, c2, c3 = st.columns(3)
        field = c1.selectbox("Handlungsfeld", fields, format_func=_field_label)
        indicator = c2.selectbox("Messgröße", indicators, format_func=lambda i: INDICATOR_LABELS[i])
        target = c3.text_input("Zielwert", placeholder="40")
        why = st.text_input("Grund der Anpassung (nötig, sobald eingereicht)", key="plan_sg_why")
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
                    why=why,
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
            "Handlungsfeld", fields, index=fields.index(g.field), format_func=_field_label
        )
        indicator = c2.selectbox(
            "Messgröße",
            indicators,
            index=indicators.index(g.indicator),
            format_func=lambda i: INDICATOR_LABELS[i],
        )
        target = c3.text_input("Zielwert", value=csv_number(g.target))
        why = st.text_input("Grund der Anpassung (nötig, sobald eingereicht)")
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
                    why=why,
                    now=now(),
                )
                st.success("Teilziel gespeichert.")
    if g.indicator == "manual":
        with st.form("plan_manual"):
            value = st.text_input(
                "Erreichter Wert (manuell)", value=csv_number(g.manual_actual or 0)
            )
            if st.form_submit_button("Wert speichern"):
                with guard(), writing() as s:
                    planning.set_manual_actual(s, who, gid, value)
                    st.success("Wert gespeichert.")


def _specialist(who: Actor) -> None:
    from ia_events.accounts import agencies

    with inst().db.read() as s:
        own = [a for a in agencies.list_agencies(s, who) if a.id == who.agency_id]
    if not own:
        st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
        return
    slug = own[0].slug
    year = _year()
    with inst().db.read() as s:
        plan = planning.get_plan(s, who, slug, year)
    if plan is None:
        st.info(f"Für {year} gibt es noch keine Aufgabenplanung.")
        with st.form("plan_create"):
            topic = st.text_area("Thema / Problemlage")
            goal = st.text_area("Ziel")
            reason = st.text_area("Begründung (aus der Sozialraumanalyse)")
            methods = st.text_area("Methoden")
            if st.form_submit_button("Aufgabenplanung anlegen", type="primary"):
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
                            now=now(),
                        )
                    st.rerun()
        return
    _status_line(plan)
    st.subheader("Teilziele: Stand")
    _progress(who, slug, year)
    if plan.status == "draft" and st.button("Zur Freigabe einreichen", type="primary"):
        with guard():
            with writing() as s:
                planning.submit_plan(s, who, plan.id, now=now())
            st.rerun()
    with st.expander("Aufgabenplanung bearbeiten", expanded=False):
        _plan_form(who, plan)
        upload = st.file_uploader("Sozialraumanalyse hochladen", key="plan_analysis")
        if plan.analysis_evidence_id:
            st.caption(f"Sozialraumanalyse im Archiv: Nachweis {plan.analysis_evidence_id}")
        if upload is not None and st.button("Sozialraumanalyse archivieren"):
            with guard():
                planning.attach_analysis(
                    inst(),
                    who,
                    plan.id,
                    filename=upload.name,
                    content=upload.getvalue(),
                    media_type=upload.type or "application/octet-stream",
                )
                st.success("Sozialraumanalyse archiviert.")
    with st.expander("Teilziele anlegen und ändern", expanded=not plan.subgoals):
        _subgoal_forms(who, plan)
    with st.expander("Versionen (wer, wann, warum)"):
        _history(who, plan.id)


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
                "Status": STATUS.get(p.status, p.status),
                "Version": p.version,
                "Freigegeben (Version)": p.approved_version or "–",
                "Angepasst seit Freigabe": "ja" if p.changed_since_approval else "",
                "Teilziele": len(p.subgoals),
            }
            for p in plans
        ],
        hide_index=True,
        width="stretch",
    )
    waiting = [p for p in plans if p.status == "submitted"]
    st.caption(
        f"{fmt_count(len(waiting), 'Planung')} "
        f"{'wartet' if len(waiting) == 1 else 'warten'} auf Freigabe."
    )
    by_slug = {p.agency_slug: p for p in plans}
    default = list(by_slug).index(waiting[0].agency_slug) if waiting else 0
    slug = st.selectbox(
        "Planung ansehen",
        list(by_slug),
        index=default,
        format_func=lambda x: by_slug[x].agency_name,
        key="plan_pick",
    )
    plan = by_slug[slug]
    st.subheader(f"{md(plan.agency_name)} – {year}")
    _status_line(plan)
    st.markdown(
        f"**Thema:** {md(plan.topic)}\n\n**Ziel:** {md(plan.goal)}\n\n"
        f"**Methoden:** {md(plan.methods)}"
    )
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
                        planning.return_plan(s, who, plan.id, note)
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
