"""Engine, sessions and migrations.

This module knows how to talk to SQLite and PostgreSQL and how to bring a
schema up to date. It knows nothing of agencies or permissions.

SQLite is the embedded default: WAL with ``synchronous=FULL`` (a commit is
durable when it returns), foreign keys, a busy timeout, and writing
transactions that start with ``BEGIN IMMEDIATE`` so that two writers never
both read the audit-chain head and then race to append to it.
PostgreSQL serialises chain appends with an advisory lock instead (see
``lock_chain``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from storage.files import ensure_private_file

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC.

    SQLite hands back naive values; this type stores UTC and always returns an
    aware UTC datetime, on both databases. Naive input is refused: a naive
    time in this domain is a bug (Europe/Berlin vs. UTC).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'ia-events.sqlite3').resolve()}"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # 0600 from the start; SQLite gives its -wal and -shm files the same mode.
            ensure_private_file(Path(parsed.database))
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=20,
            max_overflow=20,
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=1800
    )


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how a
        # transaction starts (deferred for reads, immediate for writes).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # FULL: a commit is on disk before it returns (one fsync of the WAL). With NORMAL
        # a power cut may take back the last commits: a participant already told
        # "checked in", and audit events that a signed checkpoint (a file outside the
        # database) or an exported bundle may already cover -- ``verify`` would then
        # report the chain as rewritten. docs/performance.md has both measured.
        cur.execute("PRAGMA synchronous=FULL")
        # SQLite's own lower() folds only ASCII: "ÜBER" would not find "über". Python's does.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("ia_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "sqlite"


CHAIN_LOCK_ID = 7310012026  # the advisory lock of the audit chain (PostgreSQL)
CHAIN_LOCK = text(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_ID})")


def lock_chain(session: Session | Connection) -> None:
    """Serialise appends to the audit chain within this transaction (a session's or a
    connection's). SQLite needs nothing: its writers hold ``BEGIN IMMEDIATE``."""
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "postgresql":
        session.execute(CHAIN_LOCK)


@dataclass
class Database:
    """One engine and two ways to open a unit of work: reading or writing."""

    engine: Engine

    def __post_init__(self) -> None:
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(ia_write=True), expire_on_commit=False
        )

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        # Closing (not rolling back) ends the transaction and keeps loaded objects readable.
        with self._read() as session:
            yield session

    @contextmanager
    def write(self, commit_on: tuple[type[BaseException], ...] = ()) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error.

        ``commit_on`` names exceptions that mean "done, go elsewhere" rather than
        failure (a UI framework's rerun signal): they commit, then propagate.
        """
        with self._write() as session:
            session.begin()
            try:
                yield session
            except commit_on:
                session.commit()
                raise
            except BaseException:
                session.rollback()
                raise
            session.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it already is."""
    run_migrations(engine, "upgrade", "head")


class MigrationError(RuntimeError):
    """A migration left rows pointing at rows that are not there (nothing was changed)."""


def run_migrations(engine: Engine, direction: str, revision: str) -> None:
    """Alembic ``upgrade``/``downgrade`` to ``revision`` in one transaction.

    On SQLite, foreign keys are switched off while migrations run, as SQLite's manual
    prescribes for changing a table's constraints ("Making Other Kinds Of Table Schema
    Changes"): such a change rebuilds the table and drops the old copy, and with foreign
    keys on, that drop deletes every row referring to it through ON DELETE CASCADE (the
    links of activities and evidence to their sub-goals, for example). Before the commit,
    ``PRAGMA foreign_key_check`` must find nothing; otherwise all is rolled back.
    """
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection if sqlite else None
        if raw is not None:  # outside a transaction: SQLite ignores it inside one
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                getattr(command, direction)(cfg, revision)
                if sqlite:
                    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        raise MigrationError(f"rows without their referenced row: {dangling[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (``None`` before the first migration).

    Read straight from Alembic's version table: importing Alembic costs a command
    a tenth of a second on every start, and ``ia-events verify`` runs from cron.
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"several schema heads in the database: {sorted(rows)}")
    return rows[0] if rows else None


_REVISION = re.compile(r"^(down_)?revision(?:: [^=]+)? = [\'\"]?([^\'\"\n]*)[\'\"]?\s*$", re.M)


def head_revision() -> str | None:
    """The newest revision in ``migrations/versions`` (the one nothing revises).

    Parsed from the files' ``revision``/``down_revision`` lines, without Alembic
    (see ``current_revision``); a test holds it equal to Alembic's own answer.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value in ("", "None"):
                continue
            (revised if down else revisions).add(value)
    heads = revisions - revised
    if len(heads) > 1:
        raise RuntimeError(f"several migration heads: {sorted(heads)}")
    return heads.pop() if heads else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def env_url(data_dir: Path) -> str:
    return os.environ.get("IA_EVENTS_DATABASE_URL") or default_url(data_dir)
