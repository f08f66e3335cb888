"""Writing a large ZIP fast and atomically (the inspection bundle's hot path).

``ZipSink`` writes to a temp file beside the target and renames it only
after fsync, so a crash never leaves a half-written ZIP under the real
name. Chunks are pulled and written on the caller's thread, one file after
the other (decrypt and the SHA-256 check happen inside
``BlobStore.iter_plaintext``; the ZIP adds CRC-32 and the write). The
ZIP's own SHA-256 is computed from the page cache while the fsync waits on
the disk.

Measured on a shared 2-core VM (``benchmarks/bundle.py``): a reader thread
feeding a queue, and a hasher thread following the writer, were both
slower and far less steady than this plain sequence -- GIL hand-offs per
1 MiB chunk and contention for the second core cost more than they saved.
Entries are standard ZIP entries (no data descriptors), readable anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

CHUNK = 1024 * 1024


class ZipSink:
    def __init__(self, out: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.{os.urandom(6).hex()}.part"
        self.stamp = stamp
        self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self.zf = zipfile.ZipFile(self.fh, "w", allowZip64=True)

    def _info(self, name: str, deflate: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.stamp)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        return info

    def put(self, name: str, data: bytes, deflate: bool = True) -> None:
        self.zf.writestr(self._info(name, deflate), data)

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

    def commit(self) -> tuple[str, int]:
        """Finish the ZIP; hash it while the fsync runs; rename into place."""
        self.zf.close()
        self.fh.flush()
        size = self.fh.tell()
        failed: list[BaseException] = []

        def sync() -> None:
            try:
                os.fsync(self.fh.fileno())
            except BaseException as exc:  # raised below, on the caller's thread
                failed.append(exc)

        syncer = threading.Thread(target=sync)
        syncer.start()  # waits on the disk, not the CPU: overlaps with the hash below
        digest = hashlib.sha256()
        buf = bytearray(CHUNK)  # reused: no fresh 1 MiB allocation per block
        view = memoryview(buf)
        with open(self.tmp, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                digest.update(view[:n])
        syncer.join()
        if failed:
            raise failed[0]
        self.fh.close()
        os.replace(self.tmp, self.out)
        fd = os.open(self.out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return digest.hexdigest(), size

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # half-written entry: the file goes anyway
            self.zf.close()
        self.fh.close()
        self.tmp.unlink(missing_ok=True)
