"""The forms of Angebote & Termine that work on a whole activity: create one (the
fields of the chosen rhythm only; a warning with "Trotzdem anlegen" before a
duplicate), edit it (title, kind, place, mode, sub-goals, times of its future
dates), cancel the series from a date on, delete it while nothing was recorded.

Widgets and one service call each; the rules live in ``ia_events.planning``
(``activities.ActivitySpec``, ``schedule``).
"""

from __future__ import annotations

from datetime import date, datetime, time

import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.errors import DuplicateActivity, InvalidInput
from ia_events.core.messages import INDICATOR_LABELS, berlin, fmt_count, fmt_date
from ia_events.core.models import FIELD_LABELS, AttendanceMode
from ia_events.planning import plans, schedule
from ia_events.planning.activities import ActivitySpec, rule_from
from ia_events.planning.recurrence import WEEKDAYS, SeriesRule
from pages import _funding
from pages._ui import commit, guard, inst, md, now, row_table, writing

MODES = {
    AttendanceMode.named: "namentlich (z. B. Nähcafé)",
    AttendanceMode.anonymous: "anonym zählen (Kopfzahl)",
    AttendanceMode.card: "persönliche QR-Karten",
}
RHYTHMS = {
    "single": "Einzeltermin",
    "weekly": "wöchentlich / alle n Wochen",
    "dates": "ausgewählte Termine",
}
OTHER = "Andere Art …"
OFF_FIELD = "Begründung, falls außerhalb der Arbeitsschwerpunkte"
_PENDING = "act_dup"  # a spec refused as a duplicate, waiting for "Trotzdem anlegen"


def parse_dates(raw: str) -> tuple[date, ...]:
    out = []
    for part in raw.replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(datetime.strptime(part, "%d.%m.%Y").date())
        except ValueError as exc:
            raise InvalidInput(
                field="Termine", reason=f"„{part}“ ist kein Datum (TT.MM.JJJJ)."
            ) from exc
    return tuple(out)


def _goals(who: Actor, slug: str, year: int) -> dict[int, plans.SubGoalView]:
    """The sub-goals of every Aufgabe of the year (a phase plan's only for this year)."""
    with inst().db.read() as s:
        aufgaben = plans.plans_for(s, who, slug, year)
    return {g.id: g for p in aufgaben for g in p.subgoals if g.funding_year in (0, year)}


def _goal_label(goals: dict[int, plans.SubGoalView]):  # type: ignore[no-untyped-def]
    return lambda i: f"{goals[i].title} ({INDICATOR_LABELS.get(goals[i].indicator, '')})"


# -- new activity -----------------------------------------------------------------------------


def _rule_fields(rhythm: str, year: int) -> SeriesRule:
    """Only the fields of the chosen rhythm (inside the form)."""
    today = berlin(now()).date()
    c1, c2, c3 = st.columns(3)
    first: date | None = None
    if rhythm == "single":
        first = c1.date_input("Datum", value=today, format="DD.MM.YYYY")
    elif rhythm == "weekly":
        first = c1.date_input("Erster Termin", value=today, format="DD.MM.YYYY")
    else:
        c1.caption("Die Termine unten, alle zur selben Uhrzeit.")
    start_t = c2.time_input("Beginn", value=time(9, 30), step=900)
    end_t = c3.time_input("Ende", value=time(12, 0), step=900)
    interval, weekdays, until, dates = 1, [], None, ""
    if rhythm == "weekly":
        c1, c2, c3 = st.columns(3)
        interval = int(c1.number_input("Alle … Wochen", 1, 52, 1))
        weekdays = c2.multiselect(
            "Wochentage (leer: wie erster Termin)",
            list(range(7)),
            format_func=lambda d: WEEKDAYS[d],
        )
        open_end = c3.checkbox("Offenes Ende (bis 31.12.)", value=True)
        last = c3.date_input(
            "Letzter Termin (ohne offenes Ende)", value=date(year, 12, 31), format="DD.MM.YYYY"
        )
        until = None if open_end else last
    elif rhythm == "dates":
        dates = st.text_input(
            "Ausgewählte Termine (TT.MM.JJJJ, mit Komma)", placeholder="12.03.2026, 26.03.2026"
        )
    skip = st.checkbox("Feiertage (NRW) und Schließzeiten auslassen", value=True)
    return SeriesRule(
        kind=rhythm,
        start_time=start_t or time(9, 30),
        end_time=end_t or time(12),
        first_day=first,
        interval=interval,
        weekdays=tuple(weekdays),
        until=until,
        dates=parse_dates(dates) if rhythm == "dates" else (),
        skip_holidays=skip,
        skip_closures=skip,
    )


