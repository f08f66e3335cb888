"""The blob-store interface of the archive, and the choice of its implementation.

Two implementations: ``storage.blobs.LocalBlobStore`` (a folder on this host, the
embedded default) and ``storage.s3blobs.S3BlobStore`` (an S3 bucket with Object Lock,
shared by several app servers). ``IA_EVENTS_ARCHIVE_URL`` chooses: unset means the
local folder, ``s3://BUCKET?endpoint=URL&region=R&profile=P`` the bucket.

Both store the same thing: the AES-256-GCM chunk format of ``storage.blobs`` under the
keyed-hash name of (agency namespace, SHA-256), so the store sees neither plaintext,
hash nor file name. Retention and legal hold are calls on the store; the local folder
accepts them and enforces nothing (the app's own rules do, ``archive.retention``).

This module knows no database: coordination between hosts (the upload journal and its
leases) lives in ``ia_events.archive`` and uses the database.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from storage.keys import KeyRing

Source = BinaryIO | bytes | Iterable[bytes]


class BlobError(Exception):
    """Base for blob store failures; ``code`` is stable."""

    code = "blob_error"


class BlobMissing(BlobError):
    code = "blob_missing"


class BlobCorrupt(BlobError):
    code = "blob_corrupt"


class StorageFull(BlobError):
    code = "storage_full"


class ArchiveUnavailable(BlobError):
    """The object store did not answer (or refused); nothing was recorded."""

    code = "archive_unavailable"


class ObjectLocked(BlobError):
    """The store refused a delete: the object's retention or legal hold is in force."""

    code = "object_locked"


class ArchiveUrlInvalid(BlobError):
    code = "archive_url_invalid"


@dataclass(frozen=True)
class PendingBlob:
    """A blob ready to be put in place: encrypted in a temp file (local folder), or
    hashed and waiting to be encrypted while it streams to the bucket (S3)."""

    temp_path: Path | None
    name: str
    sha256: str
    size: int
    kek_id: str
    wrapped_key: bytes
    # S3: the plaintext source (read again, re-hashed, while uploading) and its data key.
    source: object = field(default=None, repr=False, compare=False)
    dek: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LockStatus:
    """An object's lock as the store reports it (all empty on the local folder)."""

    mode: str | None = None  # COMPLIANCE | GOVERNANCE
    until: datetime | None = None
    legal_hold: bool = False

    def in_force(self, now: datetime) -> bool:
        return self.legal_hold or (self.until is not None and self.until > now)


@dataclass(frozen=True)
class StoredObject:
    """One stored object (one version of a key, on S3)."""

    name: str
    version_id: str | None
    size: int
    latest: bool = True


