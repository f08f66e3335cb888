"""The start-up check reads the schema revision without Alembic; it must agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from storage import db


def test_head_revision_is_alembics_head() -> None:
    alembic_head = ScriptDirectory.from_config(db.alembic_config("sqlite://")).get_current_head()
    assert db.head_revision() == alembic_head


def test_two_heads_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text("revision: str = 'b'\ndown_revision: str | None = 'a'\n")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", tmp_path)
    assert db.head_revision() == "b"
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')
    with pytest.raises(RuntimeError, match="several migration heads"):
        db.head_revision()


def test_current_revision_of_a_new_and_a_migrated_database(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert db.current_revision(engine) is None
    db.migrate(engine)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()
