"""Nachweise: upload (several files at once), browse/filter/search, preview, download,
supersede with a corrected version, legal holds (coordinator). Scans of signed
lists uploaded without a date are filed by their QR code; unreadable pages wait
in the inbox ("Posteingang") for a one-click assignment.

``?occurrence=ID`` (or ``st.session_state["ev_occurrence"]``, set by the calendar's
"Nachweis hochladen") preselects an occurrence with its activity's sub-goals (the
occurrence screen links "Unterschriebene Liste hochladen" here); it is copied into
session state on the first run because query params vanish on page changes. The
date picker lists the dates already held first, the latest on top. After an upload
the new items are shown and the list below opens the newest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ia_events.accounts import agencies
from ia_events.archive import evidence, previews, query, retention, scans
from ia_events.archive.evidence import GATHERING, KIND_LABELS, EvidenceView
from ia_events.attendance import tokens
from ia_events.core.access import Actor, Permission, can
from ia_events.core.messages import berlin, fmt_count, fmt_date, fmt_datetime, fmt_size
from pages._ui import (
    _YEAR,
    actor,
    commit,
    flash,
    guard,
    inst,
    md,
    now,
    row_table,
    upload_limit_mb,
    writing,
    year_picker,
)

KINDS = list(KIND_LABELS)


@dataclass(frozen=True)
class _Scope:
    """What the page works on: the agency and funding year, the preselected occurrence
    (if any) and the labels of the dates and sub-goals an item may hang on."""

    who: Actor
    agency_slug: str
    year: int
    preset: int | None
    occ_labels: dict[int, str]
    goal_labels: dict[int, str]
    preset_goals: list[int]


def render() -> None:
    who = actor()
    st.title("Nachweise")
    scope = _scope(who)
    if can(who, Permission.evidence_add):
        _upload(scope)
    _inbox(scope)
    _browse(scope)


def _scope(who: Actor) -> _Scope:
    """The agency and year pickers; a preselected occurrence opens its agency and year."""
    if "occurrence" in st.query_params and "ev_occurrence" not in st.session_state:
        raw = st.query_params.get("occurrence", "")
        st.session_state["ev_occurrence"] = int(raw) if str(raw).isdigit() else None

    with guard(stop=True), inst().db.read() as s:
        agency_list = agencies.list_agencies(s, who)
        preset = st.session_state.get("ev_occurrence")
        preset_ctx = query.occurrence_context(s, who, preset) if preset else None
    slugs = [a.slug for a in agency_list]
    names = {a.slug: a.name for a in agency_list}
    if preset_ctx and st.session_state.get("ev_preset_applied") != preset:
        # A new preselection (calendar, door screen) opens its agency and year.
        st.session_state["ev_preset_applied"] = preset
        st.session_state.pop("ev_agency", None)
        st.session_state.pop("ev_year", None)
        st.session_state[_YEAR] = preset_ctx[1]
    this_year = berlin(now()).year
    years = list(range(this_year + 1, this_year - 12, -1))

    left, right = st.columns(2)
    if len(slugs) == 1:
        agency_slug = slugs[0]
        left.markdown(f"**{md(names[agency_slug])}**")
    else:
        default = slugs.index(preset_ctx[0]) if preset_ctx else 0
        agency_slug = left.selectbox(
            "Integrationsagentur", slugs, index=default, format_func=names.get, key="ev_agency"
        )
    with right:
        year = year_picker(years, key="ev_year")

    with guard(stop=True), inst().db.read() as s:
        # The dates already held first, the latest on top; then the coming ones.
        links = query.link_options(s, who, agency_slug, year, now=now())
    goal_labels = dict(links.subgoals)
    return _Scope(
        who=who,
        agency_slug=agency_slug,
        year=year,
        preset=preset,
        occ_labels=dict(links.occurrences),
        goal_labels=goal_labels,
        preset_goals=[g for g in links.occurrence_subgoals.get(preset, []) if g in goal_labels],
    )


def _file_scans(scope: _Scope, files: list[UploadedFile], title: str) -> None:
    """Scans of signed lists without a date: filed by the list's QR code, page by page."""
    if not files:
        st.error("Bitte mindestens eine Datei auswählen.")
        return
    filed = scans.file_scans(
        inst(),
        scope.who,
        [(f.name, f.getvalue()) for f in files],
        agency_slug=scope.agency_slug,
        year=scope.year,
        read_code=functools.partial(tokens.occurrence_from_code, inst().keys),
        title=title or None,
    )
    placed = [p for p in filed if p.occurrence_id is not None]
    st.success(
        f"{len(filed)} Seite(n) archiviert, {len(placed)} per QR-Code einem Termin zugeordnet."
    )
    st.dataframe(
        [
            {
                "Datei": p.filename,
                "Seite": p.page,
                "Termin": scope.occ_labels.get(p.occurrence_id, str(p.occurrence_id))
                if p.occurrence_id
                else "nicht zugeordnet (Posteingang)",
                "Nachweis": p.evidence.id,
            }
            for p in filed
        ],
        hide_index=True,
        width="stretch",
        height="content",
    )