def new_activity(who: Actor, slug: str) -> None:
    year = int(st.number_input("Förderjahr", 2000, 2100, berlin(now()).year, key="act_year"))
    goals = _goals(who, slug, year)
    if not goals:
        st.info(f"Für {year} gibt es noch keine Teilziele – legen Sie sie unter *Planung* an.")
    # Outside the form: choosing a rhythm reruns and shows only its fields.
    rhythm = st.radio(
        "Rhythmus", list(RHYTHMS), format_func=RHYTHMS.get, horizontal=True, key="act_rhythm"
    )
    with st.form("act_new", clear_on_submit=False):
        title = st.text_input("Titel", placeholder="z. B. Nähcafé im Stadtteilzentrum")
        c1, c2 = st.columns(2)
        kind = c1.selectbox("Art", [*plans.ACTIVITY_TYPES, OTHER])
        custom = c2.text_input("Andere Art (falls gewählt)")
        field = c1.selectbox(
            "Handlungsfeld", list(FIELD_LABELS), format_func=lambda f: f"{f} – {FIELD_LABELS[f]}"
        )
        subgoal_ids = c2.multiselect("Teilziele", list(goals), format_func=_goal_label(goals))
        off_reason = st.text_input(
            OFF_FIELD, placeholder="nur nötig, wenn das Handlungsfeld nicht zu Ihrer Agentur gehört"
        )
        place = st.text_input("Ort im Sozialraum")
        partners = st.text_area("Kooperationspartner (eine Zeile je Partner)", height=80)
        c1, c2, c3 = st.columns(3)
        mode = c1.selectbox("Teilnahme-Erfassung", list(MODES), format_func=MODES.get)
        categories = c2.text_input(
            "Zählkategorien (bei anonym, mit Komma)", placeholder="Frauen, Männer, Kinder"
        )
        photographed = c3.checkbox("Es wird fotografiert")
        st.markdown(f"**Termine: {RHYTHMS[rhythm]}**")
        rule: SeriesRule | None = None
        with guard():
            rule = _rule_fields(rhythm, year)
        submitted = st.form_submit_button("Angebot anlegen", type="primary")
    if submitted and rule is not None:
        spec = ActivitySpec(
            agency_slug=slug,
            funding_year=year,
            title=title,
            type=custom.strip() if kind == OTHER else kind,
            field=field,
            attendance_mode=mode,
            place=place,
            partners=partners.splitlines(),
            subgoal_ids=subgoal_ids,
            photographed=photographed,
            count_categories=categories.split(","),
            off_field_reason=off_reason,
            rule=rule,
        )
        _create(who, spec)
    _pending_duplicate(who)


def _create(who: Actor, spec: ActivitySpec, *, confirmed: bool = False) -> None:
    with guard():
        try:
            with writing() as s:
                result = schedule.create_series(s, who, spec, allow_duplicate=confirmed)
        except DuplicateActivity as dup:
            st.session_state[_PENDING] = (spec, dup.message(escape=md))
            return
        st.session_state.pop(_PENDING, None)
        assert spec.rule is not None
        st.success(
            f"Angebot „{md(spec.title.strip())}“ angelegt: "
            f"{fmt_count(len(result.occurrence_ids), 'Termin')} "
            f"({spec.rule.describe()})."
        )
        if result.expansion.skipped:
            st.info(
                "Ausgelassen: "
                + "; ".join(f"{fmt_date(k.day)} ({md(k.reason)})" for k in result.expansion.skipped)
            )


