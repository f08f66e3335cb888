"""Sozialraumanalyse: the agency's Sozialraum-/Bedarfsanalyse of a Förderphase.

The specialist records the handbook's points (Raster, orientation, sources,
fortgeschrieben or new), the needs found, archives the documents as evidence
and submits it for Freigabe. Each need shows the Aufgaben answering it.
"""

from __future__ import annotations

import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import berlin, fmt_datetime
from ia_events.core.models import FieldOfAction
from ia_events.planning import analyses
from ia_events.planning.deadlines import phase_of
from pages._plan_forms import WHY, field_label
from pages._ui import actor, guard, inst, md, now, upload_limit_mb, writing

STATUS = {"draft": "Entwurf", "submitted": "eingereicht", "approved": "freigegeben"}


def _phase() -> int:
    this = phase_of(berlin(now()).year)[0]
    options = [this - 2, this, this + 2]
    return int(
        st.selectbox(
            "Förderphase",
            options,
            index=1,
            format_func=lambda y: f"{y}/{y + 1} (Frist 15.11.{y - 1})",
            key="sra_phase",
        )
    )


def _form(who: Actor, slug: str, phase: int, a: analyses.AnalysisView | None) -> None:
    with st.form("sra_form"):
        orientation = st.radio(
            "Ausrichtung",
            list(analyses.ORIENTATIONS),
            index=list(analyses.ORIENTATIONS).index(a.orientation) if a else 0,
            format_func=analyses.ORIENTATIONS.get,
            horizontal=True,
        )
        raster = st.text_input(
            "Raster des Fördergebers (Bezeichnung, Stand)",
            value=a.raster if a else "",
            placeholder="z. B. Raster Sozialraumanalyse IA NRW, Stand 2025",
        )
        sources = st.multiselect(
            "Quellen und Abstimmung",
            list(analyses.SOURCES),
            default=a.sources if a else [],
            format_func=analyses.SOURCES.get,
            placeholder="Bitte auswählen",
        )
        note = st.text_input("Quellen (Ergänzung)", value=a.sources_note if a else "")
        continued = st.checkbox(
            "Fortschreibung der Analyse der Vorphase (sonst: neue Analyse)",
            value=a.continued if a else False,
        )
        summary = st.text_area("Zusammenfassung", value=a.summary if a else "", height=100)
        why = st.text_input(WHY, key="sra_why") if a else ""
        if st.form_submit_button("Speichern", type="primary"):
            with guard():
                with writing() as s:
                    if a is None:
                        analyses.create_analysis(
                            s,
                            who,
                            agency_slug=slug,
                            year=phase,
                            orientation=orientation,
                            raster=raster,
                            sources=sources,
                            sources_note=note,
                            continued=continued,
                            summary=summary,
                            now=now(),
                        )
                    else:
                        analyses.update_analysis(
                            s,
                            who,
                            a.id,
                            orientation=orientation,
                            raster=raster,
                            sources=sources,
                            sources_note=note,
                            continued=continued,
                            summary=summary,
                            why=why,
                            now=now(),
                        )
                st.rerun()


def _needs(who: Actor, a: analyses.AnalysisView) -> None:
    st.subheader("Bedarfe")
    if not a.needs:
        st.info("Noch keine Bedarfe. Aus den Daten sind konkrete Handlungsbedarfe abzuleiten.")
    for n in a.needs:
        with st.container(border=True):
            st.text(f"{n.title} ({n.field or '–'})")
            if n.description:
                st.caption(md(n.description))
            if n.plans:
                st.text("Aufgaben dazu: " + "; ".join(f"{t} ({y})" for _, t, y in n.plans))
            else:
                st.caption("Noch keine Aufgabe nennt diesen Bedarf.")
    with st.form("sra_need", clear_on_submit=True):
        title = st.text_input(
            "Bedarf", placeholder="z. B. Wenige Treffpunkte für geflüchtete Frauen"
        )
        description = st.text_area("Beschreibung", height=68)
        field = st.selectbox(
            "Handlungsfeld", ["", *[f.value for f in FieldOfAction]],
            format_func=lambda f: field_label(f) if f else "–",
        )  # fmt: skip
        why = st.text_input(WHY, key="sra_need_why")
        if st.form_submit_button("Bedarf hinzufügen"):
            with guard():
                with writing() as s:
                    analyses.add_need(
                        s, who, a.id, title=title, description=description, field=field,
                        why=why, now=now(),
                    )  # fmt: skip
                st.rerun()


def render() -> None:
    who = actor()
    st.title("Sozialraum-/Bedarfsanalyse")
    st.caption(
        "Alle zwei Jahre, dem Förderantrag beizufügen: mit dem aktuellen Raster, Bezug zum "
        "kommunalen Integrationskonzept, Abstimmung mit dem Kommunalen Integrationszentrum "
        "und anderen Integrationsagenturen; daraus konkrete Bedarfe ableiten."
    )
    with guard():
        from ia_events.accounts import agencies

        with inst().db.read() as s:
            own = [a for a in agencies.list_agencies(s, who) if a.id == who.agency_id]
        if not own:
            st.warning("Ihrem Konto ist keine aktive Integrationsagentur zugeordnet.")
            return
        slug = own[0].slug
        phase = _phase()
        with inst().db.read() as s:
            a = analyses.get_analysis(s, who, slug, phase)
        if a is not None:
            line = f"Status: {STATUS.get(a.status, a.status)} · Version {a.version}"
            if a.approved_at:
                line += f" · freigegeben am {fmt_datetime(a.approved_at)} von {a.approved_by}"
            st.text(line)
            if a.status == "draft" and a.review_note:
                st.warning("Hinweis der Koordination:")
                st.text(a.review_note)
            for point in a.missing_points:
                st.caption(f"Noch offen: {point}")
        with st.expander("Angaben zur Analyse", expanded=a is None):
            _form(who, slug, phase, a)
        if a is None:
            return
        _needs(who, a)
        st.subheader("Dokumente")
        if a.evidence_ids:
            st.text("Im Nachweis-Archiv: " + ", ".join(f"Nachweis {i}" for i in a.evidence_ids))
        upload = st.file_uploader(
            "Analyse/Raster hochladen", key="sra_upload", max_upload_size=upload_limit_mb()
        )
        if upload is not None and st.button("Dokument archivieren"):
            analyses.attach_document(
                inst(), who, a.id, filename=upload.name, content=upload.getvalue(),
                media_type=upload.type or "application/octet-stream",
            )  # fmt: skip
            st.success("Dokument archiviert.")
        if a.status == "draft" and st.button("Zur Freigabe einreichen", type="primary"):
            with writing() as s:
                analyses.submit_analysis(s, who, a.id, now=now())
            st.rerun()


render()
