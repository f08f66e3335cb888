"""Faults beyond the upload (see test_crash_safety.py for that one): a real ``kill -9``
during a bundle export, a retention run and the first migration; a database held
locked by another writer; PostgreSQL restarted under a running installation; a
corrupted archive file. Afterwards ``verify`` passes and no record lacks its file
or vice versa; a damaged file is reported and never served."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ia_events.accounts.agencies import add_agency
from ia_events.archive import evidence, fixity, retention
from ia_events.cli.main import run
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict
from ia_events.core.installation import Installation, Settings, initialise
from ia_events.core.models import Blob, DeletionRecord, Evidence
from tests.conftest import ROOT, make_settings, skip_or_fail
from tests.factories import PDF
from tests.integration.crash_support import kill_9_at

OP = Actor.cli("test:op")

CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from pathlib import Path
    from sqlalchemy import Engine, event
    data, url, mode, marker, out = sys.argv[1:6]

    def stop_here():
        Path(marker).write_text(mode)
        time.sleep(60)

    from ia_events.core.access import Actor
    from ia_events.core.installation import Installation, Settings, initialise
    settings = Settings(data_dir=Path(data), database_url=url)
    op = Actor.cli("test:child")
    if mode == "migrate":
        seen = []
        @event.listens_for(Engine, "before_cursor_execute")
        def _slow(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("CREATE TABLE"):
                seen.append(statement)
                if len(seen) == 6:  # well inside the first migration
                    stop_here()
        initialise(settings)
    elif mode == "export":
        from ia_events.inspection import bundle
        from ia_events.inspection import zipstream
        real = zipstream.ZipSink.stream
        def stream(self, entries, before_each=None):
            def each(i):
                if i == 1:
                    stop_here()
                if before_each:
                    before_each(i)
            return real(self, entries, before_each=each)
        zipstream.ZipSink.stream = stream
        inst = Installation.open(settings)
        bundle.export_bundle(inst, op, "essen", 2010, Path(out))
    elif mode == "retention":
        from ia_events.archive import retention
        inst = Installation.open(settings)
        done = []
        def on_item(cand):
            done.append(cand)
            if len(done) == 2:
                stop_here()
        retention.run_deletions(inst, op, date.today(), on_item=on_item)
    print("DONE")
    """
)


