"""Mitteilungen & Personal: notices of grundsätzliche plan changes to the
Bewilligungsbehörde (download PDF/Word, record the sending date) and personnel
and position changes with their deadlines and consent warnings.

Specialists act for their agency; the coordinator sees every agency.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from ia_events.accounts import personnel
from ia_events.core.access import Actor
from ia_events.core.messages import berlin, fmt_date
from ia_events.planning import notices
from pages._ui import actor, guard, inst, md, now, writing

DOCX_MIME = notices.DOCX_MIME


def _notices(who: Actor, today: date) -> None:
    st.subheader("Mitteilungen an die Bewilligungsbehörde")
    st.caption(
        "Nur grundsätzliche Änderungen der Aufgabenplanung sind mitzuteilen (Handbuch 3.5). "
        "Sie entstehen, wenn eine Änderung als „grundsätzlich“ markiert wird."
    )
    with inst().db.read() as s:
        rows = notices.list_notices(s, who)
    if not rows:
        st.info("Keine Mitteilungen.")
        return
    for n in rows:
        with st.container(border=True):
            state = (
                f"versandt am {fmt_date(n.sent_on)}"
                if n.sent
                else ("überfällig" if n.overdue(today) else "offen")
            )
            st.text(
                f"{n.agency_name} · Aufgabe „{n.plan_topic}“ ({n.funding_year}), Version "
                f"{n.plan_version} · fällig {fmt_date(n.due_on)} · {state}"
            )
            st.text(f"Begründung: {n.reason}")
            with inst().db.read() as s:
                pdf = notices.notice_pdf(s, who, n.id)
                docx = notices.notice_docx(s, who, n.id)
                warnings = notices.template_warnings(s, who, n.id, today) if not n.sent else []
            for w in warnings:
                st.caption(f":material/warning: {w}")
            c1, c2 = st.columns(2)
            base = f"Mitteilung_Aufgabenplanung_{n.funding_year}_v{n.plan_version}"
            c1.download_button("PDF", pdf, f"{base}.pdf", "application/pdf", key=f"np_{n.id}")
            c2.download_button("Word", docx, f"{base}.docx", DOCX_MIME, key=f"nw_{n.id}")
            if not n.sent and who.role == "specialist":
                with st.form(f"notice_sent_{n.id}"):
                    sent_on = st.date_input("Versandt am", value=today, format="DD.MM.YYYY")
                    if st.form_submit_button("Versand vermerken"):
                        with guard():
                            notices.mark_sent(inst(), who, n.id, sent_on, now=now())
                            st.rerun()


def _personnel(who: Actor, today: date) -> None:
    st.subheader("Personal- und Stellenveränderungen")
    st.caption(
        "Anzeigepflichtige Änderungen vorab an den Bezirksverband; zustimmungspflichtige "
        f"rechtzeitig beantragen (wir rechnen mit {personnel.REQUEST_LEAD_DAYS} Tagen Vorlauf). "
        "Eine nachträgliche Zustimmung ist nicht möglich."
    )
    with inst().db.read() as s:
        rows = personnel.list_changes(s, who, today=today)
    for c in rows:
        if c.warning:
            # A matter to settle, not a failure of the app: yellow, never red.
            st.warning(
                f"{md(c.agency_name)}: {c.label} ab {fmt_date(c.planned_on)} – {c.warning}",
                icon=":material/warning:",
            )
    if rows:
        st.dataframe(
            [
                {
                    "Agentur": c.agency_name,
                    "Art": c.label,
                    "zustimmungspflichtig": "ja" if c.needs_consent else "nein",
                    "geplant ab": fmt_date(c.planned_on),
                    "Frist Bezirksverband": fmt_date(c.due),
                    "beantragt/mitgeteilt": fmt_date(c.requested_on) if c.requested_on else "",
                    "Zustimmung": fmt_date(c.consent_on) if c.consent_on else "",
                    "Beschreibung": c.description,
                }
                for c in rows
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
    if who.role != "specialist" or who.agency_id is None:
        return
    from ia_events.accounts import agencies

    with inst().db.read() as s:
        slug = next(a.slug for a in agencies.list_agencies(s, who) if a.id == who.agency_id)
    with st.form("pers_new", clear_on_submit=True):
        kind = st.selectbox(
            "Art der Änderung", list(personnel.KINDS), format_func=personnel.KINDS.get
        )
        planned = st.date_input("Geplant ab", value=today, format="DD.MM.YYYY")
        description = st.text_input(
            "Beschreibung (Stelle, Umfang – keine Namen)",
            placeholder="z. B. Vertretung, 0,5 Stelle",
        )
        requested = st.date_input("Beantragt/mitgeteilt am", value=None, format="DD.MM.YYYY")
        consent = st.date_input("Zustimmung erteilt am", value=None, format="DD.MM.YYYY")
        if st.form_submit_button("Änderung erfassen", type="primary"):
            with guard():
                with writing() as s:
                    view = personnel.add_change(
                        s, who, agency_slug=slug, kind=kind, planned_on=planned,
                        description=description, requested_on=requested, consent_on=consent,
                        today=today, now=now(),
                    )  # fmt: skip
                if view.warning:
                    st.warning(view.warning, icon=":material/warning:")
                else:
                    st.success("Erfasst.")
    own = [c for c in rows if c.agency_slug == slug]
    if own:
        by_id = {c.id: c for c in own}
        cid = st.selectbox(
            "Daten nachtragen", list(by_id),
            format_func=lambda i: f"{by_id[i].label} ab {fmt_date(by_id[i].planned_on)}",
            key="pers_pick",
        )  # fmt: skip
        c = by_id[cid]
        with st.form("pers_dates"):
            requested = st.date_input("Beantragt/mitgeteilt am", value=c.requested_on,
                                      format="DD.MM.YYYY")  # fmt: skip
            consent = st.date_input("Zustimmung erteilt am", value=c.consent_on,
                                    format="DD.MM.YYYY")  # fmt: skip
            if st.form_submit_button("Speichern"):
                with guard():
                    with writing() as s:
                        view = personnel.set_dates(
                            s, who, cid, requested_on=requested, consent_on=consent, today=today
                        )
                    if view.warning:
                        st.warning(view.warning, icon=":material/warning:")
                    else:
                        st.success("Gespeichert.")


def render() -> None:
    who = actor()
    st.title("Mitteilungen & Personal")
    today = berlin(now()).date()
    with guard():
        _notices(who, today)
        _personnel(who, today)


render()
