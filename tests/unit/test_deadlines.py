"""Deadline computation per funding year and phase (docs/design.md section 2)."""

from __future__ import annotations

from datetime import date

import pytest

from ia_events.core.errors import InvalidInput
from ia_events.planning.deadlines import (
    DeadlineKind,
    deadlines_between,
    deadlines_for_year,
    find,
    phase_of,
)

K = DeadlineKind


def by_kind(year: int) -> dict[DeadlineKind, tuple[date, date | None]]:
    return {d.kind: (d.district_due, d.state_due) for d in deadlines_for_year(year)}


def test_phases_begin_in_even_years() -> None:
    # The handbook: "nächste Frist ist der 30.10.2021" -> the phase 2022/23.
    assert phase_of(2022) == (2022, 2023)
    assert phase_of(2023) == (2022, 2023)
    assert phase_of(2026) == (2026, 2027)


def test_first_year_of_a_phase() -> None:
    rows = by_kind(2026)
    assert rows[K.antrag] == (date(2025, 10, 30), date(2025, 11, 30))
    assert rows[K.sozialraumanalyse] == (date(2025, 11, 15), date(2025, 11, 15))
    assert rows[K.aufgabenplanung] == (date(2025, 11, 15), date(2025, 11, 15))
    assert rows[K.mittel_controlling] == (date(2026, 9, 30), None)
    assert rows[K.online_controlling] == (date(2027, 4, 30), date(2027, 6, 30))
    assert rows[K.sachbericht] == (date(2027, 4, 30), date(2027, 6, 30))
    assert rows[K.zwischenverwendungsnachweis] == (date(2027, 4, 30), date(2027, 6, 30))
    assert K.verwendungsnachweis not in rows


def test_second_year_of_a_phase() -> None:
    rows = by_kind(2027)
    assert K.antrag not in rows and K.zwischenverwendungsnachweis not in rows
    assert rows[K.verwendungsnachweis] == (date(2028, 4, 30), date(2028, 6, 30))
    assert rows[K.aufgabenplanung] == (date(2026, 11, 15), date(2026, 11, 15))
    # The analysis is owed every two years (before a phase), not for the second year.
    assert K.sozialraumanalyse not in rows
    assert len(rows) == 5


def test_year_list_is_ordered_by_district_date() -> None:
    dues = [d.district_due for d in deadlines_for_year(2026)]
    assert dues == sorted(dues)
    assert deadlines_for_year(2026)[0].kind == K.antrag
    assert deadlines_for_year(2026)[0].title == "Antrag Förderphase 2026/2027"


def test_between_finds_each_deadline_once_across_years() -> None:
    rows = deadlines_between(date(2026, 4, 1), date(2026, 5, 31))
    assert {(d.kind, d.funding_year) for d in rows} == {
        (K.online_controlling, 2025),
        (K.sachbericht, 2025),
        (K.verwendungsnachweis, 2025),
    }
    # A state date inside the window is enough.
    june = deadlines_between(date(2026, 6, 1), date(2026, 6, 30))
    assert {d.kind for d in june} == {K.online_controlling, K.sachbericht, K.verwendungsnachweis}
    nov = deadlines_between(date(2026, 11, 1), date(2026, 11, 30))
    assert {(d.kind, d.funding_year) for d in nov} == {(K.aufgabenplanung, 2027)}
    nov_before_phase = deadlines_between(date(2025, 11, 1), date(2025, 11, 30))
    assert {(d.kind, d.funding_year) for d in nov_before_phase} == {
        (K.sozialraumanalyse, 2026),
        (K.aufgabenplanung, 2026),
        (K.antrag, 2026),
    }


def test_find_refuses_a_deadline_the_year_does_not_have() -> None:
    assert find(2026, "antrag").district_due == date(2025, 10, 30)
    with pytest.raises(InvalidInput):
        find(2027, "antrag")
    with pytest.raises(InvalidInput):
        find(2026, "steuererklaerung")


# -- bald fällig ---------------------------------------------------------------------------------


def _view(due: date, submitted: bool = False, custom: bool = False):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from ia_events.planning.deadlines import Deadline, DeadlineView

    d = (
        Deadline(K.custom, 2026, due, None, custom_id=7, custom_title="Entwurf Sachbericht")
        if custom
        else Deadline(K.sachbericht, 2026, due, None)
    )
    at = datetime(2026, 1, 1, tzinfo=UTC) if submitted else None
    return DeadlineView(d, "essen", "IA Essen", at, None, None, "")


def test_due_soon_is_open_and_within_fourteen_days() -> None:
    v = _view(date(2027, 1, 15))
    assert v.state(date(2027, 1, 15)) == "due_soon"  # due today
    assert v.state(date(2027, 1, 1)) == "due_soon"  # 14 days ahead
    assert v.state(date(2026, 12, 31)) == "open"  # 15 days ahead
    assert v.state(date(2027, 1, 16)) == "overdue"
    assert v.status(date(2027, 1, 10)) == "open"  # the CLI's word stays
    assert v.state_label(date(2027, 1, 10)) == "bald fällig"
    assert not _view(date(2027, 1, 15), submitted=True).due_soon(date(2027, 1, 10))
    assert _view(date(2027, 1, 15), submitted=True).state(date(2027, 1, 10)) == "submitted"


def test_a_custom_deadline_is_named_by_its_id_and_done_not_submitted() -> None:
    v = _view(date(2027, 1, 15), submitted=True, custom=True)
    assert v.deadline.title == "Entwurf Sachbericht"
    assert v.deadline.status_kind == "custom:7"
    assert v.state(date(2027, 1, 10)) == "done" and v.state_label(date(2027, 1, 10)) == "erledigt"
    assert v.as_json(date(2027, 1, 10))["kind"] == "custom"
    assert v.deadline.applies_to(3)
    assert not deadlines_for_year(2026)[0].is_custom
