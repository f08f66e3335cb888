"""Key files and the encrypted blob store: what an admin or an attacker with the disk sees."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from storage.blobs import CHUNK, BlobCorrupt, BlobStore
from storage.keys import KeyRing


@pytest.fixture
def store(tmp_path):  # type: ignore[no-untyped-def]
    keys = KeyRing.create_or_load(tmp_path / "keys")
    return BlobStore(tmp_path / "archive", keys)


def test_key_files_are_private_and_creation_is_idempotent(tmp_path):  # type: ignore[no-untyped-def]
    ring = KeyRing.create_or_load(tmp_path / "keys")
    again = KeyRing.create_or_load(tmp_path / "keys")
    assert ring.fingerprint() == again.fingerprint()
    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_rotation_keeps_old_wrapped_keys_readable(tmp_path):  # type: ignore[no-untyped-def]
    ring = KeyRing.create_or_load(tmp_path / "keys")
    kek, wrapped = ring.wrap(b"k" * 32)
    new = ring.add_kek()
    assert new != kek and ring.current_kek_id == new
    assert ring.unwrap(kek, wrapped) == b"k" * 32
    assert KeyRing.load(tmp_path / "keys").unwrap(kek, wrapped) == b"k" * 32


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_roundtrip_and_no_plaintext_on_disk(store, size):  # type: ignore[no-untyped-def]
    data = (b"Teilnehmerliste Naehcafe " * (size // 25 + 1))[:size]
    pending = store.stage(data, namespace="agency:1")
    path = store.commit(pending)
    assert pending.sha256 == hashlib.sha256(data).hexdigest()
    raw = path.read_bytes()
    if size >= 25:
        assert b"Teilnehmerliste" not in raw
    # The file name reveals neither the content hash nor the content.
    assert pending.sha256 not in str(path)
    assert (
        store.read_bytes(pending.name, pending.kek_id, pending.wrapped_key, pending.sha256) == data
    )
    assert store.verify(pending.name, pending.kek_id, pending.wrapped_key, pending.sha256) is None


def test_same_content_in_two_agencies_is_two_blobs(store):  # type: ignore[no-untyped-def]
    a = store.stage(b"same", namespace="agency:1")
    b = store.stage(b"same", namespace="agency:2")
    assert a.sha256 == b.sha256 and a.name != b.name


@pytest.mark.parametrize("where", ["header", "middle", "tag"])
def test_a_flipped_byte_is_detected_and_never_served(store, where):  # type: ignore[no-untyped-def]
    data = os.urandom(2 * CHUNK + 100)
    p = store.stage(data, namespace="agency:1")
    path = store.commit(p)
    raw = bytearray(path.read_bytes())
    index = {"header": 10, "middle": len(raw) // 2, "tag": len(raw) - 1}[where]
    raw[index] ^= 0x01
    path.write_bytes(bytes(raw))
    assert store.verify(p.name, p.kek_id, p.wrapped_key, p.sha256) is not None
    with pytest.raises(BlobCorrupt):
        store.read_bytes(p.name, p.kek_id, p.wrapped_key, p.sha256)


def test_truncation_by_a_whole_chunk_is_detected(store):  # type: ignore[no-untyped-def]
    p = store.stage(os.urandom(3 * CHUNK), namespace="agency:1")
    path = store.commit(p)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - (CHUNK + 16)])
    assert store.verify(p.name, p.kek_id, p.wrapped_key, p.sha256) is not None


def test_missing_blob_is_reported_as_missing(store):  # type: ignore[no-untyped-def]
    p = store.stage(b"x", namespace="agency:1")
    store.discard(p)
    assert store.verify(p.name, p.kek_id, p.wrapped_key, p.sha256) == "missing"


def test_interrupted_writes_leave_only_temp_files_that_are_cleared(store):  # type: ignore[no-untyped-def]
    store.stage(b"never committed", namespace="agency:1")
    assert list(store.names_on_disk()) == []
    assert store.clear_temp() == 1
