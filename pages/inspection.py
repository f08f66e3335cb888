"""Prüfung: completeness of every agency, then tree and findings of one agency and year,
the signed bundle, and its check."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from ia_events.accounts import agencies
from ia_events.archive.evidence import KIND_LABELS
from ia_events.core.access import Actor
from ia_events.core.messages import (
    INDICATOR_LABELS,
    berlin,
    fmt_count,
    fmt_date,
    fmt_number,
    fmt_percent,
    fmt_size,
    fmt_time,
)
from ia_events.inspection import bundle, completeness
from pages._ui import actor, cached, guard, inst, md, now, rows_height, year_picker

STATUS = {"scheduled": "durchgeführt", "cancelled": "abgesagt"}
_OVERVIEW = "insp_overview"
_AGENCY = "insp_agency"
_APPLIED = "insp_overview_applied"


def _open_picked_row(event: object, slugs: list[str]) -> None:
    """A click on a row of the overview opens that agency below (once per click: choosing
    another agency in the box afterwards is not overridden by the old row)."""
    rows = list(getattr(getattr(event, "selection", None), "rows", None) or [])
    if rows != st.session_state.get(_APPLIED):
        st.session_state[_APPLIED] = rows
        if rows and rows[0] < len(slugs):
            st.session_state[_AGENCY] = slugs[rows[0]]


def _overview(who: Actor, year: int) -> None:
    """Completeness of every agency the coordinator reaches, sortable; a click opens one."""
    grace = completeness.grace_of(inst().settings)
    with guard(stop=True):
        rows = cached(
            "completeness.overview",
            who,
            (year, grace),
            lambda s, at: completeness.overview(s, who, year, at, grace),
        )
    st.subheader(f"Vollständigkeit aller Integrationsagenturen {year}")
    st.caption(
        "Sortieren per Klick auf eine Spaltenüberschrift; ein Klick auf eine Zeile öffnet "
        "die Hinweise dieser Agentur unten."
    )
    frame = pd.DataFrame(
        [
            {
                "Integrationsagentur": r.name,
                "Termine mit Liste": (
                    round(100 * r.list_share) if r.list_share is not None else None
                ),
                "Termine mit Liste (Anzahl)": f"{r.held_with_list} von {r.held_needing_list}",
                "Teilziele mit Nachweis": r.subgoals_with_evidence,
                "Teilziele": r.subgoals_total,
                "Teilziele ohne Pressebeleg": r.press_missing,
                "Facharbeitskreise": (
                    f"{r.working_groups_held} von mindestens {r.working_groups_required}"
                ),
                "Facharbeitskreise fehlen": r.working_groups_short,
                "Warnungen": r.warnings,
                "Weitere Hinweise": r.infos,
            }
            for r in rows
        ]
    )
    event = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=rows_height(len(rows)),
        key=_OVERVIEW,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Integrationsagentur": st.column_config.TextColumn(width="large"),
            "Termine mit Liste": st.column_config.NumberColumn(
                format="%d %%",
                help="Anteil der durchgeführten Termine mit Teilnahmen, "
                "für die eine Teilnehmerliste oder ein unterschriebener Scan vorliegt",
            ),
            "Teilziele ohne Pressebeleg": st.column_config.NumberColumn(
                help="Teilziele ohne Pressemeldung oder Presseartikel"
            ),
        },
    )
    _open_picked_row(event, [r.slug for r in rows])


def _findings(tree: completeness.InspectionTree) -> None:
    """The agency's findings grouped by kind, most important first."""
    st.subheader(f"Hinweise: {md(tree.agency_name)}")
    warnings = [f for f in tree.findings if f.severity == "warning"]
    if not tree.findings:
        st.success("Keine Hinweise: Alles ist vollständig belegt.")
        return
    (st.warning if warnings else st.info)(
        f"{fmt_count(len(warnings), 'Warnung', 'Warnungen')} und "
        f"{fmt_count(len(tree.findings) - len(warnings), 'weiterer Hinweis', 'weitere Hinweise')}"
        " – bitte vor dem Export prüfen."
    )
    for kind, items in completeness.grouped(tree.findings).items():
        serious = any(f.severity == "warning" for f in items)
        with st.expander(
            f"{kind} ({fmt_number(len(items))})",
            icon=":material/warning:" if serious else ":material/info:",
        ):
            st.dataframe(
                pd.DataFrame([{"Hinweis": f.text} for f in items]),
                hide_index=True,
                width="stretch",
                height=rows_height(len(items)) if len(items) <= 40 else 600,
            )


