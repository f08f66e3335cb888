"""What an activity is created and edited with: one ``ActivitySpec``.

The page's form, the CLI and the tests build one and hand it to
``schedule.create_series`` (an activity with its dates), ``plans.create_activity``
(the activity alone) or ``schedule.edit_activity`` (its title, place, mode and
sub-goals afterwards), instead of repeating the same keyword list in each.

``same_slot`` is the duplicate rule: same title, place, weekday and start time
(``schedule.create_series`` refuses such a second series with
``DuplicateActivity`` unless the user confirms it).
Pure, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from ia_events.core.errors import InvalidInput
from ia_events.planning.recurrence import SeriesRule


@dataclass(frozen=True)
class ActivitySpec:
    agency_slug: str
    funding_year: int
    title: str
    type: str
    field: str
    attendance_mode: str = "named"
    place: str = ""
    partners: list[str] = dc_field(default_factory=list)
    subgoal_ids: list[int] = dc_field(default_factory=list)
    photographed: bool = False
    count_categories: list[str] = dc_field(default_factory=list)
    off_field_reason: str = ""
    # The dates: None for an activity without a series (dates added one by one).
    rule: SeriesRule | None = None

    @property
    def categories(self) -> list[str]:
        return [c.strip() for c in self.count_categories if c.strip()]

    @property
    def partner_names(self) -> list[str]:
        return [p.strip() for p in self.partners if p.strip()]

    @property
    def recurrence(self) -> dict[str, Any]:
        return self.rule.as_dict() if self.rule is not None else {}


def _key(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def weekdays_of(rule: SeriesRule) -> set[int]:
    """The weekdays a rule's dates fall on (0 = Monday)."""
    if rule.kind == "dates":
        return {d.weekday() for d in rule.dates}
    return set(rule.days_of_week)


def rule_from(recurrence: dict[str, Any] | None) -> SeriesRule | None:
    """The stored rule, or None where there is none or it cannot be read."""
    if not recurrence or "start" not in recurrence:
        return None
    try:
        return SeriesRule.from_dict(recurrence)
    except (InvalidInput, ValueError, TypeError):
        return None


def same_slot(
    spec: ActivitySpec, title: str, place: str, recurrence: dict[str, Any] | None
) -> bool:
    """Would ``spec`` meet on a day and at a time when the stored activity already meets?"""
    other = rule_from(recurrence)
    if spec.rule is None or other is None:
        return False
    return (
        _key(spec.title) == _key(title)
        and _key(spec.place) == _key(place)
        and spec.rule.start_time == other.start_time
        and bool(weekdays_of(spec.rule) & weekdays_of(other))
    )
