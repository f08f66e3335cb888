"""Writing a large ZIP fast and atomically (the inspection bundle's hot path).

``ZipSink`` writes to a temp file beside the target and renames it only
after fsync, so a crash never leaves a half-written ZIP under the real
name. The caller's thread pulls plaintext chunks (decrypt and the SHA-256
check happen inside ``BlobStore.iter_plaintext``) and writes them as stored
entries (CRC-32 + write); meanwhile a hasher thread computes the SHA-256 of
the ZIP itself over the part that is already final (every entry before the
one being written), so the bundle's digest needs no second pass at the end
and uses the second core. Both threads spend their time in C code that
releases the GIL (hashlib, zlib, file I/O).

Entries are standard (no data descriptors): the local header is patched
after each entry, which is why only *finished* entries are hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

CHUNK = 1024 * 1024


class _PrefixHasher(threading.Thread):
    """Hashes ``path`` from the start up to the latest offset it is told is final."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.digest = hashlib.sha256()
        self.offsets: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            buf = bytearray(CHUNK)  # reused: no fresh 1 MiB allocation per block
            view = memoryview(buf)
            with open(self.path, "rb", buffering=0) as fh:
                done = 0
                while (target := self.offsets.get()) is not None:
                    while done < target:
                        n = fh.readinto(view[: min(CHUNK, target - done)])
                        if not n:
                            break
                        self.digest.update(view[:n])
                        done += n
        except BaseException as exc:  # reported by ZipSink.commit
            self.error = exc


class ZipSink:
    def __init__(self, out: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.{os.urandom(6).hex()}.part"
        self.stamp = stamp
        self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self.zf = zipfile.ZipFile(self.fh, "w", allowZip64=True)
        self.hasher = _PrefixHasher(self.tmp)
        self.hasher.start()

    def _info(self, name: str, deflate: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.stamp)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        return info

    def _mark(self) -> None:
        self.fh.flush()
        self.hasher.offsets.put(self.fh.tell())

    def put(self, name: str, data: bytes, deflate: bool = True) -> None:
        self.zf.writestr(self._info(name, deflate), data)
        self._mark()

    def stream(
        self,
        entries: Iterable[tuple[str, int, Callable[[], Iterable[bytes]]]],
        before_each: Callable[[int], None] | None = None,
    ) -> None:
        """Write stored entries ``(name, size, chunks)`` one after the other.

        Chunks are pulled on this thread: a separate reader thread was measured
        slower (GIL hand-offs for every 1 MiB chunk cost more than they save).
        """
        for i, (name, size, chunks) in enumerate(entries):
            if before_each is not None:
                before_each(i)
            info = self._info(name, deflate=False)
            info.file_size = size
            with self.zf.open(info, "w") as dst:
                for chunk in chunks():
                    dst.write(chunk)
            self._mark()

    def commit(self) -> tuple[str, int]:
        """Finish the ZIP, fsync while the hash completes, rename into place."""
        self.zf.close()
        self.fh.flush()
        size = self.fh.tell()
        self.hasher.offsets.put(size)
        self.hasher.offsets.put(None)
        os.fsync(self.fh.fileno())
        self.hasher.join()
        self.fh.close()
        if self.hasher.error is not None:
            raise self.hasher.error
        os.replace(self.tmp, self.out)
        fd = os.open(self.out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.hasher.digest.hexdigest(), size

    def abort(self) -> None:
        self.hasher.offsets.put(None)
        with contextlib.suppress(Exception):  # half-written entry: the file goes anyway
            self.zf.close()
        self.fh.close()
        self.tmp.unlink(missing_ok=True)
