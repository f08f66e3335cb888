"""The archive on S3 with Object Lock, against a real SeaweedFS cluster (tests/seaweed.py).

Each test gets its own bucket (created by ``initialise`` with Object Lock, GOVERNANCE
mode as for a test installation) on the per-run cluster; the fault tests stop and
restart single ``weed`` processes of that cluster and leave it running again.
"""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import func, select

from ia_events.archive import fixity, objectlock, retention
from ia_events.archive.evidence import add_evidence, add_many, read_content
from ia_events.core.errors import Conflict, DomainError
from ia_events.core.installation import Installation, initialise
from ia_events.core.models import Blob, DeletionRecord, Evidence
from storage.archive_store import ObjectLocked
from storage.s3blobs import PREFIX
from tests.conftest import s3_settings
from tests.factories import PDF, build

pytestmark = pytest.mark.s3


def _raw(inst: Installation):  # type: ignore[no-untyped-def]
    """A plain boto3 client on the same bucket, as an operator (or an attacker) has."""
    loc = inst.blobs.location  # type: ignore[attr-defined]
    return boto3.client(
        "s3",
        endpoint_url=loc.endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def _pdf(size: int) -> bytes:
    return b"%PDF-1.4\n" + os.urandom(size)


def _versions(inst: Installation) -> list[tuple[str, str]]:
    raw = _raw(inst)
    out = []
    for page in raw.get_paginator("list_object_versions").paginate(Bucket=inst.blobs.bucket):  # type: ignore[attr-defined]
        out += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    return out


def _blob(inst: Installation, evidence_id: int) -> Blob:
    with inst.db.read() as s:
        blob = s.scalar(select(Blob).join(Evidence).where(Evidence.id == evidence_id))
        assert blob is not None
        s.expunge(blob)
        return blob


def _recorded(inst: Installation) -> set[tuple[str, str | None]]:
    with inst.db.read() as s:
        return {(PREFIX + n, v) for n, v in s.execute(select(Blob.name, Blob.version_id)).all()}


def test_upload_read_dedup_verify_on_s3(s3_inst: Installation) -> None:
    w = build(s3_inst)
    big = _pdf(12 * 1024 * 1024)  # two multipart parts
    first = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="signed_list_scan", filename="Anwesenheit Müller.pdf", content=io.BytesIO(big),
    )  # fmt: skip
    again = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="signed_list_scan", filename="nochmal.pdf", content=big,
    )  # fmt: skip
    kleve = add_evidence(
        s3_inst, w.fk_kleve, agency_slug="kleve", funding_year=2025,
        kind="signed_list_scan", filename="kleve.pdf", content=big,
    )  # fmt: skip
    batch = add_many(
        s3_inst, w.fk_essen, [("a.pdf", PDF), ("b.pdf", _pdf(1000))],
        kind="participant_list", agency_slug="essen", funding_year=2025,
    )  # fmt: skip

    # Same content: one object per agency, never shared across agencies.
    with s3_inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Blob)) == 4
        blob_of = {e.id: e.blob_id for e in s.scalars(select(Evidence))}
    assert blob_of[first.id] == blob_of[again.id] != blob_of[kleve.id]
    versions = _versions(s3_inst)
    assert {k for k, _ in versions} == {k for k, _ in _recorded(s3_inst)}
    assert set(versions) == _recorded(s3_inst)

    # The bucket sees neither file names, hashes nor plaintext.
    raw = _raw(s3_inst)
    for key, version in versions:
        assert first.sha256 not in key and "Müller" not in key
        body = raw.get_object(Bucket=s3_inst.blobs.bucket, Key=key, VersionId=version)["Body"]  # type: ignore[attr-defined]
        head = body.read(64 * 1024)
        assert head.startswith(b"IAB1") and b"%PDF" not in head

    assert read_content(s3_inst, w.fk_essen, first.id)[2] == big
    assert read_content(s3_inst, w.fk_essen, batch[1].id)[2].startswith(b"%PDF")

    # Locked until the end of the retention day, in the configured mode.
    key, version = next(iter(_recorded(s3_inst)))
    ret = raw.get_object_retention(Bucket=s3_inst.blobs.bucket, Key=key, VersionId=version)  # type: ignore[attr-defined]
    assert ret["Retention"]["Mode"] == "GOVERNANCE"
    assert ret["Retention"]["RetainUntilDate"].astimezone(UTC) == objectlock.lock_until(
        first.retention_until
    )

    report = fixity.verify(s3_inst, w.admin)
    assert report.ok, [f.line() for f in report.findings]
    assert report.blobs_checked == 4
    status = objectlock.archive_status(s3_inst, w.admin)  # the System page's lines
    assert (status.objects, status.locked, status.held) == (4, 4, 0)
    assert "GOVERNANCE" in status.lines()[1]