def _pending_duplicate(who: Actor) -> None:
    """The duplicate warning: create it anyway, or drop it."""
    pending = st.session_state.get(_PENDING)
    if pending is None:
        return
    spec, message = pending
    box = st.container()
    c1, c2 = st.columns(2)
    anyway = c1.button("Trotzdem anlegen", type="primary", key="act_dup_yes")
    drop = c2.button("Nicht anlegen", key="act_dup_no")
    if anyway:
        _create(who, spec, confirmed=True)
    elif drop:
        st.session_state.pop(_PENDING, None)
        st.rerun()
    else:
        box.warning(f"{message} Soll es trotzdem angelegt werden?", icon=":material/warning:")


# -- a whole activity: edit, cancel from a date on, delete -----------------------------------


def activity_forms(who: Actor, slug: str) -> None:
    with inst().db.read() as s:
        activities = schedule.list_activities(s, who, slug)
    if not activities:
        st.info("Noch keine Angebote angelegt.")
        return
    by_id = {a.id: a for a in activities}
    if st.session_state.get("act_pick") not in by_id:
        st.session_state.pop("act_pick", None)
    row_table(
        [
            {
                "Angebot": a.title,
                "Förderjahr": str(a.funding_year),
                "Rhythmus": a.rhythm or "einzeln",
                "Ort": a.place,
            }
            for a in activities
        ],
        [a.id for a in activities],
        key="act_table",
        opens="act_pick",  # the picker below and the tabs under it show this activity
        column_config={"Angebot": st.column_config.TextColumn(width="large")},
        hint="Klicken Sie auf eine Zeile, um das Angebot unten zu bearbeiten.",
    )
    activity_id = st.selectbox(
        "Angebot",
        list(by_id),
        format_func=lambda i: (
            f"{by_id[i].title} ({by_id[i].funding_year})"
            + (f" – {by_id[i].rhythm}" if by_id[i].rhythm else "")
        ),
        key="act_pick",
    )
    a = by_id[activity_id]
    edit, money, cancel, remove = st.tabs(
        ["Bearbeiten", "Finanzierung", "Reihe absagen", "Löschen"]
    )
    with edit:
        _edit_form(who, slug, a)
    with money:
        _funding.activity_funding(who, a.id)
    with cancel:
        _cancel_form(who, a)
    with remove:
        _delete_form(who, a)


