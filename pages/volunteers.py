"""Ehrenamt (specialist): registry, import/export, qualifications, shifts and rosters, hours.

Thin: every section reads widgets, calls one service of ``ia_events.volunteers.registry``,
``.shifts``, ``.volunteer_hours``, ``.volunteer_import`` or
``.pdf_certificates`` inside ``guard()``, and renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import streamlit as st
from sqlalchemy.orm import Session

from ia_events.core.access import Actor
from ia_events.core.messages import (
    BERLIN,
    berlin,
    fmt_date,
    fmt_datetime,
    fmt_hours,
    fmt_time,
    fmt_weekday_date,
)
from ia_events.planning import plans
from ia_events.volunteers import registry, shifts
from ia_events.volunteers.certificates import volunteer_certificate
from ia_events.volunteers.hours import add_worklog, list_with_hours
from ia_events.volunteers.transfer import confirm, export_registry, preview
from pages import _funding
from pages._ui import (
    actor,
    commit,
    flash,
    guard,
    inst,
    md,
    now,
    row_table,
    writing,
    year_picker,
)
from storage.keys import KeyRing


@dataclass(frozen=True)
class _Team:
    """The specialist's agency and its volunteers (inactive ones too)."""

    who: Actor
    agency_id: int | None
    keys: KeyRing
    today: date
    people: list[registry.VolunteerView]
    active: list[registry.VolunteerView]
    names: dict[int, str]


def render() -> None:
    who = actor()
    keys = inst().keys
    today = berlin(now()).date()
    st.title("Ehrenamt")
    people: list[registry.VolunteerView] = []
    with guard(), inst().db.read() as s:
        people = registry.list_volunteers(
            s, keys, who, who.agency_id, include_inactive=True, today=today
        )
    team = _Team(
        who=who,
        agency_id=who.agency_id,
        keys=keys,
        today=today,
        people=people,
        active=[p for p in people if p.active],
        names={p.id: p.name for p in people},
    )
    tab_reg, tab_import, tab_qual, tab_shifts, tab_hours = st.tabs(
        [
            "Verzeichnis",
            "Import & Export",
            "Nachweise",
            "Einsätze & Dienstplan",
            "Stunden & Nachweis",
        ]
    )
    with tab_reg:
        _registry(team)
    with tab_import:
        _transfer(team)
    with tab_qual:
        _qualifications(team)
    with tab_shifts:
        _reminders(team)
        _occurrence_shifts(team)
        _week(team)
    with tab_hours:
        _hours(team)


def _registry(team: _Team) -> None:
    """The registry: the list, a new person, deactivating (nothing is deleted)."""
    who, agency_id, keys, today = team.who, team.agency_id, team.keys, team.today
    people = team.people
    show_inactive = st.toggle("Auch deaktivierte anzeigen", key="vo_inactive")
    rows = [
        {
            "Name": p.name,
            "Kontakt": p.contact,
            "Sprachen": ", ".join(p.languages),
            "Fähigkeiten": ", ".join(p.skills),
            "Verfügbarkeit": p.availability,
            "Einwilligung": f"{fmt_date(p.consent_at)} ({p.consent_version})"
            if p.consent_at
            else "–",
            "Vereinbarung": fmt_date(p.agreement_at) if p.agreement_at else "–",
            "Nachweise": ", ".join(
                f"{q.label}{' ⚠' if q.state != 'valid' else ''}" for q in p.qualifications
            ),
            "Status": "aktiv" if p.active else "deaktiviert",
        }
        for p in people
        if p.active or show_inactive
    ]
    listed = [p for p in people if p.active or show_inactive]
    if rows:
        row_table(
            rows,
            [p.id for p in listed],
            key="vo_table",
            opens="vo_open",
            column_config={"Name": st.column_config.TextColumn(width="medium")},
            hint="Klicken Sie auf eine Zeile, um die Person zu öffnen (deaktivieren, "
            "wieder aktivieren).",
        )
        _person(team)
    else:
        st.info("Noch keine Ehrenamtlichen erfasst.")
    with st.expander("Ehrenamtliche*n neu erfassen"), st.form("vo_add", clear_on_submit=True):
        name = st.text_input("Name")
        contact = st.text_input("Kontakt (E-Mail oder Telefon)")
        langs = st.text_input("Sprachen (mit Komma getrennt)")
        skills = st.text_input("Fähigkeiten (mit Komma getrennt)")
        avail = st.text_input("Verfügbarkeit", placeholder="z. B. dienstags vormittags")
        c1, c2, c3 = st.columns(3)
        consent_at = c1.date_input("Einwilligung am", value=today, format="DD.MM.YYYY")
        consent_version = c2.text_input("Fassung der Einwilligung", value=registry.CONSENT_VERSION)
        agreement_at = c3.date_input(
            "Vereinbarung am", value=None, format="DD.MM.YYYY", key="vo_agreement"
        )
        if st.form_submit_button("Speichern", type="primary"):
            commit(
                lambda s: registry.add_volunteer(
                    s, keys, who, agency_id, name=name, contact=contact, languages=langs,
                    skills=skills, availability=avail, consent_at=consent_at,
                    consent_version=consent_version, agreement_at=agreement_at, now=now(),
                ),
                f"„{md(name.strip())}“ wurde ins Verzeichnis aufgenommen.",
            )  # fmt: skip
    _funding.volunteer_marks(who, agency_id, people)


