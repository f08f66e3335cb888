"""Aufbewahrung (admin, coordinator): retention proposal → approval, legal holds,
deletion records, data-subject requests (Art. 15/17 DSGVO, admin).

A retention run in the app is a proposal first: the admin creates it (a dry
run), reads it and approves exactly those items; the service re-checks each
item (still due, not held) when it deletes.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from ia_events.archive import retention
from ia_events.archive.evidence import KIND_LABELS
from ia_events.core.access import Actor, Permission, can
from ia_events.core.messages import fmt_count, fmt_date, fmt_datetime, object_label
from ia_events.privacy import subjects
from pages._ui import actor, flash, guard, inst, md, writing


def render() -> None:
    who = actor()
    st.title("Aufbewahrung")
    st.caption(
        "Nachweise werden bis zum 31.12. des zehnten Jahres nach dem Förderjahr aufbewahrt "
        "(Regel je Nachweisart, versioniert). Gesperrte Nachweise werden nie gelöscht."
    )
    _proposal(who)
    _holds(who)
    _deletions(who)
    _subject_requests(who)


def _proposal(who: Actor) -> None:
    """The deletion proposal: created as a dry run, read, then approved item by item."""
    if not can(who, Permission.system_run):
        return
    st.subheader("Löschvorschlag")
    day = st.date_input("Stichtag", value=date.today(), format="DD.MM.YYYY", key="ret_day")
    if st.button("Vorschlag erstellen", key="ret_propose"):
        with guard(), inst().db.read() as s:
            plan = retention.propose(s, who, day)
            st.session_state["ret_proposal"] = {
                "day": day.isoformat(),
                "ids": [c.evidence_id for c in plan.items],
            }
    saved = st.session_state.get("ret_proposal")
    if saved:
        with guard(stop=True), inst().db.read() as s:
            plan = retention.propose(s, who, date.fromisoformat(saved["day"]))
        items = [c for c in plan.items if c.evidence_id in set(saved["ids"])]
        if not items and not plan.personal:
            st.success("Zum Stichtag ist nichts zu löschen.")
        else:
            st.write(f"Zum {fmt_date(plan.today)} würden gelöscht:")
            st.dataframe(
                [
                    {
                        "Nr.": c.evidence_id,
                        "Agentur": c.agency_slug,
                        "Förderjahr": c.funding_year,
                        "Art": KIND_LABELS.get(c.kind, c.kind),
                        "Titel": c.title,
                        "Frist": fmt_date(c.retention_until),
                        "Regel": retention.rule_text(c.rule),
                    }
                    for c in items
                ],
                hide_index=True,
                width="stretch",
                height="content",
            )
            for line in plan.personal:
                st.write(f"- {md(line)}")
            if plan.held:
                st.info(f"Wegen Sperre behalten: {', '.join(map(str, plan.held))}")
            if st.button("Vorschlag genehmigen und löschen", type="primary", key="ret_approve"):
                with guard():
                    res = retention.run_deletions(
                        inst(),
                        who,
                        date.fromisoformat(saved["day"]),
                        only_ids=[c.evidence_id for c in items],
                        approved_by=who.name,
                    )
                    st.session_state.pop("ret_proposal", None)
                    flash(
                        f"{fmt_count(len(res.deleted), 'Nachweis')} gelöscht "
                        "(Löschnachweise angelegt)."
                        + (f" Übersprungen: {res.skipped}" if res.skipped else "")
                    )
                    st.rerun()  # the Löschprotokoll below shows them


def _holds(who: Actor) -> None:
    """Legal holds; a second person releases one."""
    st.subheader("Sperren (Legal Hold)")
    with guard(stop=True), inst().db.read() as s:
        holds = retention.list_holds(s, who)
    if not holds:
        st.info("Keine aktiven Sperren.")
    for h in holds:
        target = h.scope_id if h.scope_id is not None else h.funding_year
        st.markdown(
            f"**{md(h.ref)}** · {md(h.agency_slug)} · {md(h.scope)} {target} · "
            f"{fmt_count(h.items, 'Nachweis')} · {md(h.reason)}"
            + (f" (Az. {md(h.case_ref)})" if h.case_ref else "")
            + f" · gesetzt von {md(h.set_by)} am {fmt_date(h.set_at)}"
        )
        may_release = can(who, Permission.evidence_hold) and h.set_by != who.name
        if may_release and st.button(
            f"{md(h.ref)} freigeben (als zweite Person)", key=f"ret_release_{h.id}"
        ):
            with guard():
                with writing() as s:
                    retention.release_hold(s, who, h.id, who.name)
                retention.sync_object_holds(inst())  # the archive's objects follow (S3)
                flash(f"Sperre {md(h.ref)} freigegeben.")
                st.rerun()


def _deletions(who: Actor) -> None:
    """The deletion records (Löschnachweise)."""
    st.subheader("Löschprotokoll")
    with guard(stop=True), inst().db.read() as s:
        records = retention.list_deletions(s, who)
    if records:
        st.dataframe(
            [
                {
                    "Nr.": r.id,
                    "Gelöscht": fmt_datetime(r.deleted_at),
                    "Agentur": r.agency_slug,
                    "Was": f"Nachweis {r.evidence_id}"
                    if r.evidence_id
                    else f"{object_label(r.object_type)} ×{r.count}",
                    "Regel": retention.rule_text(r.rule),
                    "Genehmigt von": r.approved_by,
                }
                for r in reversed(records)
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
        with st.expander("Details (Prüfsummen und Regel-Codes)"):
            st.dataframe(
                [
                    {"Nr.": r.id, "SHA-256": r.sha256 or "", "Regel-Code": r.rule}
                    for r in reversed(records)
                ],
                hide_index=True,
                width="stretch",
                height="content",
            )
    else:
        st.info("Noch nichts gelöscht.")


def _subject_requests(who: Actor) -> None:
    """Data-subject requests (Art. 15/17 DSGVO), the admin's."""
    if not can(who, Permission.system_run):
        return
    st.subheader("Betroffenenanfragen (Art. 15/17 DSGVO)")
    with st.form("ret_subject"):
        name = st.text_input("Vollständiger Name der Person")
        c1, c2 = st.columns(2)
        find = c1.form_submit_button("Auskunft: alles zu dieser Person finden")
        erase = c2.form_submit_button("Löschersuchen erfassen")
        agency = st.text_input("Agentur (Kürzel, nur für Löschersuchen)", placeholder="z. B. essen")
        case_ref = st.text_input("Aktenzeichen (optional)")
    if find:
        with guard():
            report = subjects.find_subject(inst(), who, name)
            st.write(
                f"{fmt_count(len(report.attendance), 'Teilnahme')}, "
                f"{fmt_count(len(report.volunteers), 'Ehrenamts-Eintrag', 'Ehrenamts-Einträge')}, "
                f"{fmt_count(len(report.evidence_may_contain), 'Nachweis')}, die die Person "
                "enthalten können."
            )
            st.download_button(
                "Auskunft als JSON herunterladen",
                report.as_json(),
                file_name="auskunft-art15.json",
                mime="application/json",
                key="ret_subject_dl",
            )
    if erase:
        with guard():
            out = subjects.request_erasure(inst(), who, name, agency.strip(), case_ref=case_ref)
            if out.status == "done":
                st.success(
                    f"Gelöscht: {fmt_count(out.attendance, 'Teilnahme')}, "
                    f"{fmt_count(out.volunteers, 'Ehrenamts-Eintrag', 'Ehrenamts-Einträge')}."
                )
            else:
                st.warning(
                    "Eine Aufbewahrungspflicht läuft noch bis "
                    f"{fmt_date(out.duty_until)}: Die Verarbeitung ist eingeschränkt "
                    "(Art. 18 DSGVO); gelöscht wird automatisch mit Ablauf der Frist."
                )


render()
