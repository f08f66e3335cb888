"""Our outputs read by software nobody here wrote: iCal feeds in Mozilla's ical.js
(Thunderbird, FullCalendar) and Python's vobject."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import vobject

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, Occurrence, Role
from ia_events.planning import calendar_feeds, schedule
from ia_events.planning.recurrence import SeriesRule
from tests.node_support import run_node

NOW = datetime(2026, 2, 1, 10, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

# Each VEVENT's start as the UTC instant ical.js computes from DTSTART;TZID + VTIMEZONE.
ICALJS_STARTS = """
const ICAL = require("ical.js");
let text = require("fs").readFileSync(0, "utf8");
const cal = new ICAL.Component(ICAL.parse(text));
for (const vtz of cal.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(vtz);
const out = cal.getAllSubcomponents("vevent").map((c) => {
  const ev = new ICAL.Event(c);
  return [ev.uid, ev.startDate.toJSDate().toISOString(), ev.endDate.toJSDate().toISOString()];
});
console.log(JSON.stringify(out));
"""


@pytest.fixture
def year_round_feed(inst: Installation) -> tuple[bytes, dict[str, tuple[datetime, datetime]]]:
    """A weekly Tuesday series 09:30-12:00 local over all of 2026; feed bytes and the truth."""
    with inst.db.write() as s:
        s.add(Agency(slug="essen", name="IA Essen", carrier="T", city="Essen"))
    with inst.db.write() as s:
        fk = Actor("fk-essen", Role.specialist, agency_id=s.query(Agency).one().id)
        res = schedule.create_series(
            s,
            fk,
            agency_slug="essen",
            funding_year=2026,
            rule=SeriesRule("weekly", time(9, 30), time(12), first_day=date(2026, 1, 6)),
            title="Nähcafé",
            type="Nähcafé",
            field="BE",
            place="Zentrum",
        )
        feed = calendar_feeds.create_feed(s, fk, "essen", "occurrences")
        truth = {
            f"occurrence-{o.id}@ia-events": (o.starts_at, o.ends_at)
            for o in s.query(Occurrence).filter(Occurrence.id.in_(res.occurrence_ids))
        }
    with inst.db.read() as s:
        body = calendar_feeds.render(s, feed.token, now=NOW)
    assert body is not None
    return body, truth


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_feed_times_resolve_right_in_mozilla_icaljs(year_round_feed) -> None:  # type: ignore[no-untyped-def]
    body, truth = year_round_feed
    starts = json.loads(run_node(ICALJS_STARTS, body, "ical.js"))
    assert len(starts) == len(truth) > 45  # every Tuesday of 2026 but holidays
    months = {datetime.fromisoformat(s[1]).month for s in starts}
    assert {1, 3, 4, 8, 9, 10, 11, 12} <= months  # both sides of both DST changes
    wrong = [
        (uid, start, _utc(truth[uid][0]))
        for uid, start, end in starts
        if start != _utc(truth[uid][0]) or end != _utc(truth[uid][1])
    ]
    assert wrong == []
    # The local wall clock stays 09:30 the whole year (07:30Z in summer, 08:30Z in winter).
    assert {datetime.fromisoformat(s[1]).astimezone(BERLIN).time() for s in starts} == {time(9, 30)}
    aug = [s[1] for s in starts if s[1].startswith("2026-08-11")]
    assert aug == ["2026-08-11T07:30:00.000Z"]


def test_feed_times_resolve_right_in_vobject(year_round_feed) -> None:  # type: ignore[no-untyped-def]
    body, truth = year_round_feed
    cal = vobject.readOne(io.StringIO(body.decode()))
    seen = {}
    for ev in cal.vevent_list:
        seen[ev.uid.value] = (ev.dtstart.value.astimezone(UTC), ev.dtend.value.astimezone(UTC))
    assert seen == {uid: (a.astimezone(UTC), b.astimezone(UTC)) for uid, (a, b) in truth.items()}
    # The zone is written as calendar servers do: STANDARD/DAYLIGHT with a yearly RRULE.
    text = body.decode()
    assert text.count("BEGIN:VTIMEZONE") == 1
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RDATE" not in text
