"""``ia-events seal-lists``, ``inspect`` and ``list evidence --occurrence`` on SQLite and
PostgreSQL (in-process ``run``, the same entry point as the console script)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from ia_events.cli.main import run
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin
from tests.integration.sealing_support import make_setup, qr_checkin


@pytest.fixture
def cli(inst: Installation, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)

    def call(*args: str, code: int = 0) -> str:
        capsys.readouterr()
        assert run(list(args)) == code
        out = capsys.readouterr()
        assert "Traceback" not in out.err
        return out.out

    return call


def test_seal_lists_then_inspect_and_list_evidence(inst: Installation, cli) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(inst)
    for name in ("Amina Yilmaz", "Olena Petrenko", "Sara Ahmadi"):
        qr_checkin(inst, setup, name)
    before = json.loads(cli("inspect", "--agency", setup.slug, "--year", str(setup.year), "--json"))
    assert set(before[0]) == {"code", "severity", "subject", "id", "message"}

    too_early = berlin(setup.ends_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert json.loads(cli("seal-lists", "--now", too_early, "--json")) == []
    at = berlin(setup.ends_at + timedelta(hours=2, minutes=5)).strftime("%Y-%m-%dT%H:%M")
    [sealed] = json.loads(cli("seal-lists", "--now", at, "--json"))
    assert sealed["occurrence_id"] == setup.occurrence_id
    assert (sealed["state"], sealed["version"], sealed["participants"]) == ("sealed", 1, 3)
    assert json.loads(cli("seal-lists", "--now", at, "--json")) == []  # idempotent

    rows = json.loads(cli("list", "evidence", "--occurrence", str(setup.occurrence_id), "--json"))
    assert len(rows) == 2
    for row in rows:
        assert row["kind"] == "participant_list"
        assert row["occurrence_ids"] == [setup.occurrence_id]
        assert row["subgoal_ids"] == setup.subgoal_ids
        assert row["sealed"] is True and row["version"] == 1
        assert row["retention_until"] == date(setup.year + 10, 12, 31).isoformat()
        assert {"id", "title", "sha256", "funding_year", "legal_hold", "deleted"} <= set(row)
    every = json.loads(cli("list", "evidence", "--json"))
    assert all({"occurrence_ids", "subgoal_ids", "sealed", "version"} <= set(r) for r in every)

    findings = json.loads(
        cli("inspect", "--agency", setup.slug, "--year", str(setup.year), "--json")
    )
    assert not [
        f for f in findings
        if f["code"] == "occurrence_without_list" and f["id"] == setup.occurrence_id
    ]  # fmt: skip
    one = json.loads(
        cli(
            "inspect", "--agency", setup.slug, "--year", str(setup.year),
            "--subgoal", str(setup.subgoal_ids[1]), "--json",
        )
    )  # fmt: skip
    assert all(f["id"] != setup.subgoal_ids[0] for f in one if f["subject"] == "subgoal")


def test_bad_usage_answers_with_exit_2_and_a_message(inst: Installation, cli) -> None:  # type: ignore[no-untyped-def]
    cli("seal-lists", "--now", "gestern", code=2)
    cli("inspect", "--agency", "gibt-es-nicht", "--year", "2026", "--json", code=2)
    cli("list", "evidence", "--occurrence", "999999", "--json", code=2)