class ArchiveStore(ABC):
    """What the archive services need from a blob store."""

    kind: str = "?"
    #: True when several hosts write to it: coordination then runs through the database
    #: (journal leases), never through a lock or file only one host sees.
    shared: bool = False
    #: True when the store itself enforces retention and legal holds (S3 Object Lock).
    enforces_lock: bool = False
    keys: KeyRing

    @abstractmethod
    def describe(self) -> str:
        """Where blobs go, for people (no credentials)."""

    def name_for(self, namespace: str, sha256: str) -> str:
        return self.keys.keyed_hash("blob-name", f"{namespace}\0{sha256}".encode())

    # -- writing ------------------------------------------------------------------------
    @abstractmethod
    def stage(
        self,
        source: Source,
        namespace: str,
        observe: Callable[[bytes], None] | None = None,
        durable: bool = True,
    ) -> PendingBlob: ...

    def sync(self, pending: PendingBlob) -> None:  # noqa: B027 - optional
        """Make a staged blob durable before ``publish`` (local temp files)."""

    @abstractmethod
    def publish(
        self, pendings: list[PendingBlob], heartbeat: Callable[[], None] | None = None
    ) -> dict[str, str | None]:
        """Put every staged blob in place; returns name -> version id (None: unversioned).

        ``heartbeat`` is called now and then during long transfers (journal lease)."""

    @abstractmethod
    def discard(self, pending: PendingBlob) -> None: ...

    def clear_temp(self) -> int:
        return 0

    @abstractmethod
    def uploading(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def publishing(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def recovering(self) -> AbstractContextManager[None]: ...

    # -- reading ------------------------------------------------------------------------
    @abstractmethod
    def exists(self, name: str, version_id: str | None = None) -> bool: ...

    @abstractmethod
    def iter_plaintext(
        self,
        name: str,
        kek_id: str,
        wrapped_key: bytes,
        sha256: str | None = None,
        version_id: str | None = None,
    ) -> Iterator[bytes]: ...

    def read_bytes(
        self,
        name: str,
        kek_id: str,
        wrapped_key: bytes,
        sha256: str,
        version_id: str | None = None,
    ) -> bytes:
        """The whole plaintext, only after every check passed (never half-served)."""
        return b"".join(self.iter_plaintext(name, kek_id, wrapped_key, sha256, version_id))

    def verify(
        self,
        name: str,
        kek_id: str,
        wrapped_key: bytes,
        sha256: str,
        version_id: str | None = None,
    ) -> str | None:
        """None when intact, else a short description of the fault."""
        try:
            for _ in self.iter_plaintext(name, kek_id, wrapped_key, sha256, version_id):
                pass
        except BlobMissing:
            return "missing"
        except BlobCorrupt as exc:
            return str(exc).split(": ", 1)[-1]
        except ArchiveUnavailable:
            raise
        except Exception as exc:  # unreadable key, I/O error: report, don't crash verify
            return f"unreadable ({type(exc).__name__})"
        return None

    def verify_locked(
        self,
        name: str,
        kek_id: str,
        wrapped_key: bytes,
        sha256: str,
        version_id: str | None = None,
    ) -> tuple[str | None, LockStatus | None]:
        """``verify`` and, where the store has locks, the object's lock status as the
        same read reported it (None: not known from the read)."""
        return self.verify(name, kek_id, wrapped_key, sha256, version_id), None

    @abstractmethod
    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every stored object (every version on S3)."""

    def names_on_disk(self) -> Iterator[str]:
        seen: set[str] = set()
        for obj in self.list_objects():
            if obj.name not in seen:
                seen.add(obj.name)
                yield obj.name

    # -- raw ciphertext (migration between stores) --------------------------------------
    @abstractmethod
    def read_raw(self, name: str, version_id: str | None = None) -> Iterator[bytes]: ...

    @abstractmethod
    def write_raw(self, name: str, chunks: Iterable[bytes]) -> str | None:
        """Store ciphertext as is (it stays valid: the key is in the database)."""

    # -- deleting and locking ----------------------------------------------------------
    @abstractmethod
    def shred(self, name: str, version_id: str | None = None) -> None:
        """Remove the object (its key is destroyed by the caller: crypto-shred).

        ``ObjectLocked`` when the store refuses because its lock is in force."""

    def set_retention(self, name: str, version_id: str | None, until: datetime) -> None:  # noqa: B027
        """Lock the object until ``until`` (never shortens a lock)."""

    def set_legal_hold(self, name: str, version_id: str | None, on: bool) -> None:  # noqa: B027
        """Set or clear the object's legal hold."""

    def lock_status(self, name: str, version_id: str | None = None) -> LockStatus:
        return LockStatus()

    def abort_incomplete(self, name: str) -> int:
        """Abort unfinished multipart uploads of ``name`` (S3); returns how many."""
        return 0

    def ensure_ready(self) -> list[str]:
        """Create what the store needs (bucket); returns lines to show. May refuse."""
        return []


def archive_url() -> str | None:
    return (os.environ.get("IA_EVENTS_ARCHIVE_URL") or "").strip() or None


def lock_mode() -> str:
    """COMPLIANCE (default) or GOVERNANCE (``IA_EVENTS_ARCHIVE_LOCK_MODE``, test installations)."""
    mode = (os.environ.get("IA_EVENTS_ARCHIVE_LOCK_MODE") or "COMPLIANCE").strip().upper()
    if mode not in ("COMPLIANCE", "GOVERNANCE"):
        raise ArchiveUrlInvalid(f"IA_EVENTS_ARCHIVE_LOCK_MODE={mode!r}: COMPLIANCE or GOVERNANCE")
    return mode


@dataclass(frozen=True)
class S3Location:
    bucket: str
    endpoint: str | None
    region: str | None
    profile: str | None

    def __str__(self) -> str:
        where = f" ({self.endpoint})" if self.endpoint else ""
        return f"s3://{self.bucket}{where}"


def parse_archive_url(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.path not in ("", "/"):
        raise ArchiveUrlInvalid(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "region", "profile"}
    if unknown:
        raise ArchiveUrlInvalid(f"{url}: unknown parameter {sorted(unknown)}")
    return S3Location(
        bucket=parts.netloc,
        endpoint=query.get("endpoint"),
        region=query.get("region"),
        profile=query.get("profile"),
    )


def open_store(url: str | None, local_root: Path, keys: KeyRing) -> ArchiveStore:
    """The store ``url`` names (None: the local folder ``local_root``)."""
    if not url or url in ("local", "file:"):
        from storage.blobs import LocalBlobStore

        return LocalBlobStore(local_root, keys)
    if url.startswith("file://"):
        from storage.blobs import LocalBlobStore

        return LocalBlobStore(Path(url[len("file://") :]), keys)
    from storage.s3blobs import S3BlobStore

    return S3BlobStore(parse_archive_url(url), keys, mode=lock_mode())
