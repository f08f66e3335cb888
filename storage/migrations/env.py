"""Alembic environment: migrations run from ``storage.db.migrate`` (or alembic's CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import ia_events.core.models  # noqa: F401 - registers every table on the metadata
from storage.db import metadata

config = context.config
target_metadata = metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)
