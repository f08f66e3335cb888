"""AppTest: Ehrenamt (specialist), Meine Einsätze, Check-in and Mein Nachweis (volunteer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ia_events.attendance import checkin
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin, fmt_time, fmt_weekday_date
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


def _me(app_env: Installation) -> Actor:
    from ia_events.core.models import Role

    with app_env.db.read() as s:
        me = s.scalar(select(User).where(User.username == "ehrenamt-essen"))
        return Actor(me.username, Role.volunteer, user_id=me.id, agency_id=me.agency_id,
                     volunteer_id=me.volunteer_id)  # fmt: skip


def test_my_shifts_upcoming_first_finished_under_erledigt(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    from ia_events.volunteers import shifts
    from pages._ui import md

    login(app, "ehrenamt-essen")
    with app_env.db.read() as s:
        home = shifts.volunteer_home(s, _me(app_env), utcnow())
    assert home.done, "the demo volunteer has worked shifts in the last two weeks"
    assert home.upcoming, "the demo login has shifts ahead, so a new user sees the list work"
    # Upcoming, soonest first, right under the heading (nothing finished among them).
    shown = [m.value for m in app.markdown]
    ahead = [f"**{md(m.shift.role)}** · {md(m.shift.activity_title)}" for m in home.upcoming]
    assert shown[: len(ahead)] == ahead
    starts = [m.shift.starts_at for m in home.upcoming]
    assert starts == sorted(starts)
    # Finished ones in the "Erledigt" expander, most recent first.
    done = next(e for e in app.expander if e.label.startswith("Erledigt"))
    assert done.label == f"Erledigt ({len(home.done)})"
    assert len(done.caption) == len(home.done)
    for caption, m in zip(done.caption, home.done, strict=True):
        v = m.shift
        when = f"{fmt_weekday_date(v.starts_at)}, {fmt_time(v.starts_at)}–{fmt_time(v.ends_at)}"
        assert caption.value.startswith(when)
    ends = [m.shift.ends_at for m in home.done]
    assert ends == sorted(ends, reverse=True) and all(e < utcnow() for e in ends)


def test_open_shifts_filter_by_task_and_activity(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "ehrenamt-essen")
    roles = app.selectbox(key="ms_f_role")
    assert "Kinderbetreuung" in roles.options and roles.value is None
    before = len([b for b in app.button if b.label == "Eintragen"])
    roles.select("Kinderbetreuung").run()
    offered = [b for b in app.button if b.label == "Eintragen"]
    open_part = texts(app).split("Offene Einsätze Ihrer Agentur", 1)[1]
    assert 0 < len(offered) < before
    assert "passende Einsätze" in open_part or "passender Einsatz" in open_part
    assert "Kinderbetreuung" in open_part and "Abbau" not in open_part
    # Only the activity offered, and a date range that has passed: nothing fits, in words.
    activities = app.selectbox(key="ms_f_activity")
    assert activities.options[0] == "Alle Angebote" and len(activities.options) > 1
    # The demo's agencies differ: find an activity that has Kinderbetreuung shifts; the
    # other activities then show none (task and activity filters combine).
    found = []
    for i in range(1, len(activities.options)):
        app.selectbox(key="ms_f_activity").select_index(i).run()
        part = texts(app).split("Offene Einsätze Ihrer Agentur", 1)[1]
        if "Kinderbetreuung" in part:
            found.append(i)
        else:
            assert "Keine offenen Einsätze passen zum Filter." in part
    assert found, "no activity of Essen has an open Kinderbetreuung shift"
    app.selectbox(key="ms_f_activity").select_index(found[0]).run()
    yesterday = berlin(utcnow()).date() - timedelta(days=1)
    app.date_input(key="ms_f_to").set_value(yesterday).run()
    assert "Keine offenen Einsätze passen zum Filter." in texts(app)
    assert not [b for b in app.button if b.label == "Eintragen"]


def test_scanning_a_shift_not_mine_offers_sign_up_then_check_in(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "ehrenamt-essen")
    with app_env.db.read() as s:
        abbau = s.scalars(
            select(Shift).where(
                Shift.role == "Abbau",
                Shift.starts_at > utcnow(),
                Shift.agency_id == _me(app_env).agency_id,
            )
        ).first()
        url = checkin.occurrence_link(s, app_env.keys, Actor.cli(), abbau.occurrence_id,
                                      "http://x", purpose="volunteer")  # fmt: skip
    app.query_params["t"] = url.split("t=")[1]
    _open(app, "pages/volunteer_checkin.py")
    assert "noch nicht eingeteilt" in texts(app)
    assert not [b for b in app.button if b.label == "Jetzt einchecken"]
    _button(app, "Für diese Schicht eintragen").click().run()
    assert "Sie sind für „Abbau“ eingetragen. Jetzt können Sie einchecken." in texts(app)
    _button(app, "Jetzt einchecken").click().run()
    assert "Eingecheckt um" in texts(app)


def test_scanning_a_full_occurrence_says_so_and_links_open_shifts(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    from ia_events.core.errors import DomainError
    from ia_events.core.models import Role, Volunteer
    from ia_events.volunteers import shifts

    login(app, "ehrenamt-essen")
    me = _me(app_env)
    staff = Actor("fk-essen", Role.specialist, user_id=1, agency_id=me.agency_id)
    with app_env.db.write() as s:
        abbau = s.scalars(
            select(Shift).where(
                Shift.role == "Abbau",
                Shift.starts_at > utcnow(),
                Shift.agency_id == _me(app_env).agency_id,
            )
        ).first()
        others = s.scalars(
            select(Volunteer.id).where(
                Volunteer.agency_id == me.agency_id, Volunteer.id != me.volunteer_id
            )
        ).all()
        for vid in others:  # staff fill the free places with the others
            try:
                with s.begin_nested():
                    shifts.assign(s, staff, abbau.id, vid)
            except DomainError:
                pass
        url = checkin.occurrence_link(s, app_env.keys, Actor.cli(), abbau.occurrence_id,
                                      "http://x", purpose="volunteer")  # fmt: skip
        taken = s.scalar(
            select(func.count()).where(
                ShiftAssignment.shift_id == abbau.id, ShiftAssignment.status == "assigned"
            )
        )
    assert taken == abbau.needed
    app.query_params["t"] = url.split("t=")[1]
    _open(app, "pages/volunteer_checkin.py")
    assert "alle Einsätze hier sind schon besetzt" in texts(app)
    assert not [b for b in app.button if b.label == "Für diese Schicht eintragen"]
    assert any(p.label == "Offene Einsätze ansehen" for p in app.get("page_link"))


def test_personal_calendar_download_and_subscription(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "ehrenamt-essen")
    assert "Mein Kalender" in texts(app)
    assert app.get("download_button")  # the .ics file
    assert not app.code
    _button(app, "Kalender-Abo einrichten").click().run()
    assert "Ihr Kalender-Abo ist eingerichtet." in texts(app)
    url = app.code[0].value
    assert "/ical/v" in url and url.endswith(".ics")
    _button(app, "Kalender-Abo beenden").click().run()
    assert "die Adresse funktioniert nicht mehr" in texts(app) and not app.code