def _inspect(who: Actor, slug: str, year: int, subgoal: int | None) -> completeness.InspectionTree:
    """One agency's year (or one sub-goal of it), read again only after a change."""
    grace = completeness.grace_of(inst().settings)
    with guard(stop=True):
        return cached(
            "completeness.inspect",
            who,
            (slug, year, subgoal, grace),
            lambda s, at: completeness.inspect(s, who, slug, year, subgoal, at, grace),
        )
    raise AssertionError("unreachable: guard(stop=True) ends the run")


def render() -> None:
    who = actor()
    st.title("Prüfung")
    st.caption(
        "Alles, was Aufgabenplanung und Sachbericht belegt – vollständig, überall lesbar und "
        "ohne diese Software prüfbar (signiertes BagIt-Prüfpaket)."
    )
    with guard(stop=True), inst().db.read() as s:
        reachable = agencies.list_agencies(s, who)
    if not reachable:
        st.info("Ihrem Konto ist keine Integrationsagentur zugeordnet.")
        st.stop()
    this_year = berlin(now()).year
    year = year_picker(list(range(this_year, this_year - 11, -1)))
    if len(reachable) > 1:
        _overview(who, year)
    c1, c3 = st.columns([1, 1])
    names = {a.slug: a.name for a in reachable}
    if st.session_state.get(_AGENCY) not in names:
        st.session_state.pop(_AGENCY, None)
    slug = c1.selectbox("Integrationsagentur", list(names), format_func=names.get, key=_AGENCY)
    full = _inspect(who, slug, year, None)
    goal_titles = {g.id: g.title for g in full.subgoals}
    subgoal = c3.selectbox(
        "Teilziel (optional)",
        [None, *goal_titles],
        format_func=lambda g: "Alle Teilziele" if g is None else goal_titles[g],
        key="insp_subgoal",
    )
    tree = full if subgoal is None else _inspect(who, slug, year, subgoal)

    totals = tree.totals
    m = st.columns(4)
    m[0].metric("Termine durchgeführt", fmt_number(totals["occurrences_held"]))
    m[1].metric("Teilnahmen", fmt_number(totals["participants"]))
    m[2].metric("Nachweise", fmt_number(totals["evidence"]))
    m[3].metric("Hinweise", fmt_number(len(tree.findings)))

    _findings(tree)
    _tree(tree, year)
    _export(who, slug, year, subgoal)
    _verify(who)


