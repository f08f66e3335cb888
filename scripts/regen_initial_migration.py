"""Regenerate storage/migrations/versions/0001 from the models.

Only while no release has shipped (no database in the field is at 0001 yet).
After the first release, add a new revision instead:
``alembic -c <cfg> revision --autogenerate`` (see docs/development.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from storage.db import MIGRATIONS_DIR, alembic_config

for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    cfg = alembic_config(f"sqlite:///{Path(tmp) / 'gen.sqlite3'}")
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
print("regenerated", *(MIGRATIONS_DIR / "versions").glob("0001_*.py"))
