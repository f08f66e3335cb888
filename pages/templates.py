"""Vorlagen & Logos: the admin uploads each new version of a logo, letterhead,
Raster or form with the date it is valid from; documents use the version valid
on their date (the funder accepts only current templates)."""

from __future__ import annotations

import streamlit as st

from ia_events.core.messages import berlin, fmt_date
from ia_events.planning import templates
from pages._ui import actor, guard, inst, now, upload_limit_mb, writing


def render() -> None:
    who = actor()
    st.title("Vorlagen & Logos")
    st.caption(
        "Nur die jeweils aktuellen Raster, Vordrucke und Logos (Ministerium, AWO-Gliederung, "
        "Integrationsagenturen NRW) sind zu verwenden. Eine neue Fassung ersetzt die alte ab "
        "ihrem Gültigkeitsdatum; alte Fassungen bleiben für ältere Dokumente erhalten."
    )
    with guard():
        with st.form("tpl_new", clear_on_submit=True):
            kind = st.selectbox("Art", list(templates.KINDS), format_func=templates.KINDS.get)
            title = st.text_input("Bezeichnung", placeholder="z. B. Logo MKJFGFI NRW 2025")
            valid_from = st.date_input("Gültig ab", value=berlin(now()).date(), format="DD.MM.YYYY")
            upload = st.file_uploader(
                "Datei (Logos als PNG oder JPEG)", max_upload_size=upload_limit_mb()
            )
            if st.form_submit_button("Fassung hochladen", type="primary"):
                if upload is None:
                    st.error("Bitte eine Datei auswählen.")
                else:
                    with writing() as s:
                        templates.add_template(
                            s, who, kind=kind, title=title, valid_from=valid_from,
                            filename=upload.name, content=upload.getvalue(),
                            media_type=upload.type or "application/octet-stream", now=now(),
                        )  # fmt: skip
                    st.success("Hochgeladen.")
        with inst().db.read() as s:
            rows = templates.list_templates(s, who)
        if not rows:
            st.info("Noch keine Vorlagen – Dokumente tragen dann einen Hinweis.")
            return
        st.dataframe(
            [
                {
                    "Art": t.label,
                    "Bezeichnung": t.title,
                    "gültig ab": fmt_date(t.valid_from),
                    "Datei": t.filename,
                    "hochgeladen": f"{fmt_date(t.uploaded_at)} von {t.uploaded_by}",
                    "SHA-256": t.sha256[:16] + "…",
                }
                for t in rows
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )


render()