def _person(team: _Team) -> None:
    """The person whose row was clicked: deactivate or activate again."""
    who, people, names = team.who, team.people, team.names
    pick = st.session_state.get("vo_open")
    person = next((p for p in people if p.id == pick), None)
    if person is None:
        return
    with st.container(border=True):
        st.markdown(f"**{md(names[person.id])}** · {'aktiv' if person.active else 'deaktiviert'}")
        label = "Deaktivieren" if person.active else "Wieder aktivieren"
        st.caption("Es wird nichts gelöscht: geleistete Stunden bleiben nachweisbar.")
        if st.button(label, key="vo_toggle"):
            commit(
                lambda s: registry.set_volunteer_active(
                    s, who, person.id, not person.active, now()
                ),
                f"„{md(names[person.id])}“: {label.lower()} – erledigt.",
            )


def _transfer(team: _Team) -> None:
    """Import a list (preview first, then confirm) and export the registry."""
    who, agency_id, keys = team.who, team.agency_id, team.keys
    st.write(
        "Laden Sie Ihre bisherige Liste (CSV oder Excel) hoch. Sie sehen zuerst eine "
        "Vorschau mit Hinweisen je Zeile; übernommen wird erst nach Ihrer Bestätigung."
    )
    upload = st.file_uploader("Liste", type=["csv", "xlsx"], key="vo_upload")
    default_version = st.text_input(
        "Fassung der Einwilligung, falls die Liste keine Spalte dafür hat", key="vo_imp_version"
    )
    if upload is not None:
        content = upload.getvalue()
        result = None
        with guard(), inst().db.read() as s:
            result = preview(s, keys, who, agency_id, upload.name, content,
                             default_consent_version=default_version)  # fmt: skip
        if result is not None:
            st.dataframe(
                [
                    {
                        "Zeile": r.line,
                        "Name": r.name,
                        "Einwilligung": fmt_date(r.consent_at) if r.consent_at else "",
                        "Prüfung": "✓ wird übernommen" if r.ok else " ".join(r.errors),
                    }
                    for r in result.rows
                ],
                hide_index=True,
                width="stretch",
                height="content",
            )
            st.write(f"{result.valid} Zeilen in Ordnung, {result.invalid} mit Fehlern.")
            if result.valid and st.button(
                f"{result.valid} Einträge übernehmen", type="primary", key="vo_imp_confirm"
            ):
                with guard():
                    with writing() as s:
                        outcome = confirm(s, keys, who, agency_id, upload.name, content,
                                          default_consent_version=default_version)  # fmt: skip
                    flash(f"{outcome.valid} Ehrenamtliche übernommen.")
                    st.rerun()
    st.divider()
    st.write("Export des Verzeichnisses (Formeln werden in Text umgewandelt).")
    fmt = st.radio("Format", ["xlsx", "csv"], horizontal=True, key="vo_exp_fmt")
    if st.button("Export erstellen", key="vo_export"):
        with guard(), writing() as s:
            data = export_registry(s, keys, who, agency_id, fmt)
            st.download_button(
                "Export herunterladen", data=data, file_name=f"ehrenamtliche.{fmt}",
                on_click="ignore", key="vo_export_dl",
            )  # fmt: skip


