"""Shared fixtures: real installations on a SQLite file and on PostgreSQL.

- ``sqlite_inst``   a fresh, initialised installation in ``tmp_path`` (SQLite file)
- ``pg_inst``       the same on PostgreSQL (``IA_EVENTS_TEST_PG_URL``, default the
                    server on 127.0.0.1:5432); each test run gets its own database
- ``inst``          parametrised over both: integration tests use this
- ``demo_inst``     SQLite installation with the small demo loaded (copied from a
                    per-run template, so it is fast)
- ``app``           an ``AppTest`` of ``streamlit_app.py`` bound to ``demo_inst``

Where no PostgreSQL server or no Chromium is reachable the tests skip with the
reason; ``IA_EVENTS_REQUIRE_PG=1`` / ``IA_EVENTS_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turn that skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ia_events.access import Actor
from ia_events.installation import Installation, Settings, initialise, reset_shared

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_configure(config: pytest.Config) -> None:
    # Nothing a test does may touch ./data; fixtures point each test at its own dir.
    import tempfile

    os.environ["IA_EVENTS_DATA"] = tempfile.mkdtemp(prefix="ia-events-unused-")


def _require(kind: str) -> bool:
    return os.environ.get(f"IA_EVENTS_REQUIRE_{kind}") == "1"


def skip_or_fail(kind: str, reason: str) -> None:
    if _require(kind):
        pytest.fail(f"{reason} (IA_EVENTS_REQUIRE_{kind}=1 forbids skipping)")
    pytest.skip(reason)


def make_settings(data_dir: Path, url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url or f"sqlite:///{data_dir / 'ia-events.sqlite3'}",
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


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A throw-away database on the server, dropped at the end of the run."""
    from sqlalchemy import create_engine, text

    base = os.environ.get("IA_EVENTS_TEST_PG_URL", PG_DEFAULT)
    try:
        admin = create_engine(
            base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server on a user's laptop
        skip_or_fail("PG", f"no PostgreSQL server reachable at {base}: {type(exc).__name__}")
    name = f"ia_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


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


# -- demo data ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ia_events import demo

    data = tmp_path_factory.mktemp("demo-template") / "data"
    inst, _ = initialise(make_settings(data))
    demo.load(inst, Actor.cli("test:demo"))
    inst.close()
    return data


@pytest.fixture
def demo_inst(tmp_path: Path, demo_template: Path) -> Iterator[Installation]:
    data = tmp_path / "data"
    shutil.copytree(demo_template, data)
    inst = Installation.open(make_settings(data))
    yield inst
    inst.close()


@pytest.fixture
def pg_demo_inst(pg_inst: Installation) -> Installation:
    from ia_events import demo

    demo.load(pg_inst, Actor.cli("test:demo"))
    return pg_inst


# -- Streamlit AppTest ------------------------------------------------------------------------


@pytest.fixture
def app_env(demo_inst: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """Point the app's process-wide installation at ``demo_inst``."""
    monkeypatch.setenv("IA_EVENTS_DATA", str(demo_inst.settings.data_dir))
    monkeypatch.delenv("IA_EVENTS_DATABASE_URL", raising=False)
    reset_shared()
    yield demo_inst
    reset_shared()


@pytest.fixture
def app(app_env: Installation):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
