"""Sealing participant lists on real SQLite and PostgreSQL: due rules, evidence links,
idempotence, late corrections as superseding versions, anonymous sheets, privacy."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from ia_events.archive.evidence import read_content
from ia_events.attendance import checkin, records, sealing
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, InvalidInput
from ia_events.core.installation import Installation
from ia_events.core.models import Attendance, AuditEvent, Evidence, Occurrence
from storage.db import utcnow
from tests.integration.sealing_support import Setup, make_setup, qr_checkin
from tests.pdfa_support import pdfa_problems

SYSTEM = Actor.cli("test:sealing")


def _pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _three_checkins(inst: Installation) -> Setup:
    setup = make_setup(inst)
    for name in ("Amina Yilmaz", "Olena Petrenko", "Sara Ahmadi"):
        qr_checkin(inst, setup, name)
    return setup


def test_an_ended_occurrence_is_sealed_once_as_pdf_and_csv_linked_to_its_goals(
    inst: Installation,
) -> None:
    setup = _three_checkins(inst)
    later = setup.ends_at + timedelta(hours=2, minutes=5)

    run = sealing.seal_due(inst, SYSTEM, now=later)

    assert [(r.occurrence_id, r.state, r.version) for r in run.results] == [
        (setup.occurrence_id, "sealed", 1)
    ]
    result = run.results[0]
    with inst.db.read() as s:
        items = s.scalars(
            select(Evidence).where(Evidence.occurrence_id == setup.occurrence_id)
        ).all()
        assert {e.kind for e in items} == {"participant_list"}
        assert sorted(e.media_type for e in items) == ["application/pdf", "text/plain"]
        for e in items:
            assert e.activity_id == setup.activity_id
            assert sorted(g.id for g in e.subgoals) == setup.subgoal_ids
            assert e.funding_year == setup.year
            assert e.retention_until == date(setup.year + 10, 12, 31)
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "attendance:list:seal")
        ).all()
    assert len(events) == 1
    assert "Amina" not in json.dumps(events[0].details)

    _, _, pdf = read_content(inst, SYSTEM, result.evidence_id)
    assert pdfa_problems(pdf) == []  # PDF/A-2B as we check it (docs/pdfa.md)
    text = _pdf_text(pdf)
    assert "digital erfasst" in text
    assert "Olena Petrenko" in text and "QR-Selbst-Check-in" in text
    assert "Versiegelt am" in text and "Fassung 1" in text
    _, _, table = read_content(inst, SYSTEM, result.csv_evidence_id or 0)
    rows = _csv_rows(table)
    assert [r["name"] for r in rows] == ["Amina Yilmaz", "Olena Petrenko", "Sara Ahmadi"]
    assert {r["art"] for r in rows} == {"self_qr"}

    again = sealing.seal_due(inst, SYSTEM, now=later + timedelta(hours=1))
    assert again.results == []
    door_again = sealing.seal_occurrence(inst, setup.door, setup.occurrence_id)
    assert door_again.state == "unchanged" and door_again.evidence_id == result.evidence_id


def test_nothing_is_sealed_within_the_grace_time_when_cancelled_or_without_attendance(
    inst: Installation,
) -> None:
    setup = _three_checkins(inst)
    empty = make_setup(inst)
    cancelled = make_setup(inst)
    qr_checkin(inst, cancelled, "Lea Schmidt")
    with inst.db.write() as s:
        occ = s.get(Occurrence, cancelled.occurrence_id)
        assert occ is not None
        occ.status = "cancelled"

    early = setup.ends_at + timedelta(hours=1, minutes=50)
    assert sealing.seal_due(inst, SYSTEM, now=early).results == []
    late = setup.ends_at + timedelta(hours=3)
    sealed = {r.occurrence_id for r in sealing.seal_due(inst, SYSTEM, now=late).results}
    assert sealed == {setup.occurrence_id}
    assert empty.occurrence_id not in sealed and cancelled.occurrence_id not in sealed
    with pytest.raises(Conflict) as err:
        sealing.seal_occurrence(inst, empty.door, empty.occurrence_id)
    assert err.value.code == "list_nothing_to_seal"
    with pytest.raises(Conflict) as err:
        sealing.seal_occurrence(inst, cancelled.door, cancelled.occurrence_id)
    assert err.value.code == "list_cancelled"


def test_a_late_correction_seals_a_new_version_that_supersedes_the_old_one(
    inst: Installation,
) -> None:
    setup = make_setup(inst)
    wrong = qr_checkin(inst, setup, "Doppelt Eingetragen")
    qr_checkin(inst, setup, "Amina Yilmaz")
    first = sealing.seal_occurrence(inst, setup.door, setup.occurrence_id)  # early, at the door
    assert (first.state, first.version) == ("sealed", 1)

    with inst.db.write() as s:
        records.undo(s, setup.door, wrong, "doppelt gescannt")
        checkin.door_checkin(
            s, inst.keys, setup.door, setup.occurrence_id, name="Vergessene Teilnehmerin",
            method="paper",
        )  # fmt: skip
    with inst.db.read() as s:
        state = sealing.seal_state(s, setup.door, setup.occurrence_id)
    assert state is not None and state.stale and state.version == 1

    with pytest.raises(InvalidInput) as err:  # a person names the reason
        sealing.seal_occurrence(inst, setup.door, setup.occurrence_id)
    assert err.value.code == "list_reason_needed"
    run = sealing.seal_due(inst, SYSTEM, now=setup.ends_at + timedelta(hours=3))
    [second] = run.results
    assert (second.state, second.version, second.supersedes_id) == (
        "resealed",
        2,
        first.evidence_id,
    )
    with inst.db.read() as s:
        old = s.get(Evidence, first.evidence_id)
        old_csv = s.get(Evidence, first.csv_evidence_id)
        assert old is not None and old_csv is not None
        assert old.superseded_by_id == second.evidence_id
        assert old_csv.superseded_by_id == second.csv_evidence_id
        assert old.deleted_at is None  # both versions stay
        state = sealing.seal_state(s, setup.door, setup.occurrence_id)
    assert state is not None
    assert (state.version, state.stale, state.added, state.removed) == (2, False, 1, 1)
    assert state.versions == [first.evidence_id, second.evidence_id]
    second_pdf = read_content(inst, SYSTEM, second.evidence_id)[2]
    assert pdfa_problems(second_pdf) == []  # with a struck-through row
    text = _pdf_text(second_pdf)
    assert "doppelt gescannt" in text and "ersetzt Fassung 1" in text
    assert "von Papierliste übertragen" in text
    rows = _csv_rows(read_content(inst, SYSTEM, second.csv_evidence_id or 0)[2])
    undone = [r for r in rows if r["rueckgaengig_am"]]
    assert [(r["name"], r["grund"]) for r in undone] == [
        ("Doppelt Eingetragen", "doppelt gescannt")
    ]


def test_an_anonymous_occurrence_gets_a_headcount_sheet_without_names(inst: Installation) -> None:
    setup = make_setup(inst, mode="anonymous", categories=["Kinder", "Erwachsene"])
    with inst.db.write() as s:
        records.headcount(s, setup.door, setup.occurrence_id, "Kinder", 4)
        records.headcount(s, setup.door, setup.occurrence_id, "Erwachsene", 3)
    [result] = sealing.seal_due(inst, SYSTEM, now=setup.ends_at + timedelta(hours=3)).results
    assert result.anonymous and result.participants == 7
    text = _pdf_text(read_content(inst, SYSTEM, result.evidence_id)[2])
    assert "Zählblatt (anonym)" in text
    assert "Kinder 4" in text and "Erwachsene 3" in text
    rows = _csv_rows(read_content(inst, SYSTEM, result.csv_evidence_id or 0)[2])
    assert {r["name"] for r in rows} == {""}
    assert sum(int(r["anzahl"]) for r in rows) == 7


def test_a_restricted_person_is_sealed_but_the_screen_shows_the_marker(
    inst: Installation,
) -> None:
    setup = make_setup(inst)
    att_id = qr_checkin(inst, setup, "Eingeschränkte Person")
    with inst.db.write() as s:
        row = s.get(Attendance, att_id)
        assert row is not None
        row.restricted_at = utcnow()
    [result] = sealing.seal_due(inst, SYSTEM, now=setup.ends_at + timedelta(hours=3)).results
    text = _pdf_text(read_content(inst, SYSTEM, result.evidence_id)[2])
    assert "Eingeschränkte Person" in text and "Art. 18" in text
    with inst.db.read() as s:
        shown = records.list_attendance(s, inst.keys, setup.door, setup.occurrence_id, names=True)
        events = s.scalars(select(AuditEvent)).all()
    assert [r.name for r in shown] == ["eingeschränkt (Art. 18 DSGVO)"]
    assert not any("Eingeschränkte" in json.dumps(e.details) for e in events)


def test_another_agency_cannot_seal_or_read_the_state(inst: Installation) -> None:
    setup = _three_checkins(inst)
    other = make_setup(inst)
    from ia_events.core.errors import NotFound

    with pytest.raises(NotFound):
        sealing.seal_occurrence(inst, other.door, setup.occurrence_id)
    with inst.db.read() as s, pytest.raises(NotFound):
        sealing.seal_state(s, other.door, setup.occurrence_id)


def test_completeness_and_bundle_carry_the_sealed_list(inst: Installation, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    from ia_events.inspection.bundle import export_bundle
    from ia_events.inspection.completeness import inspect

    setup = _three_checkins(inst)
    empty = make_setup(inst, slug=None)
    now = setup.ends_at + timedelta(hours=3)
    with inst.db.read() as s:
        before = inspect(s, setup.coordinator, setup.slug, setup.year, now=now)
        quiet = inspect(s, empty.coordinator, empty.slug, empty.year, now=now)
    assert ("occurrence_without_list", setup.occurrence_id) in {
        (f.code, f.object_id) for f in before.findings
    }
    assert "occurrence_without_list" not in {f.code for f in quiet.findings}

    [result] = sealing.seal_due(inst, SYSTEM, now=now).results
    with inst.db.read() as s:
        after = inspect(s, setup.coordinator, setup.slug, setup.year, now=now)
    assert "occurrence_without_list" not in {f.code for f in after.findings}

    out = export_bundle(
        inst, setup.coordinator, setup.slug, setup.year, tmp_path / "b.zip", now=now
    )
    with zipfile.ZipFile(out.path) as z:
        names = z.namelist()
        lists = [n for n in names if f"/{result.evidence_id}_participant_list_" in n]
        assert len(lists) == 1 and f"_T{setup.occurrence_id}/" in lists[0]
        assert z.read(lists[0]).startswith(b"%PDF")
        csvs = [n for n in names if f"/{result.csv_evidence_id}_participant_list_" in n]
        assert len(csvs) == 1 and f"_T{setup.occurrence_id}/" in csvs[0]
        summaries = [n for n in names if "/Zusammenfassung_Teilziel_" in n]
        assert len(summaries) == 2
        rows = _csv_rows(z.read(summaries[0]))
    line = next(r for r in rows if r["termin_id"] == str(setup.occurrence_id))
    assert line["teilnahmen"] == "3" and line["fassung"] == "1"
    assert line["teilnehmerliste"].endswith(lists[0].split("/data/", 1)[1])
    assert rows[-1]["termin_id"] == "Summe" and rows[-1]["istwert"] == "3"


def test_paper_entries_without_a_signed_scan_are_a_finding(inst: Installation) -> None:
    from ia_events.inspection.completeness import inspect

    setup = make_setup(inst)
    with inst.db.write() as s:
        checkin.door_checkin(
            s, inst.keys, setup.door, setup.occurrence_id, name="Von Papier", method="paper"
        )
    now = setup.ends_at + timedelta(hours=3)
    sealing.seal_due(inst, SYSTEM, now=now)
    with inst.db.read() as s:
        tree = inspect(s, setup.coordinator, setup.slug, setup.year, now=now)
    assert ("paper_list_unsigned", setup.occurrence_id) in {
        (f.code, f.object_id) for f in tree.findings
    }


def test_a_running_or_just_ended_date_is_no_gap_until_its_grace_time_is_over(
    inst: Installation,
) -> None:
    """Completeness asks for a list only from end + grace time on (when sealing runs):
    a date still running, or ended within the grace time, is not "keine Teilnehmerliste";
    the overview does not count it as a date needing its list either."""
    from ia_events.inspection.completeness import inspect, overview, summarise

    setup = _three_checkins(inst)  # began 30 minutes ago, ends in 30 minutes
    paper = make_setup(inst)
    with inst.db.write() as s:
        checkin.door_checkin(
            s, inst.keys, paper.door, paper.occurrence_id, name="Von Papier", method="paper"
        )

    def gaps(now, grace=timedelta(hours=2)):  # type: ignore[no-untyped-def]
        out = set()
        for one in (setup, paper):
            with inst.db.read() as s:
                tree = inspect(s, one.coordinator, one.slug, one.year, now=now, grace=grace)
            out |= {
                (f.code, f.object_id)
                for f in tree.findings
                if f.code in ("occurrence_without_list", "paper_list_unsigned")
            }
        return out

    running = setup.ends_at - timedelta(minutes=10)
    assert gaps(running) == set()
    with inst.db.read() as s:
        tree = inspect(s, setup.coordinator, setup.slug, setup.year, now=running)
        row = summarise(tree)
        [listed] = [
            r for r in overview(s, setup.coordinator, setup.year, now=running)
            if r.slug == setup.slug
        ]  # fmt: skip
    assert tree.occurrences[setup.occurrence_id].held  # it counts as held already
    assert (row.held_needing_list, row.held_with_list, row.list_share) == (0, 0, None)
    assert listed == row
    assert gaps(setup.ends_at + timedelta(hours=1, minutes=59)) == set()
    over = setup.ends_at + timedelta(hours=2, minutes=1)
    assert gaps(over) == {
        ("occurrence_without_list", setup.occurrence_id),
        ("occurrence_without_list", paper.occurrence_id),
    }
    # A longer grace time set for the installation (IA_EVENTS_SEAL_GRACE_HOURS) waits longer.
    assert gaps(over, grace=timedelta(hours=6)) == set()


def _sealed(inst: Installation, occurrence_ids: list[int]) -> list[tuple[object, ...]]:
    """Per occurrence: the seal's figures and the CSV rows without ids and times."""
    out = []
    with inst.db.read() as s:
        seals = {
            x.occurrence_id: x
            for x in s.scalars(
                select(sealing.ListSeal).where(sealing.ListSeal.occurrence_id.in_(occurrence_ids))
            )
        }
    for oid in occurrence_ids:
        seal = seals[oid]
        _, _, table = read_content(inst, SYSTEM, seal.csv_evidence_id)
        rows = [
            {k: v for k, v in r.items() if k not in ("termin_id", "versiegelt_am", "erfasst_am")}
            for r in _csv_rows(table)
        ]
        _, _, pdf = read_content(inst, SYSTEM, seal.evidence_id)
        text = _pdf_text(pdf)  # opens: a valid PDF
        assert "Teilnehmerliste – digital erfasst" in text and "Fassung 1" in text
        assert all(r["name"] in text for r in rows if "ا" not in r["name"])
        out.append((seal.version, seal.entries, seal.undone, seal.participants, rows))
    return out


