"""The archive in an S3 bucket with Object Lock (boto3), shared by several app servers.

Object key ``blobs/<name>``: the keyed-hash name of ``storage.archive_store`` -- the
bucket sees neither plaintext, SHA-256 nor file names; the body is the chunk format of
``storage.blobs`` (AES-256-GCM, encrypted in this process before it leaves).

Streaming both ways, nothing whole in memory: ``stage`` reads the plaintext once to
hash it (the name depends on the hash) and to check its type; ``publish`` reads it
again, encrypting 1 MiB chunks into 8 MiB multipart parts, and re-hashes it (a source
that changed between the passes is refused). Reads go chunk by chunk through
``decrypt_stream``, always of the recorded ``VersionId``: a newer version written over
a known key is never served instead (``ia-events verify`` reports it).

Locking: objects are *written without a lock* and locked (``set_retention``) once
their record has committed, so that an upload a crash interrupted leaves an object
that recovery can still delete; ``ia_events.archive.objectlock`` applies the locks and
re-applies any a crash skipped. This module never bypasses a lock (no
``BypassGovernanceRetention``), in either mode.

No host-local lock or file: ``uploading``/``publishing``/``recovering`` are no-ops;
the database journal with its leases coordinates hosts (``ia_events.archive.journal``).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext, suppress
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.archive_store import (
    ArchiveStore,
    ArchiveUnavailable,
    BlobCorrupt,
    BlobError,
    BlobMissing,
    LockStatus,
    ObjectLocked,
    PendingBlob,
    S3Location,
    Source,
    StoredObject,
)
from storage.blobs import CHUNK, HEADER_LEN, TAG, _chunks_of, decrypt_stream, encrypt_blocks
from storage.blobs import new_header as _new_header
from storage.keys import KeyRing

PREFIX = "blobs/"
PART = 8 * 1024 * 1024  # multipart part size (S3 minimum is 5 MiB)
UPLOAD_THREADS = 4
_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "InvalidArgument"}


class BucketWithoutLock(BlobError):
    """The bucket exists but has no Object Lock (it cannot be enabled afterwards here)."""

    code = "archive_no_object_lock"


def _client_error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(response: dict[str, Any]) -> LockStatus:
    """The lock headers of a HEAD or GET response."""
    until = response.get("ObjectLockRetainUntilDate")
    return LockStatus(
        mode=response.get("ObjectLockMode"),
        until=until.astimezone(UTC) if until else None,
        legal_hold=response.get("ObjectLockLegalHoldStatus") == "ON",
    )


def ciphertext_size(size: int) -> int:
    return HEADER_LEN + size + TAG * max(1, math.ceil(size / CHUNK))


class S3BlobStore(ArchiveStore):
    kind = "s3"
    shared = True
    enforces_lock = True

    def __init__(self, location: S3Location, keys: KeyRing, mode: str = "COMPLIANCE") -> None:
        self.location = location
        self.bucket = location.bucket
        self.keys = keys
        self.mode = mode
        session = (
            boto3.session.Session(profile_name=location.profile)
            if location.profile
            else boto3.session.Session()
        )
        self.client = session.client(
            "s3",
            endpoint_url=location.endpoint,
            region_name=location.region or "us-east-1",
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=16,
                s3={"addressing_style": "path"},
            ),
        )

    def describe(self) -> str:
        return f"{self.location} (Objektsperre {self.mode})"

    @staticmethod
    def key(name: str) -> str:
        return PREFIX + name

    def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """One S3 call; connection failures become ``ArchiveUnavailable``."""
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError:
            raise
        except BotoCoreError as exc:
            raise ArchiveUnavailable(f"{self.location}: {type(exc).__name__}") from exc

    # -- writing ------------------------------------------------------------------------

    def uploading(self) -> AbstractContextManager[None]:
        return nullcontext()

    def publishing(self) -> AbstractContextManager[None]:
        return nullcontext()

    def recovering(self) -> AbstractContextManager[None]:
        return nullcontext()

    def stage(
        self,
        source: Source,
        namespace: str,
        observe: Callable[[bytes], None] | None = None,
        durable: bool = True,
    ) -> PendingBlob:
        """First pass: hash (and check) the plaintext; nothing leaves the process yet."""
        spool = None
        if isinstance(source, bytes | bytearray | memoryview):
            replay: object = bytes(source)
        elif hasattr(source, "seek") and hasattr(source, "tell"):
            replay = (source, source.tell())
        else:  # a one-shot iterable: keep a spooled copy (on disk past 8 MiB)
            spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
            replay = (spool, 0)
        digest = hashlib.sha256()
        size = 0
        try:
            for block in _chunks_of(source):
                digest.update(block)
                if observe is not None:
                    observe(block)
                if spool is not None:
                    spool.write(block)
                size += len(block)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        sha = digest.hexdigest()
        dek = AESGCM.generate_key(bit_length=256)
        kek_id, wrapped = self.keys.wrap(dek)
        return PendingBlob(
            None, self.name_for(namespace, sha), sha, size, kek_id, wrapped, replay, dek
        )

    def discard(self, pending: PendingBlob) -> None:
        if isinstance(pending.source, tuple) and isinstance(
            pending.source[0], tempfile.SpooledTemporaryFile
        ):
            pending.source[0].close()

    def _plain_blocks(self, pending: PendingBlob, digest: Any) -> Iterator[bytes]:
        if isinstance(pending.source, bytes):
            blocks: Iterable[bytes] = _chunks_of(pending.source)
        else:
            handle, start = cast(tuple[BinaryIO, int], pending.source)
            handle.seek(start)
            blocks = _chunks_of(handle)
        for block in blocks:
            digest.update(block)
            yield block

    def publish(
        self, pendings: list[PendingBlob], heartbeat: Callable[[], None] | None = None
    ) -> dict[str, str | None]:
        """Second pass: encrypt and upload each blob (a few at a time); name -> VersionId."""
        if not pendings:
            return {}
        if len(pendings) == 1:
            return {pendings[0].name: self._upload_pending(pendings[0])}
        out: dict[str, str | None] = {}
        with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="s3-up") as pool:
            futures = {pool.submit(self._upload_pending, p): p.name for p in pendings}
            pending_futures = set(futures)
            while pending_futures:
                done, pending_futures = wait(
                    pending_futures, timeout=20, return_when=FIRST_EXCEPTION
                )
                for f in done:
                    if f.exception() is not None:
                        for other in pending_futures:
                            other.cancel()
                        raise f.exception()  # type: ignore[misc]  # not None: the future failed
                    out[futures[f]] = f.result()
                if heartbeat is not None and pending_futures:
                    heartbeat()
        return out

    def _upload_pending(self, pending: PendingBlob) -> str | None:
        assert pending.dek is not None
        aes = AESGCM(pending.dek)
        header, _ = _new_header()
        digest = hashlib.sha256()
        body = self._ciphertext(aes, header, self._plain_blocks(pending, digest))
        version = self._upload(self.key(pending.name), body, ciphertext_size(pending.size))
        if digest.hexdigest() != pending.sha256:  # the source changed between the passes
            self._delete_quietly(pending.name, version)
            raise BlobCorrupt(f"{pending.name}: the file changed while it was being archived")
        return version

    @staticmethod
    def _ciphertext(aes: AESGCM, header: bytes, blocks: Iterable[bytes]) -> Iterator[bytes]:
        yield header
        yield from encrypt_blocks(aes, header, blocks)

    def _upload(self, key: str, body: Iterable[bytes], expected: int | None = None) -> str | None:
        """Stream ``body`` to ``key``: one PUT up to ``PART`` bytes, else multipart."""
        buf = bytearray()
        parts: list[dict[str, Any]] = []
        upload_id: str | None = None
        try:
            for block in body:
                buf += block
                if len(buf) >= PART and (expected is None or expected > PART):
                    if upload_id is None:
                        upload_id = self._call(self.client.create_multipart_upload, Key=key)[
                            "UploadId"
                        ]
                    part = bytes(buf[:PART])
                    del buf[:PART]
                    etag = self._call(
                        self.client.upload_part,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=len(parts) + 1,
                        Body=part,
                    )["ETag"]
                    parts.append({"PartNumber": len(parts) + 1, "ETag": etag})
            if upload_id is None:
                return self._call(self.client.put_object, Key=key, Body=bytes(buf)).get("VersionId")
            if buf or not parts:
                etag = self._call(
                    self.client.upload_part,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=bytes(buf),
                )["ETag"]
                parts.append({"PartNumber": len(parts) + 1, "ETag": etag})
            done = self._call(
                self.client.complete_multipart_upload,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            upload_id = None
            return done.get("VersionId")
        except ClientError as exc:
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc
        finally:
            if upload_id is not None:  # best effort; recovery aborts what is left
                with suppress(Exception):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload_id
                    )

    # -- reading ------------------------------------------------------------------------

    def _get(self, name: str, version_id: str | None) -> Any:
        kwargs: dict[str, Any] = {"Key": self.key(name)}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return self._call(self.client.get_object, **kwargs)
        except ClientError as exc:
            if _client_error_code(exc) in _MISSING:
                raise BlobMissing(name) from exc
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc

    def exists(self, name: str, version_id: str | None = None) -> bool:
        kwargs: dict[str, Any] = {"Key": self.key(name)}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            self._call(self.client.head_object, **kwargs)
            return True
        except ClientError as exc:
            code = _client_error_code(exc)
            if code in _MISSING or code == "405":  # 405: a delete marker is the latest
                return False
            raise ArchiveUnavailable(f"{self.location}: {code}") from exc

    def iter_plaintext(
        self,
        name: str,
        kek_id: str,
        wrapped_key: bytes,
        sha256: str | None = None,
        version_id: str | None = None,
    ) -> Iterator[bytes]:
        aes = AESGCM(self.keys.unwrap(kek_id, wrapped_key))
        body = self._get(name, version_id)["Body"]
        try:
            yield from decrypt_stream(name, aes, self._reader(body), sha256)
        finally:
            body.close()

    def verify_locked(
        self,
        name: str,
        kek_id: str,
        wrapped_key: bytes,
        sha256: str,
        version_id: str | None = None,
    ) -> tuple[str | None, LockStatus | None]:
        """One GET: the content check and the lock headers the same response carries."""
        try:
            aes = AESGCM(self.keys.unwrap(kek_id, wrapped_key))
            response = self._get(name, version_id)
        except BlobMissing:
            return "missing", None
        except ArchiveUnavailable:
            raise
        except Exception as exc:
            return f"unreadable ({type(exc).__name__})", None
        body = response["Body"]
        try:
            for _ in decrypt_stream(name, aes, self._reader(body), sha256):
                pass
        except BlobCorrupt as exc:
            return str(exc).split(": ", 1)[-1], None
        finally:
            body.close()
        return None, _status(response)

    def _reader(self, body: Any) -> Callable[[int], bytes]:
        def read(n: int) -> bytes:
            try:
                return body.read(n)
            except BotoCoreError as exc:
                raise ArchiveUnavailable(f"{self.location}: {type(exc).__name__}") from exc

        return read

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(prefix)):
                for v in page.get("Versions", []) or []:
                    yield StoredObject(
                        v["Key"][len(PREFIX) :],
                        v.get("VersionId"),
                        int(v.get("Size", 0)),
                        bool(v.get("IsLatest", True)),
                    )
        except BotoCoreError as exc:
            raise ArchiveUnavailable(f"{self.location}: {type(exc).__name__}") from exc

    def versions_of(self, name: str) -> list[StoredObject]:
        return [o for o in self.list_objects(name) if o.name == name]

    def read_raw(self, name: str, version_id: str | None = None) -> Iterator[bytes]:
        body = self._get(name, version_id)["Body"]
        read = self._reader(body)
        try:
            while block := read(CHUNK):
                yield block
        finally:
            body.close()

    def write_raw(self, name: str, chunks: Iterable[bytes]) -> str | None:
        return self._upload(self.key(name), chunks)

    # -- deleting and locking ----------------------------------------------------------

    def shred(self, name: str, version_id: str | None = None) -> None:
        """Delete one version (or, without ``version_id``, every version) of ``name``."""
        versions = [version_id] if version_id else [o.version_id for o in self.versions_of(name)]
        for version in versions:
            kwargs: dict[str, Any] = {"Key": self.key(name)}
            if version:
                kwargs["VersionId"] = version
            try:
                self._call(self.client.delete_object, **kwargs)
            except ClientError as exc:
                try:
                    status = self.lock_status(name, version)
                except BlobMissing:
                    continue  # already gone
                if status.in_force(datetime.now(UTC)):
                    raise ObjectLocked(f"{name}: locked until {status.until}") from exc
                if _client_error_code(exc) in _MISSING:
                    continue
                raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc

    def _delete_quietly(self, name: str, version_id: str | None) -> None:
        with suppress(BlobError):
            self.shred(name, version_id)

    def set_retention(self, name: str, version_id: str | None, until: datetime) -> None:
        current = self.lock_status(name, version_id)
        if current.until is not None and current.until >= until:
            return  # a lock is only ever extended
        kwargs: dict[str, Any] = {"Key": self.key(name)}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            self._call(
                self.client.put_object_retention,
                Retention={"Mode": self.mode, "RetainUntilDate": until},
                **kwargs,
            )
        except ClientError as exc:
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc

    def set_legal_hold(self, name: str, version_id: str | None, on: bool) -> None:
        kwargs: dict[str, Any] = {"Key": self.key(name)}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            self._call(
                self.client.put_object_legal_hold,
                LegalHold={"Status": "ON" if on else "OFF"},
                **kwargs,
            )
        except ClientError as exc:
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc

    def lock_status(self, name: str, version_id: str | None = None) -> LockStatus:
        kwargs: dict[str, Any] = {"Key": self.key(name)}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            head = self._call(self.client.head_object, **kwargs)
        except ClientError as exc:
            if _client_error_code(exc) in _MISSING:
                raise BlobMissing(name) from exc
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc
        return _status(head)

    def abort_incomplete(self, name: str) -> int:
        key = self.key(name)
        try:
            uploads = self._call(self.client.list_multipart_uploads, Prefix=key).get("Uploads", [])
        except ClientError as exc:
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc
        count = 0
        for up in uploads or []:
            if up.get("Key") == key:
                try:
                    self._call(self.client.abort_multipart_upload, Key=key, UploadId=up["UploadId"])
                    count += 1
                except ClientError:
                    pass
        return count

    def ensure_ready(self) -> list[str]:
        """Create the bucket with Object Lock, or check an existing one has it."""
        lines = []
        try:
            try:
                self._call(self.client.head_bucket)
            except ClientError as exc:
                if _client_error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                kwargs: dict[str, Any] = {"ObjectLockEnabledForBucket": True}
                region = self.location.region
                if region and region != "us-east-1" and not self.location.endpoint:
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
                self._call(self.client.create_bucket, **kwargs)
                lines.append(f"Bucket {self.bucket} mit Objektsperre angelegt.")
            try:
                cfg = self._call(self.client.get_object_lock_configuration)
                enabled = cfg.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
            except ClientError as exc:
                if "ObjectLockConfiguration" not in _client_error_code(exc):
                    raise
                enabled = None
            if enabled != "Enabled":
                raise BucketWithoutLock(self.bucket)
            versioning = self._call(self.client.get_bucket_versioning).get("Status")
            if versioning != "Enabled":
                raise BucketWithoutLock(self.bucket)
        except ClientError as exc:
            raise ArchiveUnavailable(f"{self.location}: {_client_error_code(exc)}") from exc
        lines.append(f"Archiv: {self.describe()}; Versionierung und Objektsperre aktiv.")
        return lines
