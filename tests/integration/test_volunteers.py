"""Volunteers on a real SQLite file and real PostgreSQL: import, qualifications, shifts,
collisions, QR check-in/out, hours, the CLI contract and the certificate PDF."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ia_events.accounts.agencies import add_agency
from ia_events.attendance import checkin
from ia_events.cli.main import run
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, DomainError, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import AuditEvent, Role, ShiftAssignment, SubGoal, TaskPlan, Volunteer
from ia_events.planning import plans
from ia_events.planning.activities import ActivitySpec
from ia_events.reporting import progress as reports
from ia_events.volunteers import registry, shifts
from ia_events.volunteers.hours import add_worklog, year_summary
from ia_events.volunteers.transfer import confirm, export_registry, preview

OP = Actor.cli("test:op")
NOW = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
TODAY = NOW.date()


@dataclass
class World:
    essen: int
    kleve: int
    activity: int
    occ: int  # tomorrow 09:30-12:00 local
    occ_later: int  # a week later
    occ_kleve: int  # Kleve, the same time as ``occ``
    staff: Actor
    staff_kleve: Actor


def _world(inst: Installation) -> World:
    start = datetime(2026, 5, 13, 7, 30, tzinfo=UTC)
    with inst.db.write() as s:
        essen = add_agency(s, OP, slug="essen", name="IA Essen", carrier="Träger A", fields=["BE"])
        kleve = add_agency(s, OP, slug="kleve", name="IA Kleve", carrier="Träger B", fields=["BE"])
        act = plans.create_activity(
            s,
            OP,
            ActivitySpec(
                agency_slug="essen", funding_year=2026, title="Nähcafé", type="Nähcafé", field="BE"
            ),
        )
        occ = plans.add_occurrence(s, OP, act.id, start, start + timedelta(hours=2.5))
        later = plans.add_occurrence(
            s, OP, act.id, start + timedelta(days=7), start + timedelta(days=7, hours=2.5)
        )
        act_k = plans.create_activity(
            s,
            OP,
            ActivitySpec(
                agency_slug="kleve",
                funding_year=2026,
                title="Radwerkstatt",
                type="Fahrradwerkstatt",
                field="BE",
            ),
        )
        occ_k = plans.add_occurrence(s, OP, act_k.id, start, start + timedelta(hours=3))
        ids = (essen.id, kleve.id, act.id, occ.id, later.id, occ_k.id)
    staff = Actor("fk-essen", Role.specialist, user_id=1, agency_id=ids[0])
    staff_k = Actor("fk-kleve", Role.specialist, user_id=2, agency_id=ids[1])
    return World(*ids, staff=staff, staff_kleve=staff_k)


def _volunteer(inst: Installation, who: Actor, agency_id: int, name: str, contact: str = "") -> int:
    with inst.db.write() as s:
        v = registry.add_volunteer(s, inst.keys, who, agency_id, name=name, contact=contact,
                                     consent_at=date(2026, 1, 5), now=NOW)  # fmt: skip
        return v.id


def _as_volunteer(agency_id: int, volunteer_id: int) -> Actor:
    return Actor("ehrenamt", Role.volunteer, user_id=9, agency_id=agency_id,
                 volunteer_id=volunteer_id)  # fmt: skip


def _code(fn) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as err:
        fn()
    return err.value.code


def test_import_previews_per_row_errors_and_imports_only_after_confirm(inst: Installation) -> None:
    w = _world(inst)
    _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Name", "Telefon", "Sprachen", "Einwilligung am", "Fassung"])
    ws.append(["Ayşe Yıldız", "+49 151 1", "Türkisch, Deutsch", datetime(2026, 2, 3), "EW-1"])
    ws.append(["Jonas Becker", "", "", "03.02.2026", "EW-1"])  # already registered
    ws.append(["سمية الحسن", "", "Arabisch", "", "EW-1"])  # no consent
    ws.append(["ayşe  yıldız", "", "", "03.02.2026", "EW-1"])  # twice in the file
    ws.append(["@Ewa Nowak", "", "", "01.03.2026", "EW-1"])  # exported formula-safe
    buf = io.BytesIO()
    wb.save(buf)
    content = buf.getvalue()
    with inst.db.read() as s:
        p = preview(s, inst.keys, w.staff, w.essen, "liste.xlsx", content, today=TODAY)
        count_before = s.scalar(select(func.count()).select_from(Volunteer))
    assert (p.valid, p.invalid) == (2, 3)
    errors = {r.line: r.errors for r in p.rows}
    assert errors[3] == ["Ist schon im Ehrenamtsverzeichnis."]
    assert "Einwilligung" in errors[4][0]
    assert errors[5] == ["Steht schon in Zeile 2 der Datei."]
    assert count_before == 1  # the preview stored nothing

    with inst.db.write() as s:
        confirm(s, inst.keys, w.staff, w.essen, "liste.xlsx", content, today=TODAY)
    with inst.db.read() as s:
        names = [v.name for v in registry.list_volunteers(s, inst.keys, w.staff, w.essen)]
        assert s.scalar(select(func.count()).where(AuditEvent.action == "volunteer:import")) == 1
    assert sorted(names) == sorted(["Ayşe Yıldız", "Jonas Becker", "@Ewa Nowak"])
    with inst.db.write() as s:
        exported = export_registry(s, inst.keys, w.staff, w.essen, "csv").decode("utf-8-sig")
    assert "\n'@Ewa Nowak;" in exported and "\n@Ewa" not in exported
    # Another agency's staff cannot preview into Essen.
    with inst.db.read() as s:
        assert _code(
            lambda: preview(s, inst.keys, w.staff_kleve, w.essen, "l.csv", b"Name\nX")
        ) == ("not_found")


def test_missing_or_expired_qualification_blocks_assignment(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Олена Коваленко")
    with inst.db.write() as s:
        (shift,) = shifts.add_shift(s, w.staff, w.occ, role="Kinderbetreuung",
                                    required=["fuehrungszeugnis"])  # fmt: skip
        sid = shift.id
    with inst.db.write() as s:
        assert _code(lambda: shifts.assign(s, w.staff, sid, vid, NOW)) == "qualification_missing"
    with inst.db.write() as s:
        registry.add_qualification(s, w.staff, vid, kind="fuehrungszeugnis",
                                     checked_on=date(2021, 5, 1), today=TODAY)  # fmt: skip
    with inst.db.write() as s:
        with pytest.raises(Conflict) as err:
            shifts.assign(s, w.staff, sid, vid, NOW)
        assert err.value.code == "qualification_expired"
        assert "01.05.2026" in err.value.message()
    with inst.db.write() as s:
        q = registry.add_qualification(s, w.staff, vid, kind="fuehrungszeugnis",
                                         checked_on=date(2026, 4, 2), today=TODAY)  # fmt: skip
        assert q.valid_until == date(2031, 4, 2)
        shifts.assign(s, w.staff, sid, vid, NOW)
    with inst.db.read() as s:
        roster = shifts.roster_for_occurrence(s, inst.keys, w.staff, w.occ)
        warn = registry.expiring_qualifications(s, inst.keys, w.staff, w.essen, TODAY)
    assert [a.name for a in roster[0].assignments] == ["Олена Коваленко"]
    assert warn == []  # the newer inspection replaces the expired one


def test_collision_in_own_agency_names_the_shift_elsewhere_names_nothing(
    inst: Installation,
) -> None:
    w = _world(inst)
    a = _volunteer(inst, w.staff, w.essen, "Mehmet Öztürk", "m@example.org")
    k = _volunteer(inst, w.staff_kleve, w.kleve, "Mehmet  Öztürk", "M@example.org")
    with inst.db.write() as s:
        (aufbau,) = shifts.add_shift(s, w.staff, w.occ, role="Aufbau")
        (abbau,) = shifts.add_shift(s, w.staff, w.occ, role="Abbau")
        (later,) = shifts.add_shift(s, w.staff, w.occ_later, role="Abbau")
        (rad,) = shifts.add_shift(s, w.staff_kleve, w.occ_kleve, role="Fahrradreparatur")
        ids = (aufbau.id, abbau.id, later.id, rad.id)
    with inst.db.write() as s:
        shifts.assign(s, w.staff, ids[0], a, NOW)
        shifts.assign(s, w.staff, ids[2], a, NOW)  # another day: fine
    with inst.db.write() as s, pytest.raises(Conflict) as own:
        shifts.assign(s, w.staff, ids[1], a, NOW)
    assert own.value.code == "shift_collision" and "„Aufbau“" in own.value.message()
    # Kleve's staff learn nothing of Essen: the assignment goes through as with any
    # free person (the answer never depends on another agency's data) ...
    with inst.db.write() as s:
        shifts.assign(s, w.staff_kleve, ids[3], k, NOW)
    # ... and the person herself sees the overlap on "Meine Einsätze" and decides.
    for vid, agency in ((k, w.kleve), (a, w.essen)):
        me = Actor("ich", Role.volunteer, user_id=None, agency_id=agency, volunteer_id=vid)
        with inst.db.read() as s:
            mine = shifts.my_shifts(s, me, NOW)
        clashing = {m.shift.role for m in mine if m.overlaps}
        assert clashing == ({"Fahrradreparatur"} if vid == k else {"Aufbau"}), clashing
    # Staff of Kleve cannot even see Essen's shift or person.
    with inst.db.write() as s:
        assert _code(lambda: shifts.assign(s, w.staff_kleve, ids[1], k, NOW)) == "not_found"
        assert _code(lambda: shifts.assign(s, w.staff, ids[3], a, NOW)) == "not_found"


def test_signup_qr_checkin_checkout_hours_worklog_and_subgoal(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız")
    other = _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    me = _as_volunteer(w.essen, vid)
    with inst.db.write() as s:
        shift, copy = shifts.add_shift(s, w.staff, w.occ, role="Anleitung Nähen", needed=1,
                                       all_future=True, now=NOW)  # fmt: skip
        assert copy.starts_at - shift.starts_at == timedelta(days=7)
        sid = shift.id
        plan = TaskPlan(agency_id=w.essen, funding_year=2026, topic="T", goal="G")
        s.add(plan)
        s.flush()
        goal = plans.add_subgoal(s, OP, plan.id, title="Stunden", field="BE",
                                    indicator="volunteer_hours", target=10)  # fmt: skip
        from ia_events.core.models import activity_subgoals

        s.execute(activity_subgoals.insert().values(activity_id=w.activity, subgoal_id=goal.id))
        goal_id = goal.id
    with inst.db.read() as s:
        # "all future" copied the shift onto next week's occurrence too.
        assert len(shifts.roster_for_occurrence(s, inst.keys, w.staff, w.occ_later)) == 1
        opened = shifts.open_shifts(s, me, NOW)
    assert [v.id for v in opened][:1] == [sid] and all(v.assignments == [] for v in opened)
    with inst.db.write() as s:
        shifts.sign_up(s, me, sid, NOW)
    with inst.db.write() as s:
        full = _code(lambda: shifts.assign(s, w.staff, sid, other, NOW))
    assert full == "shift_full"
    with inst.db.read() as s:
        url = checkin.occurrence_link(s, inst.keys, OP, w.occ, "http://x", purpose="volunteer")
        part = checkin.occurrence_link(s, inst.keys, OP, w.occ, "http://x", purpose="participant")
    token, participant_token = url.split("t=")[1], part.split("t=")[1]
    start = datetime(2026, 5, 13, 7, 30, tzinfo=UTC)
    with inst.db.write() as s:
        assert (
            _code(lambda: shifts.scan_token(s, inst.keys, me, token, NOW))
            == "volunteer_qr_not_open"
        )
        assert _code(lambda: shifts.scan_token(s, inst.keys, me, participant_token, start)) == (
            "volunteer_qr_invalid"
        )
        stranger = _as_volunteer(w.kleve, other)
        assert _code(lambda: shifts.scan_token(s, inst.keys, stranger, token, start)) == (
            "volunteer_qr_invalid"
        )
    with inst.db.read() as s:
        assert shifts.scan_preview(s, inst.keys, me, token, start).action == "check_in"
    with inst.db.write() as s:
        first = shifts.scan_token(s, inst.keys, me, token, start - timedelta(minutes=5))
    with inst.db.write() as s:
        second = shifts.scan_token(s, inst.keys, me, token, start + timedelta(hours=2))
    assert (first.action, second.action) == ("checked_in", "checked_out")
    assert second.hours == 2.08
    with inst.db.write() as s:
        done = _code(lambda: shifts.scan_token(s, inst.keys, me, token, start + timedelta(hours=2)))
    assert done == "shift_checkin_done"
    with inst.db.write() as s:
        aid = s.scalar(select(ShiftAssignment.id).where(ShiftAssignment.volunteer_id == vid))
        assert shifts.set_hours(s, w.staff, aid, planned=True) == 2.5
        add_worklog(s, w.staff, vid, day=date(2026, 5, 1), hours="3,5",
                    description="Begleitung Behördengang", today=TODAY)  # fmt: skip
        too_long = lambda: add_worklog(  # noqa: E731
            s, w.staff, vid, day=date(2026, 5, 1), hours=30, description="x", today=TODAY
        )
        assert _code(too_long) == "invalid_input"
    with inst.db.read() as s:
        summary = year_summary(s, inst.keys, me, vid, 2026, TODAY)
        progress = {
            g.id: g.actual
            for g in reports.progress_for_agency(s, w.essen, 2026, NOW + timedelta(days=2))
        }
        assert _code(lambda: year_summary(s, inst.keys, me, other, 2026)) == "not_found"
    assert summary.total == 6.0 and summary.activities[0].role == "Anleitung Nähen"
    assert progress[goal_id] == 2.5  # the worklog belongs to no activity, so not to the sub-goal
    with inst.db.read() as s:
        assert s.get(SubGoal, goal_id) is not None


def test_no_show_only_after_start_and_never_after_checkin(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    start = datetime(2026, 5, 13, 7, 30, tzinfo=UTC)
    with inst.db.write() as s:
        (shift,) = shifts.add_shift(s, w.staff, w.occ, role="Aufbau")
        a = shifts.assign(s, w.staff, shift.id, vid, NOW)
        aid = a.id
    with inst.db.write() as s:
        assert _code(lambda: shifts.mark_no_show(s, w.staff, aid, NOW)) == "no_show_before_start"
        shifts.mark_no_show(s, w.staff, aid, start + timedelta(minutes=30))
    with inst.db.read() as s:
        (row,) = shifts.roster_for_occurrence(s, inst.keys, w.staff, w.occ)
    assert row.assignments[0].status == "no_show" and row.assignments[0].hours == 0
    assert row.taken == 0  # the place is free again


def test_cli_lists_volunteers_with_hours_and_writes_the_certificate(
    inst: Installation, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Ayşe Yıldız")
    _volunteer(inst, w.staff_kleve, w.kleve, "Олена Коваленко")
    with inst.db.write() as s:
        add_worklog(s, w.staff, vid, day=date(2026, 3, 2), hours=12.5,
                    description="Übersetzung Elternabend", today=TODAY)  # fmt: skip
        add_worklog(s, w.staff, vid, day=date(2025, 3, 2), hours=4, description="Fest",
                    today=TODAY)  # fmt: skip
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    capsys.readouterr()
    assert run(["list", "volunteers", "--agency", "essen", "--year", "2026", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"id": vid, "name": "Ayşe Yıldız", "agency": "essen", "hours": 12.5}]
    assert run(["list", "volunteers", "--year", "2025", "--json"]) == 0
    everyone = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (
        everyone["Ayşe Yıldız"]["hours"] == 4 and everyone["Олена Коваленко"]["agency"] == "kleve"
    )
    assert run(["list", "volunteers", "--agency", "nirgendwo", "--json"]) == 2

    out = tmp_path / "nachweis.pdf"
    assert run(["volunteer-certificate", str(vid), "--year", "2026", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "Ayşe Yıldız" in text and "12,5 Stunden" in text and "IA Essen" in text
    assert "Übersetzung Elternabend" in text
    assert run(["volunteer-certificate", "99999", "--year", "2026", "--out", str(out)]) == 2


def test_threshold_is_a_setting_and_changes_the_hint(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    with inst.db.write() as s:
        for week in range(45):
            add_worklog(s, w.staff, vid, day=date(2025, 1, 6) + timedelta(days=7 * week),
                        hours=5, description="Hausaufgabenhilfe", today=TODAY)  # fmt: skip
    with inst.db.read() as s:
        assert year_summary(s, inst.keys, w.staff, vid, 2025, TODAY).card_reached  # 225 h >= 200
    with inst.db.write() as s:
        assert _code(lambda: registry.set_card_threshold(
            s, w.staff, hours_per_year=250, hours_per_week=5)) == "forbidden"  # fmt: skip
        registry.set_card_threshold(s, OP, hours_per_year=250, hours_per_week=5)
    with inst.db.read() as s:
        assert not year_summary(s, inst.keys, w.staff, vid, 2025, TODAY).card_reached


def test_deactivated_volunteer_stays_but_cannot_be_assigned(inst: Installation) -> None:
    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Jonas Becker")
    with inst.db.write() as s:
        (shift,) = shifts.add_shift(s, w.staff, w.occ, role="Aufbau")
        sid = shift.id
        registry.set_volunteer_active(s, w.staff, vid, False, NOW)
    with inst.db.write() as s:
        assert _code(lambda: shifts.assign(s, w.staff, sid, vid, NOW)) == "volunteer_inactive"
    with inst.db.read() as s:
        assert s.get(Volunteer, vid) is not None
        everyone = registry.list_volunteers(s, inst.keys, w.staff, w.essen, include_inactive=True)
        with pytest.raises(NotFound):
            registry.get_volunteer(s, inst.keys, _as_volunteer(w.essen, vid + 1), vid)
    assert [v.active for v in everyone] == [False]


def test_erasure_under_retention_duty_hides_the_person_and_stops_processing(
    inst: Installation,
) -> None:
    """Art. 17(3)(b) + 18: the rows stay for the proof, but screens show a marker,
    future shifts are given back, the account is closed and nothing new is planned."""
    from ia_events.accounts import users
    from ia_events.attendance import records
    from ia_events.core.errors import AuthError
    from ia_events.core.models import Attendance
    from ia_events.privacy import subjects
    from ia_events.privacy.personal import blind_index, seal_text
    from ia_events.privacy.restriction import RESTRICTED_NAME
    from storage.db import utcnow

    w = _world(inst)
    vid = _volunteer(inst, w.staff, w.essen, "Olena Kovalenko", "0201 555 12")
    other = _volunteer(inst, w.staff, w.essen, "Jonas Becker", "0201 999")
    soon = utcnow().replace(microsecond=0) + timedelta(days=7)
    password = "Garten-Laterne-2026!"
    with inst.db.write() as s:
        future = plans.add_occurrence(s, OP, w.activity, soon, soon + timedelta(hours=2))
        (shift,) = shifts.add_shift(s, w.staff, future.id, role="Aufbau", needed=2)
        shifts.assign(s, w.staff, shift.id, vid, utcnow())
        shifts.assign(s, w.staff, shift.id, other, utcnow())
        sid = shift.id
        users.add_user(s, OP, inst.settings, username="ehrenamt-olena", password=password,
                          role="volunteer", agency_slug="essen", volunteer_id=vid)  # fmt: skip
        for minute, name in enumerate(("Olena Kovalenko", "Amina Yilmaz")):
            s.add(
                Attendance(
                    occurrence_id=w.occ,
                    agency_id=w.essen,
                    funding_year=2026,
                    method="door_manual",
                    recorded_at=NOW + timedelta(minutes=minute),
                    name_enc=seal_text(s, inst.keys, w.essen, name, "attendance"),
                    name_index=blind_index(inst.keys, w.essen, name),
                )
            )
    assert users.login(inst, "ehrenamt-olena", password).token

    out = subjects.request_erasure(inst, OP, "olena kovalenko", "essen")
    assert out.status == "restricted" and (out.attendance, out.volunteers) == (1, 1)

    with inst.db.read() as s:
        door = records.list_attendance(s, inst.keys, w.staff, w.occ, names=True)
        people = registry.list_volunteers(s, inst.keys, w.staff, w.essen, include_inactive=True)
        roster = shifts.roster_for_occurrence(s, inst.keys, w.staff, future.id)
    assert [r.name for r in door] == [RESTRICTED_NAME, "Amina Yilmaz"]  # the count stays 2
    shown = {p.id: (p.name, p.contact, p.active) for p in people}
    assert shown[vid] == (RESTRICTED_NAME, "", False)
    assert shown[other] == ("Jonas Becker", "0201 999", True)
    status = {a.volunteer_id: a.status for a in roster[0].assignments}
    assert status == {vid: "withdrawn", other: "assigned"}

    with inst.db.write() as s:
        assert (
            _code(lambda: shifts.assign(s, w.staff, sid, vid, utcnow())) == "volunteer_restricted"
        )
        assert _code(lambda: registry.update_volunteer(s, inst.keys, w.staff, vid, skills="x")) == (
            "volunteer_restricted"
        )
        assert _code(lambda: registry.set_volunteer_active(s, w.staff, vid, True)) == (
            "volunteer_restricted"
        )
    with pytest.raises(AuthError) as refused:
        users.login(inst, "ehrenamt-olena", password)
    assert refused.value.code == "login_invalid"  # as for any refused login
    # The person's own access report still opens everything (Art. 15).
    report = subjects.find_subject(inst, OP, "Olena Kovalenko")
    assert report.attendance[0]["name"] == "Olena Kovalenko"
    assert report.volunteers[0]["restricted"]