def _show_added(scope: _Scope, added: list[EvidenceView]) -> None:
    """The new items as filed: where they hang and how long they are kept."""
    st.dataframe(
        [
            {
                "Nr.": v.id,
                "Titel": v.title,
                "Art": KIND_LABELS.get(v.kind, v.kind),
                "Datei": f"{v.filename} ({fmt_size(v.size)})",
                "Termin": scope.occ_labels.get(v.occurrence_id, "–") if v.occurrence_id else "–",
                "Teilziele": "; ".join(scope.goal_labels.get(g, str(g)) for g in v.subgoal_ids)
                or "–",
                "Aufbewahren bis": fmt_date(v.retention_until),
            }
            for v in added
        ],
        hide_index=True,
        width="stretch",
        height="content",
    )


def _upload(scope: _Scope) -> None:
    """Several files at once, linked to a date and sub-goals; dateless scans of signed
    lists are filed by their QR code."""
    who, agency_slug, year, preset = scope.who, scope.agency_slug, scope.year, scope.preset
    occ_labels, goal_labels, preset_goals = scope.occ_labels, scope.goal_labels, scope.preset_goals
    with st.expander("Nachweise hochladen", expanded=preset is not None):
        if preset and preset in occ_labels:
            st.info(
                f"Termin vorausgewählt: {md(occ_labels[preset])}"
                + (
                    " · Teilziele des Angebots: "
                    + "; ".join(md(goal_labels[g]) for g in preset_goals)
                    if preset_goals
                    else ""
                )
            )
        with st.form("ev_upload", clear_on_submit=True):
            files = st.file_uploader(
                "Dateien (mehrere möglich, auch per Ziehen und Ablegen)",
                accept_multiple_files=True,
                key="ev_files",
                max_upload_size=upload_limit_mb(),
            )
            c1, c2 = st.columns(2)
            kind_default = KINDS.index("signed_list_scan") if preset else KINDS.index("other")
            kind = c1.selectbox(
                "Art", KINDS, index=kind_default, format_func=lambda k: KIND_LABELS[k]
            )
            title = c2.text_input("Titel", placeholder="leer: Dateiname")
            c3, c4 = st.columns(2)
            doc_date = c3.date_input("Datum des Dokuments", value=None, format="DD.MM.YYYY")
            source = c4.text_input("Quelle", placeholder="z. B. Name der Zeitung")
            occ_ids = [None, *occ_labels]
            occurrence = st.selectbox(
                "Termin",
                occ_ids,
                index=occ_ids.index(preset) if preset in occ_ids else 0,
                format_func=lambda i: "– kein Termin –" if i is None else occ_labels[i],
            )
            goals = st.multiselect(
                "Teilziele",
                list(goal_labels),
                default=preset_goals if preset in occ_labels else [],
                format_func=lambda i: goal_labels[i],
            )
            st.caption("Nur für Fotos: Rechtsgrundlage der Veröffentlichung (KUG)")
            consent_mode = st.radio(
                "Einwilligung",
                ["Einwilligung liegt vor", GATHERING],
                index=None,
                label_visibility="collapsed",
            )
            consent_ref = st.text_input("Referenz der Einwilligung (z. B. Formular-Nr.)")
            submitted = st.form_submit_button("Hochladen", type="primary")
        if submitted:
            consent = None
            if consent_mode == GATHERING:
                consent = GATHERING
            elif consent_mode and consent_ref.strip():
                consent = f"Einwilligung: {consent_ref.strip()}"
            with guard():
                if kind == "signed_list_scan" and occurrence is None and not goals:
                    _file_scans(scope, files or [], title)
                    st.stop()
                added = evidence.add_many(
                    inst(),
                    who,
                    [(f.name, f) for f in files or []],
                    kind=kind,
                    require_consent=True,
                    agency_slug=agency_slug,
                    funding_year=year,
                    title=title,
                    occurrence_id=occurrence,
                    subgoal_ids=goals,
                    doc_date=doc_date,
                    source=source,
                    consent_ref=consent,
                )
                st.success(
                    f"{fmt_count(len(added), 'Nachweis')} archiviert: "
                    + ", ".join(f"Nr. {v.id} „{md(v.filename)}“" for v in added)
                )
                _show_added(scope, added)
                for v in added:
                    for w in v.warnings:
                        st.warning(f"Nr. {v.id}: {md(w)}")
                if added:  # the list below opens the newest one
                    st.session_state["ev_show"] = added[-1].id


