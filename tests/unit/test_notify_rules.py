"""Rules of the notification module that need no database or server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ia_events.core.errors import InvalidInput
from ia_events.notify import delivery, mail, prefs
from ia_events.notify.kinds import KINDS, kinds_for
from storage.keys import KeyRing


def test_the_smtp_setting_is_read_from_one_url() -> None:
    cfg = mail.parse_url("smtp://ia%40x:p%3Ass@mail.example.org:587?starttls=1&from=ia@example.org")
    assert (cfg.host, cfg.port, cfg.user, cfg.password) == ("mail.example.org", 587, "ia@x", "p:ss")
    assert cfg.starttls and not cfg.tls and cfg.sender == "ia@example.org"
    tls = mail.parse_url("smtps://u:p@mail.example.org?from=ia@example.org")
    assert tls.tls and tls.port == 465 and not tls.starttls
    assert mail.parse_url("smtp://h?from=a@b.de").port == 25
    assert mail.config_from_env({}) is None


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.org?from=a@b.de", "smtp://?from=a@b.de", "smtp://mail.example.org"],
)
def test_a_malformed_setting_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        mail.parse_url(url)
    assert err.value.params["field"] == "IA_EVENTS_SMTP_URL"


def test_backoff_doubles_and_is_capped() -> None:
    assert [delivery.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert delivery.backoff(30) == timedelta(hours=6)


def test_every_kind_has_a_role_and_staff_and_volunteers_have_choices() -> None:
    assert all(k.roles for k in KINDS.values())
    assert {k.code for k in kinds_for("volunteer")} >= {"shift_confirmed", "shift_reminder"}
    assert {k.code for k in kinds_for("specialist")} >= {"plan_returned", "deadline_3"}
    assert {k.code for k in kinds_for("coordinator")} == {
        "plan_submitted",
        "report_submitted",
        "coordinator_digest",
    }


def test_opt_out_tokens_are_signed_per_person_and_kind(tmp_path: Path) -> None:
    keys = KeyRing.create_or_load(tmp_path / "keys")
    token = prefs.optout_token(keys, 7, "shift_reminder")
    assert prefs.read_optout(keys, token) == (7, "shift_reminder")
    user, kind, sig = token.split(".")
    assert prefs.read_optout(keys, f"8.{kind}.{sig}") is None
    assert prefs.read_optout(keys, f"{user}.shift_confirmed.{sig}") is None
    assert prefs.read_optout(keys, f"{user}.unknown.{sig}") is None
    assert prefs.read_optout(keys, "") is None
    other = KeyRing.create_or_load(tmp_path / "other-keys")
    assert prefs.read_optout(other, token) is None
    assert "/notify/optout?t=7.shift_reminder." in prefs.optout_url(
        "https://x.org/", keys, 7, "shift_reminder"
    )


def test_the_server_starts_one_sending_thread_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    class FakeThread:
        def __init__(self, target, name: str, daemon: bool) -> None:  # type: ignore[no-untyped-def]
            self.name = name

        def start(self) -> None:
            started.append(self.name)

    monkeypatch.setattr(delivery, "_started", False)
    monkeypatch.setattr(delivery.threading, "Thread", FakeThread)
    monkeypatch.delenv("IA_EVENTS_NOTIFY_THREAD", raising=False)
    assert delivery.start_background(lambda: None) is True  # type: ignore[arg-type,return-value]
    assert delivery.start_background(lambda: None) is False  # type: ignore[arg-type,return-value]
    assert started == ["ia-events-notify"]
    monkeypatch.setattr(delivery, "_started", False)
    monkeypatch.setenv("IA_EVENTS_NOTIFY_THREAD", "0")
    assert delivery.start_background(lambda: None) is False  # type: ignore[arg-type,return-value]
    assert started == ["ia-events-notify"]