def test_sealing_in_worker_processes_gives_the_same_lists_and_stays_idempotent(
    inst: Installation, caplog: pytest.LogCaptureFixture
) -> None:
    names = ("Amina Yilmaz", "فاطمة الزهراء", "Olena Petrenko", "Łucja Şahin")
    serial, pooled = [], []
    for target in (serial, pooled):
        for i in range(5):
            setup = make_setup(inst)
            for name in names[: 2 + i % 3]:
                qr_checkin(inst, setup, name)
            target.append(setup.occurrence_id)
    later = utcnow() + timedelta(hours=4)

    one = sealing.seal_due(inst, SYSTEM, now=later, only=serial, workers=1)
    # Two lists per batch: three batches, rendered by two processes.
    two = sealing.seal_due(inst, SYSTEM, now=later, only=pooled, workers=2, batch=2)

    assert one.sealed == two.sealed == 5 and not one.failed and not two.failed
    assert "sealing worker failed" not in caplog.text  # the processes did render
    assert sorted(r.occurrence_id for r in two.results) == sorted(pooled)
    assert _sealed(inst, serial) == _sealed(inst, pooled)
    with inst.db.read() as s:
        before = s.scalar(select(sealing.func.count()).select_from(sealing.ListSeal))
    again = sealing.seal_due(inst, SYSTEM, now=later, only=pooled, workers=2, batch=2)
    assert again.sealed == 0 and not again.failed  # nothing due any more
    with inst.db.read() as s:
        assert s.scalar(select(sealing.func.count()).select_from(sealing.ListSeal)) == before
