"""AppTest: Angebote & Termine -- the new-activity form shows the fields of the chosen
rhythm, a second identical series asks first, a whole activity is edited, cancelled
from a date on or (not) deleted, the calendar moves by week and month, and a click on a
date opens it (evidence upload with the date preselected)."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import func, select

from ia_events.core.installation import Installation
from ia_events.core.messages import berlin
from ia_events.core.models import Activity, Agency, Attendance, Occurrence
from ia_events.planning.recurrence import local
from storage.db import utcnow
from tests.support import login, texts

PAGE = "pages/activities.py"


def _open(at):  # type: ignore[no-untyped-def]
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _labels(at, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [w.label for w in getattr(at, kind)]


def _count(inst: Installation, *where) -> int:  # type: ignore[no-untyped-def]
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(Activity).where(*where)) or 0


def test_new_activity_form_shows_only_the_fields_of_the_rhythm(app) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "fk-essen"))
    # Einzeltermin (the default): one date, no weekly fields, no list of dates.
    assert "Datum" in _labels(at, "date_input")
    assert "Alle … Wochen" not in _labels(at, "number_input")
    assert "Erster Termin" not in _labels(at, "date_input")
    assert "Ausgewählte Termine (TT.MM.JJJJ, mit Komma)" not in _labels(at, "text_input")
    at.radio(key="act_rhythm").set_value("weekly").run()
    assert "Erster Termin" in _labels(at, "date_input")
    assert "Alle … Wochen" in _labels(at, "number_input")
    assert "Wochentage (leer: wie erster Termin)" in _labels(at, "multiselect")
    at.radio(key="act_rhythm").set_value("dates").run()
    assert "Ausgewählte Termine (TT.MM.JJJJ, mit Komma)" in _labels(at, "text_input")
    assert "Alle … Wochen" not in _labels(at, "number_input")
    assert "Erster Termin" not in _labels(at, "date_input")
    # A list of dates is created from the visible field.
    year = berlin(utcnow()).year
    next(t for t in at.text_input if t.label == "Titel" and t.value == "").input("Lesekreis")
    next(t for t in at.text_input if t.label.startswith("Ausgewählte Termine")).input(
        f"03.03.{year}, 17.03.{year}"
    )
    _button(at, "Angebot anlegen").click().run()
    assert any("angelegt: 2 Termine" in s.value for s in at.success), texts(at)


def test_second_identical_series_asks_before_it_is_created(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "fk-essen"))

    def submit() -> None:
        # The first "Titel" is the new activity's (the edit form's comes later).
        next(t for t in at.text_input if t.label == "Titel").input("Sprachcafé")
        next(t for t in at.text_input if t.label == "Ort im Sozialraum").input("Bücherei")
        _button(at, "Angebot anlegen").click().run()

    submit()
    assert _count(app_env, Activity.title == "Sprachcafé") == 1
    submit()
    assert not at.exception
    assert any("Es gibt schon ein Angebot „Sprachcafé“" in w.value for w in at.warning), texts(at)
    assert _count(app_env, Activity.title == "Sprachcafé") == 1  # nothing created yet
    _button(at, "Nicht anlegen").click().run()
    assert not any("Es gibt schon" in w.value for w in at.warning)
    assert _count(app_env, Activity.title == "Sprachcafé") == 1
    submit()
    _button(at, "Trotzdem anlegen").click().run()
    assert not at.exception
    assert any("Sprachcafé" in s.value and "angelegt" in s.value for s in at.success)
    assert _count(app_env, Activity.title == "Sprachcafé") == 2


def _essen_activity(inst: Installation, recorded: bool) -> tuple[int, str]:
    """A demo activity of Essen this year, with or without attendance."""
    year = berlin(utcnow()).year
    with inst.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        attended = select(Occurrence.activity_id).join(
            Attendance, Attendance.occurrence_id == Occurrence.id
        )
        cond = Activity.id.in_(attended) if recorded else Activity.id.not_in(attended)
        row = s.execute(
            select(Activity.id, Activity.title)
            .where(Activity.agency_id == essen, Activity.funding_year == year, cond)
            .order_by(Activity.id)
        ).first()
    assert row is not None
    return row[0], row[1]


def test_specialist_edits_an_activity_and_cannot_delete_one_with_attendance(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    act_id, title = _essen_activity(app_env, recorded=True)
    at = _open(login(app, "fk-essen"))
    at.selectbox(key="act_pick").set_value(act_id).run()
    next(t for t in at.text_input if t.label == "Titel" and t.value == title).input(
        f"{title} am Dienstag"
    )
    next(t for t in at.text_input if t.label == "Ort im Sozialraum" and t.value).input(
        "Bürgerhaus Mitte"
    )
    _button(at, "Angebot speichern").click().run()
    assert not at.exception
    assert any("Das Angebot wurde gespeichert." in s.value for s in at.success), texts(at)
    with app_env.db.read() as s:
        a = s.get(Activity, act_id)
        assert a is not None and (a.title, a.place) == (f"{title} am Dienstag", "Bürgerhaus Mitte")
    # Recorded attendance: deleting is refused with a German sentence, nothing changes.
    at.selectbox(key="act_pick").set_value(act_id).run()
    next(c for c in at.checkbox if c.label.endswith("mit allen Terminen löschen")).check()
    _button(at, "Angebot löschen").click().run()
    assert any("kann nicht gelöscht werden" in e.value for e in at.error), texts(at)
    assert _count(app_env, Activity.id == act_id) == 1


def test_specialist_cancels_a_series_from_a_date_and_deletes_an_unused_one(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "fk-essen"))
    next(t for t in at.text_input if t.label == "Titel" and t.value == "").input("Probe")
    _button(at, "Angebot anlegen").click().run()
    with app_env.db.read() as s:
        probe = s.scalar(select(Activity.id).where(Activity.title == "Probe"))
    at.selectbox(key="act_pick").set_value(probe).run()
    next(c for c in at.checkbox if c.label.endswith("mit allen Terminen löschen")).check()
    _button(at, "Angebot löschen").click().run()
    assert any("wurde gelöscht" in s.value for s in at.success), texts(at)
    assert _count(app_env, Activity.id == probe) == 0

    act_id, _title = _essen_activity(app_env, recorded=True)
    at.selectbox(key="act_pick").set_value(act_id).run()
    next(t for t in at.text_input if t.label == "Grund").input("Kursleitung fällt aus")
    _button(at, "Reihe ab diesem Datum absagen").click().run()
    assert not at.exception
    with app_env.db.read() as s:
        rows = s.scalars(select(Occurrence).where(Occurrence.activity_id == act_id)).all()
    now = utcnow()
    future = [o for o in rows if o.starts_at >= now]
    assert future and all(o.status == "cancelled" for o in future)
    assert all(o.cancel_reason != "Kursleitung fällt aus" for o in rows if o.starts_at < now)


def test_calendar_moves_by_week_and_month_and_back_to_today(app) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "fk-essen"))
    today = berlin(utcnow()).date()
    monday = today - timedelta(days=today.weekday())
    assert at.session_state["act_ref"] == today
    assert any(f"Woche vom {monday:%d.%m.%Y}" in h.value for h in at.subheader)
    _button(at, "Weiter").click().run()
    assert at.session_state["act_ref"] == today + timedelta(weeks=1)
    nxt = monday + timedelta(weeks=1)
    assert any(f"Woche vom {nxt:%d.%m.%Y}" in h.value for h in at.subheader)
    _button(at, "Zurück").click().run()
    _button(at, "Zurück").click().run()
    assert at.session_state["act_ref"] == today - timedelta(weeks=1)
    _button(at, "Heute").click().run()
    assert at.session_state["act_ref"] == today
    at.radio(key="act_view").set_value("Monat").run()
    _button(at, "Weiter").click().run()
    first = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    assert at.session_state["act_ref"] == first
    months = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember"]  # fmt: skip
    assert any(f"{months[first.month - 1]} {first.year}" == h.value for h in at.subheader)


def _scheduled_essen_date(inst: Installation) -> Occurrence:
    with inst.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        occ = s.scalars(
            select(Occurrence)
            .where(
                Occurrence.agency_id == essen,
                Occurrence.status == "scheduled",
                Occurrence.starts_at < local(berlin(utcnow()).date(), time(0)),  # before today
                Occurrence.funding_year == berlin(utcnow()).year,
            )
            .order_by(Occurrence.starts_at.desc())
        ).first()
        assert occ is not None
        s.expunge(occ)
    return occ


def test_a_calendar_entry_opens_a_dialog_to_cancel_or_upload_evidence(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    occ = _scheduled_essen_date(app_env)
    at = _open(login(app, "fk-essen"))
    at.date_input(key="act_ref").set_value(berlin(occ.starts_at).date()).run()
    entry = at.button(key=f"act_cal_{occ.id}")
    assert occ.activity.title in entry.label
    entry.click().run()
    assert not at.exception
    assert any(b.key == "act_dlg_evidence" for b in at.button)
    assert any(b.key == "act_dlg_door" and b.disabled for b in at.button)  # not today
    # Cancel from the dialog: a reason is needed, then the date is cancelled.
    at.button(key="act_dlg_cancel_go").click().run()
    assert any("Grund" in e.value for e in at.error)
    at.text_input(key="act_dlg_reason").input("Raum belegt")
    at.button(key="act_dlg_cancel_go").click().run()
    assert not at.exception
    with app_env.db.read() as s:
        again = s.get(Occurrence, occ.id)
        assert again is not None and again.status == "cancelled"
        assert again.cancel_reason == "Raum belegt"
    assert "act_open" not in at.session_state  # closed after the change

    # Another date: "Nachweis hochladen" opens Nachweise with it, its activity's sub-goals set.
    other = _scheduled_essen_date(app_env)
    at.date_input(key="act_ref").set_value(berlin(other.starts_at).date()).run()
    at.button(key=f"act_cal_{other.id}").click().run()
    at.button(key="act_dlg_evidence").click().run()
    assert not at.exception
    assert at.session_state["ev_occurrence"] == other.id
    shown = texts(at)
    assert "Termin vorausgewählt" in shown and other.activity.title in shown
    goals = next(m for m in at.multiselect if m.label == "Teilziele")
    with app_env.db.read() as s:
        activity = s.get(Activity, other.activity_id)
        assert activity is not None
        expected = sorted(g.id for g in activity.subgoals if g.funding_year == other.funding_year)
    assert sorted(goals.value) == expected and expected


def test_a_click_on_an_activity_row_opens_it_for_editing(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    act_id, title = _essen_activity(app_env, recorded=True)
    at = _open(login(app, "fk-essen"))
    frame = at.dataframe(key="act_table").value
    assert {"Angebot", "Förderjahr", "Rhythmus", "Ort"} <= set(frame.columns)
    with app_env.db.read() as s:
        year = s.scalar(select(Activity.funding_year).where(Activity.id == act_id))
    row = int(frame.index[(frame["Angebot"] == title) & (frame["Förderjahr"] == str(year))][0])
    at.session_state["act_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="act_pick").value == act_id
    assert any(t.label == "Titel" and t.value == title for t in at.text_input)
