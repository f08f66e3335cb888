"""A full disk during a bundle export and during a retention run (the upload's full
disk is in test_crash_safety.py).

The faults are real: a small tmpfs is mounted where the bytes go (the export target,
``data/exports``, ``data/checkpoints``, the SQLite database), so the kernel answers
``ENOSPC``; on PostgreSQL the database server answers with its own ``disk_full``
error (SQLSTATE 53100, raised by a trigger at a chosen statement). One fault is
injected: ``fsync`` of the bundle's temp file failing with ``ENOSPC`` (delayed
allocation: the writes were accepted, the flush to disk is not).

Each time: a clear German message (CLI: on stderr, exit 1, no traceback); no ZIP and no
temp file at the target or in ``data/exports``; no export without its audit event; no
half-done deletion -- each item is either deleted (tombstone, wrapped key destroyed,
file removed, one deletion record, one audit event) or untouched and still readable;
``verify`` passes once there is space again, and the same command then succeeds.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from ia_events.core.errors import is_disk_full
from ia_events.core.installation import Installation, Settings, initialise
from ia_events.core.messages import text
from ia_events.core.models import AuditEvent, Blob, DeletionRecord, Evidence
from ia_events.inspection import bundle
from tests.integration.test_faults import OP, _consistent, _old_evidence, run_cli

BIN = Path(sys.executable).with_name("ia-events")
FULL = f"Fehler: {text('disk_full')}"


# -- a small disk ---------------------------------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Callable[..., Path]]:
    """``mount(dir, size)`` puts a tmpfs of ``size`` on ``dir`` (what was in it is
    copied onto the tmpfs); everything is unmounted at the end."""
    mounted: list[Path] = []

    def mount(where: Path, size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a small tmpfs for a real full disk needs root (mount)")
        where.mkdir(parents=True, exist_ok=True)
        saved = where.parent / f".{where.name}.before-mount"
        shutil.copytree(where, saved)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs: {done.stderr.strip()}")
        mounted.append(where)
        shutil.copytree(saved, where, dirs_exist_ok=True)
        shutil.rmtree(saved)
        return where

    yield mount
    for where in reversed(mounted):
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write zeros until the kernel says ENOSPC; returns the file to delete for space."""
    filler = disk / "filler"
    with open(filler, "ab", buffering=0) as fh:
        for block in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    fh.write(b"\0" * block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def ia(inst: Installation, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``ia-events`` command on ``inst``."""
    env = {
        **os.environ,
        "IA_EVENTS_DATA": str(inst.settings.data_dir),
        "IA_EVENTS_DATABASE_URL": inst.settings.database_url,
    }
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=120)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _exports_audited(inst: Installation) -> int:
    with inst.db.read() as s:
        return s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "bundle:export")
        )


def _failed_cleanly(code: int, out: str, err: str) -> None:
    assert code == 1, out + err
    assert FULL in err, err
    assert "Traceback" not in out + err


# -- bundle export --------------------------------------------------------------------------


def test_export_bundle_to_a_full_disk_says_so_and_leaves_nothing(
    inst: Installation, tmp_path: Path, small_disk: Callable[..., Path]
) -> None:
    _old_evidence(inst)  # 4 x 64 KiB: the bundle does not fit into 128 KiB
    usb = small_disk(tmp_path / "usb", "128k")
    proc = ia(inst, "export-bundle", "--agency", "essen", "--year", "2010",
              "--out", str(usb / "Pruefpaket.zip"))  # fmt: skip
    _failed_cleanly(proc.returncode, proc.stdout, proc.stderr)
    assert _files(usb) == []  # neither the ZIP nor its temp file
    assert _exports_audited(inst) == 0
    _consistent(inst)
    # with space, the same export works and the bundle is intact
    out = tmp_path / "ok" / "Pruefpaket.zip"
    proc = ia(inst, "export-bundle", "--agency", "essen", "--year", "2010", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert ia(inst, "verify-bundle", str(out)).returncode == 0
    assert _exports_audited(inst) == 1


def test_export_bundle_when_the_flush_to_disk_fails(
    inst: Installation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _old_evidence(inst)
    target = tmp_path / "target"
    target.mkdir()
    real_fsync = os.fsync
    refused: list[str] = []

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if Path(path).parent == target:  # the bundle's temp file, not the folder
            refused.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code = run_cli(inst, ["export-bundle", "--agency", "essen", "--year", "2010",
                          "--out", str(target / "Pruefpaket.zip")])  # fmt: skip
    out = capsys.readouterr()
    _failed_cleanly(code, out.out, out.err)
    assert refused, "the fault was never hit"
    assert _files(target) == []
    assert _exports_audited(inst) == 0
    monkeypatch.undo()
    _consistent(inst)


@pytest.mark.parametrize("full", ["exports", "exports+checkpoints"])
def test_a_full_data_disk_during_the_apps_export_leaves_nothing_behind(
    inst: Installation, small_disk: Callable[..., Path], full: str
) -> None:
    """``export_for_download`` (the Prüfung page) writes a signed checkpoint into
    ``data/checkpoints`` and the ZIP into ``data/exports``; either may hit the full disk."""
    _old_evidence(inst)
    data = inst.settings.data_dir
    disks = [small_disk(data / "exports", "2m")]
    if "checkpoints" in full:
        disks.append(small_disk(data / "checkpoints", "1m"))
    fillers = [fill(d) for d in disks]
    with pytest.raises(Exception) as failed:
        bundle.export_for_download(inst, OP, "essen", 2010)
    assert is_disk_full(failed.value), repr(failed.value)
    assert _files(data / "exports") == ["filler"]  # no ZIP, no temp file, nothing to download
    left = [n for n in _files(data / "checkpoints") if n != "filler"]
    assert all(n.startswith("checkpoint-") and n.endswith(".json") for n in left), left
    assert _exports_audited(inst) == 0
    for filler in fillers:
        filler.unlink()
    _consistent(inst)  # a truncated checkpoint would fail here ("Signatur ungültig")
    result = bundle.export_for_download(inst, OP, "essen", 2010)
    assert result.path.is_file() and result.path.parent.parent == data / "exports"
    assert _exports_audited(inst) == 1


def test_the_inspection_page_says_the_disk_is_full(  # type: ignore[no-untyped-def]
    app, app_env: Installation, small_disk: Callable[..., Path]
) -> None:
    from tests.support import login

    exports = small_disk(app_env.settings.data_dir / "exports", "16k")
    at = login(app, "koordination")
    at.switch_page("pages/inspection.py").run()
    at.selectbox(key="insp_agency").set_value("kleve").run()
    next(b for b in at.button if b.label == "Prüfpaket erstellen").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [text("disk_full")]
    assert "insp_result" not in at.session_state
    assert _files(exports) == []


# -- the database's disk is full ------------------------------------------------------------

PG_DISK_FULL = """
CREATE OR REPLACE FUNCTION ia_test_disk_full() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'could not extend file "base/16384/2619": No space left on device'
    USING ERRCODE = 'disk_full', HINT = 'Check free disk space.';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER ia_test_disk_full BEFORE INSERT ON {table}
  FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION ia_test_disk_full();
"""


class FullDatabase:
    """An installation whose database can be made to run out of space (and back)."""

    def __init__(self, inst: Installation, disk: Path | None) -> None:
        self.inst, self.disk, self._filler = inst, disk, None

    def fill(self, table: str = "audit_events", when: str = "true") -> None:
        if self.disk is not None:  # SQLite: the write-ahead log can grow no more
            self._filler = fill(self.disk)
            return
        with self.inst.db.engine.begin() as conn:  # PostgreSQL: the server's own error
            conn.exec_driver_sql(PG_DISK_FULL.format(table=table, when=when))

    def free(self) -> None:
        if self.disk is not None:
            self._filler.unlink()  # type: ignore[union-attr]
            return
        with self.inst.db.engine.begin() as conn:
            for table in ("audit_events", "deletion_records"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS ia_test_disk_full ON {table}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def full_db(
    request: pytest.FixtureRequest, tmp_path: Path, small_disk: Callable[..., Path]
) -> Iterator[FullDatabase]:
    if request.param == "postgres":
        yield FullDatabase(request.getfixturevalue("pg_inst"), None)
        return
    disk = small_disk(tmp_path / "dbdisk", "16m")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{disk / 'ia-events.sqlite3'}"
    )
    inst, _ = initialise(settings)
    try:
        yield FullDatabase(inst, disk)
    finally:
        inst.close()


def _fresh_wal(inst: Installation) -> None:
    """SQLite: empty the write-ahead log, so that every later commit must grow it
    (a recycled log would overwrite space it already has)."""
    if inst.settings.database_url.startswith("sqlite"):
        with inst.db.engine.connect() as conn:
            busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            assert busy == 0


def _deleted_or_untouched(inst: Installation, ids: list[int]) -> tuple[list[int], list[int]]:
    """Each item is completely deleted or completely untouched; returns (deleted, untouched)."""
    deleted, untouched = [], []
    with inst.db.read() as s:
        for eid in ids:
            item = s.get(Evidence, eid)
            assert item is not None and item.blob_id is not None
            blob = s.get(Blob, item.blob_id)
            assert blob is not None
            records = s.scalars(select(DeletionRecord).where(DeletionRecord.evidence_id == eid))
            events = s.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "evidence:delete", AuditEvent.object_id == str(eid)
                )
            )
            records, events = list(records), list(events)
            if item.deleted_at is None:
                assert (records, events) == ([], []), f"item {eid}: a record without the deletion"
                assert blob.shredded_at is None and blob.wrapped_key, f"item {eid}: key gone"
                plain = inst.blobs.read_bytes(blob.name, blob.kek_id, blob.wrapped_key, item.sha256)
                assert plain.startswith(b"%PDF")  # still there and readable
                untouched.append(eid)
            else:
                assert len(records) == 1 and records[0].sha256 == item.sha256, f"item {eid}"
                assert len(events) == 1, f"item {eid}: deleted without its audit event"
                assert blob.wrapped_key is None and blob.shredded_at is not None, f"item {eid}"
                assert not inst.blobs.exists(blob.name), f"item {eid}: file not removed"
                deleted.append(eid)
    return deleted, untouched


@pytest.mark.parametrize("after", [0, 2], ids=["at-the-first-item", "at-the-third-item"])
def test_retention_run_on_a_full_disk_deletes_each_item_fully_or_not_at_all(
    full_db: FullDatabase, after: int, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = full_db.inst
    ids = _old_evidence(inst, 5)
    _fresh_wal(inst)
    if after == 0:  # full before the cron job starts: a real process
        full_db.fill("deletion_records")
        proc = ia(inst, "retention", "run")
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        # The disk fills up in the middle of an item: its tombstone, shredded key and
        # deletion record are written, its audit event (PostgreSQL) or the commit
        # (SQLite) is not. Committing the item in two steps would show here.
        seen: list[int] = []

        def in_the_middle(_mapper, _conn, record: DeletionRecord) -> None:  # type: ignore[no-untyped-def]
            seen.append(record.evidence_id)  # type: ignore[arg-type]
            if len(seen) == after + 1:
                full_db.fill("audit_events", "NEW.action = 'evidence:delete'")

        event.listen(DeletionRecord, "before_insert", in_the_middle)
        try:
            code = run_cli(inst, ["retention", "run"])
        finally:
            event.remove(DeletionRecord, "before_insert", in_the_middle)
        captured = capsys.readouterr()
        out, err = captured.out, captured.err
    _failed_cleanly(code, out, err)
    deleted, untouched = _deleted_or_untouched(inst, ids)
    assert deleted == ids[:after] and untouched == ids[after:]
    assert [int(line.split()[0]) for line in out.splitlines()] == deleted  # named what it did
    full_db.free()
    _consistent(inst)
    # with space again, the next run finishes the job: each item deleted exactly once
    proc = ia(inst, "retention", "run")
    assert proc.returncode == 0, proc.stderr
    assert [int(line.split()[0]) for line in proc.stdout.splitlines()] == ids[after:]
    assert _deleted_or_untouched(inst, ids) == (ids, [])
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(DeletionRecord)) == len(ids)
    assert list(inst.blobs.names_on_disk()) == []
    _consistent(inst)


def test_a_full_database_at_the_end_of_an_export_leaves_no_unaudited_bundle(
    full_db: FullDatabase, tmp_path: Path
) -> None:
    """The ZIP is complete, then its audit event cannot be written: an export nobody
    can account for must not stay behind (the bundle holds personal data)."""
    inst = full_db.inst
    _old_evidence(inst)
    _fresh_wal(inst)
    full_db.fill("audit_events", "NEW.action = 'bundle:export'")
    out = tmp_path / "target" / "Pruefpaket.zip"
    proc = ia(inst, "export-bundle", "--agency", "essen", "--year", "2010", "--out", str(out))
    _failed_cleanly(proc.returncode, proc.stdout, proc.stderr)
    assert _files(out.parent) == []
    full_db.free()
    assert _exports_audited(inst) == 0
    _consistent(inst)


def test_disk_full_is_recognised_from_every_layer() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    sq = sqlite3.OperationalError("database or disk is full")
    sq.sqlite_errorcode = 13  # type: ignore[attr-defined]
    assert is_disk_full(OperationalError("COMMIT", {}, sq))
    from psycopg.errors import DiskFull

    assert is_disk_full(OperationalError("INSERT", {}, DiskFull("could not extend file")))
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("while exporting") from inner
    except RuntimeError as outer:
        assert is_disk_full(outer)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(OperationalError("SELECT", {}, sqlite3.OperationalError("locked")))
    assert not is_disk_full(ValueError("nope"))
