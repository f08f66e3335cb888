"""AppTest: the admin's System page shows the mail setting and the outbox; a volunteer
chooses notifications on the Konto page."""

from __future__ import annotations

from sqlalchemy import select

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import OutboxMessage, Role, User
from ia_events.notify import prefs
from tests.support import login, texts


def test_system_page_without_mail_server_shows_what_would_have_been_sent(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("IA_EVENTS_SMTP_URL", raising=False)
    at = login(app, "admin")
    at.switch_page("pages/system.py").run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Kein Mailserver eingerichtet" in shown and "IA_EVENTS_SMTP_URL" in shown
    assert "Betreff: " in shown  # the waiting messages, worded as they would be sent
    assert "Guten Tag," in shown and "@demo.example" not in shown


def test_system_page_shows_a_permanent_failure_and_requeues_it(
    app, app_env: Installation, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("IA_EVENTS_SMTP_URL", "smtp://127.0.0.1:2525?from=ia@example.org")
    with app_env.db.write() as s:
        row = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert row is not None
        row.status, row.attempts = "failed", 1
        row.last_error = "550 5.1.1 Empfänger unbekannt"
        failed_id = row.id
    at = login(app, "admin")
    at.switch_page("pages/system.py").run()
    assert not at.exception, at.exception
    assert any("Nicht zugestellt oder Zustellung unklar: 1 Nachricht " in e.value for e in at.error)
    assert "Mailserver: smtp://127.0.0.1:2525" in texts(at)
    table = at.dataframe[0].value
    assert "550 5.1.1 Empfänger unbekannt" in set(table["Antwort des Mailservers"])
    next(b for b in at.button if b.label == "Erneut senden").click().run()
    assert f"Nachricht Nr. {failed_id} wird erneut gesendet." in texts(at)
    with app_env.db.read() as s:
        again = s.get(OutboxMessage, failed_id)
        assert again is not None and again.status == "pending"


def test_volunteer_chooses_notifications_on_the_konto_page(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    at = login(app, "ehrenamt-duisburg-laar")
    at.switch_page("pages/account.py").run()
    assert not at.exception, at.exception
    assert "Benachrichtigungen per E-Mail" in texts(at)
    field = next(t for t in at.text_input if t.label == "E-Mail-Adresse für Benachrichtigungen")
    field.input("kein-at-zeichen")
    next(b for b in at.button if b.label == "Benachrichtigungen speichern").click().run()
    assert any("gültige E-Mail-Adresse" in e.value for e in at.error)
    field = next(t for t in at.text_input if t.label == "E-Mail-Adresse für Benachrichtigungen")
    field.input("laar@demo.example")
    box = next(
        c for c in at.checkbox if c.label == "Neue offene Einsätze (höchstens einmal am Tag)"
    )
    box.uncheck()
    next(b for b in at.button if b.label == "Benachrichtigungen speichern").click().run()
    assert "Ihre Einstellungen sind gespeichert." in texts(at)
    with app_env.db.read() as s:
        user = s.scalars(select(User).where(User.username == "ehrenamt-duisburg-laar")).one()
        me = Actor(user.username, Role.volunteer, user_id=user.id, agency_id=user.agency_id,
                   volunteer_id=user.volunteer_id)  # fmt: skip
        saved = prefs.get_preferences(s, app_env.keys, me)
    assert saved.email == "laar@demo.example"
    assert "open_shifts_digest" not in saved.enabled and "shift_reminder" in saved.enabled
