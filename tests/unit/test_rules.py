"""Pure rules: passwords, permissions and tenant reach, German formatting, file names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ia_events.accounts.users import check_password_rules
from ia_events.archive.evidence import default_retention, safe_filename
from ia_events.core.access import ROLE_PERMISSIONS, Actor, Permission, can, reaches, require
from ia_events.core.errors import Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Settings
from ia_events.core.messages import fmt_date, fmt_datetime, text
from ia_events.core.models import Role

SETTINGS = Settings(data_dir=Path("/nonexistent"), database_url="sqlite://")
SPEC_A = Actor("fk-a", Role.specialist, user_id=1, agency_id=1)
VOL_A = Actor("vol-a", Role.volunteer, user_id=2, agency_id=1, volunteer_id=7)
COORD = Actor("koord", Role.coordinator, user_id=3)
ADMIN = Actor("admin", Role.admin, user_id=4)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("kurz", "password_too_short"),
        ("passwort1234", "password_common"),
        ("aaaaaaaaaaaaaaa", "password_common"),
        ("x" * 257, "password_too_long"),
        ("mein-name-anna-ist-lang", "password_contains_username"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, code):  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as err:
        check_password_rules(SETTINGS, password, "anna")
    assert err.value.code == code
    assert err.value.message()  # a German sentence, not a code


def test_a_long_passphrase_needs_no_special_characters():  # type: ignore[no-untyped-def]
    check_password_rules(SETTINGS, "pferd batterie heftklammer", "anna")


def test_specialist_reaches_only_her_agency():  # type: ignore[no-untyped-def]
    assert reaches(SPEC_A, 1) and not reaches(SPEC_A, 2)
    with pytest.raises(NotFound):  # another agency's id looks like an unknown id
        require(SPEC_A, Permission.agency_read, 2)
    require(SPEC_A, Permission.agency_read, 1)


def test_coordinator_reads_all_agencies_but_edits_no_plan():  # type: ignore[no-untyped-def]
    assert reaches(COORD, 1) and reaches(COORD, 99)
    require(COORD, Permission.plan_approve, 5)
    with pytest.raises(Forbidden):
        require(COORD, Permission.plan_edit, 5)


def test_specialist_cannot_approve_and_volunteer_cannot_read_evidence():  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        require(SPEC_A, Permission.plan_approve, 1)
    with pytest.raises(Forbidden):
        require(VOL_A, Permission.evidence_read, 1)


def test_anonymous_is_refused_everything():  # type: ignore[no-untyped-def]
    for perm in Permission:
        with pytest.raises(Forbidden):
            require(None, perm)


def test_every_permission_is_granted_to_some_role():  # type: ignore[no-untyped-def]
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert granted == set(Permission)


def test_cli_operator_may_do_everything_but_is_named():  # type: ignore[no-untyped-def]
    op = Actor.cli("alice")
    assert all(can(op, p) for p in Permission) and op.name == "alice"


def test_admin_does_not_read_participants_names():  # type: ignore[no-untyped-def]
    assert not can(ADMIN, Permission.attendance_names)
    assert not can(ADMIN, Permission.evidence_read)


def test_german_dates_and_berlin_time():  # type: ignore[no-untyped-def]
    assert fmt_date(date(2026, 11, 24)) == "24.11.2026"
    # 23:30 UTC on 31 March is already 1 April in Berlin (summer time).
    assert fmt_datetime(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == "01.04.2026, 01:30"


def test_messages_fill_parameters_and_never_crash_on_missing_ones():  # type: ignore[no-untyped-def]
    assert "Jahr" in text("invalid_input", field="Jahr", reason="x")
    assert text("invalid_input")  # missing params become "…"
    assert text("no-such-code")


def test_retention_default_is_ten_years_after_the_funding_year():  # type: ignore[no-untyped-def]
    assert default_retention(2025) == date(2035, 12, 31)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\Liste Nähcafé.pdf", "Liste Nähcafé.pdf"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("a\x00b\n.pdf", "ab.pdf"),
        ("", "datei"),
    ],
)
def test_file_names_are_sanitised_but_readable(raw, expected):  # type: ignore[no-untyped-def]
    assert safe_filename(raw) == expected
