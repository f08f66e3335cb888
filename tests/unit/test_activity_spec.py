"""The duplicate rule of ActivitySpec: same title, place, weekday and start time."""

from __future__ import annotations

from datetime import date, time

from ia_events.planning.activities import ActivitySpec, same_slot
from ia_events.planning.recurrence import SeriesRule

TUESDAYS = SeriesRule("weekly", time(9, 30), time(12), first_day=date(2026, 1, 6))


def spec(rule: SeriesRule | None = TUESDAYS, **kw) -> ActivitySpec:  # type: ignore[no-untyped-def]
    base = dict(agency_slug="essen", funding_year=2026, title="Nähcafé", type="Nähcafé")
    base.update(kw)
    return ActivitySpec(field="BE", place="Zentrum", rule=rule, **base)  # type: ignore[arg-type]


def test_same_title_place_weekday_and_time_is_a_duplicate() -> None:
    stored = TUESDAYS.as_dict()
    assert same_slot(spec(), "Nähcafé", "Zentrum", stored)
    assert same_slot(spec(title="  NÄHCAFÉ "), "Nähcafé", " zentrum", stored)  # spelling
    # A single date on a Tuesday at 09:30, a list with one Tuesday: the same slot.
    single = SeriesRule("single", time(9, 30), time(11), first_day=date(2026, 5, 12))
    assert same_slot(spec(single), "Nähcafé", "Zentrum", stored)
    dates = SeriesRule("dates", time(9, 30), time(11), dates=(date(2026, 5, 13), date(2026, 5, 19)))
    assert same_slot(spec(dates), "Nähcafé", "Zentrum", stored)


def test_another_title_place_weekday_or_time_is_not() -> None:
    stored = TUESDAYS.as_dict()
    assert not same_slot(spec(title="Sprachcafé"), "Nähcafé", "Zentrum", stored)
    assert not same_slot(spec(), "Nähcafé", "Bibliothek", stored)
    wednesdays = SeriesRule("weekly", time(9, 30), time(12), first_day=date(2026, 1, 7))
    assert not same_slot(spec(wednesdays), "Nähcafé", "Zentrum", stored)
    later = SeriesRule("weekly", time(10), time(12), first_day=date(2026, 1, 6))
    assert not same_slot(spec(later), "Nähcafé", "Zentrum", stored)
    # Without a rule on either side (an activity whose dates are added one by one): never.
    assert not same_slot(spec(None), "Nähcafé", "Zentrum", stored)
    assert not same_slot(spec(), "Nähcafé", "Zentrum", {})
    # The demo's older form ("weekday": 1) is read too.
    old = {"kind": "weekly", "interval": 1, "weekday": 1, "start": "09:30", "end": "12:00"}
    assert same_slot(spec(), "Nähcafé", "Zentrum", old)
