"""A real ``kill -9`` at every step of a batch upload (``evidence.add_many``): staging, the
renames after the journal commit, the folder sync, the record transaction. Afterwards
the batch before stays complete, the killed batch leaves no record and -- once
``verify`` has cleared the journal -- no file."""

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
    import io, os, sys, time
    from pathlib import Path
    from ia_events.core import audit
    from ia_events.core.installation import Installation, Settings
    from ia_events.core.access import Actor
    from ia_events.core.models import Role
    from ia_events.archive.evidence import add_many

    data, url, mode, marker = sys.argv[1:5]
    inst = Installation.open(Settings(data_dir=Path(data), database_url=url))
    actor = Actor("fk-essen", Role.specialist, agency_id=1)

    def pdf(i):
        return b"%PDF-1.4\\n" + os.urandom(1024 * 1024 + i)

    def stall(text):
        Path(marker).write_text(text)
        time.sleep(60)

    def upload(files):
        add_many(inst, actor, files, kind="signed_list_scan", agency_slug="essen",
                 funding_year=2025)

    upload([("vorher-1.pdf", pdf(1)), ("vorher-2.pdf", pdf(2))])  # complete before the kill

    class Slow(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= 512 * 1024:  # inside staging: temp files exist, no journal
                stall("staging")
            return super().read(n)

    files = [(f"scan-{i}.pdf", pdf(10 + i)) for i in range(4)]
    if mode == "staging":
        files[2] = ("scan-2.pdf", Slow(pdf(12)))
    elif mode == "placing":
        real_place, placed = inst.blobs.place, []
        def place(pending):
            path = real_place(pending)
            placed.append(path)
            if len(placed) == 2:         # two blobs in place, two still in tmp/
                stall("placing")
            return path
        inst.blobs.place = place
    elif mode == "synced":
        real_sync = inst.blobs.sync_folders
        def sync_folders(paths):
            real_sync(paths)             # every blob durable and in place, no record yet
            stall("synced")
        inst.blobs.sync_folders = sync_folders
    elif mode == "recording":
        real_append, appended = audit.append, []
        def append(*args, **kwargs):
            appended.append(1)
            if len(appended) == 3:       # inside the record transaction, uncommitted
                stall("recording")
            return real_append(*args, **kwargs)
        audit.append = append
    upload(files)
    print("DONE")
    """
)

MODES = ["staging", "placing", "synced", "recording"]


def _spawn(inst: Installation, tmp_path: Path, mode: str) -> tuple[subprocess.Popen, Path]:  # type: ignore[type-arg]
    marker = tmp_path / f"marker-{mode}"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(inst.settings.data_dir),
         inst.settings.database_url, mode, str(marker)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    return proc, marker


def _open_journal(inst: Installation) -> list[str]:
    with inst.db.read() as s:
        return list(
            s.scalars(
                select(UploadJournal.blob_name).where(UploadJournal.finished_at.is_(None))
            ).all()
        )


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_in_a_batch_upload_keeps_the_batch_before_and_nothing_of_this_one(
    inst: Installation, cli_actor: Actor, tmp_path: Path, mode: str
) -> None:
    build(inst)
    proc, marker = _spawn(inst, tmp_path, mode)
    kill_9_at(proc, marker, mode)

    on_disk = set(inst.blobs.names_on_disk())
    with inst.db.read() as s:
        recorded = set(s.scalars(select(Blob.name)).all())
        assert s.scalar(select(func.count()).select_from(Evidence)) == 2
    journal = _open_journal(inst)
    if mode == "staging":
        assert journal == [] and on_disk == recorded  # only temp files so far
        assert list((inst.settings.archive_dir / "tmp").iterdir())
    else:
        assert len(journal) == 4  # the journal knows every blob that may be in place
        assert on_disk - recorded <= set(journal)
        assert len(on_disk - recorded) == (2 if mode == "placing" else 4)

    report = fixity.verify(inst, cli_actor)
    assert report.ok, [f.line() for f in report.findings]
    assert _open_journal(inst) == []
    assert set(inst.blobs.names_on_disk()) == recorded and len(recorded) == 2
    assert list((inst.settings.archive_dir / "tmp").iterdir()) == []
