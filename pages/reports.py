"""Berichte & Controlling: Sachbericht (edit, PDF/Word, submit), controlling figures, charts."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.messages import INDICATOR_LABELS, berlin, fmt_count, fmt_number
from ia_events.reporting import activity_report, controlling, progress
from pages import _funding
from pages._ui import (
    actor,
    agency_picker,
    bar_chart,
    cached,
    commit,
    flash,
    guard,
    inst,
    line_chart,
    md,
    now,
    rows_height,
    writing,
    year_picker,
)

MONTHS = ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"]


def _bytes(fn: Callable[..., tuple[str, str, bytes]], *args: object) -> Callable[[], bytes]:
    """Deferred download: the service runs (and is audited) only when clicked."""
    return lambda: fn(*args)[2]


def render() -> None:
    who = actor()
    st.title("Berichte & Controlling" if who.role == "coordinator" else "Berichte")
    c1, c2 = st.columns([3, 1])
    with c1, guard(stop=True):
        slug = agency_picker(who, key="rep_agency")
    if slug is None:
        st.info("Ihrem Konto ist keine Integrationsagentur zugeordnet.")
        st.stop()
    this_year = berlin(now()).year
    with c2:
        year = year_picker(list(range(this_year, this_year - 11, -1)))
    tab_report, tab_ctrl, tab_money, tab_chart = st.tabs(
        ["Sachbericht", "Controlling", "Finanzierung", "Verlauf"]
    )
    with tab_report:
        _report(who, slug, year)
    with tab_ctrl:
        _controlling(who, slug, year)
    with tab_money:
        _funding.overview(who, slug, year)
    with tab_chart:
        _charts(who, slug, year)


def _report(who: Actor, slug: str, year: int) -> None:
    """The Sachbericht: the draft's texts, saved or submitted (then frozen), PDF and Word."""
    fingerprint = inst().keys.fingerprint()
    with guard(stop=True):
        draft = cached(
            "activity_report.draft",
            who,
            (slug, year, fingerprint),
            lambda s, at: activity_report.draft(s, who, slug, year, fingerprint, at),
        )
    if draft.submitted:
        st.success(
            f"Eingereicht und eingefroren ({activity_report.status_line(draft)}); "
            f"archiviert als Nachweis {draft.evidence_id}."
        )
    else:
        st.info("Entwurf: Die Zahlen kommen aus den erfassten Terminen; die Texte schreiben Sie.")
    with st.expander("Details"):
        st.caption(f"Fingerabdruck des Signaturschlüssels: {draft.fingerprint}")
    editable = not draft.submitted and who.role == "specialist"
    with st.form("rep_form"):
        texts = {
            "intro": st.text_area(
                "Einleitung", draft.intro, disabled=not editable, key=f"rep_t_{slug}_{year}_intro"
            )
        }
        previous = None
        for n, sec in enumerate(draft.sections, 1):
            g = sec.goal
            if sec.aufgabe_id and sec.aufgabe_id != previous:
                previous = sec.aufgabe_id
                st.subheader("Aufgabe")
                st.text(sec.aufgabe)
                st.caption(
                    "Zur Selbstevaluation: "
                    + " ".join(activity_report.SELF_EVALUATION)
                    + " "
                    + activity_report.PLAIN_LANGUAGE
                )
            st.markdown(f"**{n}. {md(g.title)}**")
            st.caption(
                f"{INDICATOR_LABELS.get(g.indicator, g.indicator)}: "
                f"Soll {fmt_number(g.target)}, Ist {fmt_number(g.actual)} · "
                f"Ehrenamtsstunden {fmt_number(sec.volunteer_hours)} · "
                f"Nachweise {fmt_number(sec.evidence_count)} · "
                + "; ".join(
                    f"{md(a.title)}: {fmt_count(len(a.dates), 'Termin')}, "
                    f"{fmt_count(a.participants, 'Teilnahme')}"
                    for a in sec.activities
                )
            )
            texts[sec.key] = st.text_area(
                f"Text zu Teilziel {n}",
                sec.text,
                disabled=not editable,
                key=f"rep_t_{slug}_{year}_{sec.key}",
            )
        texts["closing"] = st.text_area(
            "Fazit", draft.closing, disabled=not editable, key=f"rep_t_{slug}_{year}_closing"
        )
        saved = st.form_submit_button("Entwurf speichern", disabled=not editable)
    if saved:
        commit(
            lambda s: activity_report.save_texts(s, who, slug, year, texts, now()),
            "Entwurf gespeichert.",
        )
    d1, d2 = st.columns(2)
    d1.download_button(
        "Sachbericht als PDF",
        data=_bytes(activity_report.export, inst(), who, slug, year, "pdf"),
        file_name=f"Sachbericht_{year}_{slug}.pdf",
        mime="application/pdf",
        key="rep_pdf",
        on_click="ignore",
    )
    d2.download_button(
        "Sachbericht als Word (.docx)",
        data=_bytes(activity_report.export, inst(), who, slug, year, "docx"),
        file_name=f"Sachbericht_{year}_{slug}.docx",
        mime=activity_report.DOCX_MIME,
        key="rep_docx",
        on_click="ignore",
    )
    if editable:
        st.divider()
        sure = st.checkbox(
            "Der Sachbericht ist fertig. Nach dem Einreichen wird er eingefroren und archiviert.",
            key="rep_sure",
        )
        if st.button("Sachbericht einreichen", disabled=not sure, type="primary", key="rep_submit"):
            with guard():
                with writing() as s:
                    activity_report.save_texts(s, who, slug, year, texts, now())
                evidence_id = activity_report.submit(inst(), who, slug, year)
                flash(f"Eingereicht und als Nachweis {evidence_id} archiviert.")
                st.rerun()