def _qualifications(team: _Team) -> None:
    """Documents seen (never stored): what expires, a new entry."""
    who, agency_id, keys, today = team.who, team.agency_id, team.keys, team.today
    active, names = team.active, team.names
    st.caption(
        "Erfasst wird nur, dass ein Dokument eingesehen wurde (wann, von wem, gültig bis) – "
        "nie das Dokument selbst. Das erweiterte Führungszeugnis gilt 5 Jahre."
    )
    warn = []
    with guard(), inst().db.read() as s:
        warn = registry.expiring_qualifications(s, keys, who, agency_id, today)
    if warn:
        st.dataframe(
            [
                {
                    "Name": w.name,
                    "Nachweis": w.label,
                    "Gültig bis": fmt_date(w.valid_until),
                    "Stand": "abgelaufen" if w.state == "expired" else "läuft bald ab",
                }
                for w in warn
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
    if active:
        with st.form("vo_qual", clear_on_submit=True):
            pid = st.selectbox("Person", [p.id for p in active], format_func=names.get)
            kind = st.selectbox(
                "Nachweis",
                list(registry.QUALIFICATIONS),
                format_func=registry.qualification_label,
            )
            c1, c2, c3 = st.columns(3)
            checked_on = c1.date_input("Eingesehen am", value=today, format="DD.MM.YYYY")
            checked_by = c2.text_input("Eingesehen von", value=who.label)
            until = c3.date_input("Gültig bis (leer: Standard)", value=None, format="DD.MM.YYYY")
            note = st.text_input("Bemerkung (keine Inhalte des Dokuments)")
            if st.form_submit_button("Einsicht eintragen", type="primary"):
                commit(
                    lambda s: registry.add_qualification(
                        s, who, pid, kind=kind, checked_on=checked_on, checked_by=checked_by,
                        valid_until=until, note=note, today=today,
                    ),
                    f"{registry.qualification_label(kind)} für „{md(names[pid])}“ eingetragen.",
                )  # fmt: skip


def _assignment_rows(view: shifts.ShiftView) -> list[dict[str, str]]:
    return [
        {
            "Name": a.name,
            "Status": shifts.STATUS_LABELS.get(a.status, a.status)
            + (" (selbst)" if a.self_signed else ""),
            "Check-in": fmt_time(a.checked_in_at) if a.checked_in_at else "–",
            "Check-out": fmt_time(a.checked_out_at) if a.checked_out_at else "–",
            "Stunden": fmt_hours(a.hours)
            + (" (korrigiert)" if a.hours_override is not None else ""),
        }
        for a in view.assignments
    ]


def _fix(s: Session, who: Actor, aid: int, what: str, hours: float) -> None:
    """One correction of an assignment's attendance or hours."""
    if what == "Nicht erschienen":
        shifts.mark_no_show(s, who, aid, now())
    elif what == "Geplante Zeiten bestätigen":
        shifts.set_hours(s, who, aid, planned=True)
    elif what == "Stunden eintragen":
        shifts.set_hours(s, who, aid, hours=hours)
    elif what == "Korrektur entfernen":
        shifts.set_hours(s, who, aid, hours=None)
    elif what == "Jetzt einchecken":
        shifts.check_in(s, who, aid, now(), method="staff")
    else:
        shifts.check_out(s, who, aid, now(), method="staff")


def _reminders(team: _Team) -> None:
    """The shifts of the next three days and who is on them."""
    who, agency_id, keys = team.who, team.agency_id, team.keys
    st.subheader("Erinnerungen: die nächsten 3 Tage")
    upcoming = []
    with guard(), inst().db.read() as s:
        upcoming = shifts.reminders(s, keys, who, agency_id, now(), days=3)
    if not upcoming:
        st.info("In den nächsten 3 Tagen sind keine Einsätze geplant.")
    for v in upcoming:
        people_in = [md(a.name) for a in v.assignments if a.status in shifts.ACTIVE]
        missing = f" · **noch {v.open_slots} offen**" if v.open_slots else ""
        st.write(
            f"{fmt_weekday_date(v.starts_at)}, {fmt_time(v.starts_at)} Uhr · {md(v.role)} "
            f"({md(v.activity_title)}): {', '.join(people_in) or 'niemand'}{missing}"
        )


def _occurrence_shifts(team: _Team) -> None:
    """One occurrence's shifts: the roster, a new shift, assigning, corrections."""
    who, keys, active, names = team.who, team.keys, team.active, team.names
    st.subheader("Einsätze je Termin")
    occs = []
    with guard(), inst().db.read() as s:
        occs = plans.list_occurrences(
            s, who, start=now() - timedelta(days=14), end=now() + timedelta(days=60),
            include_cancelled=False, limit=300,
        )  # fmt: skip
    if not occs:
        st.info("Keine Termine in den letzten 14 und den nächsten 60 Tagen.")
    else:
        labels = {o.id: f"{fmt_datetime(o.starts_at)} · {o.title}" for o in occs}
        first_future = next((o.id for o in occs if o.ends_at >= now()), occs[-1].id)
        occ_id = st.selectbox(
            "Termin", list(labels), index=list(labels).index(first_future),
            format_func=labels.get, key="vo_occ",
        )  # fmt: skip
        roster = []
        with guard(), inst().db.read() as s:
            roster = shifts.roster_for_occurrence(s, keys, who, occ_id)
        for v in roster:
            with st.container(border=True):
                st.markdown(
                    f"**{md(v.role)}** · {fmt_time(v.starts_at)}–{fmt_time(v.ends_at)} Uhr · "
                    f"{v.taken} von {v.needed} besetzt · Voraussetzung: {md(v.required_labels)}"
                )
                if v.assignments:
                    st.dataframe(
                        _assignment_rows(v), hide_index=True, width="stretch", height="content"
                    )
        occ = next(o for o in occs if o.id == occ_id)
        with st.expander("Einsatz anlegen"), st.form("vo_shift_add"):
            role = st.selectbox("Aufgabe", registry.SHIFT_ROLES, key="vo_role")
            other = st.text_input("… oder andere Aufgabe")
            c1, c2, c3 = st.columns(3)
            needed = c1.number_input("Benötigt", min_value=1, max_value=50, value=1)
            start_t = c2.time_input("Beginn", value=berlin(occ.starts_at).time(), step=900)
            end_t = c3.time_input("Ende", value=berlin(occ.ends_at).time(), step=900)
            required = st.multiselect(
                "Erforderliche Nachweise", list(registry.QUALIFICATIONS),
                default=registry.ROLE_QUALIFICATIONS.get(role, []),
                format_func=registry.qualification_label,
            )  # fmt: skip
            series = st.checkbox("Auch für alle folgenden Termine dieser Reihe")
            if st.form_submit_button("Anlegen", type="primary"):
                day = berlin(occ.starts_at).date()
                starts = datetime.combine(day, start_t, tzinfo=BERLIN)
                ends = datetime.combine(day, end_t, tzinfo=BERLIN)
                with guard():
                    with writing() as s:
                        made = shifts.add_shift(
                            s, who, occ_id, role=other.strip() or role, needed=int(needed),
                            starts_at=starts, ends_at=ends, required=required,
                            all_future=series, now=now(),
                        )  # fmt: skip
                    flash(f"{len(made)} Einsatz/Einsätze angelegt.")
                    st.rerun()
        if roster and active:
            with st.expander("Person einteilen"):
                sid = st.selectbox(
                    "Einsatz", [v.id for v in roster], key="vo_assign_shift",
                    format_func=lambda i: next(f"{v.role} ({fmt_time(v.starts_at)})"
                                               for v in roster if v.id == i),
                )  # fmt: skip
                pid = st.selectbox(
                    "Person", [p.id for p in active], format_func=names.get, key="vo_assign_p"
                )
                if st.button("Einteilen", type="primary", key="vo_assign"):
                    commit(
                        lambda s: shifts.assign(s, who, sid, pid, now()),
                        f"„{md(names[pid])}“ ist eingeteilt.",
                    )
        assignments = {a.id: (v, a) for v in roster for a in v.assignments}
        if assignments:
            with st.expander("Anwesenheit und Stunden korrigieren"):
                aid = st.selectbox(
                    "Einteilung", list(assignments), key="vo_fix_a",
                    format_func=lambda i: f"{assignments[i][1].name} – {assignments[i][0].role}",
                )  # fmt: skip
                what = st.radio(
                    "Was?",
                    ["Nicht erschienen", "Geplante Zeiten bestätigen", "Stunden eintragen",
                     "Korrektur entfernen", "Jetzt einchecken", "Jetzt auschecken"],
                    key="vo_fix_action",
                )  # fmt: skip
                hours = st.number_input("Stunden", 0.0, 24.0, 2.0, step=0.25, key="vo_fix_h")
                if st.button("Ausführen", key="vo_fix"):
                    commit(lambda s: _fix(s, who, aid, what, hours), f"{what}: erledigt.")


def _week(team: _Team) -> None:
    """The week's roster."""
    who, agency_id, keys, today = team.who, team.agency_id, team.keys, team.today
    st.subheader("Dienstplan der Woche")
    week_of = st.date_input("Woche mit dem Tag", value=today, format="DD.MM.YYYY", key="vo_week")
    week = []
    with guard(), inst().db.read() as s:
        week = shifts.roster_for_week(s, keys, who, agency_id, week_of)
    if not week:
        st.info("In dieser Woche sind keine Einsätze angelegt.")
    else:
        st.dataframe(
            [
                {
                    "Tag": fmt_weekday_date(v.starts_at),
                    "Zeit": f"{fmt_time(v.starts_at)}–{fmt_time(v.ends_at)}",
                    "Angebot": v.activity_title,
                    "Aufgabe": v.role,
                    "Besetzt": f"{v.taken}/{v.needed}",
                    "Personen": ", ".join(
                        a.name for a in v.assignments if a.status in shifts.ACTIVE
                    ),
                }
                for v in week
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )


def _hours(team: _Team) -> None:
    """Hours per year, other work (Stundenzettel), the certificate (PDF)."""
    who, agency_id, keys, today = team.who, team.agency_id, team.keys, team.today
    people, active, names = team.people, team.active, team.names
    year = year_picker([today.year, today.year - 1, today.year - 2], label="Jahr", key="vo_year")
    table = []
    threshold = None
    with guard(), inst().db.read() as s:
        table = list_with_hours(s, keys, who, agency_id=agency_id, year=year, today=today)
        threshold = registry.card_threshold(s)
    if table:
        st.dataframe(
            [
                {
                    "Name": r.name,
                    "Stunden": fmt_hours(r.hours),
                    "Ehrenamtskarte NRW": "Schwelle erreicht" if r.card_reached else "",
                    "Status": "aktiv" if r.active else "deaktiviert",
                }
                for r in table
            ],
            hide_index=True,
            width="stretch",
            height="content",
        )
    if threshold is not None:
        st.caption(
            f"Hinweis Ehrenamtskarte NRW ab {fmt_hours(threshold.hours_per_year)} Std. im Jahr "
            f"oder {fmt_hours(threshold.hours_per_week)} Std. pro Woche (Einstellung der "
            "Installation; "
            "bitte die aktuelle Regel des Landes prüfen)."
        )
    if active:
        with (
            st.expander("Weitere Tätigkeit eintragen (Stundenzettel)"),
            st.form("vo_worklog", clear_on_submit=True),
        ):
            pid = st.selectbox("Person", [p.id for p in active], format_func=names.get)
            c1, c2 = st.columns(2)
            day = c1.date_input("Datum", value=today, format="DD.MM.YYYY")
            hrs = c2.number_input("Stunden", 0.25, 24.0, 2.0, step=0.25)
            desc = st.text_input("Tätigkeit")
            if st.form_submit_button("Eintragen", type="primary"):
                commit(
                    lambda s: add_worklog(
                        s, who, pid, day=day, hours=hrs, description=desc, today=today
                    ),
                    f"{fmt_hours(hrs)} Std. für „{md(names[pid])}“ eingetragen.",
                )
    if people:
        st.subheader("Ehrenamtsnachweis (PDF)")
        pid = st.selectbox("Person", [p.id for p in people], format_func=names.get, key="vo_cert_p")
        if st.button("Nachweis erstellen", key="vo_cert"):
            with guard(), writing() as s:
                fname, pdf = volunteer_certificate(s, keys, who, pid, year, today)
                st.download_button(
                    "PDF herunterladen", data=pdf, file_name=fname, mime="application/pdf",
                    type="primary", on_click="ignore", key="vo_cert_dl",
                )  # fmt: skip


render()
