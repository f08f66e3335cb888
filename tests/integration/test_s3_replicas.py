"""Several hosts (issue 22, point 4): two app servers with their own data folders (the
same keys, copied), one PostgreSQL database and one SeaweedFS bucket.

The hosts are real processes: a ``streamlit run`` server and ``ia-events`` commands
per host, each with its own ``IA_EVENTS_DATA`` (tests/replicas_support.py, which
``scripts/replicas.py`` runs at a larger size). What an inspector would count after
check-ins and uploads through both hosts at once, ``verify`` on both and a killed
upload: every check-in stored once, every file recorded once, one object per content,
the bucket holding exactly what the records name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from ia_events.archive import retention
from ia_events.archive.evidence import add_evidence
from ia_events.core.installation import Installation
from ia_events.core.models import Blob, DeletionRecord, Evidence
from tests import replicas_support as rs
from tests.factories import build
from tests.seaweed import free_port

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    eng = create_engine(pg_server_url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    return pg_server_url


def test_two_hosts_check_ins_uploads_verify_and_a_crash_nothing_lost_or_doubled(
    s3_env, pg_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bucket = f"ia-test-{uuid.uuid4().hex[:12]}"
    inst, hosts, occ_ids, token = rs.setup_hosts(
        tmp_path, pg_url, s3_env.archive_url(bucket), s3_env.env()
    )
    a, b = hosts
    assert sorted(p.name for p in b.data.iterdir()) == ["keys"]  # nothing else shared
    year = date.today().year
    own_a = rs.make_pdfs(tmp_path / "files", "a", 3, 300_000)
    own_b = rs.make_pdfs(tmp_path / "files", "b", 3, 300_000)
    both = rs.make_pdfs(tmp_path / "files", "both", 2, 300_000)
    phones = 16
    try:
        for host in hosts:
            host.start_server(free_port())
        servers = [h.server for h in hosts if h.server is not None]
        for host in hosts:
            rs.wait_http(f"{host.base}/healthz", servers)

        # Both hosts at once: uploads (the shared files on both) and the check-in crowd.
        uploads = [rs.upload(a, own_a + both, year), rs.upload(b, both + own_b, year)]
        answers = asyncio.run(rs.checkin_crowd([a.base, b.base], token, phones))
        assert rs.wait_all(uploads) == [0, 0], [h.logs[-1].read_text() for h in hosts]
        assert [state for _, state in answers] == ["ok"] * phones
        assert {server for server, _ in answers} == {0, 1}

        codes = rs.wait_all([h.cli("verify") for h in hosts])
        assert codes == [0, 0], [h.logs[-1].read_text() for h in hosts]
        assert "0 Fehler" in a.logs[-1].read_text()

        c = rs.counts(inst, occ_ids[0])
        assert c.attendances == phones
        # One row per uploaded file: the shared files twice (once per host), the rest once.
        assert c.per_filename == {p.name: 2 if p in both else 1 for p in own_a + own_b + both}
        assert c.blobs == 3 + 3 + 2  # the same content from both hosts: one object
        assert not c.orphans and not c.missing
        assert c.open_journal == 0 and c.incomplete_uploads == 0

        # A crash on host A during the transfer; host B's verify recovers it once the
        # killed upload's lease (2 s) has run out.
        crash = rs.make_pdfs(tmp_path / "files", "crash", 4, 6 * 1024 * 1024)
        killed = rs.kill_upload_midway(a, crash, year, inst)
        assert killed, "the upload finished before it could be killed"
        time.sleep(2.5)
        assert rs.wait_all([b.cli("verify")]) == [0], b.logs[-1].read_text()
        after = rs.counts(inst, occ_ids[0])
        assert after.open_journal == 0 and after.incomplete_uploads == 0
        assert not after.orphans and not after.missing
        assert after.evidence == c.evidence and after.blobs == c.blobs
        assert rs.rows_named(inst, "crash-") == 0

        # The same files again from host B: recorded now (nothing left in the way).
        assert rs.wait_all([rs.upload(b, crash, year)]) == [0], b.logs[-1].read_text()
        final = rs.counts(inst, occ_ids[0])
        assert final.blobs == c.blobs + 4 and not final.orphans and not final.missing
    finally:
        for host in hosts:
            host.stop_server()
        inst.close()


def test_retention_runs_on_two_hosts_at_once_delete_each_item_once(
    pg_s3_inst: Installation, tmp_path: Path
) -> None:
    """Two hosts start the retention run at the same moment: every due item gets one
    deletion record, and a blob whose last two items the two runs delete is shredded."""
    inst = pg_s3_inst
    w = build(inst, year=2013)
    shared_pdf = b"%PDF-1.4\n" + b"x" * 1000
    items = [
        add_evidence(
            inst,
            w.fk_essen,
            agency_slug="essen",
            funding_year=2013,
            kind="press_clipping",
            filename=f"alt-{i}.pdf",
            content=b"%PDF-1.4\n" + bytes([i]) * 1000,
        )
        for i in range(12)
    ]
    twins = [
        add_evidence(
            inst,
            w.fk_essen,
            agency_slug="essen",
            funding_year=2013,
            kind="press_clipping",
            filename=f"zwilling-{i}.pdf",
            content=shared_pdf,
        )
        for i in range(2)
    ]
    other = tmp_path / "host-b"
    other.mkdir()
    shutil.copytree(inst.settings.keys_dir, other / "keys")
    host_b = Installation.open(dataclasses.replace(inst.settings, data_dir=other))
    barrier = threading.Barrier(2)
    results: list[retention.RunResult] = []
    errors: list[BaseException] = []

    def run(host: Installation) -> None:
        try:
            barrier.wait(30)
            results.append(retention.run_deletions(host, w.admin, date(2025, 1, 1)))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(inst,)),
        threading.Thread(target=run, args=(host_b,)),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        host_b.close()
    assert errors == []
    with inst.db.read() as s:
        per_item = dict(
            s.execute(
                select(DeletionRecord.evidence_id, func.count()).group_by(
                    DeletionRecord.evidence_id
                )
            ).all()
        )
        twin_blob = s.get(Blob, s.get(Evidence, twins[0].id).blob_id)
    assert per_item == {e.id: 1 for e in (*items, *twins)}
    deleted = [c.evidence_id for r in results for c in r.deleted]
    assert sorted(deleted) == sorted(e.id for e in (*items, *twins))
    assert twin_blob is not None and twin_blob.shredded_at is not None