def _inbox(scope: _Scope) -> None:
    """Scans whose QR code was unreadable: a date picked, assigned with one click."""
    who, occ_labels = scope.who, scope.occ_labels
    with guard(stop=True), inst().db.read() as s:
        unassigned = [
            e for e in scans.inbox(s, who, scope.agency_slug) if e.funding_year == scope.year
        ]
    if not unassigned:
        return
    st.subheader("Posteingang: nicht zugeordnete Scans")
    st.caption(
        "Auf diesen Seiten war kein QR-Code einer Teilnehmerliste lesbar. Bitte den Termin "
        "wählen und zuordnen (die Zuordnung wird protokolliert)."
    )
    for item in unassigned:
        c1, c2, c3 = st.columns([3, 3, 1])
        c1.text(f"Nr. {item.id}: {item.filename}")
        if not can(who, Permission.evidence_add):
            continue
        target = c2.selectbox(
            "Termin",
            list(occ_labels),
            format_func=occ_labels.get,
            index=None,
            placeholder="Termin wählen",
            key=f"ev_inbox_occ_{item.id}",
            label_visibility="collapsed",
        )
        clicked = c3.button("Zuordnen", key=f"ev_inbox_go_{item.id}", disabled=target is None)
        if clicked and target is not None:
            commit(
                lambda s, i=item.id, t=int(target): scans.assign(s, who, i, t),
                f"Nr. {item.id} dem Termin zugeordnet.",
            )


