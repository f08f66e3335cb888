"""Backups, restore and key rotation: the installation's custody of its own data.

``backup(DIR)`` writes one consistent snapshot::

    DIR/MANIFEST.json                 what, when, how; SHA-256 of every file below
    DIR/database/ia-events.sqlite3    SQLite: the online backup API (a consistent copy)
    DIR/database/rows.jsonl           PostgreSQL: a logical dump through SQLAlchemy in one
                                      REPEATABLE READ transaction (portable; pg_dump is not
                                      needed, and the dump restores into SQLite too)
    DIR/archive/blobs/…               the encrypted blobs the snapshot refers to (local
                                      folder only: an S3 archive stays in its bucket, whose
                                      versioning and Object Lock keep every recorded
                                      version; MANIFEST.json says which, and the database
                                      names each object's VersionId)
    DIR/checkpoints/                  signed audit-chain checkpoints
    DIR/KEYS-SEPARATELY/keys/         the key files -- move them to separate custody!

Without the keys, database and archive are unreadable; with them, everything
is. Keep them apart (docs/operations.md). ``backup(..., include_keys=False)``
leaves them out entirely.

``restore(DIR)`` only writes into an empty data dir and an empty database;
``integrity.verify`` passes afterwards. ``rotate_keys`` adds a key-encryption
key and rewraps every wrapped data key (blobs and personal-data keys) under it
in one transaction; the files are not touched. Old KEK files stay (older
backups need them) until an operator retires them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Integer, LargeBinary, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.types import JSON, Date

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import BackupError, DomainError
from ia_events.core.installation import Installation, Settings
from ia_events.core.models import Agency, Base, Blob, DataKey
from ia_events.core.permissions import Reach, service
from storage.db import UTCDateTime, make_engine, migrate, utcnow
from storage.keys import KeyRing

FORMAT = "ia-events-backup/1"
KEYS_DIR = "KEYS-SEPARATELY"
KEYS_README = """SCHLÜSSEL – GETRENNT AUFBEWAHREN
=================================

Dieser Ordner enthält die Schlüssel der Installation (Schlüsselverschlüsselungs-
schlüssel, HMAC-Schlüssel, Signaturschlüssel). Wer Datenbank, Archiv UND diese
Schlüssel hat, kann alles lesen.

Bitte diesen Ordner sofort von der übrigen Sicherung trennen, z. B. auf einen
verschlüsselten USB-Stick im Tresor oder in einen Passwort-Safe, und hier löschen.
Zum Wiederherstellen wird er wieder neben die Sicherung gelegt (oder mit
`ia-events restore DIR --keys PFAD` angegeben).
"""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1024 * 1024):
            h.update(block)
    return h.hexdigest()


def _dialect(inst: Installation) -> str:
    return inst.db.engine.dialect.name


# -- logical dump (portable) -------------------------------------------------------------------


def _encode(col_type: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(col_type, LargeBinary) or isinstance(value, bytes | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(col_type: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"b64"} and not isinstance(col_type, JSON):
        return base64.b64decode(value["b64"])
    if isinstance(col_type, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(col_type, Date):
        return date.fromisoformat(value)
    return value


def dump_rows(engine: Engine, path: Path) -> dict[str, int]:
    """Every table of the schema as JSON lines, in one consistent snapshot."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        with open(path, "w", encoding="utf-8") as out:
            for table in Base.metadata.sorted_tables:
                n = 0
                pk = list(table.primary_key.columns)
                for row in conn.execute(select(table).order_by(*pk)).mappings():
                    data = {c.name: _encode(c.type, row[c.name]) for c in table.columns}
                    out.write(json.dumps({"t": table.name, "r": data}, ensure_ascii=False) + "\n")
                    n += 1
                counts[table.name] = n
        conn.rollback()
    return counts


def load_rows(engine: Engine, path: Path) -> dict[str, int]:
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    counts: dict[str, int] = {}
    batch: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")

        def flush(name: str) -> None:
            rows = batch.pop(name, [])
            if rows:
                conn.execute(insert(tables[name]), rows)

        current = None
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                name = rec["t"]
                if name != current and current is not None:
                    flush(current)
                current = name
                table = tables[name]
                row = {c.name: _decode(c.type, rec["r"].get(c.name)) for c in table.columns}
                batch.setdefault(name, []).append(row)
                counts[name] = counts.get(name, 0) + 1
                if len(batch[name]) >= 1000:
                    flush(name)
        if current is not None:
            flush(current)
        if engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and isinstance(pk[0].type, Integer) and counts.get(table.name):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                            f"'{pk[0].name}'), (SELECT MAX({pk[0].name}) FROM {table.name}))"
                        )
                    )
    return counts


# -- backup ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    directory: Path
    method: str
    blobs: int
    bytes: int
    keys_included: bool
    archive_note: str = ""