def test_object_lock_refuses_an_early_delete(s3_inst: Installation) -> None:
    w = build(s3_inst)
    item = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="participant_list", filename="liste.pdf", content=PDF,
    )  # fmt: skip
    blob = _blob(s3_inst, item.id)
    name, version = blob.name, blob.version_id
    raw = _raw(s3_inst)
    with pytest.raises(ClientError) as refused:
        raw.delete_object(Bucket=s3_inst.blobs.bucket, Key=PREFIX + name, VersionId=version)  # type: ignore[attr-defined]
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ObjectLocked):
        s3_inst.blobs.shred(name, version)
    assert read_content(s3_inst, w.fk_essen, item.id)[2] == PDF


def test_init_creates_a_locked_bucket_and_refuses_one_without_lock(
    tmp_path, s3_env, cli_actor
) -> None:  # type: ignore[no-untyped-def]
    settings = s3_settings(tmp_path / "a", None, s3_env)
    inst, created = initialise(settings)
    try:
        assert created
        raw = _raw(inst)
        cfg = raw.get_object_lock_configuration(Bucket=inst.blobs.bucket)  # type: ignore[attr-defined]
        assert cfg["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    finally:
        inst.close()

    plain = s3_settings(tmp_path / "b", None, s3_env)
    bucket = plain.archive_url.split("?")[0][len("s3://") :]  # type: ignore[union-attr]
    raw.create_bucket(Bucket=bucket)
    with pytest.raises(DomainError) as refused:
        initialise(plain)
    assert refused.value.code == "archive_no_object_lock"
    assert "keine Objektsperre" in refused.value.message()
    assert bucket in refused.value.message()


def test_legal_hold_sets_and_clears_the_objects_hold(s3_inst: Installation) -> None:
    w = build(s3_inst)
    item = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="participant_list", filename="liste.pdf", content=PDF,
    )  # fmt: skip
    blob = _blob(s3_inst, item.id)
    name, version = blob.name, blob.version_id
    assert not s3_inst.blobs.lock_status(name, version).legal_hold
    with s3_inst.db.write() as s:
        hold = retention.set_hold(
            s, w.coordinator, scope="occurrence", scope_id=w.occurrence, reason="Prüfung"
        )
    # the item is not on that occurrence: no object hold yet
    assert retention.sync_object_holds(s3_inst) is None
    assert not s3_inst.blobs.lock_status(name, version).legal_hold
    with s3_inst.db.write() as s:
        item_hold = retention.set_hold(
            s, w.coordinator, scope="evidence", scope_id=item.id, reason="Rechtsstreit"
        )
    assert retention.sync_object_holds(s3_inst) is None
    assert s3_inst.blobs.lock_status(name, version).legal_hold
    assert objectlock.archive_status(s3_inst, w.admin).held == 1
    with s3_inst.db.write() as s:
        retention.release_hold(s, w.admin, item_hold.id, "koordination2")
        retention.release_hold(s, w.admin, hold.id, "koordination2")
    assert retention.sync_object_holds(s3_inst) is None
    assert not s3_inst.blobs.lock_status(name, version).legal_hold
    assert fixity.verify(s3_inst, w.admin).ok


