"""Moving the archive local -> S3 -> local (``ia-events archive migrate --to URL``) and
what ``ia-events backup`` says with an S3 archive; on both databases."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ia_events.archive import fixity
from ia_events.archive.evidence import add_evidence, read_content
from ia_events.archive.migrate import migrate
from ia_events.core.installation import Installation
from tests.factories import build

pytestmark = pytest.mark.s3

BIN = Path(sys.executable).with_name("ia-events")


def _ia(inst: Installation, *args: str, archive: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IA_EVENTS_DATA": str(inst.settings.data_dir)}
    env["IA_EVENTS_DATABASE_URL"] = inst.settings.database_url
    env.pop("IA_EVENTS_ARCHIVE_URL", None)
    if archive:
        env["IA_EVENTS_ARCHIVE_URL"] = archive
    proc = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def test_migrate_local_to_s3_and_back_with_verify_passing(
    inst: Installation, s3_env, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    w = build(inst)
    files = {f"scan-{i}.pdf": b"%PDF-1.4\n" + os.urandom(300_000 * (i + 1)) for i in range(3)}
    files["gross.pdf"] = b"%PDF-1.4\n" + os.urandom(9 * 1024 * 1024)  # multipart on S3
    items = {
        name: add_evidence(
            inst, w.fk_essen, agency_slug="essen", funding_year=2025,
            kind="signed_list_scan", filename=name, content=data,
        ).id
        for name, data in files.items()
    }  # fmt: skip
    url = s3_env.archive_url(f"ia-move-{uuid.uuid4().hex[:10]}")

    res = migrate(inst, w.admin, url)
    assert res.blobs == 4
    on_s3 = Installation.open(dataclasses.replace(inst.settings, archive_url=url))
    try:
        assert on_s3.blobs.kind == "s3"
        report = fixity.verify(on_s3, w.admin)
        assert report.ok, [f.line() for f in report.findings]
        assert report.blobs_checked == 4
        for name, eid in items.items():
            assert read_content(on_s3, w.fk_essen, eid)[2] == files[name]
        # the CLI on the S3 archive: verify passes, backup says what it keeps where
        done = _ia(on_s3, "verify", archive=url)
        assert done.returncode == 0, done.stdout + done.stderr
        backup = _ia(on_s3, "backup", str(tmp_path / "sicherung"), "--no-keys", archive=url)
        assert backup.returncode == 0, backup.stdout + backup.stderr
        assert "4 Objekte bleiben im Bucket" in backup.stdout
        assert "Versionierung und Objektsperre" in backup.stdout
        assert not (tmp_path / "sicherung" / "archive").exists()

        # ... and back into an empty local folder
        shutil.rmtree(inst.settings.archive_dir / "blobs")
        (inst.settings.archive_dir / "blobs").mkdir()
        moved = _ia(on_s3, "archive", "migrate", "--to", "local", archive=url)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "4 Dateien" in moved.stdout
    finally:
        on_s3.close()
    back = Installation.open(dataclasses.replace(inst.settings, archive_url=None))
    try:
        report = fixity.verify(back, w.admin)
        assert report.ok, [f.line() for f in report.findings]
        assert report.blobs_checked == 4
        for name, eid in items.items():
            assert read_content(back, w.fk_essen, eid)[2] == files[name]
    finally:
        back.close()


def test_migrate_to_a_bucket_without_lock_is_refused_in_german(
    sqlite_inst: Installation, s3_env
) -> None:  # type: ignore[no-untyped-def]
    import boto3

    build(sqlite_inst)
    bucket = f"ia-plain-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_env.endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    proc = _ia(sqlite_inst, "archive", "migrate", "--to", s3_env.archive_url(bucket), archive=None)
    assert proc.returncode != 0
    assert "keine Objektsperre" in proc.stdout + proc.stderr


def test_cli_init_creates_the_locked_bucket_or_refuses_one_without_lock(
    tmp_path: Path, s3_env
) -> None:  # type: ignore[no-untyped-def]
    import boto3

    def init(data: Path, bucket: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "IA_EVENTS_DATA": str(data)}
        env.pop("IA_EVENTS_DATABASE_URL", None)
        env["IA_EVENTS_ARCHIVE_URL"] = s3_env.archive_url(bucket)
        proc = subprocess.run(
            [str(BIN), "init"], capture_output=True, text=True, env=env, timeout=120
        )
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    fresh = f"ia-init-{uuid.uuid4().hex[:10]}"
    done = init(tmp_path / "a", fresh)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Bucket {fresh} mit Objektsperre angelegt." in done.stdout
    assert "Versionierung und Objektsperre aktiv" in done.stdout

    plain = f"ia-plain-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_env.endpoint, region_name="us-east-1").create_bucket(
        Bucket=plain
    )
    refused = init(tmp_path / "b", plain)
    assert refused.returncode != 0
    out = refused.stdout + refused.stderr
    assert f"Der Bucket {plain} hat keine Objektsperre" in out