def _tree(tree: completeness.InspectionTree, year: int) -> None:
    st.subheader("Aufgabenplanung → Teilziele → Angebote → Termine → Nachweise")
    if tree.plan:
        approved = (
            f"freigegeben (Fassung {tree.approved['version']})"
            if tree.approved
            else "nicht freigegeben"
        )
        st.markdown(
            f"**Thema:** {md(tree.plan['topic'])}  \n**Ziel:** {md(tree.plan['goal'])}  \n"
            f"{approved}"
        )
    else:
        st.info(f"Für {year} gibt es keine Aufgabenplanung.")
    for g in tree.subgoals:
        label = INDICATOR_LABELS.get(g.indicator, g.indicator)
        with st.expander(
            f"{md(g.title)} – {fmt_number(g.actual)} von {fmt_number(g.target)} ({label})"
        ):
            st.progress(min(g.ratio, 1.0), text=f"{fmt_percent(g.ratio)} erreicht")
            for act in tree.activities.values():
                if g.id not in act.subgoal_ids:
                    continue
                st.markdown(f"**{md(act.title)}** ({md(act.field)})")
                rows = [tree.occurrences[o] for o in act.occurrence_ids]
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "Datum": fmt_date(o.starts_at),
                                "Zeit": f"{fmt_time(o.starts_at)}–{fmt_time(o.ends_at)}",
                                "Status": STATUS.get(o.status, o.status) if o.held else "geplant",
                                "Teilnahmen": o.participants,
                                "Nachweise": len(o.evidence_ids),
                            }
                            for o in rows
                        ]
                    ),
                    hide_index=True,
                    width="stretch",
                    height=rows_height(len(rows)) if len(rows) <= 60 else 600,
                )
            items = tree.evidence_for_subgoal(g.id)
            st.markdown(f"**Nachweise ({fmt_number(len(items))})**")
            if items:
                st.dataframe(
                    [
                        {"Nr.": e.id, "Art": KIND_LABELS.get(e.kind, e.kind), "Titel": e.title}
                        for e in items
                    ],
                    hide_index=True,
                    width="stretch",
                    height=rows_height(len(items)),
                )
                with st.expander("Details (Prüfsummen)"):
                    st.dataframe(
                        [{"Nr.": e.id, "SHA-256": e.sha256} for e in items],
                        hide_index=True,
                        width="stretch",
                        height=rows_height(len(items)),
                    )


def _export(who: Actor, slug: str, year: int, subgoal: int | None) -> None:
    st.subheader("Prüfpaket exportieren")
    st.write(
        "Ein ZIP mit einem signierten BagIt-Paket: Inhaltsverzeichnis (PDF), Nachweise, "
        "Teilnahmezahlen, Audit-Auszug, eingefrorene Fassungen und Prüfanleitung."
    )
    if st.button("Prüfpaket erstellen", type="primary", key="insp_export"):
        bar = st.progress(0.0, text="Start …")
        with guard():
            result = bundle.export_for_download(
                inst(),
                who,
                slug,
                year,
                subgoal_id=subgoal,
                progress=lambda f, t: bar.progress(min(max(f, 0.0), 1.0), text=t),
            )
            st.session_state["insp_result"] = {
                "path": str(result.path),
                "name": result.path.name,
                "sha256": result.sha256,
                "size": result.size,
                "files": result.files,
            }
    done = st.session_state.get("insp_result")
    if done:
        st.success(
            f"Prüfpaket erstellt: {fmt_count(done['files'], 'Datei')}, {fmt_size(done['size'])}."
        )
        with st.expander("Details"):
            st.caption(f"SHA-256 des Prüfpakets: `{done['sha256']}`")
        st.download_button(
            "Prüfpaket herunterladen",
            data=functools.partial(bundle.open_export, inst(), done["path"]),
            file_name=done["name"],
            mime="application/zip",
            key="insp_download",
            on_click="ignore",
        )


def _verify(who: Actor) -> None:
    st.subheader("Prüfpaket prüfen")
    upload = st.file_uploader("Prüfpaket (ZIP) hochladen", type=["zip"], key="insp_verify")
    if upload is None:
        return
    with guard():
        check = bundle.verify_upload(inst(), who, upload)
        if check.ok:
            st.success(
                "Das Prüfpaket ist vollständig und unverändert: "
                f"{fmt_count(check.files_checked, 'Datei')} geprüft, Signatur gültig."
            )
            with st.expander("Details"):
                st.caption(f"Fingerabdruck des Signaturschlüssels: {check.key_fingerprint}")
        else:
            st.error(
                f"Das Prüfpaket ist NICHT intakt ({fmt_count(len(check.problems), 'Abweichung')}):"
            )
            st.markdown("\n".join(f"- {md(p)}" for p in check.problems))


render()
