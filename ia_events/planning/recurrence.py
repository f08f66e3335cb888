"""Series rules: expand an activity's dates into local start/end times.

Pure rules, no database. A ``SeriesRule`` is what a specialist enters: a
single date, a weekly rhythm (every week or every n weeks, on one or more
weekdays, from a first day until an end or open-ended), or a list of
selected dates. ``expand`` turns it into ``Slot``s for one funding year:

- times are local (Europe/Berlin) and stay at the same wall-clock time across
  the change to and from daylight saving time -- 09:30 is 09:30 in March and
  in November, so the UTC instant moves by an hour;
- NRW public holidays (``holidays``, subdivision "NW") and the agency's own
  closure periods are skipped when the rule says so (the default), and every
  skipped day is reported with its German reason, so the user sees why;
- an open-ended series runs to 31 December of the funding year.

Limits: a slot lies within one day (no overnight events); a local start time
that does not exist on the day clocks go forward (02:00-03:00 on the last
Sunday of March) is read with the offset before the change. A series has at
most ``MAX_SLOTS`` dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol

import holidays

from ia_events.core.errors import InvalidInput
from ia_events.core.messages import BERLIN

MAX_SLOTS = 400
WEEKDAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
KINDS = ("single", "weekly", "dates")


class ClosureLike(Protocol):
    starts_on: date
    ends_on: date
    label: str


@dataclass(frozen=True)
class Closure:
    starts_on: date
    ends_on: date
    label: str = ""


@dataclass(frozen=True)
class Slot:
    day: date
    starts_at: datetime  # aware, Europe/Berlin
    ends_at: datetime


@dataclass(frozen=True)
class Skipped:
    day: date
    reason: str  # German, shown to the user


@dataclass(frozen=True)
class Expansion:
    slots: list[Slot]
    skipped: list[Skipped]


def _time(value: time | str) -> time:
    if isinstance(value, time):
        return value
    try:
        hh, mm = str(value).strip().split(":")[:2]
        return time(int(hh), int(mm))
    except ValueError as exc:
        raise InvalidInput(field="Uhrzeit", reason="Bitte im Format HH:MM, z. B. 09:30.") from exc


def _date(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class SeriesRule:
    """A series as entered. ``weekdays`` are 0 = Monday ... 6 = Sunday."""

    kind: str
    start_time: time
    end_time: time
    first_day: date | None = None
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    until: date | None = None
    dates: tuple[date, ...] = ()
    skip_holidays: bool = True
    skip_closures: bool = True

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(field="Rhythmus", reason="Einzeltermin, wöchentlich oder Termine.")
        if self.end_time <= self.start_time:
            raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
        if self.kind in ("single", "weekly") and self.first_day is None:
            raise InvalidInput(field="Datum", reason="Bitte ein Datum wählen.")
        if self.kind == "weekly":
            if not 1 <= self.interval <= 52:
                raise InvalidInput(field="Abstand", reason="Alle 1 bis 52 Wochen.")
            if any(not 0 <= d <= 6 for d in self.weekdays):
                raise InvalidInput(field="Wochentag", reason="Montag bis Sonntag.")
            if self.until is not None and self.first_day and self.until < self.first_day:
                raise InvalidInput(field="Bis", reason="Das Ende der Reihe liegt vor dem Beginn.")
        if self.kind == "dates" and not self.dates:
            raise InvalidInput(field="Termine", reason="Bitte mindestens ein Datum wählen.")

    @property
    def days_of_week(self) -> tuple[int, ...]:
        if self.weekdays:
            return tuple(sorted(set(self.weekdays)))
        return (self.first_day.weekday(),) if self.first_day else ()

    def describe(self) -> str:
        """German, e.g. "alle 2 Wochen dienstags, 09:30–12:00 Uhr"."""
        span = f"{self.start_time:%H:%M}–{self.end_time:%H:%M} Uhr"
        if self.kind == "single":
            return f"Einzeltermin, {span}"
        if self.kind == "dates":
            return f"{len(self.dates)} ausgewählte Termine, {span}"
        days = ", ".join(WEEKDAYS[d].lower() + "s" for d in self.days_of_week)
        every = "wöchentlich" if self.interval == 1 else f"alle {self.interval} Wochen"
        return f"{every} {days}, {span}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": f"{self.start_time:%H:%M}",
            "end": f"{self.end_time:%H:%M}",
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "interval": self.interval,
            "weekdays": list(self.days_of_week),
            "until": self.until.isoformat() if self.until else None,
            "dates": [d.isoformat() for d in self.dates],
            "skip_holidays": self.skip_holidays,
            "skip_closures": self.skip_closures,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesRule:
        weekdays = data.get("weekdays")
        if weekdays is None and data.get("weekday") is not None:
            weekdays = [data["weekday"]]
        return cls(
            kind=str(data.get("kind", "single")),
            start_time=_time(data.get("start", "00:00")),
            end_time=_time(data.get("end", "23:59")),
            first_day=_date(data.get("first_day")),
            interval=int(data.get("interval") or 1),
            weekdays=tuple(int(d) for d in weekdays or ()),
            until=_date(data.get("until")),
            dates=tuple(d for d in (_date(x) for x in data.get("dates") or ()) if d),
            skip_holidays=bool(data.get("skip_holidays", True)),
            skip_closures=bool(data.get("skip_closures", True)),
        )


@lru_cache(maxsize=64)
def nrw_holidays(year: int) -> dict[date, str]:
    """Public holidays in North Rhine-Westphalia, German names."""
    return dict(holidays.country_holidays("DE", subdiv="NW", years=year, language="de").items())


def holiday_name(day: date) -> str | None:
    return nrw_holidays(day.year).get(day)


def local(day: date, at: time) -> datetime:
    """Wall-clock time ``at`` on ``day`` in Europe/Berlin (DST handled by zoneinfo)."""
    return datetime.combine(day, at, tzinfo=BERLIN)


def _candidates(rule: SeriesRule, funding_year: int) -> list[date]:
    year_start, year_end = date(funding_year, 1, 1), date(funding_year, 12, 31)
    if rule.kind == "single":
        assert rule.first_day is not None
        days = [rule.first_day]
    elif rule.kind == "dates":
        days = sorted(set(rule.dates))
    else:
        assert rule.first_day is not None
        start = max(rule.first_day, year_start)
        end = min(rule.until or year_end, year_end)
        anchor = rule.first_day - timedelta(days=rule.first_day.weekday())  # Monday of week 0
        days = []
        week = start - timedelta(days=start.weekday())
        while week <= end:
            if ((week - anchor).days // 7) % rule.interval == 0:
                for wd in rule.days_of_week:
                    day = week + timedelta(days=wd)
                    if start <= day <= end:
                        days.append(day)
            week += timedelta(days=7)
        return days
    outside = [d for d in days if d.year != funding_year]
    if outside:
        raise InvalidInput(
            field="Datum",
            reason=f"{outside[0]:%d.%m.%Y} liegt nicht im Förderjahr {funding_year}.",
        )
    return days


def expand(rule: SeriesRule, funding_year: int, closures: Iterable[ClosureLike] = ()) -> Expansion:
    """The rule's dates in ``funding_year``, with skipped days and why they were skipped."""
    rule.validate()
    periods: Sequence[ClosureLike] = list(closures) if rule.skip_closures else []
    slots: list[Slot] = []
    skipped: list[Skipped] = []
    for day in _candidates(rule, funding_year):
        name = holiday_name(day) if rule.skip_holidays else None
        if name:
            skipped.append(Skipped(day, f"Feiertag: {name}"))
            continue
        closed = next((c for c in periods if c.starts_on <= day <= c.ends_on), None)
        if closed is not None:
            skipped.append(Skipped(day, f"Schließzeit: {closed.label or 'ohne Bezeichnung'}"))
            continue
        slots.append(Slot(day, local(day, rule.start_time), local(day, rule.end_time)))
        if len(slots) > MAX_SLOTS:
            raise InvalidInput(
                field="Rhythmus", reason=f"Höchstens {MAX_SLOTS} Termine in einer Reihe."
            )
    return Expansion(slots, skipped)


def shift_to(
    start: datetime, end: datetime, new_start: time, new_end: time
) -> tuple[datetime, datetime]:
    """The same local day at new wall-clock times (used by "edit all future")."""
    if new_end <= new_start:
        raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
    day = start.astimezone(BERLIN).date()
    return local(day, new_start), local(day, new_end)