def test_erasure_before_the_lock_ends_shreds_the_key_and_deletes_the_object_later(
    s3_inst: Installation,
) -> None:
    w = build(s3_inst)
    item = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="participant_list", filename="liste.pdf", content=PDF,
    )  # fmt: skip
    blob = _blob(s3_inst, item.id)
    name, version, locked = blob.name, blob.version_id, blob.locked_until
    assert locked == objectlock.lock_until(item.retention_until)

    # A run dated after the retention end (the lock, on real time, still holds).
    result = retention.run_deletions(s3_inst, w.admin, item.retention_until + timedelta(days=1))
    assert [c.evidence_id for c in result.deleted] == [item.id]
    assert result.still_locked == [(item.id, locked)]
    blob = _blob(s3_inst, item.id)
    assert blob.wrapped_key is None and blob.removed_at is None
    with s3_inst.db.read() as s:
        record = s.scalar(select(DeletionRecord).where(DeletionRecord.evidence_id == item.id))
        assert record is not None and record.locked_until == locked
    assert s3_inst.blobs.exists(name, version)  # ciphertext stays, its key is gone
    with pytest.raises(Conflict):
        read_content(s3_inst, w.fk_essen, item.id)
    assert fixity.verify(s3_inst, w.admin).ok  # a locked leftover is expected, not unknown

    # The lock runs out (GOVERNANCE lets an operator shorten it to simulate the years).
    soon = datetime.now(UTC) + timedelta(seconds=2)
    _raw(s3_inst).put_object_retention(
        Bucket=s3_inst.blobs.bucket, Key=PREFIX + name, VersionId=version,  # type: ignore[attr-defined]
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon},
        BypassGovernanceRetention=True,
    )  # fmt: skip
    assert retention.purge_shredded_files(s3_inst) == 0  # not yet
    time.sleep(3)
    assert retention.purge_shredded_files(s3_inst) == 1
    assert not s3_inst.blobs.exists(name, version)
    assert [k for k, _ in _versions(s3_inst)] == []


def test_verify_reports_overwritten_missing_and_unknown_objects(s3_inst: Installation) -> None:
    w = build(s3_inst)
    one = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="participant_list", filename="eins.pdf", content=PDF,
    )  # fmt: skip
    two = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="participant_list", filename="zwei.pdf", content=_pdf(5000),
    )  # fmt: skip
    b1, b2 = _blob(s3_inst, one.id), _blob(s3_inst, two.id)
    n1, n2, v2 = b1.name, b2.name, b2.version_id
    raw, bucket = _raw(s3_inst), s3_inst.blobs.bucket  # type: ignore[attr-defined]
    # a new version over a known key: the app keeps reading the recorded one
    raw.put_object(Bucket=bucket, Key=PREFIX + n1, Body=b"IAB1 not what was archived")
    assert read_content(s3_inst, w.fk_essen, one.id)[2] == PDF
    # an object nobody recorded
    raw.put_object(Bucket=bucket, Key=PREFIX + "f" * 64, Body=b"stray")
    # a recorded version removed by an operator with governance bypass
    raw.delete_object(Bucket=bucket, Key=PREFIX + n2, VersionId=v2, BypassGovernanceRetention=True)

    report = fixity.verify(s3_inst, w.admin)
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["blob_missing", "blob_overwritten", "blob_untracked"], report.findings
    assert any(n1[:16] in f.subject for f in report.findings if f.kind == "blob_overwritten")


def test_verify_reports_a_lock_that_is_no_longer_in_place(s3_inst: Installation) -> None:
    w = build(s3_inst)
    item = add_evidence(
        s3_inst, w.fk_essen, agency_slug="essen", funding_year=2025,
        kind="participant_list", filename="liste.pdf", content=PDF,
    )  # fmt: skip
    blob = _blob(s3_inst, item.id)
    name, version = blob.name, blob.version_id
    _raw(s3_inst).put_object_retention(
        Bucket=s3_inst.blobs.bucket, Key=PREFIX + name, VersionId=version,  # type: ignore[attr-defined]
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)},
        BypassGovernanceRetention=True,
    )  # fmt: skip
    report = fixity.verify(s3_inst, w.admin)
    assert [f.kind for f in report.findings] == ["blob_unlocked"]