def _browse(scope: _Scope) -> None:
    """The archive: filters, one page of items, the chosen item's details."""
    who, agency_slug, year, preset = scope.who, scope.agency_slug, scope.year, scope.preset
    goal_labels = scope.goal_labels
    st.subheader("Archiv")
    f1, f2, f3 = st.columns(3)
    goal_filter = f1.selectbox(
        "Teilziel",
        [None, *goal_labels],
        format_func=lambda i: "alle" if i is None else goal_labels[i],
        key="ev_f_goal",
    )
    kind_filter = f2.selectbox(
        "Art",
        [None, *KINDS],
        format_func=lambda k: "alle" if k is None else KIND_LABELS[k],
        key="ev_f_kind",
    )
    text_filter = f3.text_input("Suche (Titel, Dateiname, Quelle)", key="ev_f_text")
    show_deleted = st.toggle("Gelöschte anzeigen (Löschnachweise)", key="ev_f_deleted")
    flt = query.EvidenceFilter(
        agency_slug=agency_slug,
        year=year,
        subgoal_id=goal_filter,
        kind=kind_filter,
        text=text_filter,
        include_deleted=show_deleted,
        occurrence_id=preset if st.session_state.get("ev_only_preset") else None,
    )
    page_no = st.session_state.get("ev_page", 1)
    with guard(stop=True), inst().db.read() as s:
        result = query.search_evidence(s, who, flt, page=page_no, page_size=20)
    if not result.items:
        st.info("Keine Nachweise für diese Auswahl.")
        return
    st.caption(f"{fmt_count(result.total, 'Nachweis')} · Seite {result.page} von {result.pages}")
    ids = [v.id for v in result.items]
    if (new_item := st.session_state.pop("ev_show", None)) is not None:
        st.session_state[_OPEN] = new_item  # just uploaded: open it
    row_table(
        [
            {
                "Nr.": v.id,
                "Titel": v.title,
                "Art": KIND_LABELS.get(v.kind, v.kind),
                "Datei": v.filename,
                "Teilziele": ", ".join(goal_labels.get(g, str(g)) for g in v.subgoal_ids),
                "Aufbewahren bis": fmt_date(v.retention_until),
                "Status": "gelöscht"
                if v.deleted
                else ("gesperrt" if v.legal_hold else ("ersetzt" if v.superseded_by_id else "")),
            }
            for v in result.items
        ],
        ids,
        # A new filter or page is a new table: nothing clicked in it yet.
        key=f"ev_table_{agency_slug}_{year}_{goal_filter}_{kind_filter}_{text_filter}_{page_no}",
        opens=_OPEN,
        column_config={
            "Nr.": st.column_config.NumberColumn(width="small", format="%d"),
            "Titel": st.column_config.TextColumn(width="large"),
            "Datei": st.column_config.TextColumn(width="medium"),
            "Teilziele": st.column_config.TextColumn(width="large"),
        },
        hint="Klicken Sie auf eine Zeile, um den Nachweis zu öffnen.",
    )
    p1, p2 = st.columns(2)
    if result.page > 1 and p1.button("← Vorherige Seite", key="ev_prev"):
        st.session_state["ev_page"] = result.page - 1
        st.rerun()
    if result.page < result.pages and p2.button("Nächste Seite →", key="ev_next"):
        st.session_state["ev_page"] = result.page + 1
        st.rerun()

    # Without a click: the item opened last if it is listed, else the newest.
    chosen = st.session_state.get(_OPEN)
    if chosen not in ids:
        chosen = ids[0]
    _detail(scope, chosen)


_OPEN = "ev_open"  # the item whose details are shown (a row click or the newest upload)


def _detail(scope: _Scope, chosen: int) -> None:
    """One item: its facts and holds, preview, download, a corrected version, holds."""
    who = scope.who
    with guard(stop=True), inst().db.read() as s:
        detail = query.get_detail(s, who, chosen)
    v = detail.view
    st.markdown(f"#### Nr. {v.id}: {md(v.title)}")
    meta = {
        "Art": KIND_LABELS.get(v.kind, v.kind),
        "Datei": f"{v.filename} ({v.media_type}, {fmt_size(v.size)})",
        "SHA-256": v.sha256,
        "Datum": fmt_date(v.doc_date) if v.doc_date else "–",
        "Quelle": v.source or "–",
        "Termin": detail.occurrence_label or "–",
        "Teilziele": "; ".join(t for _, t in detail.subgoals) or "–",
        "Einwilligung (KUG)": v.consent_ref or "–",
        "Aufbewahren bis": f"{fmt_date(v.retention_until)} ({v.retention_rule})",
        "Archiviert": f"{fmt_datetime(v.created_at)} von {v.created_by}" if v.created_at else "–",
    }
    if v.sealed:
        meta["Versiegelt"] = f"Teilnehmerliste, digital erfasst – Fassung {v.version}"
    if v.supersedes_id:
        meta["Ersetzt"] = f"Nr. {v.supersedes_id} (frühere Fassungen: {detail.versions})"
    if v.superseded_by_id:
        meta["Ersetzt durch"] = f"Nr. {v.superseded_by_id}"
    if v.deleted:
        meta["Gelöscht"] = fmt_datetime(v.deleted_at) if v.deleted_at else "ja"
    st.markdown("\n".join(f"- **{k}:** {md(val)}" for k, val in meta.items()))
    if "pdf_javascript" in v.flags:
        st.warning(
            "Diese PDF-Datei enthält aktive Inhalte (JavaScript, Startaktionen, eingebettete "
            "Dateien oder XFA-Formulare); sie wird hier nicht angezeigt."
        )
    for h in detail.holds:
        st.warning(
            f"Gesperrt ({md(h.ref)}, {md(h.scope)}): {md(h.reason)}"
            + (f" – Aktenzeichen {md(h.case_ref)}" if h.case_ref else "")
            + f" – gesetzt von {md(h.set_by)} am {fmt_date(h.set_at)}"
        )

    if not v.deleted:
        b1, b2 = st.columns(2)
        if b1.button("Vorschau anzeigen", key=f"ev_preview_{v.id}"):
            with guard():
                pv = previews.preview(inst(), who, v.id, v.flags)
                for n, img in enumerate(pv.images, 1):
                    st.image(img, width="stretch", alt=f"Vorschau {v.filename}, Seite {n}")
                if pv.text:
                    st.text(pv.text)
                if pv.note:
                    st.info(pv.note)
        b2.download_button(
            "Herunterladen",
            data=lambda i=v.id: evidence.open_content(inst(), who, i),
            file_name=v.filename,
            mime=v.media_type,
            key=f"ev_download_{v.id}",
            on_click="ignore",
        )

        if can(who, Permission.evidence_add) and not v.superseded_by_id:
            with st.expander("Korrigierte Fassung hochladen (ersetzt diesen Nachweis)"):
                with st.form(f"ev_supersede_{v.id}", clear_on_submit=True):
                    new_file = st.file_uploader(
                        "Korrigierte Datei", key=f"ev_new_{v.id}", max_upload_size=upload_limit_mb()
                    )
                    go = st.form_submit_button("Als neue Fassung archivieren")
                if go:
                    with guard():
                        if new_file is None:
                            st.error("Bitte eine Datei auswählen.")
                        else:
                            nv = evidence.supersede(
                                inst(), who, v.id, filename=new_file.name, content=new_file
                            )
                            flash(f"Neue Fassung Nr. {nv.id} archiviert; Nr. {v.id} bleibt.")
                            st.rerun()

    if can(who, Permission.evidence_hold):
        _holds(scope, v, detail.holds)


