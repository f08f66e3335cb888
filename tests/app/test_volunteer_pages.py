"""AppTest: Ehrenamt (specialist), Meine Einsätze, Check-in and Mein Nachweis (volunteer)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ia_events.attendance import checkin
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, AuditEvent, Shift, ShiftAssignment, User
from storage.db import utcnow
from tests.support import login, texts


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "unerwarteter Fehler" not in texts(at)
    return at


def _button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_specialist_sees_registry_rosters_hours_and_overview_warnings(app, app_env) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    shown = texts(app)
    assert "Ehrenamt: Nachweise laufen ab" in shown and "abgelaufen seit" in shown
    _open(app, "pages/volunteers.py")
    assert [t.label for t in app.tabs][:2] == ["Verzeichnis", "Import & Export"]
    names = app.dataframe[0].value["Name"].tolist()
    # The demo agencies differ in size: five to eight volunteers each (Essen: seven).
    assert "سمية الحسن" in names and len(names) == len(set(names)) == 7
    assert "Dienstplan der Woche" in texts(app)
    assert "Ehrenamtskarte NRW ab 200 Std." in texts(app)
    # Issue a certificate: the download appears.
    _button(app, "Nachweis erstellen").click().run()
    assert not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        issued = s.scalar(select(AuditEvent).where(AuditEvent.action == "volunteer:certificate"))
    assert issued is not None and issued.actor == "fk-essen"


def test_specialist_adds_a_volunteer_and_a_bad_one_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/volunteers.py")
    form = {t.label: t for t in app.text_input}
    form["Name"].input("Zeynep Kaya")
    _button(app, "Speichern").click().run()
    assert "„Zeynep Kaya“ wurde ins Verzeichnis aufgenommen." in texts(app)
    form = {t.label: t for t in app.text_input}
    form["Name"].input("Zeynep Kaya")
    _button(app, "Speichern").click().run()
    assert any("schon erfasst" in e.value for e in app.error)


def test_volunteer_navigation_signup_checkin_and_certificate(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "ehrenamt-essen")
    assert app.title[0].value == "Meine Einsätze"
    assert "Offene Einsätze Ihrer Agentur" in texts(app)
    assert "Jonas" not in texts(app)  # no other volunteer's name on a volunteer screen
    abbau = [b for b in app.button if b.label == "Eintragen"]
    assert abbau
    with app_env.db.read() as s:
        me = s.scalar(select(User).where(User.username == "ehrenamt-essen"))
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        now = utcnow()
        due = select(Shift).where(Shift.agency_id == essen, Shift.role == "Abbau")
        running = s.scalars(due.where(Shift.starts_at > now)).first()
        url = checkin.occurrence_link(s, app_env.keys, Actor.cli(), running.occurrence_id,
                                      "http://x", purpose="volunteer")  # fmt: skip
    next(b for b in app.button if b.key == f"ms_signup_{running.id}").click().run()
    assert "Sie sind für „Abbau“ eingetragen." in texts(app)

    app.query_params["t"] = url.split("t=")[1]
    _open(app, "pages/volunteer_checkin.py")
    _button(app, "Jetzt einchecken").click().run()
    assert "Eingecheckt um" in texts(app)
    _button(app, "Jetzt auschecken").click().run()
    assert "Ausgecheckt um" in texts(app)
    with app_env.db.read() as s:
        mine = ShiftAssignment.volunteer_id == me.volunteer_id
        a = s.scalar(select(ShiftAssignment).where(ShiftAssignment.shift_id == running.id, mine))
    assert a.checked_in_at is not None and a.checked_out_at is not None

    _open(app, "pages/my_certificate.py")
    assert "Ihre Stunden" in str(app.metric[0].label)
    assert "Abbau" in app.dataframe[0].value["Aufgabe"].tolist()
    _button(app, "Nachweis als PDF erstellen").click().run()
    assert not app.error


def test_volunteer_cannot_open_staff_pages(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "ehrenamt-essen")
    # The navigation holds only the volunteer's pages; staff pages cannot be opened.
    with pytest.raises(ValueError, match=r"my_shifts\.py.*volunteer_checkin\.py.*my_certificate"):
        app.switch_page("pages/volunteers.py")