def _edit_form(who: Actor, slug: str, a: schedule.ActivityView) -> None:
    goals = _goals(who, slug, a.funding_year)
    types = list(dict.fromkeys([*plans.ACTIVITY_TYPES, a.type]))
    fields = list(FIELD_LABELS)
    modes = list(MODES)
    rule = rule_from(a.recurrence)
    with st.form(f"act_edit_{a.id}"):
        title = st.text_input("Titel", value=a.title)
        c1, c2 = st.columns(2)
        kind = c1.selectbox("Art", types, index=types.index(a.type))
        field = c2.selectbox(
            "Handlungsfeld",
            fields,
            index=fields.index(a.field) if a.field in fields else 0,
            format_func=lambda f: f"{f} – {FIELD_LABELS[f]}",
        )
        subgoal_ids = st.multiselect(
            "Teilziele",
            list(goals),
            default=[g for g in a.subgoal_ids if g in goals],
            format_func=_goal_label(goals),
        )
        off_reason = st.text_input(OFF_FIELD, value=a.off_field_reason)
        place = st.text_input("Ort im Sozialraum", value=a.place)
        partners = st.text_area(
            "Kooperationspartner (eine Zeile je Partner)", value="\n".join(a.partners), height=80
        )
        c1, c2, c3 = st.columns(3)
        mode = c1.selectbox(
            "Teilnahme-Erfassung",
            modes,
            index=modes.index(AttendanceMode(a.attendance_mode)),
            format_func=MODES.get,
            help="Nur änderbar, solange keine Teilnahme erfasst ist.",
        )
        categories = c2.text_input(
            "Zählkategorien (mit Komma)", value=", ".join(a.count_categories)
        )
        photographed = c3.checkbox("Es wird fotografiert", value=a.photographed)
        start_t = end_t = None
        if rule is not None:
            st.markdown("**Uhrzeit der künftigen Termine** (einzeln geänderte bleiben)")
            c1, c2 = st.columns(2)
            start_t = c1.time_input("Beginn", value=rule.start_time, step=900)
            end_t = c2.time_input("Ende", value=rule.end_time, step=900)
        submitted = st.form_submit_button("Angebot speichern", type="primary")
    if not submitted:
        return
    spec = ActivitySpec(
        agency_slug=slug,
        funding_year=a.funding_year,
        title=title,
        type=kind,
        field=field,
        attendance_mode=mode,
        place=place,
        partners=partners.splitlines(),
        subgoal_ids=subgoal_ids,
        photographed=photographed,
        count_categories=categories.split(","),
        off_field_reason=off_reason,
    )
    times = None
    if (
        rule is not None
        and start_t
        and end_t
        and (start_t, end_t) != (rule.start_time, rule.end_time)
    ):
        times = (start_t, end_t)

    def save(s):  # type: ignore[no-untyped-def]
        changed = schedule.edit_activity(s, who, a.id, spec, now=now())
        moved: list[int] = []
        if times is not None:
            upcoming = _next_date(s, who, slug, a.id)
            if upcoming is not None:
                moved = schedule.edit_future(
                    s, who, upcoming, start_time=times[0], end_time=times[1], now=now()
                )
        return changed, moved

    commit(save, "Das Angebot wurde gespeichert.")


def _next_date(s, who: Actor, slug: str, activity_id: int) -> int | None:  # type: ignore[no-untyped-def]
    rows = plans.list_occurrences(s, who, agency_slug=slug, start=now(), include_cancelled=False)
    return next((o.id for o in rows if o.activity_id == activity_id and o.starts_at >= now()), None)


def _cancel_form(who: Actor, a: schedule.ActivityView) -> None:
    st.caption(
        "Sagt alle geplanten Termine ab dem gewählten Datum ab; vergangene Termine bleiben, "
        "wie sie sind. Die abgesagten Termine bleiben mit dem Grund im Verlauf."
    )
    with st.form(f"act_cancel_series_{a.id}"):
        day = st.date_input("Absagen ab", value=berlin(now()).date(), format="DD.MM.YYYY")
        reason = st.text_input("Grund", placeholder="z. B. Kursleitung fällt aus")
        submitted = st.form_submit_button("Reihe ab diesem Datum absagen")
    if submitted:
        commit(
            lambda s: schedule.cancel_series(s, who, a.id, day, reason, now=now()),
            f"Die Termine von „{md(a.title)}“ ab {fmt_date(day)} sind abgesagt.",
        )


def _delete_form(who: Actor, a: schedule.ActivityView) -> None:
    st.caption(
        "Löschen geht nur, solange für das Angebot nichts erfasst ist (keine Teilnahmen, "
        "keine Nachweise, keine Ehrenamtlichen in Schichten). Sonst sagen Sie die Reihe ab."
    )
    with st.form(f"act_delete_{a.id}"):
        sure = st.checkbox(f"„{md(a.title)}“ mit allen Terminen löschen")
        submitted = st.form_submit_button("Angebot löschen")
    if not submitted:
        return
    if not sure:
        st.error("Bitte bestätigen Sie das Löschen mit dem Häkchen.")
        return
    commit(
        lambda s: schedule.delete_activity(s, who, a.id),
        f"Das Angebot „{md(a.title)}“ wurde gelöscht.",
    )