@service(Permission.system_run, Reach.installation)
def backup(
    inst: Installation, actor: Actor, target: Path, *, include_keys: bool = True
) -> BackupResult:
    require(actor, Permission.system_run)
    target = Path(target).resolve()
    if target.exists() and any(target.iterdir()):
        raise DomainError("backup_target_not_empty", path=str(target))
    (target / "database").mkdir(parents=True, exist_ok=True)
    settings = inst.settings
    # The audit event goes in first, so the snapshot contains its own backup record.
    with inst.db.write() as s:
        audit.record(s, actor.name, Action.backup_create, "installation", target=target.name)
    method, names = _snapshot_database(inst, target / "database")
    store = inst.blobs
    copied, total, archive_note = _copy_archive(inst, target / "archive", names)
    if settings.checkpoints_dir.exists():
        shutil.copytree(settings.checkpoints_dir, target / "checkpoints")
    if include_keys:
        keys_target = target / KEYS_DIR / "keys"
        shutil.copytree(settings.keys_dir, keys_target)
        (target / KEYS_DIR / "LIESMICH.txt").write_text(KEYS_README, encoding="utf-8")
    files = {
        str(p.relative_to(target)): _sha256(p)
        for p in sorted(target.rglob("*"))
        if p.is_file() and p.relative_to(target).parts[0] != KEYS_DIR
    }
    manifest = {
        "format": FORMAT,
        "created_at": utcnow().isoformat(timespec="seconds"),
        "database": _dialect(inst),
        "method": method,
        "blobs": copied,
        "archive": {
            "kind": store.kind,
            "location": store.describe(),
            "objects": len(names),
            "copied": copied,
            "note": archive_note,
        },
        "keys": f"{KEYS_DIR}/keys" if include_keys else "not included",
        "key_fingerprint": inst.keys.fingerprint(),
        "files": files,
    }
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return BackupResult(target, method, copied, total, include_keys, archive_note)


def _snapshot_database(inst: Installation, dest: Path) -> tuple[str, list[str]]:
    """A consistent snapshot of the database in ``dest``: the method used and the names of
    the blobs it records (append-only: every one exists unless shredded since)."""
    if _dialect(inst) == "sqlite":
        db_file = dest / "ia-events.sqlite3"
        src_path = make_url(inst.db.engine.url).database
        src = sqlite3.connect(str(src_path))
        dst = sqlite3.connect(str(db_file))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        snap_engine = create_engine(f"sqlite:///{db_file}")
        with snap_engine.connect() as conn:
            names = list(
                conn.execute(select(Blob.name).where(Blob.shredded_at.is_(None))).scalars().all()
            )
        snap_engine.dispose()
        return "sqlite-online-backup", names
    dump_rows(inst.db.engine, dest / "rows.jsonl")
    names = []
    with open(dest / "rows.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["t"] == "blobs" and rec["r"]["shredded_at"] is None:
                names.append(rec["r"]["name"])
    return "sqlalchemy-logical-dump (REPEATABLE READ)", names


def _copy_archive(inst: Installation, dest: Path, names: list[str]) -> tuple[int, int, str]:
    """Copy the named blobs of a local archive to ``dest``: (files copied, bytes, note).
    An object store's objects stay where they are."""
    store = inst.blobs
    if store.kind != "local":
        # The bucket keeps every object version (versioning) and Object Lock keeps each
        # recorded one until its retention end; the database names each VersionId. A
        # copy here would duplicate ten years of files into every nightly backup.
        note = (
            f"{len(names)} Objekte bleiben im Bucket ({store.describe()}): nicht kopiert; "
            "Versionierung und Objektsperre bewahren jede erfasste Version bis zum Ende "
            "ihrer Aufbewahrungsfrist, die Datenbank nennt ihre VersionId"
        )
        return 0, 0, note
    total = 0
    for name in names:
        src_blob = store.path_for(name)  # type: ignore[attr-defined]  # local store only
        rel = src_blob.relative_to(inst.settings.archive_dir)
        dst_blob = dest / rel
        dst_blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src_blob, dst_blob)
        total += dst_blob.stat().st_size
    return len(names), total, f"{len(names)} Dateien kopiert"


# -- restore -----------------------------------------------------------------------------------


def _check_backup(source: Path) -> dict[str, Any]:
    manifest_path = source / "MANIFEST.json"
    if not manifest_path.exists():
        raise BackupError(path=str(source), reason="MANIFEST.json fehlt")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(path=str(source), reason="unbekanntes Format")
    for rel, digest in manifest["files"].items():
        path = source / rel
        if not path.exists():
            raise BackupError(path=str(source), reason=f"{rel} fehlt")
        if _sha256(path) != digest:
            raise BackupError(path=str(source), reason=f"{rel} ist verändert")
    return manifest


def _empty_database(engine: Engine) -> bool:
    from sqlalchemy import inspect

    from ia_events.core.models import User

    names = inspect(engine).get_table_names()
    if "agencies" not in names:
        return True
    with engine.connect() as conn:
        used = (conn.execute(select(func.count()).select_from(Agency)).scalar() or 0) + (
            conn.execute(select(func.count()).select_from(User)).scalar() or 0
        )
    return used == 0


