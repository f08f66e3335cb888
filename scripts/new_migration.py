"""Write a new Alembic revision from the difference between the models and the
migrations so far: ``python scripts/new_migration.py "what changes" [REV_ID]``.

Review the generated file (SQLite needs batch operations; data migrations are
written by hand) and keep ``tests/integration/test_foundation.py``'s check that
models and migrations agree on both databases green.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from ia_events.core.models import Base
from storage.db import alembic_config, make_engine, migrate


def main(message: str, rev_id: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'gen.sqlite3'}"
        migrate(make_engine(url))
        cfg = alembic_config(url)
        cfg.attributes["target_metadata"] = Base.metadata
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
