"""Notifications through a real SMTP server (aiosmtpd), on SQLite and PostgreSQL.

What a person notices: each kind of message arrives once, in German, with the
agency as sender and (for shifts) a calendar file; a server that refuses
temporarily gets the message later; two senders at once send each message
once; a sender killed with SIGKILL in the middle of the SMTP dialogue neither
loses nor doubles a message; the opt-out link switches a kind off."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ia_events.accounts.agencies import add_agency
from ia_events.accounts.users import add_user
from ia_events.core import outbox
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import OutboxMessage, Role
from ia_events.notify import delivery, mail, prefs
from ia_events.planning import plans, schedule
from ia_events.planning.activities import ActivitySpec
from ia_events.volunteers import registry, shifts
from tests.integration.crash_support import kill_9_at
from tests.integration.smtp_support import body_html, body_text, calendar_parts

OP = Actor.cli("test:op")
PW = "ein-langes-Passwort-2026"
# Monday, 2 November 2026, 09:00 in Berlin.
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SHIFT_START = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)  # Wednesday 10:00 Berlin


@dataclass
class World:
    agency: int
    specialist: Actor
    coordinator: Actor
    volunteer: Actor
    volunteer_id: int
    occurrence: int
    shift: int
    open_shift: int
    plan: int


def _user(s, inst: Installation, name: str, role: str, **kw) -> Actor:  # type: ignore[no-untyped-def]
    u = add_user(s, OP, inst.settings, username=name, password=PW, role=role, **kw)
    return Actor(name, Role(role), user_id=u.id, agency_id=u.agency_id,
                 volunteer_id=u.volunteer_id)  # fmt: skip


def _world(inst: Installation, *, emails: bool = True) -> World:
    with inst.db.write() as s:
        ag = add_agency(s, OP, slug="essen", name="IA Essen", carrier="AWO", fields=["BE"])
        fk = _user(s, inst, "fk-essen", "specialist", agency_slug="essen")
        ko = _user(s, inst, "koordination", "coordinator")
        v = registry.add_volunteer(s, inst.keys, fk, ag.id, name="Aylin Demir",
                                   consent_at=date(2026, 1, 5), now=NOW)  # fmt: skip
        ehr = _user(s, inst, "ehrenamt", "volunteer", agency_slug="essen", volunteer_id=v.id)
        act = plans.create_activity(
            s,
            OP,
            ActivitySpec(
                agency_slug="essen", funding_year=2026, title="Nähcafé", type="Nähcafé", field="BE"
            ),
        )
        occ = plans.add_occurrence(s, OP, act.id, SHIFT_START, SHIFT_START + timedelta(hours=2))
        (shift,) = shifts.add_shift(s, fk, occ.id, role="Aufbau", needed=2)
        (open_shift,) = shifts.add_shift(s, fk, occ.id, role="Kinderbetreuung", needed=1)
        plan = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2027,
                                      topic="Teilhabe", goal="Mehr Begegnung")  # fmt: skip
        plans.add_subgoal(s, fk, plan.id, title="Nähcafé wöchentlich", field="BE",
                          indicator="occurrences", target=40)  # fmt: skip
        if emails:
            for who, addr in ((fk, "fk@example.org"), (ko, "ko@example.org"),
                              (ehr, "ehrenamt@example.org")):  # fmt: skip
                kinds = [k.code for k in prefs.kinds_for(str(who.role))]
                prefs.set_preferences(s, inst.keys, who, email=addr, enabled=kinds)
        return World(ag.id, fk, ko, ehr, v.id, occ.id, shift.id, open_shift.id, plan.id)


def _send(inst: Installation, server, now: datetime) -> delivery.RunReport:  # type: ignore[no-untyped-def]
    return delivery.run(inst, now, cfg=mail.parse_url(server.url()))


def test_each_kind_arrives_once_in_german_with_calendar(inst: Installation, smtp_server) -> None:  # type: ignore[no-untyped-def]
    w = _world(inst)
    box = smtp_server.handler
    with inst.db.write() as s:
        shifts.sign_up(s, w.volunteer, w.shift, now=NOW)
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
        plans.return_plan(s, w.coordinator, w.plan, "Bitte Zielzahl begründen.", now=NOW)
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
        plans.approve_plan(s, w.coordinator, w.plan, now=NOW)
        registry.add_qualification(s, w.specialist, w.volunteer_id, kind="hygiene",
                                   checked_on=date(2024, 11, 20), valid_until=date(2026, 11, 20),
                                   today=NOW.date())  # fmt: skip
    report = _send(inst, smtp_server, NOW)
    assert report.failed == [] and report.review == []
    to = {str(m["Subject"]): str(m["X-Envelope-To"]) for m in box.messages}

    confirmed = box.by_subject("Einsatz bestätigt: Aufbau am 04.11.2026")
    assert len(confirmed) == 1
    text = body_text(confirmed[0])
    assert "Ihr Einsatz ist eingetragen" in text and "10:00–12:00 Uhr" in text
    assert "Nähcafé" in text and "Aylin" not in text
    assert '"IA Essen" <ia@example.org>' in str(confirmed[0]["From"]) or (
        "IA Essen <ia@example.org>" in str(confirmed[0]["From"])
    )
    (ics,) = calendar_parts(confirmed[0])
    assert b"BEGIN:VEVENT" in ics and b"DTSTART:20261104T090000Z" in ics
    assert b"SUMMARY:Einsatz: Aufbau" in ics
    assert "Diese Benachrichtigungen abbestellen" in body_html(confirmed[0])
    assert confirmed[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert len(box.by_subject("Zur Freigabe: Aufgabenplanung 2027 – IA Essen")) == 2
    assert to["Zur Freigabe: Aufgabenplanung 2027 – IA Essen"] == "ko@example.org"
    (returned,) = box.by_subject("Aufgabenplanung 2027 zurückgegeben")
    assert "Bitte Zielzahl begründen." in body_text(returned)
    assert to["Aufgabenplanung 2027 zurückgegeben"] == "fk@example.org"
    (approved,) = box.by_subject("Aufgabenplanung 2027 freigegeben")
    assert "freigegeben" in body_text(approved)
    # Scheduled: the Aufgabenplanung deadline (15.11.) is 13 days away, the hygiene proof
    # ends on 20.11., the Aufbau shift in two days still lacks one person, and the
    # Kinderbetreuung shift is new and open for the volunteer.
    (deadline,) = box.by_subject("Frist in 14 Tagen: Aufgabenplanung 2027")
    assert "15.11.2026" in body_text(deadline)
    (qual,) = box.by_subject("Nachweis läuft ab: Hygienebelehrung")
    assert f"(Nr. {w.volunteer_id})" in body_text(qual) and "Aylin" not in body_text(qual)
    (under,) = box.by_subject("Noch nicht besetzt: Aufbau am 04.11.2026")
    assert "fehlen noch 1 von 2 Personen" in body_text(under)
    (digest,) = box.by_subject("Neue offene Einsätze (1)")
    assert "Kinderbetreuung" in body_text(digest) and "Aufbau" not in body_text(digest)
    (weekly,) = box.by_subject("Wochenübersicht:")
    assert "Mittel-Controlling" in body_text(weekly) and "IA Essen" in body_text(weekly)
    assert to[str(weekly["Subject"])] == "ko@example.org"
    assert all("Guten Tag," in body_text(m) for m in box.messages)
    first = len(box.messages)

    # The job again, an hour later: nothing twice.
    again = _send(inst, smtp_server, NOW + timedelta(hours=1))
    assert again.sent == [] and len(box.messages) == first

    # The day before at 18:30 local: the reminder (once); then 3 days before the deadline.
    _send(inst, smtp_server, datetime(2026, 11, 3, 17, 30, tzinfo=UTC))
    _send(inst, smtp_server, datetime(2026, 11, 3, 19, 30, tzinfo=UTC))
    (reminder,) = box.by_subject("Erinnerung: morgen Aufbau um 10:00 Uhr")
    assert calendar_parts(reminder)
    _send(inst, smtp_server, datetime(2026, 11, 12, 8, 0, tzinfo=UTC))
    assert len(box.by_subject("Frist in 3 Tagen: Aufgabenplanung 2027")) == 1

    # Moved, then cancelled: both reach the volunteer, the second with a cancelling calendar.
    with inst.db.write() as s:
        schedule.edit_occurrence(s, w.specialist, w.occurrence,
                                 starts_at=SHIFT_START + timedelta(hours=1),
                                 ends_at=SHIFT_START + timedelta(hours=3),
                                 now=datetime(2026, 11, 3, 19, 55, tzinfo=UTC))  # fmt: skip
    _send(inst, smtp_server, datetime(2026, 11, 3, 20, 0, tzinfo=UTC))
    (changed,) = box.by_subject("Einsatz geändert")
    assert "Termin jetzt: Mi., 04.11.2026, 11:00–13:00 Uhr" in body_text(changed)
    assert "Bisher: Mi., 04.11.2026, 10:00–12:00 Uhr" in body_text(changed)
    with inst.db.write() as s:
        schedule.cancel_occurrence(s, w.specialist, w.occurrence, "Raum nicht verfügbar",
                                   now=datetime(2026, 11, 3, 20, 1, tzinfo=UTC))  # fmt: skip
    _send(inst, smtp_server, datetime(2026, 11, 3, 20, 5, tzinfo=UTC))
    (cancelled,) = box.by_subject("Einsatz abgesagt: Aufbau")
    assert "Grund: Raum nicht verfügbar" in body_text(cancelled)
    assert b"STATUS:CANCELLED" in calendar_parts(cancelled)[0]
    # Overdue, once.
    _send(inst, smtp_server, datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
    _send(inst, smtp_server, datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    assert len(box.by_subject("Frist überschritten: Aufgabenplanung 2027")) == 1

    # Every message once (by Message-ID); the outbox kept no body of a sent one.
    ids = [str(m["Message-ID"]) for m in box.messages]
    assert len(ids) == len(set(ids))
    with inst.db.read() as s:
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "sent")).all()
        assert len(sent) == len(box.messages)
        assert all(m.body_text is None and m.subject is None for m in sent)


def test_nothing_for_a_person_without_address_or_who_opted_out(
    inst: Installation, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    w = _world(inst)
    with inst.db.write() as s:
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
    _send(inst, smtp_server, NOW)
    (msg,) = smtp_server.handler.by_subject("Zur Freigabe")
    link = next(line for line in body_text(msg).splitlines() if "/notify/optout?t=" in line)
    token = link.split("t=", 1)[1].strip()
    with inst.db.write() as s:
        assert prefs.opt_out(s, inst.keys, token) == "plan_submitted"
        assert "plan_submitted" not in prefs.get_preferences(s, inst.keys, w.coordinator).enabled
        plans.return_plan(s, w.coordinator, w.plan, "Bitte ergänzen.", now=NOW)
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
        # The specialist removes her address: nothing more for her.
        prefs.set_preferences(s, inst.keys, w.specialist, email="", enabled=[])
        plans.approve_plan(s, w.coordinator, w.plan, now=NOW)
    before = len(smtp_server.handler.messages)
    _send(inst, smtp_server, NOW + timedelta(minutes=5))
    subjects = [str(m["Subject"]) for m in smtp_server.handler.messages[before:]]
    assert not any("Zur Freigabe" in x or "freigegeben" in x for x in subjects)
    with inst.db.write() as s:
        with pytest.raises(Exception) as err:
            prefs.opt_out(s, inst.keys, token[:-2] + "00")
        assert getattr(err.value, "code", "") == "notify_optout_invalid"


def test_temporary_refusal_is_retried_with_backoff_permanent_one_shown(
    inst: Installation, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    w = _world(inst)
    smtp_server.handler.temp_failures = 1
    with inst.db.write() as s:
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
    first = _send(inst, smtp_server, NOW)
    (mid,) = first.retry
    assert smtp_server.handler.by_subject("Zur Freigabe") == []
    assert _send(inst, smtp_server, NOW + timedelta(seconds=30)).sent == []  # backoff: 1 min
    assert mid in _send(inst, smtp_server, NOW + timedelta(minutes=2)).sent
    assert len(smtp_server.handler.by_subject("Zur Freigabe")) == 1
    # 550 for every recipient: failed for good, with the answer, for the admin to see.
    smtp_server.handler.permanent = True
    with inst.db.write() as s:
        plans.return_plan(s, w.coordinator, w.plan, "Noch einmal.", now=NOW)
    failed = _send(inst, smtp_server, NOW + timedelta(minutes=3))
    assert len(failed.failed) == 1
    with inst.db.read() as s:
        (row,) = outbox.overview(s, OP, ("failed",))
        assert row.kind == "plan_returned" and "550" in (row.last_error or "")
    # A server that is not there at all: temporary.
    with inst.db.write() as s:
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
    gone = mail.parse_url(f"smtp://127.0.0.1:{smtp_server.port + 1}?from=ia@example.org")
    assert len(delivery.run(inst, NOW + timedelta(minutes=4), cfg=gone).retry) == 1


def test_two_concurrent_senders_send_each_message_once(inst: Installation, smtp_server) -> None:  # type: ignore[no-untyped-def]
    w = _world(inst)
    with inst.db.write() as s:
        for _ in range(24):
            outbox.enqueue(s, kind="plan_submitted", user_id=w.coordinator.user_id,  # type: ignore[arg-type]
                           agency_id=w.agency, object_type="task_plan", object_id=w.plan,
                           now=NOW)  # fmt: skip
    smtp_server.handler.delay = 0.01
    cfg = mail.parse_url(smtp_server.url())
    reports: list[delivery.RunReport] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            reports.append(delivery.run(inst, NOW, cfg=cfg))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    ids = [str(m["Message-ID"]) for m in smtp_server.handler.by_subject("Zur Freigabe")]
    assert len(ids) == 24 and len(set(ids)) == 24
    both = reports[0].sent + reports[1].sent
    assert len(both) == len(set(both)), "a message was claimed by both senders"
    every = [str(m["Message-ID"]) for m in smtp_server.handler.messages]
    assert len(both) == len(every) == len(set(every))


def _child(inst: Installation, server, now: str) -> subprocess.Popen:  # type: ignore[no-untyped-def,type-arg]
    env = dict(os.environ)
    env["IA_EVENTS_DATA"] = str(inst.settings.data_dir)
    env["IA_EVENTS_DATABASE_URL"] = inst.settings.database_url
    env["IA_EVENTS_SMTP_URL"] = server.url()
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("ia-events")), "notify", "--now", now, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("point", ["rcpt", "data"])
def test_kill_9_while_sending_loses_and_doubles_nothing(  # type: ignore[no-untyped-def]
    inst: Installation, smtp_server, tmp_path: Path, point: str
) -> None:
    w = _world(inst)
    with inst.db.write() as s:
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
    box = smtp_server.handler
    box.hold_at, box.marker = point, tmp_path / "marker"
    proc = _child(inst, smtp_server, "2026-11-02T09:00")
    kill_9_at(proc, box.marker, point)
    box.hold_at = None
    with inst.db.read() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "plan_submitted")).one()
        # Before the final dot the row says "sending"; after it (the server has the
        # message, the sender never heard 250) it says "committing".
        assert row.status == ("sending" if point == "rcpt" else "committing")
    # Within the lease nobody touches it; after it, a new run decides deterministically.
    assert _send(inst, smtp_server, NOW + timedelta(minutes=5)).sent == []
    later = _send(inst, smtp_server, NOW + timedelta(minutes=20))
    assert len(box.by_subject("Zur Freigabe")) == 1  # arrived exactly once either way
    with inst.db.read() as s:
        row = s.get(OutboxMessage, row.id)
        assert row is not None
        if point == "rcpt":  # nothing had reached the server: sent now
            assert row.status == "sent" and row.id in later.sent
        else:  # the server had it: not resent, shown to the admin for review
            assert row.status == "review" and later.review == [row.id]
            assert "unklar" in (row.last_error or "")
        # Every other message the killed run had claimed went out after the lease: each
        # row of the outbox is at the server exactly once (nothing lost, nothing doubled).
        rows = s.scalars(select(OutboxMessage)).all()
        assert {r.status for r in rows if r.id != row.id} == {"sent"}
    every = [str(m["Message-ID"]) for m in box.messages]
    assert sorted(every) == sorted(r.message_id for r in rows)


def test_cli_notify_contract(
    inst: Installation, smtp_server, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import json

    from ia_events.cli.main import run

    w = _world(inst)
    with inst.db.write() as s:
        plans.submit_plan(s, w.specialist, w.plan, now=NOW)
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    monkeypatch.delenv("IA_EVENTS_SMTP_URL", raising=False)
    capsys.readouterr()
    assert run(["notify", "--now", "2026-11-02T09:00", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["smtp"] is False and dry["enqueued"] > 0
    with inst.db.read() as s:  # the dry run wrote nothing
        assert len(s.scalars(select(OutboxMessage)).all()) == 1
    assert run(["notify", "--now", "2026-11-02T09:00"]) == 0
    assert "Kein Mailserver eingerichtet" in capsys.readouterr().out
    assert smtp_server.handler.messages == []
    monkeypatch.setenv("IA_EVENTS_SMTP_URL", smtp_server.url())
    assert run(["notify", "--now", "2026-11-02T09:00", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["sent"]) == len(smtp_server.handler.messages) > 1 and out["pending"] == 0
    assert run(["notify", "--now", "gestern"]) == 2
    monkeypatch.setenv("IA_EVENTS_SMTP_URL", "http://mail.example.org")
    assert run(["notify"]) == 2
    assert "smtp://" in capsys.readouterr().err


def test_opt_out_link_get_asks_post_records(
    inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import warnings

    from starlette.applications import Starlette

    from ia_events.core.installation import reset_shared
    from ia_events.web.routes import routes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    w = _world(inst)
    token = prefs.optout_token(inst.keys, w.volunteer.user_id, "shift_reminder")  # type: ignore[arg-type]
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    reset_shared()

    def enabled() -> list[str]:
        with inst.db.read() as s:
            return prefs.get_preferences(s, inst.keys, w.volunteer).enabled

    try:
        with TestClient(Starlette(routes=routes()), base_url="http://testserver") as c:
            page = c.get(f"/notify/optout?t={token}")
            assert page.status_code == 200 and "Ja, abbestellen" in page.text
            assert "Erinnerung am Tag vor dem Einsatz" in page.text
            assert "shift_reminder" in enabled()  # a bare GET changed nothing
            done = c.post("/notify/optout", data={"t": token})
            assert done.status_code == 200 and "Erledigt" in done.text
            assert "shift_reminder" not in enabled()
            assert "shift_confirmed" in enabled()  # only that one kind
            # RFC 8058: the mail program posts to the link itself.
            other = prefs.optout_token(inst.keys, w.volunteer.user_id, "shift_confirmed")  # type: ignore[arg-type]
            one_click = c.post(f"/notify/optout?t={other}", data={"List-Unsubscribe": "One-Click"})
            assert one_click.status_code == 200 and "shift_confirmed" not in enabled()
            forged = token.rsplit(".", 1)[0] + ".0000"
            assert c.get(f"/notify/optout?t={forged}").status_code == 400
            assert c.post("/notify/optout", data={"t": forged}).status_code == 400
    finally:
        reset_shared()


def test_an_erased_volunteer_gets_nothing_more(inst: Installation, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from ia_events.core.models import NotifyPreference
    from ia_events.privacy.subjects import request_erasure

    w = _world(inst)
    with inst.db.write() as s:
        shifts.sign_up(s, w.volunteer, w.shift, now=NOW)
    outcome = request_erasure(inst, OP, "Aylin Demir", "essen", today=NOW.date())
    _send(inst, smtp_server, NOW)
    assert not [m for m in smtp_server.handler.messages if "ehrenamt@" in str(m["X-Envelope-To"])]
    with inst.db.read() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "shift_confirmed")).one()
        assert row.status == "skipped" and row.body_text is None
        if outcome.status == "done":
            pref = s.get(NotifyPreference, w.volunteer.user_id)
            assert pref is not None and pref.email_enc is None


def test_a_submitted_report_reaches_the_coordination(inst: Installation, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from ia_events.reporting.activity_report import submit

    w = _world(inst)
    submit(inst, w.specialist, "essen", 2027, now=NOW)
    _send(inst, smtp_server, NOW)
    (msg,) = smtp_server.handler.by_subject("Sachbericht 2027 eingereicht – IA Essen")
    assert str(msg["X-Envelope-To"]) == "ko@example.org"
    assert "IA Essen hat den Sachbericht 2027 eingereicht." in body_text(msg)


def test_two_sender_processes_send_each_message_once(inst: Installation, smtp_server) -> None:  # type: ignore[no-untyped-def]
    """As two servers (or a server and cron) would: two `ia-events notify` at once."""
    import json

    w = _world(inst)
    with inst.db.write() as s:
        for _ in range(16):
            outbox.enqueue(s, kind="plan_submitted", user_id=w.coordinator.user_id,  # type: ignore[arg-type]
                           agency_id=w.agency, object_type="task_plan", object_id=w.plan,
                           now=NOW)  # fmt: skip
    smtp_server.handler.delay = 0.02
    procs = [_child(inst, smtp_server, "2026-11-02T09:00") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.decode()[-2000:] for _o, e in outs]
    sent = [json.loads(o)["sent"] for o, _e in outs]
    assert not set(sent[0]) & set(sent[1])
    every = [str(m["Message-ID"]) for m in smtp_server.handler.messages]
    assert len(every) == len(set(every)) == len(sent[0]) + len(sent[1])
    assert len(smtp_server.handler.by_subject("Zur Freigabe")) == 16
