"""Core statements compiled once and run straight on the driver's cursor: the check-in
hot path only.

SQLAlchemy spends 30-50 µs of Python on every execution (execution context, parameter
and result set-up, events) -- per check-in more than the SQLite statements themselves.
``run`` keeps what matters and skips the rest: the SQL is SQLAlchemy's own compilation
for the connection's dialect, every parameter and every result column goes through its
column type's own processors (``UTCDateTime``, JSON, booleans: the stored values are
byte for byte what Core would write), it runs on the connection's DBAPI connection inside
the connection's transaction, and a driver error comes out as SQLAlchemy's exception
(``OperationalError``, ``IntegrityError``, ...), a lost server connection invalidated.

Not for: expanding ``IN`` parameters, post-compile parameters, INSERTs that would need a
Python-side column default (all refused when the statement is first prepared, so a test
run finds them). ``docs/performance.md`` has the figures.

The switch: ``IA_EVENTS_PREPARED=0`` (read at import) sends the very same statements and
parameters through ``Connection.execute`` -- plain SQLAlchemy Core, no private API. It is
there to compare the two paths (``benchmarks/prepared_vs_core.py``) and as the way out should an
SQLAlchemy release break this module. ``tests/integration/test_prepared.py`` runs on both
paths and both databases. Measured in December 2026 on the 2-core VM under load, Core
did not hold the check-in goals on both databases, so this module stays
(``docs/performance.md``, "Check-in: prepared path vs. Core").

SQLAlchemy internals used here (not its documented public API; they may change in a
minor release, hence the ``sqlalchemy>=2.1,<2.2`` pin in ``pyproject.toml``):

- ``SQLCompiler.bind_names`` (BindParameter -> rendered name), ``.positiontup``
  (order of positional parameters), ``.insert_prefetch`` / ``.update_prefetch``
  (columns whose Python-side default Core would compute), ``.construct_params()``
  (bind values with their defaults, as Core builds them);
- ``BindParameter.expanding`` / ``.literal_execute`` (refused);
- ``DBAPIError.instance()`` (wraps a driver error the way Core does);
- ``Dialect.is_disconnect()``, ``Dialect.loaded_dbapi`` and
  ``PoolProxiedConnection.driver_connection`` / ``.dbapi_connection`` (documented, but
  meant for dialect authors); ``TypeEngine.bind_processor()`` / ``.result_processor()``
  / ``.dialect_impl()`` (public type API).

Upgrading SQLAlchemy past 2.1: run ``tests/integration/test_prepared.py`` on SQLite and
PostgreSQL (it compares the stored rows byte for byte with Core's), then widen the pin.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

Processor = Callable[[Any], Any] | None


class Prepared:
    """One statement compiled for one dialect (and, for an INSERT, one set of columns)."""

    def __init__(self, stmt: ClauseElement, dialect: Dialect, keys: Sequence[str] = ()) -> None:
        column_keys = list(keys) if isinstance(stmt, Insert) else None
        # A DML/SELECT statement compiles to an SQLCompiler (``compile`` is typed as Compiled).
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect, column_keys=column_keys))
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError("a column default would be needed: give every column's value")
        binds = {name: bp for bp, name in compiled.bind_names.items()}  # as rendered
        if any(b.expanding or b.literal_execute for b in binds.values()):
            raise ValueError("expanding or post-compile parameters are not supported")
        self.sql = compiled.string
        self.dialect = dialect
        self._compiled = compiled
        self._positional = compiled.positional
        self._order = list(compiled.positiontup or ()) if compiled.positional else list(binds)
        self._binds: dict[str, Processor] = {
            name: binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self._order
        }
        columns = getattr(stmt, "exported_columns", ())
        self._result_types = [c.type.dialect_impl(dialect) for c in columns]
        self._results: list[Processor] | None = None

    def _params(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = self._compiled.construct_params(params)
        assert values is not None  # None only for a compiler that renders no parameters
        processed = {}
        for name in self._order:
            value = values[name]
            proc = self._binds[name]
            processed[name] = proc(value) if proc is not None and value is not None else value
        if self._positional:
            return [processed[name] for name in self._order]
        return processed

    def run(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute in ``conn``'s transaction; every row, each value converted by its type."""
        args = self._params(params)
        fairy = conn.connection
        # A checked-out connection always has its driver connection (None only once closed).
        cursor = fairy.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, args)
            rows = cursor.fetchall() if cursor.description else []
            if rows and self._results is None:
                self._results = [
                    t.result_processor(self.dialect, d[1])
                    for t, d in zip(self._result_types, cursor.description, strict=False)
                ]
        except self.dialect.loaded_dbapi.Error as e:
            if self.dialect.is_disconnect(e, fairy.dbapi_connection, cursor):
                conn.invalidate(e)
            raise exc.DBAPIError.instance(
                self.sql, args, e, self.dialect.loaded_dbapi.Error, dialect=self.dialect
            ) from e
        finally:
            cursor.close()
        procs = self._results or []
        if not any(procs):
            return [tuple(r) for r in rows]
        return [
            tuple(v if p is None or v is None else p(v) for p, v in zip(procs, r, strict=False))
            for r in rows
        ]


_CACHE: dict[tuple[int, str, tuple[str, ...]], tuple[ClauseElement, Prepared]] = {}

#: ``IA_EVENTS_PREPARED=0`` runs the same statements through SQLAlchemy Core instead
#: (read once at import; tests switch it with ``monkeypatch.setattr``).
ENABLED = os.environ.get("IA_EVENTS_PREPARED", "1").strip() != "0"


def run(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run ``stmt`` (a module constant: its compiled form is kept per dialect and, for an
    INSERT, per set of columns) with ``params`` on ``conn``; the rows. With ``ENABLED``
    off, the same statement and parameters go through ``conn.execute`` (Core)."""
    if not ENABLED:
        result = conn.execute(stmt, dict(params))  # type: ignore[call-overload]  # any statement
        return [tuple(r) for r in result] if result.returns_rows else []
    keys = tuple(params) if isinstance(stmt, Insert) else ()
    key = (id(stmt), conn.dialect.name, keys)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not stmt:
        hit = _CACHE[key] = (stmt, Prepared(stmt, conn.dialect, keys))
    return hit[1].run(conn, params)
