"""Volunteer rules without a database: validity, gaps, overlaps, hours, the card threshold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ia_events.core.messages import fmt_hours
from ia_events.volunteers.certificates import group_worklogs
from ia_events.volunteers.hours import assignment_hours
from ia_events.volunteers.registry import (
    CardThreshold,
    add_years,
    card_reached,
    default_valid_until,
    qualification_gaps,
    qualification_state,
)
from ia_events.volunteers.shifts import overlaps
from ia_events.volunteers.transfer import parse, safe_cell

T0 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def test_police_certificate_is_valid_five_years_and_29_february_survives() -> None:
    assert default_valid_until("fuehrungszeugnis", date(2026, 5, 4)) == date(2031, 5, 4)
    assert add_years(date(2024, 2, 29), 5) == date(2029, 2, 28)
    assert default_valid_until("unknown-kind", date(2026, 5, 4)) is None


def test_qualification_state_valid_expiring_expired_on_the_day() -> None:
    on = date(2026, 6, 1)
    assert qualification_state(date(2026, 6, 1), on) == "expiring"  # last valid day
    assert qualification_state(date(2026, 5, 31), on) == "expired"
    assert qualification_state(date(2026, 12, 1), on) == "valid"
    assert qualification_state(None, on) == "valid"


def test_gaps_name_missing_and_expired_but_not_valid_ones() -> None:
    held = {"hygiene": date(2026, 1, 1), "erste_hilfe": date(2027, 1, 1)}
    gaps = qualification_gaps(
        ["fuehrungszeugnis", "hygiene", "erste_hilfe"], held, date(2026, 2, 1)
    )
    assert gaps == [("fuehrungszeugnis", "missing", None), ("hygiene", "expired", date(2026, 1, 1))]
    assert qualification_gaps(["hygiene"], held, date(2026, 1, 1)) == []


def test_overlap_is_half_open() -> None:
    h = timedelta(hours=1)
    assert overlaps(T0, T0 + 2 * h, T0 + h, T0 + 3 * h)
    assert not overlaps(T0, T0 + h, T0 + h, T0 + 2 * h)  # back to back is fine
    assert overlaps(T0, T0 + 3 * h, T0 + h, T0 + 2 * h)  # inside


def test_hours_override_wins_then_actual_then_planned() -> None:
    end = T0 + timedelta(hours=2, minutes=30)
    cin, cout = T0 + timedelta(minutes=10), T0 + timedelta(hours=2)
    assert assignment_hours("assigned", 1.5, cin, cout, T0, end) == 1.5
    assert assignment_hours("assigned", None, cin, cout, T0, end) == 1.83
    assert assignment_hours("assigned", None, cin, None, T0, end) == 2.5  # forgot to check out
    assert assignment_hours("assigned", None, None, None, T0, end) == 0.0
    assert assignment_hours("no_show", None, None, None, T0, end) == 0.0
    assert assignment_hours("withdrawn", 3.0, cin, cout, T0, end) == 0.0
    # A forgotten check-out three days later is capped, not counted as 72 hours.
    assert assignment_hours("assigned", None, cin, cin + timedelta(days=3), T0, end) == 16.0


def test_card_threshold_per_year_or_weekly_average() -> None:
    new = CardThreshold(200, 4)
    old = CardThreshold(250, 5)
    today = date(2026, 7, 1)  # week 26
    assert card_reached(200, 2025, today, new)
    assert not card_reached(199, 2025, today, new)  # 199/52 < 4
    assert card_reached(110, 2026, today, new)  # 110 h in 26 weeks: > 4 h/week
    assert not card_reached(110, 2026, today, old)
    assert not card_reached(8, 2026, date(2026, 1, 8), new)  # one good week is no average
    assert not card_reached(50, 2027, today, new)


def test_german_hours_and_grouped_worklogs() -> None:
    assert fmt_hours(12.5) == "12,5"
    assert fmt_hours(3.0) == "3"
    logs = [(date(2026, 1, 6), 5.0, "Hausaufgaben"), (date(2026, 1, 13), 5.0, "Hausaufgaben"),
            (date(2026, 2, 1), 2.0, "Fest")]  # fmt: skip
    assert group_worklogs(logs) == [
        (date(2026, 1, 6), date(2026, 1, 13), "Hausaufgaben", 10.0),
        (date(2026, 2, 1), date(2026, 2, 1), "Fest", 2.0),
    ]


def test_export_cells_cannot_run_formulas() -> None:
    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for bad in ("+1", "-1", "@SUM(A1)", "\tx"):
        assert str(safe_cell(bad)).startswith("'")
    assert safe_cell("Ayşe Yıldız") == "Ayşe Yıldız"
    assert safe_cell(3) == 3


def test_parse_csv_reports_each_row_in_german() -> None:
    csv = (
        "Vorname;Nachname;E-Mail;Sprachen;Einwilligung am;Fassung\n"
        "Ayşe;Yıldız;a@example.org;Türkisch, Deutsch;03.02.2026;EW-1\n"
        ";;;;;\n"
        "Олена;Коваленко;;Ukrainisch;;EW-1\n"
        "Jonas;Becker;;;31.02.2026;EW-1\n"
    ).encode()
    rows = parse("liste.csv", csv)
    assert [r.line for r in rows] == [2, 4, 5]
    assert rows[0].ok and rows[0].name == "Ayşe Yıldız" and rows[0].consent_at == date(2026, 2, 3)
    assert rows[1].errors == ["Datum der Einwilligung fehlt: ohne sie kein Eintrag."]
    assert "kein Datum" in rows[2].errors[0]
