"""A real ``kill -9`` in the middle of an upload, and a full disk: never a record without
its file, never a file without its record, ``verify`` passes afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ia_events.archive import fixity
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Blob, Evidence, UploadJournal
from tests.conftest import ROOT
from tests.factories import build
from tests.integration.crash_support import kill_9_at

CHILD = textwrap.dedent(
    """
    import io, os, resource, signal, sys, time
    from pathlib import Path
    from ia_events.core.installation import Installation, Settings
    from ia_events.core.access import Actor
    from ia_events.core.models import Role
    from ia_events.archive.evidence import add_evidence
    from ia_events.core.errors import DomainError

    data, url, mode, marker = sys.argv[1:5]
    inst = Installation.open(Settings(data_dir=Path(data), database_url=url))
    actor = Actor("fk-essen", Role.specialist, agency_id=1)
    payload = b"%PDF-1.4\\n" + os.urandom(3 * 1024 * 1024)

    class Slow(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= 2 * 1024 * 1024:  # well inside staging: the temp file exists
                Path(marker).write_text("staging")
                time.sleep(0.05)
            return super().read(n)

    if mode == "after_journal":
        real_commit = inst.blobs.commit
        def commit(pending):
            path = real_commit(pending)          # the blob is durable and in place ...
            Path(marker).write_text("committed")
            time.sleep(60)                       # ... and we die before its record exists
            return path
        inst.blobs.commit = commit
        content = payload
    elif mode == "disk_full":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
        content = payload
    else:
        content = Slow(payload)
    try:
        add_evidence(inst, actor, agency_slug="essen", funding_year=2025,
                     kind="signed_list_scan", filename="scan.pdf", content=content)
    except DomainError as exc:
        print("CODE", exc.code, exc.message())
        sys.exit(3)
    print("DONE")
    """
)


def _spawn(inst: Installation, tmp_path: Path, mode: str) -> tuple[subprocess.Popen, Path]:  # type: ignore[type-arg]
    marker = tmp_path / f"marker-{mode}"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(inst.settings.data_dir),
            inst.settings.database_url,
            mode,
            str(marker),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return proc, marker


def _assert_consistent(inst: Installation, cli_actor: Actor) -> None:
    report = fixity.verify(inst, cli_actor)
    assert report.ok, [f.line() for f in report.findings]
    with inst.db.read() as s:
        names = set(s.scalars(select(Blob.name)).all())
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
        assert (
            s.scalar(
                select(func.count())
                .select_from(UploadJournal)
                .where(UploadJournal.finished_at.is_(None))
            )
            == 0
        )
    assert set(inst.blobs.names_on_disk()) == names == set()
    assert list((inst.settings.archive_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize("mode", ["staging", "after_journal"])
def test_kill_9_during_upload_leaves_nothing_half_done(
    sqlite_inst: Installation, cli_actor: Actor, tmp_path: Path, mode: str
) -> None:
    build(sqlite_inst)
    proc, marker = _spawn(sqlite_inst, tmp_path, mode)
    kill_9_at(proc, marker, "staging" if mode == "staging" else "committed", timeout=30)
    if mode == "after_journal":
        with sqlite_inst.db.read() as s:
            open_entries = s.scalars(
                select(UploadJournal).where(UploadJournal.finished_at.is_(None))
            ).all()
        assert len(open_entries) == 1  # the journal knew, so the orphan can be cleared
        assert list(sqlite_inst.blobs.names_on_disk()) == [open_entries[0].blob_name]
    else:
        assert list((sqlite_inst.settings.archive_dir / "tmp").iterdir())  # a half temp file
    _assert_consistent(sqlite_inst, cli_actor)


def test_full_disk_gives_storage_full_and_no_record(
    sqlite_inst: Installation, cli_actor: Actor, tmp_path: Path
) -> None:
    build(sqlite_inst)
    proc, _marker = _spawn(sqlite_inst, tmp_path, "disk_full")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err.decode()[-2000:]
    assert out.decode().startswith("CODE storage_full Im Archiv ist kein Platz mehr.")
    _assert_consistent(sqlite_inst, cli_actor)


def test_verify_while_an_upload_is_in_flight_never_takes_its_file(
    sqlite_inst: Installation, cli_actor: Actor
) -> None:
    """The cron job's ``verify`` in another thread, right when an upload's blob is in place
    and its rows are about to be written; it may wait for the upload, never undo it."""
    import threading

    from ia_events.archive.evidence import add_evidence
    from ia_events.core.models import Role

    build(sqlite_inst)
    real_commit = sqlite_inst.blobs.commit
    cron: list[threading.Thread] = []

    def commit(pending):  # type: ignore[no-untyped-def]
        path = real_commit(pending)
        job = threading.Thread(target=fixity.verify, args=(sqlite_inst, cli_actor))
        job.start()
        job.join(timeout=2)  # finishes now, or waits for the upload (a lock): both fine
        cron.append(job)
        return path

    sqlite_inst.blobs.commit = commit  # type: ignore[method-assign]
    actor = Actor("fk-essen", Role.specialist, agency_id=1)
    view = add_evidence(sqlite_inst, actor, agency_slug="essen", funding_year=2025,
                        kind="signed_list_scan", filename="scan.pdf",
                        content=b"%PDF-1.4\n" + os.urandom(64 * 1024))  # fmt: skip
    for job in cron:
        job.join(timeout=30)
    report = fixity.verify(sqlite_inst, cli_actor)
    assert report.ok, [f.line() for f in report.findings]  # not "Blob …: Datei fehlt"
    with sqlite_inst.db.read() as s:
        name = s.scalar(
            select(Blob.name)
            .join(Evidence, Evidence.blob_id == Blob.id)
            .where(Evidence.id == view.id)
        )
    assert name and sqlite_inst.blobs.exists(name)
