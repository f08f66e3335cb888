"""Retention: policy dates, legal holds with a second person, runs, tombstones, subjects."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from ia_events.archive import fixity, retention
from ia_events.archive.evidence import add_evidence, read_content
from ia_events.cli.main import run as cli_run
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from ia_events.core.installation import Installation
from ia_events.core.models import Attendance, Blob, DeletionRecord, Evidence
from ia_events.privacy import subjects
from ia_events.privacy.personal import blind_index, seal_text
from tests.factories import PDF, build


def _add(inst, actor, year=2013, content=PDF, slug="essen", **kw):  # type: ignore[no-untyped-def]
    return add_evidence(
        inst,
        actor,
        agency_slug=slug,
        funding_year=year,
        kind=kw.pop("kind", "press_clipping"),
        filename="a.pdf",
        content=content,
        **kw,
    )


def test_policy_gives_31_december_ten_years_after_the_funding_year() -> None:
    assert retention.retention_for("photo", 2025) == (
        date(2035, 12, 31),
        "policy-2026.1/photo/fy+10",
    )


def test_backfilled_expired_item_warns_and_is_proposed(inst: Installation) -> None:
    w = build(inst, year=2013)
    old = _add(inst, w.fk_essen)
    assert old.retention_until == date(2023, 12, 31)
    assert any("abgelaufen" in x for x in old.warnings)
    with inst.db.read() as s:
        plan = retention.propose(s, w.admin, date(2024, 1, 1))
        none_yet = retention.propose(s, w.admin, date(2023, 12, 31))
    assert [c.evidence_id for c in plan.items] == [old.id]
    assert none_yet.items == []


def test_holds_on_every_scope_keep_items_and_release_needs_a_second_person(
    inst: Installation,
) -> None:
    w = build(inst, year=2013)
    a = _add(inst, w.fk_essen, occurrence_id=w.occurrence)
    b = _add(inst, w.fk_essen, content=PDF + b"%b\n", subgoal_ids=w.subgoals[:1])
    c = _add(inst, w.fk_essen, content=PDF + b"%c\n")
    with inst.db.write() as s:
        h1 = retention.set_hold(
            s,
            w.coordinator,
            scope="occurrence",
            scope_id=w.occurrence,
            reason="Prüfung",
            case_ref="AZ 1",
        )
        h2 = retention.set_hold(
            s, w.coordinator, scope="subgoal", scope_id=w.subgoals[0], reason="Prüfung"
        )
        h3 = retention.set_hold(
            s, w.admin, scope="agency_year", agency_slug="essen", year=2013, reason="Rechtsstreit"
        )
    with inst.db.read() as s:
        plan = retention.propose(s, w.admin, date(2030, 1, 1))
        flags = dict(s.execute(select(Evidence.id, Evidence.legal_hold)).all())
    assert plan.items == [] and sorted(plan.held) == [a.id, b.id, c.id]
    assert flags == {a.id: True, b.id: True, c.id: True}
    with inst.db.write() as s, pytest.raises(Forbidden):
        retention.set_hold(s, w.fk_essen, scope="evidence", scope_id=a.id, reason="x")
    with inst.db.write() as s, pytest.raises(InvalidInput) as err:
        retention.set_hold(s, w.coordinator, scope="evidence", scope_id=a.id, reason=" ")
    assert err.value.code == "hold_reason_missing"
    with inst.db.write() as s, pytest.raises(Conflict) as err:
        retention.release_hold(s, w.coordinator, h1.id, "koordination")
    assert err.value.code == "hold_same_person"
    with inst.db.write() as s, pytest.raises(InvalidInput) as err:
        retention.release_hold(s, w.coordinator, h1.id, "fk-essen")
    assert err.value.code == "hold_approver_unknown"
    with inst.db.write() as s:
        retention.release_hold(s, w.coordinator, h1.id, "admin")
        retention.release_hold(s, w.admin, h3.id, "koordination")
    with inst.db.read() as s:
        plan = retention.propose(s, w.admin, date(2030, 1, 1))
    assert [x.evidence_id for x in plan.items] == [a.id, c.id] and plan.held == [b.id]
    assert h2.items == 1


def test_run_shreds_keeps_tombstone_and_record_and_spares_shared_blobs(
    inst: Installation, cli_actor: Actor
) -> None:
    w = build(inst, year=2013)
    old = _add(inst, w.fk_essen)
    w2 = _add(inst, w.fk_essen, year=2025, content=PDF)  # same bytes, still kept
    gone = _add(inst, w.fk_essen, content=PDF + b"%only\n")
    res = retention.run_deletions(inst, w.admin, date(2024, 1, 1))
    assert sorted(c.evidence_id for c in res.deleted) == [old.id, gone.id]
    with inst.db.read() as s:
        tomb = s.get(Evidence, gone.id)
        blob = s.get(Blob, tomb.blob_id)
        shared = s.get(Blob, s.get(Evidence, old.id).blob_id)
        records = s.scalars(select(DeletionRecord).order_by(DeletionRecord.id)).all()
    assert tomb.deleted_at is not None and tomb.sha256 == gone.sha256 and tomb.title
    assert blob.wrapped_key is None and blob.shredded_at is not None
    assert not inst.blobs.exists(blob.name)
    assert shared.wrapped_key is not None and inst.blobs.exists(shared.name)
    assert read_content(inst, w.fk_essen, w2.id)[2] == PDF
    assert [(r.evidence_id, r.sha256, r.approved_by) for r in records] == [
        (old.id, old.sha256, "admin"),
        (gone.id, gone.sha256, "admin"),
    ]
    with pytest.raises(DomainError) as err:
        read_content(inst, w.fk_essen, gone.id)
    assert err.value.code == "evidence_deleted"
    assert fixity.verify(inst, cli_actor).ok


def test_cli_hold_release_run_and_lists(inst: Installation, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    w = build(inst, year=2013)
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    a = _add(inst, w.fk_essen)
    b = _add(inst, w.fk_essen, content=PDF + b"%b\n")
    assert (
        cli_run(
            [
                "evidence",
                "hold",
                str(a.id),
                "--reason",
                "Prüfung",
                "--case",
                "AZ-7",
                "--actor",
                "koordination",
            ]
        )
        == 0
    )
    assert (
        cli_run(["evidence", "hold", "--occurrence", "1", "--subgoal", "1", "--reason", "x"]) == 2
    )
    capsys.readouterr()
    assert cli_run(["retention", "run", "--dry-run", "--today", "2024-01-02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [str(b.id)]
    assert cli_run(["evidence", "release", str(a.id), "--approved-by", "koordination"]) == 2
    assert cli_run(["evidence", "release", str(a.id), "--approved-by", "admin"]) == 0
    capsys.readouterr()
    assert cli_run(["retention", "run", "--today", "2024-01-02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(int(line.split()[0]) for line in out) == sorted([a.id, b.id])
    assert cli_run(["list", "deletions", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["evidence_id"] for r in records} == {a.id, b.id}
    assert set(records[0]) == {"id", "evidence_id", "sha256", "rule", "deleted_at", "approved_by"}
    assert cli_run(["list", "evidence", "--agency", "essen", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert all(i["deleted"] for i in items) and items[0]["retention_until"] == "2023-12-31"


def _attend(inst: Installation, agency_id: int, occ: int, year: int, name: str) -> None:
    with inst.db.write() as s:
        s.add(
            Attendance(
                occurrence_id=occ,
                agency_id=agency_id,
                funding_year=year,
                method="door_manual",
                name_enc=seal_text(s, inst.keys, agency_id, name, "attendance"),
                name_index=blind_index(inst.keys, agency_id, name),
                recorded_at=datetime(year, 3, 3, 10, tzinfo=UTC),
            )
        )


def test_subject_access_and_erasure_restricts_until_duty_ends(inst: Installation) -> None:
    w = build(inst, year=2013)
    for name in ("Olena Kovalenko", "olena  kovalenko", "Amina Yilmaz"):
        _attend(inst, w.essen, w.occurrence, 2013, name)
    report = subjects.find_subject(inst, w.admin, "OLENA KOVALENKO")
    assert len(report.attendance) == 2 and report.attendance[0]["name"] == "Olena Kovalenko"
    assert json.loads(report.as_json())["attendance"][0]["agency"] == "essen"
    with pytest.raises(Forbidden):
        subjects.find_subject(inst, w.coordinator, "Olena Kovalenko")
    out = subjects.request_erasure(
        inst, w.admin, "Olena Kovalenko", "essen", today=date(2020, 5, 1)
    )
    assert out.status == "restricted" and out.duty_until == date(2023, 12, 31)
    assert subjects.find_subject(inst, w.admin, "Olena Kovalenko").attendance[0]["restricted"]
    retention.run_deletions(inst, w.admin, date(2024, 1, 2))
    assert subjects.find_subject(inst, w.admin, "Olena Kovalenko").empty
    with inst.db.read() as s:
        rows = s.scalars(select(Attendance)).all()
        kinds = s.scalars(select(DeletionRecord.object_type)).all()
    # Aggregates survive: three rows, three distinct pseudonyms would be wrong -- two people.
    assert len(rows) == 3 and all(r.name_enc is None for r in rows)
    assert len({r.name_index for r in rows}) == 2
    assert "attendance" in kinds


def test_subject_access_finds_a_volunteer_with_readable_name(inst: Installation) -> None:
    """Art. 15 for a volunteer: the export decrypts the name the registry stored."""
    from ia_events.volunteers.registry import add_volunteer

    w = build(inst)
    with inst.db.write() as s:
        add_volunteer(
            s,
            inst.keys,
            w.fk_essen,
            w.essen,
            name="Svitlana Melnyk",
            contact="0201 1234",
            consent_at=date(2025, 1, 10),
        )
    report = subjects.find_subject(inst, w.admin, "svitlana  MELNYK")
    data = json.loads(report.as_json())
    assert [v["name"] for v in data["volunteers"]] == ["Svitlana Melnyk"]
    assert data["volunteers"][0]["agency"] == "essen"