def _kill_at(settings: Settings, tmp: Path, mode: str, out: Path | None = None) -> None:
    marker = tmp / f"marker-{mode}"
    script = tmp / "child_faults.py"
    script.write_text(CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(settings.data_dir), settings.database_url, mode,
         str(marker), str(out or tmp / "unused.zip")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    kill_9_at(proc, marker, mode)


def _consistent(inst: Installation) -> None:
    """verify passes; live records have their files, every file belongs to a live blob."""
    report = fixity.verify(inst, OP)
    assert report.ok, [f.line() for f in report.findings]
    with inst.db.read() as s:
        live = set(s.scalars(select(Blob.name).where(Blob.shredded_at.is_(None))).all())
        needed = set(
            s.scalars(
                select(Blob.name)
                .join(Evidence, Evidence.blob_id == Blob.id)
                .where(Evidence.deleted_at.is_(None))
            ).all()
        )
    on_disk = set(inst.blobs.names_on_disk())
    assert needed <= on_disk, "a record lacks its file"
    assert on_disk <= live, "a file without a live record"


def _old_evidence(inst: Installation, n: int = 4) -> list[int]:
    with inst.db.write() as s:
        add_agency(s, OP, slug="essen", name="IA Essen", carrier="T", fields=["BE"])
    ids = []
    for i in range(n):
        v = evidence.add_evidence(
            inst, OP, agency_slug="essen", funding_year=2010, kind="participant_list",
            filename=f"liste-{i}.pdf", content=PDF + b"%" + os.urandom(64 * 1024) + bytes([i]),
        )  # fmt: skip
        ids.append(v.id)
    return ids


def test_kill_9_during_bundle_export_leaves_no_bundle_and_a_sound_archive(
    sqlite_inst: Installation, tmp_path: Path
) -> None:
    _old_evidence(sqlite_inst)
    out = tmp_path / "out" / "paket.zip"
    out.parent.mkdir()
    _kill_at(sqlite_inst.settings, tmp_path, "export", out)
    assert not out.exists()  # only the .part temp file can be left in the target dir
    assert [p.name for p in out.parent.iterdir() if not p.name.endswith(".part")] == []
    _consistent(sqlite_inst)
    # and the export works afterwards
    assert run_cli(sqlite_inst, ["export-bundle", "--agency", "essen", "--year", "2010",
                                 "--out", str(out)]) == 0  # fmt: skip
    assert out.exists()


def run_cli(inst: Installation, argv: list[str]) -> int:
    mp = pytest.MonkeyPatch()
    mp.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    mp.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    try:
        return run(argv)
    finally:
        mp.undo()


def test_kill_9_during_retention_run_loses_nothing_and_a_rerun_finishes(
    inst: Installation, tmp_path: Path
) -> None:
    ids = _old_evidence(inst)
    _kill_at(inst.settings, tmp_path, "retention")
    with inst.db.read() as s:
        deleted = s.scalar(
            select(func.count()).select_from(Evidence).where(Evidence.deleted_at.is_not(None))
        )
    assert 1 <= deleted < len(ids)  # killed in the middle
    _consistent(inst)
    result = retention.run_deletions(inst, OP, date.today())
    assert result is not None
    with inst.db.read() as s:
        left = s.scalar(
            select(func.count()).select_from(Evidence).where(Evidence.deleted_at.is_(None))
        )
        records = s.scalar(select(func.count()).select_from(DeletionRecord))
    assert left == 0 and records == len(ids)  # each item deleted once, each with its record
    _consistent(inst)
    assert list(inst.blobs.names_on_disk()) == []


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_during_the_first_migration_then_init_recovers(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if db == "sqlite":
        settings = make_settings(tmp_path / "data")
    else:
        from sqlalchemy import create_engine, text

        url = request.getfixturevalue("pg_server_url")
        eng = create_engine(url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
        settings = make_settings(tmp_path / "data", url)
    _kill_at(settings, tmp_path, "migrate")
    inst, _ = initialise(settings)  # a second init finishes what the first began
    try:
        with inst.db.write() as s:
            add_agency(s, OP, slug="essen", name="IA Essen", carrier="T", fields=["BE"])
        evidence.add_evidence(inst, OP, agency_slug="essen", funding_year=2026,
                              kind="other", filename="a.pdf", content=PDF)  # fmt: skip
        _consistent(inst)
    finally:
        inst.close()


# -- a busy database -------------------------------------------------------------------------


def test_sqlite_held_by_another_writer_waits_then_works(
    sqlite_inst: Installation, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = sqlite_inst.settings.data_dir / "ia-events.sqlite3"
    holder = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a long write transaction elsewhere
    release = threading.Timer(1.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        with sqlite_inst.db.write() as s:  # waits within the busy timeout
            add_agency(s, OP, slug="essen", name="IA Essen", carrier="T", fields=["BE"])
        assert time.monotonic() - started >= 0.8
    finally:
        release.join()
        holder.close()


def test_sqlite_locked_past_the_timeout_is_a_german_message_not_a_traceback(
    sqlite_inst: Installation, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = sqlite_inst.settings.data_dir / "ia-events.sqlite3"
    # A short busy timeout for this test only: the production value is 30 s.
    monkeypatch.setattr("storage.db._tune_sqlite", _tune_short(), raising=True)
    holder = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code = run_cli(sqlite_inst, ["user", "deactivate", "nobody"])
        out = capsys.readouterr()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1, out
    assert "Die Datenbank ist gerade nicht erreichbar" in out.err or "Datenbank" in out.err
    assert "Traceback" not in out.err + out.out


def _tune_short():  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    def tune(engine):  # type: ignore[no-untyped-def]
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=300")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("ia_write") else "BEGIN"
            )

    return tune


# -- a corrupted archive file -----------------------------------------------------------------


def test_a_corrupted_blob_is_reported_and_never_served(sqlite_inst: Installation) -> None:
    ids = _old_evidence(sqlite_inst, 1)
    with sqlite_inst.db.read() as s:
        name = s.scalar(select(Blob.name))
    path = sqlite_inst.blobs.path_for(name)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    report = fixity.verify(sqlite_inst, OP)
    assert not report.ok and any(name in f.line() or str(ids[0]) in f.line()
                                 for f in report.findings)  # fmt: skip
    with pytest.raises(Conflict):
        evidence.read_content(sqlite_inst, OP, ids[0])


# -- PostgreSQL restarted under a running installation -------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def throwaway_pg(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A separate PostgreSQL cluster on its own port, so a restart disturbs no one."""
    if not (PG_BIN / "initdb").exists():
        skip_or_fail("PG", "no PostgreSQL binaries to start a throw-away cluster")
    base = Path(f"/tmp/ia-pg-{os.getpid()}-{time.monotonic_ns()}")
    base.mkdir()
    port = 54000 + os.getpid() % 1000
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(base, "postgres")
    pgdata = base / "pgdata"
    subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D",
                    str(pgdata)], check=True, capture_output=True)  # fmt: skip
    ctl = [*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-w", "-l", str(base / "log"),
           "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1"]  # fmt: skip
    subprocess.run([*ctl, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", ctl
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postgres
def test_postgres_restart_mid_session_the_next_request_works(throwaway_pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, ctl = throwaway_pg
    inst, _ = initialise(make_settings(tmp_path / "data", url))
    try:
        with inst.db.write() as s:
            add_agency(s, OP, slug="essen", name="IA Essen", carrier="T", fields=["BE"])
        subprocess.run([*ctl, "-m", "fast", "restart"], check=True, capture_output=True)
        # pooled connections are dead now; pool_pre_ping replaces them
        from ia_events.accounts.agencies import list_agencies

        with inst.db.read() as s:
            assert [a.slug for a in list_agencies(s, OP)] == ["essen"]
        with inst.db.write() as s:
            add_agency(s, OP, slug="kleve", name="IA Kleve", carrier="T", fields=["BE"])
        assert fixity.verify(inst, OP).ok
    finally:
        inst.close()
