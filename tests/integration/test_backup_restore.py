"""Backup → restore into an empty data dir → verify passes; key rotation rewraps only keys."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from ia_events.archive import backup, fixity
from ia_events.archive.evidence import add_evidence, read_content
from ia_events.core.access import Actor
from ia_events.core.errors import DomainError
from ia_events.core.installation import Installation
from ia_events.core.models import Blob
from tests.conftest import make_settings
from tests.factories import PDF, PNG, build


def _target_settings(inst: Installation, tmp_path: Path, pg_url: str | None):  # type: ignore[no-untyped-def]
    if inst.db.engine.dialect.name == "sqlite":
        return make_settings(tmp_path / "restored"), None
    name = f"ia_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_settings(tmp_path / "restored", pg_url.rsplit("/", 1)[0] + f"/{name}"), name


def test_backup_restore_verify_and_rotation(
    inst: Installation, cli_actor: Actor, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    w = build(inst)
    a = add_evidence(
        inst,
        w.fk_essen,
        agency_slug="essen",
        funding_year=2025,
        kind="signed_list_scan",
        filename="liste.pdf",
        content=PDF,
        occurrence_id=w.occurrence,
        subgoal_ids=w.subgoals,
    )
    b = add_evidence(
        inst,
        w.fk_kleve,
        agency_slug="kleve",
        funding_year=2025,
        kind="photo",
        filename="f.png",
        content=PNG,
    )
    assert fixity.verify(inst, cli_actor).ok  # writes a signed checkpoint too

    before = {
        p: p.read_bytes() for p in (inst.settings.archive_dir / "blobs").rglob("*") if p.is_file()
    }
    rot = backup.rotate_keys(inst, cli_actor)
    assert rot.blobs == 2 and rot.new_kek == "2"
    after = {
        p: p.read_bytes() for p in (inst.settings.archive_dir / "blobs").rglob("*") if p.is_file()
    }
    assert before == after  # files untouched
    with inst.db.read() as s:
        assert set(s.scalars(select(Blob.kek_id))) == {"2"}
    assert read_content(inst, w.fk_essen, a.id)[2] == PDF

    res = backup.backup(inst, cli_actor, tmp_path / "bk")
    assert res.blobs == 2
    assert (tmp_path / "bk" / backup.KEYS_DIR / "keys" / "kek.current").exists()
    with pytest.raises(DomainError) as err:
        backup.backup(inst, cli_actor, tmp_path / "bk")
    assert err.value.code == "backup_target_not_empty"

    pg_url = (
        request.getfixturevalue("pg_server_url")
        if inst.db.engine.dialect.name != "sqlite"
        else None
    )
    settings, _name = _target_settings(inst, tmp_path, pg_url)
    backup.restore(tmp_path / "bk", settings)
    restored = Installation.open(settings)
    try:
        report = fixity.verify(restored, cli_actor)
        assert report.ok, [f.line() for f in report.findings]
        assert report.blobs_checked == 2
        assert read_content(restored, w.fk_kleve, b.id)[2] == PNG
        with pytest.raises(DomainError) as err:
            backup.restore(tmp_path / "bk", settings)
        assert err.value.code == "restore_target_not_empty"
    finally:
        restored.close()

    # A tampered backup is refused before anything is written.
    blob = next(p for p in (tmp_path / "bk" / "archive").rglob("*") if p.is_file())
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DomainError) as err:
        backup.restore(tmp_path / "bk", make_settings(tmp_path / "other"))
    assert err.value.code == "backup_invalid"
    assert not (tmp_path / "other" / "keys").exists()
