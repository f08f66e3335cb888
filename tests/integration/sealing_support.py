"""Test data for sealing: an agency with a plan, two sub-goals, an activity linked to
both and an occurrence around a given time, plus QR check-ins through the real path."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from ia_events.attendance import checkin
from ia_events.attendance.tokens import TokenInfo, make_token, new_nonce
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Agency, Occurrence, Role, SubGoal, TaskPlan
from storage.db import utcnow

_seq = itertools.count(1)


@dataclass
class Setup:
    slug: str
    agency_id: int
    activity_id: int
    occurrence_id: int
    subgoal_ids: list[int]
    year: int
    token: str
    door: Actor
    coordinator: Actor
    ends_at: datetime


def make_setup(
    inst: Installation,
    *,
    mode: str = "named",
    start: datetime | None = None,
    categories: list[str] | None = None,
    slug: str | None = None,
) -> Setup:
    start = start or (utcnow() - timedelta(minutes=30))
    n = next(_seq)
    slug = slug or f"siegel-{n}"
    with inst.db.write() as s:
        agency = Agency(slug=slug, name=f"IA Siegel {n}", carrier="AWO Testträger")
        s.add(agency)
        s.flush()
        plan = TaskPlan(agency_id=agency.id, funding_year=start.year, topic="T", goal="G")
        s.add(plan)
        s.flush()
        goals = [
            SubGoal(
                task_plan_id=plan.id, agency_id=agency.id, funding_year=start.year, position=i,
                title=f"Teilziel {i + 1}", field="BE", indicator="participants", target=3,
            )
            for i in range(2)
        ]  # fmt: skip
        s.add_all(goals)
        act = Activity(
            agency_id=agency.id, funding_year=start.year, title="Nähcafé", type="Nähcafé",
            field="BE", attendance_mode=mode, count_categories=categories or [],
            subgoals=goals,
        )  # fmt: skip
        s.add(act)
        s.flush()
        occ = Occurrence(
            activity_id=act.id, agency_id=agency.id, funding_year=start.year,
            starts_at=start, ends_at=start + timedelta(hours=1),
        )  # fmt: skip
        s.add(occ)
        s.flush()
        token = make_token(inst.keys, TokenInfo("participant", "occurrence", occ.id, 1))
        return Setup(
            slug, agency.id, act.id, occ.id, [g.id for g in goals], start.year, token,
            Actor(name=f"fk-siegel-{n}", role=Role.specialist, agency_id=agency.id),
            Actor(name="koordination", role=Role.coordinator),
            occ.ends_at,
        )  # fmt: skip


def qr_checkin(inst: Installation, setup: Setup, name: str, now: datetime | None = None) -> int:
    with inst.db.write() as s:
        answer = checkin.submit(
            s, inst.keys, setup.token, new_nonce(inst.keys, setup.token), name=name, now=now
        )
    assert answer.state == "ok", answer.state
    assert answer.attendance_id is not None
    return answer.attendance_id
