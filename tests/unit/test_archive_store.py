"""The archive-store choice (IA_EVENTS_ARCHIVE_URL), the streamed chunk format the S3
store uses, and how a retention end becomes an object lock."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ia_events.archive.objectlock import lock_until
from storage.archive_store import ArchiveUrlInvalid, parse_archive_url
from storage.blobs import CHUNK, BlobCorrupt, decrypt_stream, encrypt_blocks, new_header
from storage.s3blobs import ciphertext_size


def test_archive_url_names_bucket_endpoint_region_and_profile() -> None:
    loc = parse_archive_url("s3://ia-archiv?endpoint=http://127.0.0.1:8333&region=eu-central-1")
    assert (loc.bucket, loc.endpoint, loc.region, loc.profile) == (
        "ia-archiv", "http://127.0.0.1:8333", "eu-central-1", None,
    )  # fmt: skip
    assert parse_archive_url("s3://b?profile=archiv").profile == "archiv"
    for bad in ("http://x", "s3://", "s3://b/prefix", "s3://b?secret=1"):
        with pytest.raises(ArchiveUrlInvalid):
            parse_archive_url(bad)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 5])
def test_streamed_format_round_trips_and_has_the_announced_size(size: int) -> None:
    data = os.urandom(size)
    key = AESGCM.generate_key(bit_length=256)
    header, _ = new_header()
    blocks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    blob = header + b"".join(encrypt_blocks(AESGCM(key), header, blocks))
    assert len(blob) == ciphertext_size(size)
    out = b"".join(
        decrypt_stream("x", AESGCM(key), io.BytesIO(blob).read, hashlib.sha256(data).hexdigest())
    )
    assert out == data


def test_a_truncated_or_changed_stream_fails_authentication() -> None:
    data = os.urandom(2 * CHUNK + 10)
    key = AESGCM.generate_key(bit_length=256)
    header, _ = new_header()
    blocks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    blob = header + b"".join(encrypt_blocks(AESGCM(key), header, blocks))
    truncated = blob[: len(header) + CHUNK + 16]  # the last chunk dropped
    with pytest.raises(BlobCorrupt):
        list(decrypt_stream("x", AESGCM(key), io.BytesIO(truncated).read, None))
    changed = bytearray(blob)
    changed[100] ^= 1
    with pytest.raises(BlobCorrupt):
        list(decrypt_stream("x", AESGCM(key), io.BytesIO(bytes(changed)).read, None))


def test_lock_lasts_to_the_end_of_the_retention_day() -> None:
    assert lock_until(date(2035, 12, 31)) == datetime(2036, 1, 1, tzinfo=UTC)
