"""``storage.prepared`` (the check-in hot path's statements, run on the driver's cursor)
writes and reads exactly what SQLAlchemy Core would, on SQLite and on PostgreSQL.

If it did not, a check-in would store a time another query cannot compare, or an audit
event whose details hash differently -- things an inspector notices years later.

``path`` runs the tests once with the prepared path and once with its switch off
(``IA_EVENTS_PREPARED=0``: the same statements through SQLAlchemy Core)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, exc, insert, select, text

from ia_events.attendance import checkin
from ia_events.core import audit
from ia_events.core.installation import Installation
from ia_events.core.models import Attendance, AuditEvent, Scan
from storage import prepared
from tests.factories import make_occurrence

WHEN = datetime(2026, 3, 8, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["prepared", "core"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which way ``prepared.run`` goes: the driver's cursor, or SQLAlchemy Core."""
    monkeypatch.setattr(prepared, "ENABLED", request.param == "prepared")
    return request.param


def _raw(conn, table: str, row_id: int) -> tuple:  # type: ignore[no-untyped-def]
    """The stored row as the driver gives it back (no SQLAlchemy type processing)."""
    row = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE id = {int(row_id)}").one()
    return tuple(row)[1:]  # without the id


def test_rows_written_through_prepared_are_the_rows_core_writes(
    inst: Installation, path: str
) -> None:
    made = make_occurrence(inst, photographed=True)
    with inst.db.write() as s:
        conn = s.connection()
        slot = checkin._slot(s, made.occurrence_id, lock=True)
        assert slot is not None and slot.id == made.occurrence_id
        att = {
            "occurrence_id": slot.id,
            "agency_id": slot.agency_id,
            "funding_year": slot.funding_year,
            "method": "self_qr",
            "recorded_at": WHEN,
            "count": 1,
            "name_enc": b"\x00\x01sealed\xff",
            "name_index": "ab" * 32,
            "card_id": None,
            "age_band": None,
            "photo_consent": True,
            "recorded_by": None,
        }
        ((a_prep, seq, head),) = prepared.run(conn, checkin._ADD_ATTENDANCE, att)
        a_core = conn.execute(checkin._ADD_ATTENDANCE, att).one()[0]
        assert _raw(conn, "attendance", a_prep) == _raw(conn, "attendance", a_core)
        assert (seq, head) == tuple(conn.execute(select(audit.HEAD_SEQ, audit.HEAD_HASH)).one())

        scan = checkin._scan_row(
            occ_id=slot.id, agency_id=slot.agency_id, purpose="participant", method="self_qr",
            reason="ok", nonce="n-prepared", now=WHEN, scanned_at=WHEN, attendance_id=a_prep,
        )  # fmt: skip
        ((s_prep,),) = prepared.run(conn, checkin._ADD_SCAN, scan)
        s_core = conn.execute(checkin._ADD_SCAN, {**scan, "nonce": "n-core"}).scalar_one()
        p, c = _raw(conn, "scans", s_prep), _raw(conn, "scans", s_core)
        assert p[:4] == c[:4] and p[5:] == c[5:]  # all but the nonce
        assert p[4] == "n-prepared"

        event = audit._link(
            None, "participant", audit.Action.attendance_add, "attendance", a_prep, slot.agency_id,
            WHEN, {"occurrence": slot.id, "umlaut": "Nähcafé", "list": [1, "zwei"]},
        )  # fmt: skip
        prepared.run(conn, audit._ADD, {**event, "seq": 10_001})
        conn.execute(audit._ADD, {**event, "seq": 10_002})
        ids = conn.scalars(select(AuditEvent.id).where(AuditEvent.seq > 10_000)).all()
        p, c = _raw(conn, "audit_events", ids[0]), _raw(conn, "audit_events", ids[1])
        assert p[1:] == c[1:] and (p[0], c[0]) == (10_001, 10_002)

        # Read back through Core: the same values, types and time zone.
        core_slot = conn.execute(checkin._SLOT_LOCKED, {"occ_id": slot.id}).one()
        assert tuple(core_slot) == tuple(getattr(slot, f) for f in checkin.Slot.__slots__)
        assert slot.starts_at.tzinfo is not None
        s.rollback()


def test_a_check_in_is_found_by_time_queries_and_verifies(inst: Installation, path: str) -> None:
    """The stored times compare with Core's parameters (SQLite compares them as text)."""
    made = make_occurrence(inst)
    with inst.db.write() as s:
        answer = checkin.submit(
            s, inst.keys, made.token, checkin.new_nonce(inst.keys, made.token), name="Ada Prepared"
        )
    assert answer.ok
    with inst.db.read() as s:
        att = s.get(Attendance, answer.attendance_id)
        assert att is not None and att.recorded_at.tzinfo is not None
        found = s.scalars(
            select(Scan.id).where(
                Scan.received_at >= att.recorded_at, Scan.received_at <= att.recorded_at
            )
        ).all()
        assert answer.scan_id in found
        assert audit.check_chain(s) == []


def test_driver_errors_come_out_as_sqlalchemys_and_change_nothing(
    inst: Installation, path: str
) -> None:
    made = make_occurrence(inst)
    nonce = checkin.new_nonce(inst.keys, made.token)
    row = checkin._scan_row(
        occ_id=made.occurrence_id, agency_id=None, purpose="participant", method="self_qr",
        reason="invalid", nonce=nonce, now=WHEN,
    )  # fmt: skip
    with inst.db.write() as s:
        prepared.run(s.connection(), checkin._ADD_SCAN, row)
    with pytest.raises(exc.IntegrityError), inst.db.write() as s:
        prepared.run(s.connection(), checkin._ADD_SCAN, row)  # the nonce is unique
    with inst.db.read() as s:
        assert s.scalar(select(Scan.id).where(Scan.nonce == nonce)) is not None
        assert len(s.scalars(select(Scan.id)).all()) == 1
    with pytest.raises(exc.DBAPIError), inst.db.write() as s:
        prepared.run(s.connection(), text("SELECT * FROM no_such_table"), {})


def test_statements_it_cannot_run_faithfully_are_refused_when_prepared(
    inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "ENABLED", True)
    in_list = select(Scan.id).where(Scan.id.in_(bindparam("ids", expanding=True)))
    with inst.db.read() as s, pytest.raises(ValueError, match="expanding"):
        prepared.run(s.connection(), in_list, {"ids": [1]})
    # An INSERT that leaves out a column with a Python-side default (received_at: utcnow).
    partial = insert(Scan.__table__)
    with inst.db.read() as s, pytest.raises(ValueError, match="default"):
        prepared.run(s.connection(), partial, {"purpose": "participant"})


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("1", True), ("0", False)])
def test_ia_events_prepared_switches_the_path(value: str | None, enabled: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IA_EVENTS_PREPARED"}
    if value is not None:
        env["IA_EVENTS_PREPARED"] = value
    out = subprocess.run(
        [sys.executable, "-c", "from storage import prepared; print(prepared.ENABLED)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == str(enabled)
