"""Check-in flooding: a real door gets through, a script does not, and the door
screen's one action stops what got through (docs/security.md)."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ia_events.attendance import bursts
from ia_events.core.installation import Installation, reset_shared
from ia_events.core.models import Attendance
from ia_events.web import checkin_page
from ia_events.web.clientaddr import UNTRUSTED_FORWARD, client_address
from ia_events.web.routes import routes
from tests.factories import make_occurrence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.testclient import TestClient


@pytest.fixture
def app(inst: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[Starlette]:
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    reset_shared()
    checkin_page.limiter.reset()
    yield Starlette(routes=routes())
    checkin_page.limiter.reset()
    reset_shared()


def _check_in(app: Starlette, token: str, name: str, headers: dict[str, str] | None = None) -> int:
    """One phone without cookies: open the link, send the form."""
    with TestClient(app, base_url="http://testserver") as phone:
        html = phone.get(f"/checkin?t={token}").text
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
        return phone.post("/checkin", data={**form, "name": name}, headers=headers).status_code


def _valid(inst: Installation, occurrence_id: int) -> int:
    with inst.db.read() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    Attendance.occurrence_id == occurrence_id, Attendance.undone_at.is_(None)
                )
            )
            or 0
        )


def test_forty_phones_behind_one_wifi_all_check_in(inst: Installation, app: Starlette) -> None:
    made = make_occurrence(inst)
    codes = [_check_in(app, made.token, f"Teilnehmerin {i}") for i in range(40)]
    assert codes == [200] * 40
    assert _valid(inst, made.occurrence_id) == 40


def test_a_script_is_slowed_down_and_its_burst_undone_in_one_action(
    inst: Installation, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_occurrence(inst)
    # One rate window for the whole script, however slow this machine is today: the
    # limiter's windows are aligned to the clock's minutes, and a run that crosses one
    # would rightly be given a second minute's allowance.
    allow, frozen = checkin_page.limiter.allow, time.time()
    monkeypatch.setattr(
        checkin_page.limiter, "allow", lambda kind, key, now=None: allow(kind, key, frozen)
    )
    started = time.monotonic()
    # No cookies, and a new X-Forwarded-For each time (the connection is not a proxy).
    codes = [
        _check_in(app, made.token, f"Fake {i}", {"x-forwarded-for": f"203.0.113.{i}"})
        for i in range(100)
    ]
    assert time.monotonic() - started < 600  # bounded, even on a busy machine
    assert codes.count(200) <= checkin_page.LIMITS["ip"] < 100
    assert codes.count(429) >= 100 - checkin_page.LIMITS["ip"]
    got_through = _valid(inst, made.occurrence_id)
    assert got_through == codes.count(200)
    # The door screen sees the burst; the specialist stops it in one action.
    with inst.db.read() as s:
        burst = bursts.find_burst(s, made.door, made.occurrence_id)
    assert burst is not None and burst.count == got_through
    with inst.db.write() as s:
        assert bursts.stop_burst(s, made.door, made.occurrence_id, burst.since) == got_through
    assert _valid(inst, made.occurrence_id) == 0
    checkin_page.limiter.reset()
    with TestClient(app, base_url="http://testserver") as phone:
        closed = phone.get(f"/checkin?t={made.token}").text
    assert 'data-state="revoked"' in closed or 'data-state="invalid"' in closed


def test_a_normal_door_shows_no_burst(inst: Installation, app: Starlette) -> None:
    made = make_occurrence(inst)
    for i in range(10):
        _check_in(app, made.token, f"Person {i}")
    with inst.db.read() as s:
        assert bursts.find_burst(s, made.door, made.occurrence_id) is None


def _request(peer: tuple[str, int], forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": peer, "headers": headers, "method": "POST"})


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    # Not configured: the header is ignored, the connecting address counts.
    assert client_address(_request(("198.51.100.7", 5123), "203.0.113.9"), "") == "198.51.100.7"
    # From the configured proxy: the right-most address that is not a proxy.
    proxy = "10.0.0.5"
    req = _request((proxy, 5123), "203.0.113.9, 198.51.100.1, 10.0.0.4")
    assert client_address(req, "10.0.0.0/8") == "198.51.100.1"
    # From elsewhere, the same header is not believed.
    assert client_address(_request(("192.0.2.8", 5123), "203.0.113.9"), "10.0.0.0/8") == (
        "192.0.2.8"
    )
    # A forged, unparsable header from the proxy: the proxy's own address counts.
    assert client_address(_request((proxy, 5123), "<script>"), "10.0.0.0/8") == proxy
    # uvicorn already put the header's address in (port 0, the peer was localhost):
    # believed only when localhost is our trusted proxy too, else one shared bucket.
    rewritten = _request(("203.0.113.9", 0), "203.0.113.9")
    assert client_address(rewritten, "") == UNTRUSTED_FORWARD
    assert client_address(rewritten, "127.0.0.1,::1") == "203.0.113.9"


def test_the_participant_page_of_a_demo_says_so(inst: Installation, app: Starlette) -> None:
    from ia_events.core.models import Setting

    made = make_occurrence(inst)
    with TestClient(app, base_url="http://testserver") as phone:
        assert "Demo" not in phone.get(f"/checkin?t={made.token}").text
        with inst.db.write() as s:
            s.add(Setting(key="demo", value="1"))
        html = phone.get(f"/checkin?t={made.token}").text
    assert "Demo – erfundene Daten" in html and len(html.encode()) < 50_000