def _clear(engine: Engine) -> None:
    """Remove what ``init`` alone wrote (settings, the init audit event) before loading."""
    from sqlalchemy import delete, inspect

    present = set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in present:
                conn.execute(delete(table))


def restore(source: Path, settings: Settings, keys_dir: Path | None = None) -> dict[str, Any]:
    """Restore a backup into an empty data dir (and empty database). Returns the manifest."""
    source = Path(source).resolve()
    manifest = _check_backup(source)
    keys_src = keys_dir or source / KEYS_DIR / "keys"
    if not (keys_src / "kek.current").exists():
        raise BackupError(
            path=str(source),
            reason="die Schlüssel fehlen (Ordner KEYS-SEPARATELY/keys oder --keys)",
        )
    data = settings.data_dir
    if data.exists() and any(
        p.name != "ia-events.sqlite3" or p.stat().st_size for p in data.iterdir()
    ):
        raise DomainError("restore_target_not_empty", reason=f"{data} enthält schon Daten")
    engine = make_engine(settings.database_url)
    try:
        if not _empty_database(engine):
            raise DomainError("restore_target_not_empty", reason="die Datenbank enthält Daten")
        data.mkdir(parents=True, exist_ok=True)
        keyring = KeyRing.load(keys_src)  # refuses unreadable keys before anything is written
        shutil.copytree(keys_src, settings.keys_dir)
        if (source / "archive").exists():
            shutil.copytree(source / "archive", settings.archive_dir)
        if (source / "checkpoints").exists():
            shutil.copytree(source / "checkpoints", settings.checkpoints_dir)
        db_file = source / "database" / "ia-events.sqlite3"
        rows = source / "database" / "rows.jsonl"
        if engine.dialect.name == "sqlite" and db_file.exists():
            engine.dispose()
            target_db = Path(make_url(engine.url).database or "")
            target_db.unlink(missing_ok=True)
            src = sqlite3.connect(str(db_file))
            dst = sqlite3.connect(str(target_db))
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            engine = make_engine(settings.database_url)
            migrate(engine)
        else:
            if not rows.exists():  # SQLite backup into PostgreSQL: dump it first
                rows = settings.data_dir / "restore-rows.jsonl"
                src_engine = create_engine(f"sqlite:///{db_file}")
                dump_rows(src_engine, rows)
                src_engine.dispose()
            migrate(engine)
            _clear(engine)
            load_rows(engine, rows)
            if rows.parent == settings.data_dir:
                rows.unlink()
        inst = Installation.open(settings)
        try:
            with inst.db.write() as s:
                audit.record(
                    s,
                    "system:restore",
                    Action.backup_restore,
                    "installation",
                    source=source.name,
                    created_at=manifest.get("created_at"),
                    key=keyring.fingerprint(),
                )
        finally:
            inst.close()
    finally:
        engine.dispose()
    return manifest


# -- key rotation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationResult:
    new_kek: str
    blobs: int
    data_keys: int
    old_keks: list[str]


@service(Permission.system_run, Reach.installation)
def rotate_keys(inst: Installation, actor: Actor) -> RotationResult:
    """New KEK; rewrap every wrapped data key under it (files stay untouched). Audited."""
    require(actor, Permission.system_run)
    old = inst.keys.kek_ids()
    new_id = inst.keys.add_kek()
    blobs = keys = 0
    with inst.db.write() as s:
        for blob in s.scalars(select(Blob).where(Blob.wrapped_key.is_not(None))):
            dek = inst.keys.unwrap(blob.kek_id, blob.wrapped_key or b"")
            blob.kek_id, blob.wrapped_key = inst.keys.wrap(dek)
            blobs += 1
        for row in s.scalars(select(DataKey)):
            if row.shredded_at is not None:
                continue
            dek = inst.keys.unwrap(row.kek_id, row.wrapped_key)
            row.kek_id, row.wrapped_key = inst.keys.wrap(dek)
            keys += 1
        audit.record(
            s,
            actor.name,
            Action.keys_rotate,
            "installation",
            new_kek=new_id,
            blobs=blobs,
            data_keys=keys,
        )
    return RotationResult(new_id, blobs, keys, old)


@dataclass(frozen=True)
class KeyStatus:
    current_kek: str
    kek_ids: list[str]
    wrapped_by: dict[str, int]  # kek id -> number of wrapped keys still under it


@service(Permission.system_run, Reach.installation)
def key_status(inst: Installation, actor: Actor) -> KeyStatus:
    require(actor, Permission.system_run)
    counts: dict[str, int] = {}
    with inst.db.read() as s:
        for kek, n in s.execute(
            select(Blob.kek_id, func.count())
            .where(Blob.wrapped_key.is_not(None))
            .group_by(Blob.kek_id)
        ):
            counts[kek] = counts.get(kek, 0) + n
        for kek, n in s.execute(select(DataKey.kek_id, func.count()).group_by(DataKey.kek_id)):
            counts[kek] = counts.get(kek, 0) + n
    return KeyStatus(inst.keys.current_kek_id, inst.keys.kek_ids(), counts)
