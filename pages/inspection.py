"""Prüfung: tree and completeness for one agency and year, the signed bundle, and its check."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from ia_events.accounts import agencies
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
from pages._ui import actor, guard, inst, md, now

STATUS = {"scheduled": "durchgeführt", "cancelled": "abgesagt"}

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
c1, c2, c3 = st.columns([3, 1, 3])
slug = c1.selectbox(
    "Integrationsagentur",
    [a.slug for a in reachable],
    format_func={a.slug: a.name for a in reachable}.get,
    key="insp_agency",
)
year = c2.selectbox(
    "Förderjahr", list(range(this_year, this_year - 11, -1)), index=1, key="insp_year"
)
with guard(stop=True), inst().db.read() as s:
    full = completeness.inspect(s, who, slug, year, None, now())
goal_titles = {g.id: g.title for g in full.subgoals}
subgoal = c3.selectbox(
    "Teilziel (optional)",
    [None, *goal_titles],
    format_func=lambda g: "Alle Teilziele" if g is None else goal_titles[g],
    key="insp_subgoal",
)
if subgoal is None:
    tree = full
else:
    with guard(stop=True), inst().db.read() as s:
        tree = completeness.inspect(s, who, slug, year, subgoal, now())

totals = tree.totals
m = st.columns(4)
m[0].metric("Termine durchgeführt", totals["occurrences_held"])
m[1].metric("Teilnahmen", totals["participants"])
m[2].metric("Nachweise", totals["evidence"])
m[3].metric("Hinweise", len(tree.findings))

st.subheader("Vollständigkeit")
warnings = [f for f in tree.findings if f.severity == "warning"]
if not tree.findings:
    st.success("Keine Hinweise: Alles ist vollständig belegt.")
else:
    (st.warning if warnings else st.info)(
        f"{len(warnings)} Warnungen und {len(tree.findings) - len(warnings)} weitere Hinweise "
        "– bitte vor dem Export prüfen."
    )
    st.dataframe(
        [
            {"Art": "Warnung" if f.severity == "warning" else "Info", "Hinweis": f.text}
            for f in tree.findings
        ],
        hide_index=True,
        width="stretch",
        height=min(400, 38 + 35 * len(tree.findings)),
    )

st.subheader("Aufgabenplanung → Teilziele → Angebote → Termine → Nachweise")
if tree.plan:
    approved = (
        f"freigegeben (Fassung {tree.approved['version']})"
        if tree.approved
        else "nicht freigegeben"
    )
    st.markdown(
        f"**Thema:** {md(tree.plan['topic'])}  \n**Ziel:** {md(tree.plan['goal'])}  \n{approved}"
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
                height=min(300, 38 + 35 * max(len(rows), 1)),
            )
        items = tree.evidence_for_subgoal(g.id)
        st.markdown(f"**Nachweise ({len(items)})**")
        if items:
            st.dataframe(
                [
                    {"Nr.": e.id, "Art": e.kind, "Titel": e.title, "SHA-256": e.sha256[:16] + "…"}
                    for e in items
                ],
                hide_index=True,
                width="stretch",
            )

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
        f"Prüfpaket erstellt: {fmt_count(done['files'], 'Datei')}, {fmt_size(done['size'])}. "
        f"SHA-256: `{done['sha256']}`"
    )
    st.download_button(
        "Prüfpaket herunterladen",
        data=functools.partial(bundle.open_export, inst(), done["path"]),
        file_name=done["name"],
        mime="application/zip",
        key="insp_download",
        on_click="ignore",
    )

st.subheader("Prüfpaket prüfen")
upload = st.file_uploader("Prüfpaket (ZIP) hochladen", type=["zip"], key="insp_verify")
if upload is not None:
    with guard():
        check = bundle.verify_upload(inst(), who, upload)
        if check.ok:
            st.success(
                "Das Prüfpaket ist vollständig und unverändert: "
                f"{fmt_count(check.files_checked, 'Datei')} "
                f"geprüft, Signatur gültig (Schlüssel {check.key_fingerprint})."
            )
        else:
            st.error(
                f"Das Prüfpaket ist NICHT intakt ({fmt_count(len(check.problems), 'Abweichung')}):"
            )
            st.markdown("\n".join(f"- {md(p)}" for p in check.problems))
