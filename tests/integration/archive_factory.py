"""Test factory: two agencies with a plan, sub-goals and an occurrence; hold approvers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Agency, Occurrence, Role, SubGoal, TaskPlan, User

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    essen: int
    kleve: int
    year: int
    subgoals: list[int]
    kleve_subgoal: int
    occurrence: int
    kleve_occurrence: int
    fk_essen: Actor
    fk_kleve: Actor
    coordinator: Actor
    admin: Actor


def build(inst: Installation, year: int = 2025) -> World:
    with inst.db.write() as s:
        agencies = [
            Agency(slug="essen", name="IA Essen", carrier="T"),
            Agency(slug="kleve", name="IA Kleve", carrier="T"),
        ]
        s.add_all(agencies)
        s.flush()
        goals: dict[int, list[int]] = {}
        occs: dict[int, int] = {}
        for a in agencies:
            plan = TaskPlan(agency_id=a.id, funding_year=year, topic="T", goal="G")
            s.add(plan)
            s.flush()
            gs = [
                SubGoal(
                    task_plan_id=plan.id,
                    agency_id=a.id,
                    funding_year=year,
                    position=i,
                    title=f"Teilziel {i}",
                    field="BE",
                    indicator="participants",
                    target=10,
                )
                for i in range(2)
            ]
            s.add_all(gs)
            act = Activity(
                agency_id=a.id, funding_year=year, title="Nähcafé", type="Nähcafé", field="BE"
            )
            s.add(act)
            s.flush()
            occ = Occurrence(
                activity_id=act.id,
                agency_id=a.id,
                funding_year=year,
                starts_at=datetime(year, 3, 3, 9, tzinfo=UTC),
                ends_at=datetime(year, 3, 3, 11, tzinfo=UTC),
            )
            s.add(occ)
            s.flush()
            goals[a.id] = [g.id for g in gs]
            occs[a.id] = occ.id
        for name, role in (
            ("koordination", Role.coordinator),
            ("admin", Role.admin),
            ("koordination2", Role.coordinator),
        ):
            s.add(User(username=name, display_name=name, role=role))
        e, k = agencies[0].id, agencies[1].id
    return World(
        essen=e,
        kleve=k,
        year=year,
        subgoals=goals[e],
        kleve_subgoal=goals[k][0],
        occurrence=occs[e],
        kleve_occurrence=occs[k],
        fk_essen=Actor("fk-essen", Role.specialist, agency_id=e),
        fk_kleve=Actor("fk-kleve", Role.specialist, agency_id=k),
        coordinator=Actor("koordination", Role.coordinator),
        admin=Actor("admin", Role.admin),
    )
