"""Series rules: weekly, every n weeks, selected dates, holidays, closures, DST."""

from __future__ import annotations

from datetime import UTC, date, time, timedelta

import pytest

from ia_events.core.errors import InvalidInput
from ia_events.planning.recurrence import Closure, SeriesRule, expand, holiday_name, shift_to


def weekly(first: date, **kw) -> SeriesRule:  # type: ignore[no-untyped-def]
    return SeriesRule(
        kind="weekly",
        start_time=kw.pop("start", time(9, 30)),
        end_time=kw.pop("end", time(12, 0)),
        first_day=first,
        **kw,
    )


def test_weekly_keeps_local_time_across_spring_dst_change() -> None:
    # Tuesdays around the last Sunday of March 2026 (29.03.): 09:30 stays 09:30 local.
    result = expand(weekly(date(2026, 3, 17), until=date(2026, 4, 7)), 2026)
    days = [s.day for s in result.slots]
    assert days == [date(2026, 3, 17), date(2026, 3, 24), date(2026, 3, 31), date(2026, 4, 7)]
    assert all((s.starts_at.hour, s.starts_at.minute) == (9, 30) for s in result.slots)
    utc_hours = [s.starts_at.astimezone(UTC).hour for s in result.slots]
    assert utc_hours == [8, 8, 7, 7]  # the UTC instant moves, the wall clock does not
    assert all(s.ends_at - s.starts_at == timedelta(hours=2, minutes=30) for s in result.slots)


def test_weekly_keeps_local_time_across_autumn_dst_change() -> None:
    # Thursdays around 25.10.2026 (back to CET).
    result = expand(
        weekly(date(2026, 10, 15), start=time(18), end=time(20), until=date(2026, 11, 5)), 2026
    )
    assert [s.starts_at.astimezone(UTC).hour for s in result.slots] == [16, 16, 17, 17]
    assert {s.starts_at.hour for s in result.slots} == {18}


def test_nrw_holidays_are_skipped_with_their_name() -> None:
    # 03.10.2024 and 26.12.2024 are Thursdays; 01.11.2024 (Allerheiligen, NRW) a Friday.
    thursdays = expand(weekly(date(2024, 9, 26)), 2024)
    skipped = {k.day: k.reason for k in thursdays.skipped}
    assert date(2024, 10, 3) in skipped and "Deutschen Einheit" in skipped[date(2024, 10, 3)]
    assert date(2024, 12, 26) in skipped and skipped[date(2024, 12, 26)].startswith("Feiertag")
    assert date(2024, 10, 3) not in {s.day for s in thursdays.slots}
    assert date(2024, 10, 10) in {s.day for s in thursdays.slots}
    fridays = expand(weekly(date(2024, 10, 25)), 2024)
    assert date(2024, 11, 1) in {k.day for k in fridays.skipped}
    assert date(2024, 12, 27) in {s.day for s in fridays.slots}  # not a holiday
    # Christmas Day 2025 is a Thursday.
    assert holiday_name(date(2025, 12, 25)) is not None
    assert date(2025, 12, 25) not in {s.day for s in expand(weekly(date(2025, 12, 4)), 2025).slots}


def test_holidays_can_be_kept_when_the_user_says_so() -> None:
    rule = SeriesRule(
        kind="dates",
        start_time=time(14),
        end_time=time(19),
        dates=(date(2026, 10, 3),),
        skip_holidays=False,
    )
    assert [s.day for s in expand(rule, 2026).slots] == [date(2026, 10, 3)]


def test_every_two_weeks_counts_from_the_first_day() -> None:
    result = expand(weekly(date(2026, 1, 8), interval=2, until=date(2026, 3, 5)), 2026)
    assert [s.day for s in result.slots] == [
        date(2026, 1, 8),
        date(2026, 1, 22),
        date(2026, 2, 5),
        date(2026, 2, 19),
        date(2026, 3, 5),
    ]


def test_several_weekdays_per_week() -> None:
    result = expand(weekly(date(2026, 2, 2), weekdays=(0, 2), until=date(2026, 2, 11)), 2026)
    assert [s.day for s in result.slots] == [
        date(2026, 2, 2),
        date(2026, 2, 4),
        date(2026, 2, 9),
        date(2026, 2, 11),
    ]


