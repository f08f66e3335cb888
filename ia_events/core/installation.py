"""One installation: where its data lives, its database, keys and archive.

``Settings.from_env`` reads ``$IA_EVENTS_DATA`` (default ``./data``) and
``$IA_EVENTS_DATABASE_URL`` (default: SQLite inside the data dir) and
``$IA_EVENTS_ARCHIVE_URL`` (default: the folder ``archive/`` in the data dir; an
``s3://`` URL puts the archive in a bucket with Object Lock, ``storage.archive_store``).
With a PostgreSQL URL nothing is written to SQLite. ``initialise`` is idempotent:
it creates what is missing and migrates the schema forward.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ia_events.core import audit
from ia_events.core.errors import DomainError, NotInitialised
from ia_events.core.models import Setting
from ia_events.core.permissions import Reach, service
from storage.archive_store import ArchiveStore, BlobError, archive_url, open_store
from storage.db import Database, current_revision, env_url, head_revision, make_engine, migrate
from storage.keys import KeyMissing, KeyRing


def _hours(value: str | None, default: float = 2.0) -> float:
    """A non-negative number of hours; anything else falls back to the default."""
    try:
        hours = float(value) if value not in (None, "") else default
    except ValueError:
        return default
    return hours if 0 <= hours <= 24 * 30 else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    base_url: str = "http://localhost:8501"
    # IA_EVENTS_BASE_URL was set: screens use ``base_url``; else the address the staff's
    # browser reached the server at (``core.addresses.public_base_url``). The CLI always
    # uses ``base_url``.
    base_url_set: bool = False
    max_upload_bytes: int = 50 * 1024 * 1024
    session_idle_hours: float = 12.0
    session_max_days: float = 14.0
    lockout_threshold: int = 10
    lockout_minutes: int = 15
    min_password_length: int = 12
    # Reverse proxies whose X-Forwarded-For names the client (IA_EVENTS_TRUSTED_PROXIES).
    trusted_proxies: str = ""
    seal_grace_hours: float = 2.0  # IA_EVENTS_SEAL_GRACE_HOURS: end of an occurrence -> sealing
    extra: dict[str, str] = field(default_factory=dict)
    archive_url: str | None = None

    @classmethod
    def from_env(
        cls, data_dir: str | Path | None = None, database_url: str | None = None
    ) -> Settings:
        root = Path(data_dir or os.environ.get("IA_EVENTS_DATA") or "./data").resolve()
        return cls(
            data_dir=root,
            database_url=database_url or env_url(root),
            base_url=os.environ.get("IA_EVENTS_BASE_URL", "http://localhost:8501").rstrip("/"),
            base_url_set=bool(os.environ.get("IA_EVENTS_BASE_URL", "").strip()),
            max_upload_bytes=int(os.environ.get("IA_EVENTS_MAX_UPLOAD_MB", "50")) * 1024 * 1024,
            trusted_proxies=os.environ.get("IA_EVENTS_TRUSTED_PROXIES", "").strip(),
            seal_grace_hours=_hours(os.environ.get("IA_EVENTS_SEAL_GRACE_HOURS")),
            archive_url=archive_url(),
        )

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def checkpoints_dir(self) -> Path:
        return self.data_dir / "checkpoints"


@dataclass
class Installation:
    settings: Settings
    db: Database
    keys: KeyRing
    blobs: ArchiveStore

    @classmethod
    def open(cls, settings: Settings) -> Installation:
        """Open an initialised installation; refuse clearly if it is not one."""
        if not settings.keys_dir.exists():
            raise NotInitialised()
        try:
            keys = KeyRing.load(settings.keys_dir)
        except (KeyMissing, OSError, ValueError) as exc:
            raise DomainError("keys_missing", detail=str(exc)) from exc
        engine = make_engine(settings.database_url)
        if current_revision(engine) != head_revision():
            engine.dispose()
            raise NotInitialised()
        return cls(settings, Database(engine), keys, _store(settings, keys))

    archive_lines: list[str] = field(default_factory=list)

    def setting(self, key: str, default: str | None = None) -> str | None:
        with self.db.read() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def close(self) -> None:
        self.db.dispose()


def _store(settings: Settings, keys: KeyRing) -> ArchiveStore:
    try:
        return open_store(settings.archive_url, settings.archive_dir, keys)
    except BlobError as exc:
        raise DomainError(exc.code, bucket=str(exc), store=settings.archive_url or "") from exc


@service(None, Reach.setup, "takes the operator's name")
def initialise(settings: Settings, actor: str = "system:cli") -> tuple[Installation, bool]:
    """Create data dir, keys and database, migrate forward. Returns (installation, created)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = KeyRing.create_or_load(settings.keys_dir)
    engine = make_engine(settings.database_url)
    migrate(engine)
    inst = Installation(settings, Database(engine), keys, _store(settings, keys))
    try:
        inst.archive_lines = inst.blobs.ensure_ready()  # S3: bucket with Object Lock, or refuse
    except BlobError as exc:
        engine.dispose()
        raise DomainError(exc.code, bucket=str(exc), store=inst.blobs.describe()) from exc
    inst.blobs.clear_temp()
    created = False
    with inst.db.write() as s:
        if s.get(Setting, "installed_at") is None:
            from storage.db import utcnow

            s.add(Setting(key="installed_at", value=utcnow().isoformat()))
            audit.record(
                s, actor, audit.Action.install_init, "installation", key=keys.fingerprint()
            )
            created = True
    return inst, created


def is_demo(session) -> bool:
    return session.scalar(select(Setting.value).where(Setting.key == "demo")) == "1"


_shared: Installation | None = None
_lock = threading.Lock()


def shared() -> Installation:
    """The process-wide installation for the web app (pages and routes alike).

    The first start initialises itself (data dir, keys, schema), as the Quick
    start promises. The Engine inside is thread-safe; sessions are not shared.
    """
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                settings = Settings.from_env()
                try:
                    _shared = Installation.open(settings)
                except NotInitialised:
                    _shared, _ = initialise(settings, "system:web")
    return _shared


def reset_shared() -> None:
    """For tests that switch data dirs within one process."""
    global _shared
    if _shared is not None:
        _shared.close()
    _shared = None
