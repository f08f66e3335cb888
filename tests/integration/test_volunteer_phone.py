"""Volunteers on the phone, on a real SQLite file and real PostgreSQL: "Meine nächsten
Einsätze" in order, signing up at the door by a scanned QR, filtering open shifts, and
the personal calendar feed (only the person's own shifts, read by Mozilla's ical.js)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ia_events.attendance import checkin
from ia_events.core.installation import Installation
from ia_events.core.models import CalendarFeed, ShiftAssignment
from ia_events.planning import calendar_feeds, plans
from ia_events.planning.activities import ActivitySpec
from ia_events.volunteers import feed, registry, shifts
from tests.integration.test_volunteers import (
    NOW,
    OP,
    _as_volunteer,
    _code,
    _volunteer,
    _world,
)
from tests.node_support import run_node

START = datetime(2026, 5, 13, 7, 30, tzinfo=UTC)  # ``_world``'s occurrence, 09:30 local


def _occ(inst: Installation, activity: int, start: datetime, hours: float = 2) -> int:
    with inst.db.write() as s:
        return plans.add_occurrence(s, OP, activity, start, start + timedelta(hours=hours)).id


def _shift(inst: Installation, staff, occ: int, role: str, needed: int = 1) -> int:  # type: ignore[no-untyped-def]
    with inst.db.write() as s:
        return shifts.add_shift(s, staff, occ, role=role, needed=needed, now=NOW)[0].id


def _token(inst: Installation, occ: int) -> str:
    with inst.db.read() as s:
        url = checkin.occurrence_link(s, inst.keys, OP, occ, "http://x", purpose="volunteer")
    return url.split("t=")[1]


def _assignments(inst: Installation) -> int:
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(ShiftAssignment)) or 0


def test_upcoming_first_soonest_first_and_finished_under_erledigt(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız")
    me = _as_volunteer(w.essen, vid)
    long_ago = _occ(inst, w.activity, NOW - timedelta(days=6))
    recent = _occ(inst, w.activity, NOW - timedelta(days=3))
    today = _occ(inst, w.activity, NOW - timedelta(hours=1), hours=3)  # running now
    taken = {
        "vor sechs Tagen": _shift(inst, w.staff, long_ago, "vor sechs Tagen"),
        "vor drei Tagen": _shift(inst, w.staff, recent, "vor drei Tagen"),
        "läuft": _shift(inst, w.staff, today, "läuft"),
        "nächste Woche": _shift(inst, w.staff, w.occ_later, "nächste Woche"),
        "morgen": _shift(inst, w.staff, w.occ, "morgen"),
    }
    with inst.db.write() as s:
        for sid in taken.values():  # signed up a week before the first of them
            shifts.sign_up(s, me, sid, NOW - timedelta(days=7))
    with inst.db.write() as s:  # the one three days ago: worked, checked in and out
        aid = s.scalar(
            select(ShiftAssignment.id).where(ShiftAssignment.shift_id == taken["vor drei Tagen"])
        )
        shifts.check_in(s, me, aid, NOW - timedelta(days=3))
        shifts.check_out(s, me, aid, NOW - timedelta(days=3, hours=-2))
    with inst.db.read() as s:
        home = shifts.volunteer_home(s, me, NOW)
    assert [m.shift.role for m in home.upcoming] == ["läuft", "morgen", "nächste Woche"]
    assert [m.shift.role for m in home.done] == ["vor drei Tagen", "vor sechs Tagen"]
    assert home.done[0].hours == 2.0

    # Checked in and not yet out: stays ahead (to check out) after its end, until too late.
    with inst.db.write() as s:
        aid = s.scalar(select(ShiftAssignment.id).where(ShiftAssignment.shift_id == taken["läuft"]))
        shifts.check_in(s, me, aid, NOW)
    after_end = NOW + timedelta(hours=3)
    with inst.db.read() as s:
        ahead, done = shifts.split_mine(shifts.my_shifts(s, me, after_end), after_end)
        later = NOW + timedelta(days=1)
        _, done_later = shifts.split_mine(shifts.my_shifts(s, me, later), later)
    assert ahead[0].shift.role == "läuft"
    assert "läuft" not in [m.shift.role for m in done]
    assert done_later[0].shift.role == "läuft"


def test_sign_up_at_the_door_free_full_and_another_agencys_code(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız")
    first = _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    kleve_vid = _volunteer(inst, w.staff_kleve, w.kleve, "Emre Demir")
    me = _as_volunteer(w.essen, vid)
    kaffee = _shift(inst, w.staff, w.occ, "Kaffee", needed=1)
    theke = _shift(inst, w.staff, w.occ, "Theke", needed=2)
    elsewhere = _shift(inst, w.staff, w.occ_later, "Aufbau")
    token = _token(inst, w.occ)
    with inst.db.write() as s:
        shifts.sign_up(s, _as_volunteer(w.essen, first), kaffee, NOW)  # Kaffee is now full

    # Not on a shift here: the free one is offered, the full one is not.
    at_door = START - timedelta(minutes=10)
    with inst.db.read() as s:
        offer = shifts.open_at_token(s, inst.keys, me, token, at_door)
        refused = _code(lambda: shifts.scan_preview(s, inst.keys, me, token, at_door))
    assert refused == "shift_not_assigned"
    assert (offer.assigned, offer.title) == (False, "Nähcafé")
    assert [(v.role, v.open_slots) for v in offer.offers] == [("Theke", 2)]
    assert all(v.assignments == [] for v in offer.offers)  # nobody's names

    # A full shift, or one of another date, cannot be taken by this code: nothing changes.
    before = _assignments(inst)
    with inst.db.write() as s:
        full = _code(lambda: shifts.sign_up_at_token(s, inst.keys, me, token, kaffee, at_door))
    with inst.db.write() as s:
        other_date = _code(
            lambda: shifts.sign_up_at_token(s, inst.keys, me, token, elsewhere, at_door)
        )
    assert (full, other_date, _assignments(inst)) == ("shift_full", "not_found", before)

    # Another agency's volunteer scanning Essen's code: a broken link, nothing changed.
    stranger = _as_volunteer(w.kleve, kleve_vid)
    with inst.db.write() as s:
        peek = _code(lambda: shifts.open_at_token(s, inst.keys, stranger, token, at_door))
        take = _code(lambda: shifts.sign_up_at_token(s, inst.keys, stranger, token, theke, at_door))
    assert (peek, take, _assignments(inst)) == ("volunteer_qr_invalid",) * 2 + (before,)

    # One tap: signed up; the same code now checks in.
    with inst.db.write() as s:
        shifts.sign_up_at_token(s, inst.keys, me, token, theke, at_door)
    with inst.db.read() as s:
        now_mine = shifts.open_at_token(s, inst.keys, me, token, at_door)
        assert shifts.scan_preview(s, inst.keys, me, token, at_door).role == "Theke"
    assert now_mine.assigned and now_mine.offers == []
    with inst.db.write() as s:
        assert shifts.scan_token(s, inst.keys, me, token, at_door).action == "checked_in"

    # At the door after the start: still possible there (not on the list of open shifts).
    late = START + timedelta(minutes=30)
    third = _as_volunteer(w.essen, _volunteer(inst, w.staff, w.essen, "Lena Wolf"))
    with inst.db.write() as s:
        started = _code(lambda: shifts.sign_up(s, third, theke, late))
    with inst.db.read() as s:
        assert [v.role for v in shifts.open_at_token(s, inst.keys, third, token, late).offers] == [
            "Theke"
        ]
    with inst.db.write() as s:
        shifts.sign_up_at_token(s, inst.keys, third, token, theke, late)
    assert started == "shift_started"
    # Now every shift there is taken: no offer, the page says so and links the open shifts.
    fourth = _as_volunteer(w.essen, _volunteer(inst, w.staff, w.essen, "Paul Neumann"))
    with inst.db.read() as s:
        none_left = shifts.open_at_token(s, inst.keys, fourth, token, late)
    assert (none_left.assigned, none_left.can_sign_up) == (False, False)


def test_open_shifts_filter_by_activity_dates_and_task(inst: Installation) -> None:
    w = _world(inst)
    me = _as_volunteer(w.essen, _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız"))
    with inst.db.write() as s:
        spec = ActivitySpec(
            agency_slug="essen",
            funding_year=2026,
            title="Sprachcafé",
            type="Sprachcafé",
            field="BE",
        )
        cafe = plans.create_activity(s, OP, spec)
        cafe_id = cafe.id
    far = _occ(inst, cafe_id, NOW + timedelta(days=90))
    near_cafe = _occ(inst, cafe_id, NOW + timedelta(days=2))
    ids = {
        "naehen-morgen": _shift(inst, w.staff, w.occ, "Aufbau"),
        "naehen-woche": _shift(inst, w.staff, w.occ_later, "Kaffee"),
        "cafe-bald": _shift(inst, w.staff, near_cafe, "Aufbau"),
        "cafe-fern": _shift(inst, w.staff, far, "Aufbau"),
    }
    _shift(inst, w.staff_kleve, w.occ_kleve, "Aufbau")  # Kleve's: never offered in Essen
    name = {v: k for k, v in ids.items()}

    def found(where: shifts.ShiftFilter | None = None) -> list[str]:
        with inst.db.read() as s:
            return [name[v.id] for v in shifts.open_shifts(s, me, NOW, where=where)]

    assert found() == ["naehen-morgen", "cafe-bald", "naehen-woche"]  # 60 days, soonest first
    assert found(shifts.ShiftFilter(activity_id=cafe_id)) == ["cafe-bald"]
    assert found(shifts.ShiftFilter(role="Aufbau")) == ["naehen-morgen", "cafe-bald"]
    tomorrow = date(2026, 5, 13)
    assert found(shifts.ShiftFilter(date_from=tomorrow, date_to=tomorrow)) == ["naehen-morgen"]
    assert found(shifts.ShiftFilter(date_from=date(2026, 5, 14))) == ["cafe-bald", "naehen-woche"]
    # A date range beyond the usual 60 days reaches that far.
    beyond = shifts.ShiftFilter(activity_id=cafe_id, date_from=date(2026, 8, 1),
                                date_to=date(2026, 8, 31))  # fmt: skip
    assert found(beyond) == ["cafe-fern"]
    assert found(shifts.ShiftFilter(role="Theke")) == []
    with inst.db.read() as s:
        choices = shifts.open_shift_choices(shifts.open_shifts(s, me, NOW))
    assert choices.activities == [(w.activity, "Nähcafé"), (cafe_id, "Sprachcafé")]
    assert choices.roles == ["Aufbau", "Kaffee"]


ICALJS_EVENTS = """
const ICAL = require("ical.js");
const cal = new ICAL.Component(ICAL.parse(require("fs").readFileSync(0, "utf8")));
for (const vtz of cal.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(vtz);
console.log(JSON.stringify(cal.getAllSubcomponents("vevent").map((c) => {
  const ev = new ICAL.Event(c);
  return [ev.summary, ev.startDate.toJSDate().toISOString(), ev.location];
})));
"""


def test_personal_feed_has_only_own_shifts_and_is_revocable(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız")
    other = _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    kleve = _volunteer(inst, w.staff_kleve, w.kleve, "Emre Demir")
    me, jonas = _as_volunteer(w.essen, vid), _as_volunteer(w.essen, other)
    mine = _shift(inst, w.staff, w.occ, "Kaffee", needed=2)
    his = _shift(inst, w.staff, w.occ_later, "Theke")
    _shift(inst, w.staff, w.occ_later, "Aufbau")  # open, nobody's: not in anyone's feed
    kleve_shift = _shift(inst, w.staff_kleve, w.occ_kleve, "Werkzeug")
    with inst.db.write() as s:
        shifts.sign_up(s, me, mine, NOW)
        shifts.sign_up(s, jonas, mine, NOW)
        shifts.sign_up(s, jonas, his, NOW)
        shifts.sign_up(s, _as_volunteer(w.kleve, kleve), kleve_shift, NOW)
    with inst.db.read() as s:
        assert feed.my_feed_url(s, inst.keys, me, "https://ia.example") is None
    with inst.db.write() as s:
        url = feed.create_my_feed(s, inst.keys, me, "https://ia.example", NOW)
    with inst.db.write() as s:
        again = feed.create_my_feed(s, inst.keys, me, "https://ia.example", NOW)
        jonas_url = feed.create_my_feed(s, inst.keys, jonas, "https://ia.example", NOW)
    assert url == again and url.startswith("https://ia.example/ical/") and url != jonas_url
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    with inst.db.read() as s:
        body = calendar_feeds.render(s, token, NOW)
        download = feed.my_calendar(s, me, NOW)
        # Only the hash is stored; staff do not see or manage the person's feed.
        stored = s.scalars(select(CalendarFeed.token_hash)).all()
        staff_list = calendar_feeds.list_feeds(s, w.staff, "essen")
    assert body is not None and token not in json.dumps(stored) and staff_list == []
    events = json.loads(run_node(ICALJS_EVENTS, body, "ical.js"))
    # 09:30 local on 13 May 2026 is 07:30 UTC: the zone is read right.
    assert events == [["Kaffee – Nähcafé", "2026-05-13T07:30:00.000Z", None]]
    assert json.loads(run_node(ICALJS_EVENTS, download, "ical.js")) == events
    for secret in ("Jonas", "Becker", "Ayşe", "Theke", "Werkzeug", "Emre"):
        assert secret not in body.decode()

    # A guessed token (the right prefix, a made-up secret) finds nothing.
    with inst.db.read() as s:
        assert calendar_feeds.render(s, f"v{vid}-" + "0" * 64, NOW) is None
        feed_id = s.scalar(select(CalendarFeed.id).where(CalendarFeed.kind == "volunteer"))
    with inst.db.write() as s:
        assert _code(lambda: calendar_feeds.revoke_feed(s, w.staff, feed_id)) == "not_found"

    # Staff deactivate Jonas: his feed stops answering; reactivated, it answers again.
    jonas_token = jonas_url.rsplit("/", 1)[1].removesuffix(".ics")
    with inst.db.write() as s:
        registry.set_volunteer_active(s, w.staff, other, False, NOW)
    with inst.db.read() as s:
        assert calendar_feeds.render(s, jonas_token, NOW) is None
    with inst.db.write() as s:
        registry.set_volunteer_active(s, w.staff, other, True, NOW)

    # Revoked: the URL answers nothing at once; asking again gives a new one.
    with inst.db.write() as s:
        assert feed.revoke_my_feed(s, inst.keys, me, NOW)
    with inst.db.read() as s:
        assert calendar_feeds.render(s, token, NOW) is None
        assert feed.my_feed_url(s, inst.keys, me, "https://ia.example") is None
        assert calendar_feeds.render(s, jonas_url.rsplit("/", 1)[1][:-4], NOW) is not None
    with inst.db.write() as s:
        renewed = feed.create_my_feed(s, inst.keys, me, "https://ia.example", NOW)
    assert renewed != url


def test_feed_url_answers_over_http_and_404_once_revoked(
    inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from starlette.applications import Starlette

    from ia_events.core.installation import reset_shared
    from ia_events.web.routes import routes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    w = _world(inst)
    me = _as_volunteer(w.essen, _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız"))
    with inst.db.write() as s:
        url = feed.create_my_feed(s, inst.keys, me, "http://testserver", NOW)
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    reset_shared()
    try:
        with TestClient(Starlette(routes=routes()), base_url="http://testserver") as c:
            got = c.get(url)
            assert got.status_code == 200 and got.headers["content-type"].startswith(
                "text/calendar"
            )
            assert "Meine Einsätze – IA Essen" in got.text and "Ayşe" not in got.text
            with inst.db.write() as s:
                feed.revoke_my_feed(s, inst.keys, me)
            assert c.get(url).status_code == 404
    finally:
        reset_shared()