def test_open_ended_series_runs_to_end_of_funding_year() -> None:
    result = expand(weekly(date(2026, 11, 2)), 2026)
    assert result.slots[-1].day == date(2026, 12, 28)
    assert all(s.day.year == 2026 for s in result.slots)


def test_series_starting_last_year_covers_only_the_funding_year() -> None:
    result = expand(weekly(date(2025, 12, 1)), 2026)
    assert result.slots[0].day == date(2026, 1, 5)


def test_closure_periods_are_skipped() -> None:
    summer = Closure(date(2026, 7, 20), date(2026, 8, 7), "Sommerpause")
    result = expand(weekly(date(2026, 7, 7), until=date(2026, 8, 25)), 2026, [summer])
    days = [s.day for s in result.slots]
    assert days == [
        date(2026, 7, 7),
        date(2026, 7, 14),
        date(2026, 8, 11),
        date(2026, 8, 18),
        date(2026, 8, 25),
    ]
    assert [k.reason for k in result.skipped] == ["Schließzeit: Sommerpause"] * 3


def test_selected_dates_are_sorted_and_deduplicated() -> None:
    rule = SeriesRule(
        kind="dates",
        start_time=time(17),
        end_time=time(19),
        dates=(date(2026, 9, 12), date(2026, 3, 12), date(2026, 9, 12)),
    )
    assert [s.day for s in expand(rule, 2026).slots] == [date(2026, 3, 12), date(2026, 9, 12)]


def test_selected_date_outside_funding_year_is_refused() -> None:
    rule = SeriesRule(
        kind="dates", start_time=time(17), end_time=time(19), dates=(date(2027, 1, 5),)
    )
    with pytest.raises(InvalidInput) as err:
        expand(rule, 2026)
    assert err.value.params["field"] == "Datum"


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (SeriesRule("weekly", time(12), time(9, 30), first_day=date(2026, 1, 5)), "Ende"),
        (SeriesRule("weekly", time(9), time(9), first_day=date(2026, 1, 5)), "Ende"),
        (SeriesRule("weekly", time(9), time(10), first_day=None), "Datum"),
        (
            SeriesRule("weekly", time(9), time(10), first_day=date(2026, 1, 5), interval=0),
            "Abstand",
        ),
        (
            SeriesRule(
                "weekly", time(9), time(10), first_day=date(2026, 5, 5), until=date(2026, 5, 1)
            ),
            "Bis",
        ),
        (SeriesRule("dates", time(9), time(10)), "Termine"),
        (SeriesRule("monthly", time(9), time(10), first_day=date(2026, 1, 5)), "Rhythmus"),
    ],
)
def test_bad_rules_are_refused_with_the_field(rule: SeriesRule, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        expand(rule, 2026)
    assert err.value.code == "invalid_input"
    assert err.value.params["field"] == field


def test_rule_round_trips_through_its_stored_form() -> None:
    rule = weekly(date(2026, 1, 8), interval=2, until=date(2026, 6, 30), skip_holidays=False)
    again = SeriesRule.from_dict(rule.as_dict())
    assert again.as_dict() == rule.as_dict()
    assert expand(again, 2026).slots == expand(rule, 2026).slots
    assert again.describe() == "alle 2 Wochen donnerstags, 09:30–12:00 Uhr"
    legacy = SeriesRule.from_dict(
        {
            "kind": "weekly",
            "weekday": 1,
            "start": "09:30",
            "end": "12:00",
            "first_day": "2026-01-13",
        }
    )
    assert legacy.days_of_week == (1,)


def test_shift_to_keeps_the_local_day() -> None:
    slot = expand(weekly(date(2026, 3, 31), until=date(2026, 3, 31)), 2026).slots[0]
    start, end = shift_to(slot.starts_at, slot.ends_at, time(10), time(13))
    assert (start.date(), start.hour, end.hour) == (date(2026, 3, 31), 10, 13)
    with pytest.raises(InvalidInput):
        shift_to(slot.starts_at, slot.ends_at, time(13), time(10))
