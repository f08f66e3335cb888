"""Faults of a real SeaweedFS cluster under the S3 archive: a volume server down, the S3
gateway gone in the middle of an upload, a ``kill -9`` of the uploading process.

Each test leaves the per-run cluster running as it found it (parts restarted in
``finally``)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ia_events.archive import fixity, journal
from ia_events.archive.evidence import add_evidence, read_content
from ia_events.core.errors import Conflict
from ia_events.core.installation import Installation
from ia_events.core.models import Blob, Evidence, UploadJournal
from storage.db import utcnow
from tests.conftest import ROOT
from tests.factories import build
from tests.integration.crash_support import kill_9_at
from tests.integration.test_s3_archive import _raw, _recorded, _versions

pytestmark = pytest.mark.s3

MiB = 1024 * 1024


def _pdf(size: int) -> bytes:
    return b"%PDF-1.4\n" + os.urandom(size)


def _add(inst: Installation, actor, content, name="scan.pdf"):  # type: ignore[no-untyped-def]
    return add_evidence(
        inst, actor, agency_slug="essen", funding_year=2025,
        kind="signed_list_scan", filename=name, content=content,
    )  # fmt: skip


def _open_entries(inst: Installation) -> int:
    with inst.db.read() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(UploadJournal)
                .where(UploadJournal.finished_at.is_(None))
            )
            or 0
        )


def _incomplete_uploads(inst: Installation) -> list[str]:
    ups = _raw(inst).list_multipart_uploads(Bucket=inst.blobs.bucket).get("Uploads", [])  # type: ignore[attr-defined]
    return [u["Key"] for u in ups or []]


def test_one_volume_server_down_reads_uploads_and_verify_still_work(s3_inst, seaweed) -> None:  # type: ignore[no-untyped-def]
    w = build(s3_inst)
    before = _pdf(10 * MiB)
    old = _add(s3_inst, w.fk_essen, before, "vorher.pdf")
    seaweed.stop("volume2")
    try:
        assert read_content(s3_inst, w.fk_essen, old.id)[2] == before
        during = _pdf(10 * MiB)
        new = _add(s3_inst, w.fk_essen, during, "waehrenddessen.pdf")
        assert read_content(s3_inst, w.fk_essen, new.id)[2] == during
        report = fixity.verify(s3_inst, w.admin)
        assert report.ok, [f.line() for f in report.findings]
        assert report.blobs_checked == 2
    finally:
        seaweed.start("volume2")


class _StallInUpload(io.BytesIO):
    """Reads normally, but once the upload pass is ``at`` bytes in, says so and waits."""

    def __init__(self, data: bytes, at: int) -> None:
        super().__init__(data)
        self.total = 0
        self.limit = len(data) + at  # the hashing pass reads it all once before
        self.reached = threading.Event()
        self.go_on = threading.Event()

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        block = super().read(n)
        self.total += len(block)
        if self.total >= self.limit and not self.reached.is_set():
            self.reached.set()
            self.go_on.wait(60)
        return block


def test_gateway_gone_during_an_upload_gives_a_german_message_and_the_retry_works(
    s3_inst, seaweed
) -> None:  # type: ignore[no-untyped-def]
    w = build(s3_inst)
    data = _pdf(20 * MiB)
    source = _StallInUpload(data, at=10 * MiB)  # the first 8 MiB part is already up
    outcome: list[BaseException | object] = []

    def upload() -> None:
        try:
            outcome.append(_add(s3_inst, w.fk_essen, source))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=upload)
    worker.start()
    try:
        assert source.reached.wait(60)
        seaweed.stop("s3")
        source.go_on.set()
        worker.join(120)
        assert not worker.is_alive()
        [error] = outcome
        assert isinstance(error, Conflict) and error.code == "archive_unavailable"
        assert "nicht erreichbar" in error.message()
        assert "nichts gespeichert" in error.message()
        with s3_inst.db.read() as s:  # nothing half-recorded
            assert s.scalar(select(func.count()).select_from(Evidence)) == 0
            assert s.scalar(select(func.count()).select_from(Blob)) == 0
    finally:
        source.go_on.set()
        if not seaweed.running("s3"):
            seaweed.start("s3")

    again = _add(s3_inst, w.fk_essen, data)
    assert read_content(s3_inst, w.fk_essen, again.id)[2] == data
    report = fixity.verify(s3_inst, w.admin)  # also clears the failed upload's leftovers
    assert report.ok, [f.line() for f in report.findings]
    assert set(_versions(s3_inst)) == _recorded(s3_inst)
    assert _incomplete_uploads(s3_inst) == []
    assert _open_entries(s3_inst) == 0


CHILD = textwrap.dedent(
    """
    import io, os, sys, time
    from pathlib import Path
    from ia_events.core.installation import Installation, Settings
    from ia_events.core.access import Actor
    from ia_events.core.models import Role
    from ia_events.archive.evidence import add_evidence

    data, url, archive, mode, marker = sys.argv[1:6]
    inst = Installation.open(Settings(data_dir=Path(data), database_url=url, archive_url=archive))
    actor = Actor("fk-essen", Role.specialist, agency_id=1)
    payload = b"%PDF-1.4\\n" + os.urandom(20 * 1024 * 1024)

    content = payload
    if mode == "multipart":
        # Die after the first part is in the bucket, more to come (the content check and
        # the hashing read the file before; counting reads would depend on how often).
        real_part = inst.blobs.client.upload_part
        def upload_part(**kwargs):
            answer = real_part(**kwargs)
            Path(marker).write_text("multipart")
            time.sleep(60)
            return answer
        inst.blobs.client.upload_part = upload_part
    else:
        real = inst.blobs.publish
        def publish(pendings, heartbeat=None):
            versions = real(pendings, heartbeat)   # the object is complete in the bucket ...
            Path(marker).write_text("uploaded")
            time.sleep(60)                         # ... and we die before its record exists
            return versions
        inst.blobs.publish = publish
    add_evidence(inst, actor, agency_slug="essen", funding_year=2025,
                 kind="signed_list_scan", filename="scan.pdf", content=content)
    print("DONE")
    """
)


@pytest.mark.parametrize("mode", ["multipart", "uploaded"])
def test_kill_9_during_an_upload_then_recovery_leaves_no_orphan(
    s3_inst: Installation, tmp_path: Path, mode: str
) -> None:
    w = build(s3_inst)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [
            sys.executable, str(script), str(s3_inst.settings.data_dir),
            s3_inst.settings.database_url, str(s3_inst.settings.archive_url), mode, str(marker),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    kill_9_at(proc, marker, mode, timeout=90)
    assert _open_entries(s3_inst) == 1  # the journal knew
    if mode == "multipart":
        assert _incomplete_uploads(s3_inst)
    else:
        assert len(_versions(s3_inst)) == 1 and _recorded(s3_inst) == set()

    # Another host recovering now must not take it: the lease says it may still run.
    fixity.recover_uploads(s3_inst)
    assert _open_entries(s3_inst) == 1

    # Once the lease has run out, any host's recovery clears it.
    later = utcnow() + journal.lease() + timedelta(seconds=1)
    fixity.recover_uploads(s3_inst, now=later)
    assert _open_entries(s3_inst) == 0
    assert _versions(s3_inst) == []
    assert _incomplete_uploads(s3_inst) == []
    with s3_inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
    report = fixity.verify(s3_inst, w.admin)
    assert report.ok, [f.line() for f in report.findings]

    # The same file afterwards: recorded with its object, nothing else in the bucket.
    item = _add(s3_inst, w.fk_essen, _pdf(1000))
    assert set(_versions(s3_inst)) == _recorded(s3_inst)
    assert read_content(s3_inst, w.fk_essen, item.id)[2].startswith(b"%PDF")


@pytest.mark.postgres
def test_two_app_servers_with_their_own_data_folders_share_one_bucket(
    pg_s3_inst: Installation, tmp_path: Path
) -> None:
    """Two hosts (own data dirs, same keys, one PostgreSQL, one bucket) upload the same
    files at the same moment: one object per content, nothing orphaned, nothing lost."""
    import dataclasses
    import shutil

    s3_inst = pg_s3_inst
    w = build(s3_inst)
    other_dir = tmp_path / "host-b"
    other_dir.mkdir()
    shutil.copytree(s3_inst.settings.keys_dir, other_dir / "keys")
    host_b = Installation.open(dataclasses.replace(s3_inst.settings, data_dir=other_dir))
    try:
        contents = [_pdf(3 * MiB + i) for i in range(4)]
        errors: list[BaseException] = []
        views: list[object] = []
        barrier = threading.Barrier(2)

        def host(inst: Installation, tag: str) -> None:
            try:
                for i, data in enumerate(contents):
                    barrier.wait(30)
                    views.append(_add(inst, w.fk_essen, data, f"{tag}-{i}.pdf"))
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=host, args=(s3_inst, "a")),
            threading.Thread(target=host, args=(host_b, "b")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert errors == []
        assert len(views) == 8
        with s3_inst.db.read() as s:
            assert s.scalar(select(func.count()).select_from(Blob)) == 4
            ids = list(s.scalars(select(Evidence.id)))
        assert len(ids) == 8
        fixity.recover_uploads(s3_inst)  # nothing crashed: changes nothing
        assert set(_versions(s3_inst)) == _recorded(s3_inst)
        assert _open_entries(s3_inst) == 0
        for eid in ids:
            a = read_content(s3_inst, w.fk_essen, eid)[2]
            assert a == read_content(host_b, w.fk_essen, eid)[2]
        for inst in (s3_inst, host_b):
            report = fixity.verify(inst, w.admin)
            assert report.ok, [f.line() for f in report.findings]
    finally:
        host_b.close()


def test_verify_with_the_gateway_down_reports_the_store_not_a_crash(s3_inst, seaweed) -> None:  # type: ignore[no-untyped-def]
    w = build(s3_inst)
    item = _add(s3_inst, w.fk_essen, _pdf(1000))
    seaweed.stop("s3")
    try:
        report = fixity.verify(s3_inst, w.admin)
        assert [f.kind for f in report.findings] == ["archive_unavailable"]
        with pytest.raises(Conflict) as refused:
            read_content(s3_inst, w.fk_essen, item.id)
        assert refused.value.code == "archive_unavailable"
    finally:
        seaweed.start("s3")
    assert fixity.verify(s3_inst, w.admin).ok


def test_bundle_export_with_the_gateway_down_says_so_and_leaves_no_file(
    s3_inst, seaweed, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The coordinator in the inspection meeting gets a German sentence, not "unexpected
    error", and no half-written bundle is left where the download would look for it."""
    from ia_events.core.errors import classify
    from ia_events.inspection.bundle import export_bundle

    w = build(s3_inst)
    _add(s3_inst, w.fk_essen, _pdf(1000))
    folder = tmp_path / "downloads"
    folder.mkdir()
    out = folder / "pruefpaket.zip"
    seaweed.stop("s3")
    try:
        with pytest.raises(Exception) as failed:
            export_bundle(s3_inst, w.coordinator, "essen", 2025, out)
    finally:
        seaweed.start("s3")
    failure = classify(failed.value)
    assert failure.code == "archive_unavailable" and failure.exit_code == 1
    assert "ist gerade nicht erreichbar; es wurde nichts gespeichert" in failure.message
    assert "s3://" in failure.message
    assert list(folder.iterdir()) == []
    export_bundle(s3_inst, w.coordinator, "essen", 2025, out)  # the retry works
    assert out.stat().st_size > 0
