"""Updating an installation keeps its records: a migration that changes a table's
constraints rebuilds the table on SQLite, and with foreign keys on, dropping the old copy
deleted every row pointing at it through ON DELETE CASCADE -- each activity's and each
evidence item's link to its sub-goals (seen with the network migrations of issue 19).
``storage.db.run_migrations`` switches foreign keys off while migrating, as SQLite's
manual prescribes, and checks them before the commit."""

from __future__ import annotations

import sqlalchemy as sa

from ia_events.archive.evidence import add_evidence
from ia_events.core.installation import Installation
from ia_events.core.models import Activity, SubGoal, activity_subgoals, evidence_subgoals
from storage.db import run_migrations
from tests.factories import build

# The first revision before the migrations that rebuild ``subgoals`` and ``partners``.
BEFORE_REBUILDS = "i17_instruments"


def _links(inst: Installation) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    with inst.db.engine.connect() as conn:
        acts = conn.execute(sa.select(activity_subgoals).order_by(*activity_subgoals.c)).all()
        evs = conn.execute(sa.select(evidence_subgoals).order_by(*evidence_subgoals.c)).all()
    return [tuple(r) for r in acts], [tuple(r) for r in evs]


def test_an_update_across_every_migration_keeps_the_links_to_sub_goals(
    inst: Installation,
) -> None:
    w = build(inst)
    with inst.db.write() as s:
        goals = list(s.scalars(sa.select(SubGoal).where(SubGoal.id.in_(w.subgoals))))
        act = Activity(
            agency_id=w.essen, funding_year=w.year, title="Nähcafé", type="Nähcafé", field="BE"
        )
        act.subgoals = goals
        s.add(act)
    item = add_evidence(
        inst, w.fk_essen, agency_slug="essen", funding_year=w.year, kind="press_clipping",
        filename="artikel.txt", content=b"Zeitungsartikel", subgoal_ids=w.subgoals,
    )  # fmt: skip
    before = _links(inst)
    assert len(before[0]) == len(w.subgoals) and len(before[1]) == len(w.subgoals)

    run_migrations(inst.db.engine, "downgrade", BEFORE_REBUILDS)
    assert _links(inst) == before
    run_migrations(inst.db.engine, "upgrade", "head")

    assert _links(inst) == before
    with inst.db.read() as s:
        kept = s.get(Activity, act.id)
        assert kept is not None and sorted(g.id for g in kept.subgoals) == sorted(w.subgoals)
        assert {e for e, _ in _links(inst)[1]} == {item.id}