def _holds(scope: _Scope, v: EvidenceView, holds: list[retention.HoldView]) -> None:
    """Legal holds (coordinator): set one on this item or around it; a second person
    releases one."""
    who = scope.who
    with st.expander("Rechtliche Sperre (Legal Hold)"):
        with st.form(f"ev_hold_{v.id}", clear_on_submit=True):
            scope_kind = st.radio(
                "Bereich",
                ["evidence", "occurrence", "subgoal", "agency_year"],
                format_func={
                    "evidence": "dieser Nachweis",
                    "occurrence": "alle Nachweise des Termins",
                    "subgoal": "alle Nachweise des (ersten) Teilziels",
                    "agency_year": "die ganze Agentur im Förderjahr",
                }.get,
                horizontal=True,
            )
            reason = st.text_input("Grund")
            case_ref = st.text_input("Aktenzeichen (optional)")
            set_it = st.form_submit_button("Sperre setzen")
        if set_it:
            with guard():
                with writing() as s:
                    scope_id = {
                        "evidence": v.id,
                        "occurrence": v.occurrence_id,
                        "subgoal": v.subgoal_ids[0] if v.subgoal_ids else None,
                    }.get(scope_kind)
                    hold = retention.set_hold(
                        s,
                        who,
                        scope=scope_kind,
                        scope_id=scope_id,
                        agency_slug=scope.agency_slug if scope_kind == "agency_year" else None,
                        year=v.funding_year if scope_kind == "agency_year" else None,
                        reason=reason,
                        case_ref=case_ref,
                    )
                retention.sync_object_holds(inst())  # the archive's objects follow (S3)
                flash(f"Sperre {md(hold.ref)} gesetzt ({fmt_count(hold.items, 'Nachweis')}).")
                st.rerun()
        for h in holds:
            if h.set_by != who.name and st.button(
                f"Sperre {md(h.ref)} freigeben (als zweite Person)", key=f"ev_release_{h.id}"
            ):
                with guard():
                    with writing() as s:
                        retention.release_hold(s, who, h.id, who.name)
                    retention.sync_object_holds(inst())  # the archive's objects follow (S3)
                    flash(f"Sperre {md(h.ref)} freigegeben.")
                    st.rerun()


render()
