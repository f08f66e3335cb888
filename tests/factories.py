"""Shared test data (factories), in one place.

- ``PDF``, ``PNG``           minimal valid evidence files
- ``build(inst)``            two agencies (Essen, Kleve) with a plan, two sub-goals and a
                             held occurrence each, users, and the actors (``World``)
- ``make_occurrence(inst)``  an agency, an activity and an occurrence around now with
                             its participant token and a door actor (``Made``), for the
                             check-in tests

Every factory writes through ``inst.db.write()`` into the installation it is given (a
fresh one per test: ``inst``, ``sqlite_inst``, ``pg_inst`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ia_events.attendance.tokens import TokenInfo, make_token
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    Occurrence,
    Role,
    SubGoal,
    TaskPlan,
    User,
)
from storage.db import utcnow

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


# -- check-in ------------------------------------------------------------------------------

_seq = itertools.count(1)


@dataclass
class Made:
    agency_id: int
    activity_id: int
    occurrence_id: int
    token: str
    door: Actor  # a specialist of this agency


def make_occurrence(
    inst: Installation,
    *,
    mode: str = "named",
    starts_in: timedelta = timedelta(minutes=-30),
    duration: timedelta = timedelta(hours=2),
    photographed: bool = False,
    asks_age_band: bool = False,
    categories: list[str] | None = None,
    privacy_law: str = "DSGVO",
    agency_id: int | None = None,
    now: datetime | None = None,
) -> Made:
    now = now or utcnow()
    n = next(_seq)
    with inst.db.write() as s:
        if agency_id is None:
            agency = Agency(
                slug=f"test-{n}",
                name=f"Integrationsagentur Test {n}",
                carrier="Testträger e.V.",
                city="Essen",
                fields=["BE"],
                privacy_law=privacy_law,
                privacy_contact="datenschutz@test.example",
            )
            s.add(agency)
            s.flush()
            agency_id = agency.id
        start = now + starts_in
        activity = Activity(
            agency_id=agency_id,
            funding_year=start.year,
            title="Nähcafé",
            type="Nähcafé",
            field="BE",
            place="Stadtteilzentrum, Helenenstraße 12",
            attendance_mode=mode,
            photographed=photographed,
            asks_age_band=asks_age_band,
            count_categories=categories or [],
        )
        s.add(activity)
        s.flush()
        occ = Occurrence(
            activity_id=activity.id,
            agency_id=agency_id,
            funding_year=start.year,
            starts_at=start,
            ends_at=start + duration,
        )
        s.add(occ)
        s.flush()
        token = make_token(inst.keys, TokenInfo("participant", "occurrence", occ.id, 1))
        door = Actor(name=f"fk-test-{n}", role=Role.specialist, agency_id=agency_id)
        return Made(agency_id, activity.id, occ.id, token, door)