def _controlling(who: Actor, slug: str, year: int) -> None:
    """The figures for the state's online controlling, per field of action; CSV and XLSX."""
    st.write(
        "Zahlen für das Online-Controlling des Landes: Angebote, Teilnahmen (namentlich, mit "
        "Karte, gezählt), erreichte Personen, Termine, Ehrenamtliche und Stunden, "
        "Kooperationspartner und Kooperationen, Multiplikator*innen, Finanzierung nach Quelle "
        "– gesamt, nach Handlungsfeld und nach Teilziel."
    )
    with guard(stop=True):
        data = cached(
            "controlling.figures",
            who,
            (year, slug),
            lambda s, at: controlling.figures(s, who, year, slug, at),
        )
    if data:
        table = pd.DataFrame([f.row() for f in data[0].rows], columns=controlling.HEADERS)
        for column in ("Ehrenamtsstunden", "Soll", "Ist"):  # "280,9", not "280.9"
            table[column] = ["–" if pd.isna(v) else fmt_number(v) for v in table[column]]
        table = _funding.euro_columns(table)  # "1.234,50 €"
        st.dataframe(table, hide_index=True, width="stretch", height=rows_height(len(table)))
        fields = [f for f in data[0].rows if f.level == "Handlungsfeld"]
        if fields:
            st.subheader("Je Handlungsfeld")
            bar_chart(
                pd.DataFrame(
                    [
                        {
                            "Handlungsfeld": f.label,
                            "Angebote": f.activities,
                            "Termine": f.occurrences,
                            "Kooperationen": f.cooperations,
                        }
                        for f in fields
                    ]
                ),
                x="Handlungsfeld",
                y=["Angebote", "Termine", "Kooperationen"],
            )
    e1, e2, e3 = st.columns(3)
    e1.download_button(
        "CSV",
        data=_bytes(controlling.export, inst(), who, year, "csv", slug),
        file_name=f"Controlling_{year}_{slug}.csv",
        mime="text/csv",
        key="rep_csv",
        on_click="ignore",
    )
    e2.download_button(
        "Excel (XLSX)",
        data=_bytes(controlling.export, inst(), who, year, "xlsx", slug),
        file_name=f"Controlling_{year}_{slug}.xlsx",
        mime=controlling.XLSX_MIME,
        key="rep_xlsx",
        on_click="ignore",
    )
    if who.role == "coordinator":
        e3.download_button(
            "Alle Agenturen (XLSX, Bezirk gesamt und ein Blatt je Agentur)",
            data=_bytes(controlling.export, inst(), who, year, "xlsx", None),
            file_name=f"Controlling_{year}_alle.xlsx",
            mime=controlling.XLSX_MIME,
            key="rep_xlsx_all",
            on_click="ignore",
        )
        _funding.district_table(who, year)


def _charts(who: Actor, slug: str, year: int) -> None:
    """The sub-goals' progress and attendance per month."""
    with guard(stop=True):
        goals, months = cached(
            "reports.charts",
            who,
            (slug, year),
            lambda s, at: (
                progress.subgoal_progress(s, who, slug, year, now=at),
                controlling.attendance_by_month(s, who, slug, year, at),
            ),
        )
    st.subheader("Teilziele: erreicht in Prozent")
    if goals:
        bar_chart(
            pd.DataFrame(
                [{"Teilziel": g.title[:60], "Erreicht (%)": round(100 * g.ratio)} for g in goals]
            ),
            x="Teilziel",
            y=["Erreicht (%)"],
            horizontal=True,
            height=60 + 45 * len(goals),
        )
    else:
        st.info(f"Für {year} sind keine Teilziele angelegt.")
    st.subheader("Teilnahmen und Termine je Monat")
    frame = pd.DataFrame(months)
    frame["Monat"] = [MONTHS[m - 1] for m in frame["Monat"]]
    line_chart(frame, x="Monat", y=["Teilnahmen", "Termine"], order=MONTHS)


render()
