"""Tenancy on both databases: the important services called as every role with ids of
agency A (Essen) -- allowed or refused exactly as ``ia_events.core.permissions`` says.

Roles: specialist of A, specialist of B (Kleve, passing A's ids on purpose),
volunteer of A, coordinator, admin, anonymous (``None``). A refusal is ``Forbidden``
(the role may not) or ``NotFound`` (another agency's id, answered like an unknown
one). A listing a specialist of B may call must not contain anything of A.
Session services run in a transaction that is rolled back, so one role's change
does not decide the next role's outcome.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ia_events.accounts import personnel, users
from ia_events.accounts.agencies import add_agency, list_agencies
from ia_events.archive import backup, evidence, fixity, query, retention
from ia_events.attendance import checkin, regulars, tokens
from ia_events.attendance import records as attendance
from ia_events.cli.main import run
from ia_events.core import audit, permissions
from ia_events.core.access import Actor
from ia_events.core.errors import DomainError, Forbidden, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import Attendance, AuditEvent, Evidence, Role, Shift
from ia_events.core.permissions import Reach
from ia_events.inspection import bundle, completeness
from ia_events.network import partners
from ia_events.planning import analyses, approvals, plan_export, plans, schedule
from ia_events.planning.activities import ActivitySpec
from ia_events.reporting import controlling, progress
from ia_events.volunteers import hours, registry, shifts, transfer
from tests.factories import PDF

OP = Actor.cli("test:op")
START = datetime(2026, 5, 13, 7, 30, tzinfo=UTC)
TODAY = date(2026, 5, 12)


@dataclass
class Side:
    agency: int
    slug: str
    plan: int
    subgoal: int
    activity: int
    occ: int
    evidence: int
    attendance: int
    volunteer: int
    shift: int
    assignment: int
    partner: int = 0


@dataclass
class World:
    a: Side
    b: Side
    roles: dict[str, Actor | None]


def _side(inst: Installation, slug: str, name: str) -> Side:
    with inst.db.write() as s:
        ag = add_agency(s, OP, slug=slug, name=name, carrier="Träger", fields=["BE"])
        plan = plans.create_task_plan(
            s, OP, agency_slug=slug, funding_year=2026, topic="Teilhabe", goal="Ziel"
        )
        goal = plans.add_subgoal(
            s, OP, plan.id, title="Nähcafé", field="BE", indicator="participants", target=10
        )
        s.expire(plan)
        plans.submit_plan(s, OP, plan.id)
        act = plans.create_activity(
            s,
            OP,
            ActivitySpec(
                agency_slug=slug,
                funding_year=2026,
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
                subgoal_ids=[goal.id],
            ),
        )
        occ = plans.add_occurrence(s, OP, act.id, START, START + timedelta(hours=2))
        vol = registry.add_volunteer(
            s, inst.keys, OP, ag.id, name=f"Ehrenamt {slug}", consent_at=date(2026, 1, 5)
        )
        shift = shifts.add_shift(s, OP, occ.id, role="Aufbau", needed=2)[0]
        assignment = shifts.assign(s, OP, shift.id, vol.id, now=START - timedelta(days=1))
        checkin.door_checkin(s, inst.keys, OP, occ.id, name="Amina", now=START)
        att = s.scalar(select(Attendance.id).where(Attendance.occurrence_id == occ.id))
        ids = (ag.id, plan.id, goal.id, act.id, occ.id, vol.id, shift.id, assignment.id, att)
    ev = evidence.add_evidence(
        inst, OP, agency_slug=slug, funding_year=2026, kind="participant_list",
        filename="liste.pdf", content=PDF, occurrence_id=ids[4], subgoal_ids=[ids[2]],
    )  # fmt: skip
    ag_id, plan_id, goal_id, act_id, occ_id, vol_id, shift_id, asg_id, att_id = ids
    assert att_id is not None
    with inst.db.write() as s:
        partner = partners.create_partner(
            s, inst.keys, OP, agency_slug=slug, name=f"Jobcenter {name}", type="Jobcenter",
            contact="Frau Kontakt",
        ).id  # fmt: skip
    return Side(ag_id, slug, plan_id, goal_id, act_id, occ_id, ev.id, att_id, vol_id,
                shift_id, asg_id, partner)  # fmt: skip


@pytest.fixture
def world(inst: Installation) -> World:
    a = _side(inst, "essen", "IA Essen")
    b = _side(inst, "kleve", "IA Kleve")
    roles: dict[str, Actor | None] = {
        "specialist_a": Actor("fk-essen", Role.specialist, user_id=101, agency_id=a.agency),
        "specialist_b": Actor("fk-kleve", Role.specialist, user_id=102, agency_id=b.agency),
        "volunteer_a": Actor(
            "ehrenamt", Role.volunteer, user_id=103, agency_id=a.agency, volunteer_id=a.volunteer
        ),
        "coordinator": Actor("koordination", Role.coordinator, user_id=104),
        "admin": Actor("admin", Role.admin, user_id=105),
        "anonymous": None,
    }
    return World(a, b, roles)


# -- the cases ----------------------------------------------------------------------------------

Ctx = tuple[Installation, Session, World, Path]
Call = Callable[[Ctx, Any], Any]


@dataclass
class Case:
    service: str
    call: Call
    # For listings: does the result show anything of agency A?
    shows_a: Callable[[Any, World], bool] | None = None
    # Roles the registry's main permission does not cover but the service allows
    # (the "or volunteer.self: own record" notes).
    also: tuple[str, ...] = ()


def _occ_ids(rows: Any) -> set[int]:
    return {r.id for r in rows}


CASES = [
    # planning
    Case("planning.plans.list_occurrences",
         lambda c, a: plans.list_occurrences(c[1], a, year=2026),
         lambda r, w: w.a.occ in _occ_ids(r)),
    Case("planning.plans.get_occurrence", lambda c, a: plans.get_occurrence(c[1], a, c[2].a.occ)),
    Case("planning.plans.get_plan", lambda c, a: plans.get_plan(c[1], a, "essen", 2026)),
    Case("planning.plans.list_plans", lambda c, a: plans.list_plans(c[1], a, 2026),
         lambda r, w: any(p.agency_slug == "essen" if hasattr(p, "agency_slug") else
                          "essen" in repr(p) for p in r)),
    Case("planning.plans.plan_history", lambda c, a: plans.plan_history(c[1], a, c[2].a.plan)),
    Case("planning.plans.plans_for", lambda c, a: plans.plans_for(c[1], a, "essen", 2026)),
    Case("planning.plans.plan_view", lambda c, a: plans.plan_view(c[1], a, c[2].a.plan)),
    Case("planning.plan_export.export",
         lambda c, a: plan_export.export(c[1], a, c[2].a.plan, "docx", on=TODAY, today=TODAY)),
    Case("planning.analyses.create_analysis",
         lambda c, a: analyses.create_analysis(c[1], a, agency_slug="essen", year=2026)),
    Case("planning.analyses.get_analysis",
         lambda c, a: analyses.get_analysis(c[1], a, "essen", 2026)),
    Case("planning.approvals.queue", lambda c, a: approvals.queue(c[1], a, 2026),
         lambda r, w: any(p.agency_slug == "essen" for p in r.plans)),
    Case("accounts.personnel.add_change",
         lambda c, a: personnel.add_change(c[1], a, agency_slug="essen", kind="vakanz",
                                           planned_on=date(2026, 6, 1), today=TODAY)),
    Case("planning.plans.update_plan",
         lambda c, a: plans.update_plan(c[1], a, c[2].a.plan, topic="X", goal="Y", why="z")),
    Case("planning.plans.add_subgoal",
         lambda c, a: plans.add_subgoal(c[1], a, c[2].a.plan, title="T", field="BE",
                                           indicator="participants", target=3, why="z")),
    Case("planning.plans.change_subgoal",
         lambda c, a: plans.change_subgoal(c[1], a, c[2].a.subgoal, title="T", field="BE",
                                              indicator="participants", target=5, why="z")),
    Case("planning.plans.set_manual_actual",
         lambda c, a: plans.set_manual_actual(c[1], a, c[2].a.subgoal, 3)),
    Case("planning.plans.approve_plan", lambda c, a: plans.approve_plan(c[1], a, c[2].a.plan)),
    Case("planning.plans.return_plan",
         lambda c, a: plans.return_plan(c[1], a, c[2].a.plan, "Bitte ergänzen")),
    Case("planning.plans.create_activity",
         lambda c, a: plans.create_activity(c[1], a, ActivitySpec(
             agency_slug="essen", funding_year=2026, title="Fest", type="Fest", field="BE"))),
    Case("planning.plans.add_occurrence",
         lambda c, a: plans.add_occurrence(c[1], a, c[2].a.activity, START + timedelta(days=9),
                                              START + timedelta(days=9, hours=1))),
    Case("planning.schedule.edit_occurrence",
         lambda c, a: schedule.edit_occurrence(c[1], a, c[2].a.occ, starts_at=START,
                                               ends_at=START + timedelta(hours=3))),
    Case("planning.schedule.cancel_occurrence",
         lambda c, a: schedule.cancel_occurrence(c[1], a, c[2].a.occ, "Krankheit")),
    Case("planning.schedule.list_activities",
         lambda c, a: schedule.list_activities(c[1], a, "essen")),
    Case("planning.schedule.edit_activity",
         lambda c, a: schedule.edit_activity(c[1], a, c[2].a.activity, ActivitySpec(
             agency_slug="essen", funding_year=2026, title="Nähcafé neu", type="Nähcafé",
             field="BE", subgoal_ids=[c[2].a.subgoal]))),
    Case("planning.schedule.cancel_series",
         lambda c, a: schedule.cancel_series(c[1], a, c[2].a.activity, START.date(), "Ende",
                                             now=START - timedelta(days=1))),
    Case("planning.schedule.delete_activity",
         lambda c, a: schedule.delete_activity(c[1], a, c[2].a.activity)),
    Case("planning.schedule.find_duplicate",
         lambda c, a: schedule.find_duplicate(c[1], a, ActivitySpec(
             agency_slug="essen", funding_year=2026, title="Nähcafé", type="Nähcafé",
             field="BE"))),
    Case("reporting.progress.subgoal_progress",
         lambda c, a: progress.subgoal_progress(c[1], a, "essen", 2026)),
    Case("reporting.progress.district_summary",
         lambda c, a: progress.district_summary(c[1], a, 2026),
         lambda r, w: "essen" in repr(r)),
    Case("accounts.agencies.list_agencies", lambda c, a: list_agencies(c[1], a),
         lambda r, w: "essen" in repr(r)),
    # check-in, attendance
    Case("attendance.tokens.occurrence_link",
         lambda c, a: tokens.occurrence_link(c[1], c[0].keys, a, c[2].a.occ, "http://x")),
    Case("attendance.tokens.revoke_links", lambda c, a: tokens.revoke_links(c[1], a, c[2].a.occ)),
    Case("attendance.checkin.door_checkin",
         lambda c, a: checkin.door_checkin(c[1], c[0].keys, a, c[2].a.occ, name="Zeynep",
                                           now=START)),
    Case("attendance.records.list_attendance",
         lambda c, a: attendance.list_attendance(c[1], c[0].keys, a, c[2].a.occ)),
    Case("attendance.regulars.series_regulars",
         lambda c, a: regulars.series_regulars(c[1], c[0].keys, a, c[2].a.occ)),
    Case("attendance.records.list_scans", lambda c, a: attendance.list_scans(c[1], a, c[2].a.occ)),
    Case("attendance.records.counter", lambda c, a: attendance.counter(c[1], a, c[2].a.occ)),
    Case("attendance.records.undo",
         lambda c, a: attendance.undo(c[1], a, c[2].a.attendance, "falsch")),
    Case("attendance.records.headcount",
         lambda c, a: attendance.headcount(c[1], a, c[2].a.occ, None, 1, now=START)),
    # evidence
    Case("archive.query.list_evidence",
         lambda c, a: query.list_evidence(c[1], a),
         lambda r, w: w.a.evidence in {e.id for e in r}),
    Case("archive.query.get_detail",
         lambda c, a: query.get_detail(c[1], a, c[2].a.evidence)),
    Case("archive.query.occurrence_context",
         lambda c, a: query.occurrence_context(c[1], a, c[2].a.occ)),
    Case("archive.query.link_options",
         lambda c, a: query.link_options(c[1], a, "essen", 2026)),
    Case("archive.evidence.read_content",
         lambda c, a: evidence.read_content(c[0], a, c[2].a.evidence)),
    Case("archive.evidence.change_metadata",
         lambda c, a: evidence.change_metadata(c[1], a, c[2].a.evidence, reason="Tippfehler",
                                               title="Liste")),
    Case("archive.evidence.add_evidence",
         lambda c, a: evidence.add_evidence(c[0], a, agency_slug="essen", funding_year=2026,
                                            kind="press_release", filename="p.pdf",
                                            content=PDF + b"%x")),
    Case("archive.retention.set_hold",
         lambda c, a: retention.set_hold(c[1], a, scope="evidence", scope_id=c[2].a.evidence,
                                         reason="Prüfung")),
    Case("archive.retention.list_holds", lambda c, a: retention.list_holds(c[1], a)),
    Case("archive.retention.propose", lambda c, a: retention.propose(c[1], a, TODAY)),
    Case("archive.retention.run_deletions", lambda c, a: retention.run_deletions(c[0], a, TODAY)),
    # volunteers, shifts
    Case("volunteers.registry.list_volunteers",
         lambda c, a: registry.list_volunteers(c[1], c[0].keys, a, c[2].a.agency)),
    Case("volunteers.registry.get_volunteer",
         lambda c, a: registry.get_volunteer(c[1], c[0].keys, a, c[2].a.volunteer)),
    Case("volunteers.registry.update_volunteer",
         lambda c, a: registry.update_volunteer(c[1], c[0].keys, a, c[2].a.volunteer,
                                                  availability="montags")),
    Case("volunteers.hours.list_with_hours",
         lambda c, a: hours.list_with_hours(c[1], c[0].keys, a, year=2026),
         lambda r, w: w.a.volunteer in {v.id for v in r}),
    Case("volunteers.hours.year_summary",
         lambda c, a: hours.year_summary(c[1], c[0].keys, a, c[2].a.volunteer, 2026)),
    Case("volunteers.transfer.export_registry",
         lambda c, a: transfer.export_registry(c[1], c[0].keys, a, c[2].a.agency)),
    Case("volunteers.shifts.add_shift",
         lambda c, a: shifts.add_shift(c[1], a, c[2].a.occ, role="Küche")),
    Case("volunteers.shifts.assign",
         lambda c, a: shifts.assign(c[1], a, c[2].a.shift, c[2].a.volunteer,
                                    now=START - timedelta(days=1))),
    Case("volunteers.shifts.mark_no_show",
         lambda c, a: shifts.mark_no_show(c[1], a, c[2].a.assignment,
                                                                 now=START + timedelta(hours=1))),
    Case("volunteers.shifts.withdraw",
         lambda c, a: shifts.withdraw(c[1], a, c[2].a.assignment, now=START - timedelta(days=1))),
    Case("volunteers.shifts.roster_for_occurrence",
         lambda c, a: shifts.roster_for_occurrence(c[1], c[0].keys, a, c[2].a.occ)),
    Case("volunteers.shifts.my_shifts", lambda c, a: shifts.my_shifts(c[1], a, now=START)),
    # network
    Case("network.partners.list_partners", lambda c, a: partners.list_partners(c[1], a),
         lambda r, w: any(p.agency_id == w.a.agency for p in r)),
    Case("network.partners.create_partner",
         lambda c, a: partners.create_partner(c[1], c[0].keys, a, agency_slug="essen",
                                              name="Neuer Verein", type="Verein")),
    Case("network.partners.link_partner",
         lambda c, a: partners.link_partner(c[1], a, c[2].a.partner, c[2].a.activity)),
    Case("network.partners.list_contacts",
         lambda c, a: partners.list_contacts(c[1], c[0].keys, a, c[2].a.partner)),
    Case("network.partners.add_contact",
         lambda c, a: partners.add_contact(c[1], c[0].keys, a, c[2].a.partner, name="Herr X")),
    # reports, bundle, system
    Case("reporting.controlling.figures", lambda c, a: controlling.figures(c[1], a, 2026),
         lambda r, w: "essen" in repr(r)),
    Case("inspection.completeness.inspect",
         lambda c, a: completeness.inspect(c[1], a, "essen", 2026)),
    Case("inspection.bundle.export_bundle",
         lambda c, a: bundle.export_bundle(c[0], a, "essen", 2026, c[3] / "b.zip")),
    Case("core.audit.list_events", lambda c, a: audit.list_events(c[1], a),
         lambda r, w: any(e.agency_id == w.a.agency for e in r)),
    Case("accounts.users.list_users", lambda c, a: users.list_users(c[1], a)),
    Case("archive.fixity.verify", lambda c, a: fixity.verify(c[0], a)),
    Case("archive.backup.key_status", lambda c, a: backup.key_status(c[0], a)),
]  # fmt: skip


def _expected(case: Case, role: str) -> str:
    """'allowed', 'forbidden', 'not_found' or 'filtered' (a listing without A's data)."""
    rule = permissions.registry()[case.service]
    actor_role = {
        "specialist_a": Role.specialist,
        "specialist_b": Role.specialist,
        "volunteer_a": Role.volunteer,
        "coordinator": Role.coordinator,
        "admin": Role.admin,
    }.get(role)
    if actor_role is None:
        return "forbidden"
    allowed = rule.allows(actor_role) or role in case.also
    if not allowed:
        return "forbidden"
    if role == "specialist_b" and rule.scoped:
        return "filtered" if rule.reach is Reach.listing else "not_found"
    return "allowed"


def _call(inst: Installation, w: World, tmp: Path, case: Case, actor: Actor | None) -> Any:
    maker = sessionmaker(inst.db.engine.execution_options(ia_write=True), expire_on_commit=False)
    with maker() as s:
        try:
            return case.call((inst, s, w, tmp), actor)
        finally:
            s.rollback()


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "returned", fn()
    except Forbidden:
        return "forbidden", None
    except NotFound:
        return "not_found", None
    except DomainError as exc:  # passed the gate, stopped by a rule of the state
        return "returned", exc.code
    except Exception as exc:  # a crash is never a designed answer
        return f"crashed ({type(exc).__name__}: {exc})", None


def test_the_registry_has_a_case_for_every_listed_service() -> None:
    assert {c.service for c in CASES} <= set(permissions.registry())
    assert len({c.service for c in CASES}) == len(CASES)


def test_every_role_is_allowed_or_refused_as_designed(
    inst: Installation, world: World, tmp_path: Path
) -> None:
    wrong: list[str] = []
    cross_tried = cross_leaked = 0
    for case in CASES:
        for role, actor in world.roles.items():
            expected = _expected(case, role)
            got, result = _outcome(lambda: _call(inst, world, tmp_path, case, actor))  # noqa: B023
            if role == "specialist_b":
                cross_tried += 1
            if expected == "filtered":
                if got != "returned" or (case.shows_a and case.shows_a(result, world)):
                    wrong.append(f"{case.service} as {role}: {got}, shows A's data")
                    cross_leaked += 1
            elif expected == "allowed":
                if got != "returned":
                    wrong.append(f"{case.service} as {role}: expected allowed, got {got}")
                elif (
                    case.shows_a
                    and role in ("specialist_a", "coordinator")
                    and not case.shows_a(result, world)  # the leak check itself can see A
                ):
                    wrong.append(f"{case.service} as {role}: A's data not visible")
            elif got != expected:
                wrong.append(f"{case.service} as {role}: expected {expected}, got {got}")
                if role == "specialist_b" and got == "returned":
                    cross_leaked += 1
    print(f"\ncross-agency attempts: {cross_tried}, succeeded: {cross_leaked}")
    assert not wrong, "\n".join(wrong)


def test_a_volunteer_reaches_only_her_own_record(inst: Installation, world: World) -> None:
    other = Actor("ehrenamt2", Role.volunteer, user_id=110, agency_id=world.a.agency,
                  volunteer_id=world.b.volunteer)  # fmt: skip
    with inst.db.read() as s, pytest.raises(NotFound):  # Kleve's id claimed from Essen
        registry.get_volunteer(s, inst.keys, other, world.b.volunteer)
    with inst.db.write() as s:
        own = registry.add_volunteer(s, inst.keys, OP, world.a.agency, name="Nachbarin",
                                       consent_at=date(2026, 1, 5))  # fmt: skip
        own_id = own.id
    me = world.roles["volunteer_a"]
    with inst.db.read() as s:
        with pytest.raises((NotFound, Forbidden)):  # a colleague's record
            registry.get_volunteer(s, inst.keys, me, own_id)
        with pytest.raises((NotFound, Forbidden)):
            hours.year_summary(s, inst.keys, me, own_id, 2026)


def test_ids_of_b_mixed_into_a_request_are_refused_and_change_nothing(
    inst: Installation, world: World
) -> None:
    fk_a = world.roles["specialist_a"]
    before = _counts(inst)
    attempts = [
        lambda: evidence.add_evidence(
            inst, fk_a, agency_slug="essen", funding_year=2026, kind="photo",
            filename="x.pdf", content=PDF + b"1", occurrence_id=world.b.occ),
        lambda: evidence.add_evidence(
            inst, fk_a, agency_slug="essen", funding_year=2026, kind="photo",
            filename="x.pdf", content=PDF + b"2", subgoal_ids=[world.b.subgoal]),
        lambda: evidence.add_evidence(
            inst, fk_a, agency_slug="kleve", funding_year=2026, kind="photo",
            filename="x.pdf", content=PDF + b"3"),
    ]  # fmt: skip
    with inst.db.write() as s:
        attempts += [
            lambda: shifts.assign(s, fk_a, world.a.shift, world.b.volunteer),
            lambda: plans.create_activity(s, fk_a, ActivitySpec(
                agency_slug="essen", funding_year=2026, title="x", type="x", field="BE",
                subgoal_ids=[world.b.subgoal])),
        ]  # fmt: skip
        for attempt in attempts:
            with pytest.raises(DomainError) as err:
                attempt()
            assert err.value.code in ("not_found", "invalid_input", "forbidden"), err.value.code
        s.rollback()
    assert _counts(inst) == before


def _counts(inst: Installation) -> tuple[int, ...]:
    with inst.db.read() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Evidence, Attendance, Shift, AuditEvent)
        )


def test_cli_refuses_ids_of_another_agency(
    inst: Installation, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    f = tmp_path / "liste.pdf"
    f.write_bytes(PDF + b"cli")
    before = _counts(inst)
    for argv in (
        ["evidence", "add", "--agency", "essen", "--year", "2026", "--kind", "photo",
         "--occurrence", str(world.b.occ), str(f)],
        ["evidence", "add", "--agency", "essen", "--year", "2026", "--kind", "photo",
         "--subgoal", str(world.b.subgoal), str(f)],
        ["export-bundle", "--agency", "essen", "--year", "2026", "--subgoal",
         str(world.b.subgoal), "--out", str(tmp_path / "x.zip")],
    ):  # fmt: skip
        code = run(argv)
        out = capsys.readouterr()
        assert code in (1, 2), (argv, out)
        assert "Traceback" not in out.err + out.out
        assert out.err.startswith("Fehler:"), out.err
    assert not (tmp_path / "x.zip").exists()
    assert _counts(inst) == before
    # and the right ids work through the same code path
    assert run(["list", "evidence", "--agency", "essen", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e["id"] for e in listed} == {world.a.evidence}
