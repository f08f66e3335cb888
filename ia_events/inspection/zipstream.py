"""Writing a large ZIP fast and atomically (the inspection bundle's hot path).

``ZipSink`` writes to a temp file beside the target and renames it only
after fsync, so a crash never leaves a half-written ZIP under the real
name. Entries are standard ZIP entries (no data descriptors), readable
anywhere; large payloads are stored, not deflated (scans, photos and PDFs
are compressed already).

Two cores, two overlaps (``benchmarks/archive.py``, 100 x 5 MiB):

- ``stream`` reads, decrypts and checks the next piece of payload on a
  worker thread while the caller's thread writes the current one (CRC-32
  and ``write``). The hand-off is one piece of up to 8 MiB, not every
  1 MiB chunk: handing over each chunk through a queue was measured slower
  than no thread at all (GIL hand-offs per chunk). For the same reason small
  files (a year's sealed lists) are handed over many at once, not one by one.
- ``settle`` starts, once the payload is written, two workers: one fsyncs
  it, one computes the ZIP's SHA-256 from the page cache, while the caller
  renders the small rest (index PDF, tag files). The hash runs as one call
  over a memory map, so that worker does not need the GIL the renderer
  holds. Bytes before the current entry never change again (``zipfile``
  seeks back only into the entry it is writing). A hasher trailing the
  writer during ``stream`` was tried and was slower (three busy threads on
  two cores slow down the reading worker, the bottleneck).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import mmap
import os
import zipfile
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from storage.files import private_opener

CHUNK = 1024 * 1024
PIECE = 8 * CHUNK  # what the read-ahead worker hands over at once


class ZipSink:
    def __init__(self, out: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.{os.urandom(6).hex()}.part"
        self.stamp = stamp
        self.fh = open(self.tmp, "wb", opener=private_opener)  # noqa: SIM115 - closed in commit/abort
        self.zf = zipfile.ZipFile(self.fh, "w", allowZip64=True)
        self._digest = hashlib.sha256()
        self._hashed = 0  # bytes of the temp file already in _digest
        self._settling: list[Future[None]] = []

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

        The chunks are pulled one piece ahead on a worker thread; an error there (a
        missing or corrupt blob) is raised here, before that piece would be written.
        """
        entries = list(entries)
        pieces = _pieces(chunks for _, _, chunks in entries)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zip-read") as pool:
            ahead = pool.submit(next, pieces, None)
            pending: collections.deque[tuple[int, list[bytes], bool]] = collections.deque()
            try:
                for i, (name, size, _) in enumerate(entries):
                    if before_each is not None:
                        before_each(i)
                    info = self._info(name, deflate=False)
                    info.file_size = size
                    with self.zf.open(info, "w") as dst:
                        while True:
                            while not pending:  # the next hand-over: one or more parts
                                batch = ahead.result()
                                ahead = pool.submit(next, pieces, None)
                                assert batch is not None
                                pending.extend(batch)
                            index, chunks, last = pending.popleft()
                            assert index == i
                            for chunk in chunks:
                                dst.write(chunk)
                            if last:  # the entry's last part
                                break
            finally:
                with contextlib.suppress(BaseException):
                    ahead.result()  # let the worker finish its piece before closing
                pieces.close()

    def settle(self) -> None:
        """Start fsyncing and hashing everything written so far, on two worker threads
        (see the module docstring); ``commit`` then does the same for the rest only."""
        if self._settling:
            return
        self.fh.flush()
        end = self.fh.tell()
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="zip-settle")
        self._settling = [
            pool.submit(os.fsync, self.fh.fileno()),  # waits on the disk ...
            pool.submit(self._hash_to, end),  # ... while this keeps a core busy
        ]
        pool.shutdown(wait=False)

    def _hash_to(self, end: int) -> None:
        """Add bytes ``[_hashed, end)`` of the temp file to the ZIP's SHA-256 in one call
        (hashlib releases the GIL for it; a memory map avoids copying the bytes)."""
        if end <= self._hashed:
            return
        with (
            open(self.tmp, "rb") as fh,
            mmap.mmap(fh.fileno(), end, access=mmap.ACCESS_READ) as mm,
            memoryview(mm) as view,
        ):
            self._digest.update(view[self._hashed : end])
        self._hashed = end

    def _wait_settled(self) -> None:
        settling, self._settling = self._settling, []
        for future in settling:  # both finish, so the first error is raised with the file idle
            future.exception()
        for future in settling:
            future.result()

    def commit(self) -> tuple[str, int]:
        """Finish the ZIP, make it durable, rename it into place; returns its SHA-256 and size."""
        self.zf.close()
        self.fh.flush()
        size = self.fh.tell()
        self.settle()  # no-op when already started: then this waits for the rest only
        self._wait_settled()
        self._hash_to(size)
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.out)
        fd = os.open(self.out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return self._digest.hexdigest(), size

    def abort(self) -> None:
        with contextlib.suppress(BaseException):  # the worker must be done with the file
            self._wait_settled()
        with contextlib.suppress(Exception):  # half-written entry: the file goes anyway
            self.zf.close()
        with contextlib.suppress(OSError):  # flushing onto a full disk fails again
            self.fh.close()
        self.tmp.unlink(missing_ok=True)


def _pieces(
    sources: Iterable[Callable[[], Iterable[bytes]]],
) -> Generator[list[tuple[int, list[bytes], bool]]]:
    """Hand-overs of up to about PIECE bytes: lists of parts ``(entry index, chunks, last
    part of the entry)``. A large entry is cut into several parts; many small entries
    (sealed lists, CSVs) travel together in one hand-over, so the writer does not wait
    for the reading thread once per file (a thread switch per file was most of the cost
    of hundreds of small files on a busy machine). An entry without any chunk still gives
    one empty last part. When a source fails, the complete parts before it are handed
    over first and the error comes with the next hand-over: it is raised for its own
    entry."""
    batch: list[tuple[int, list[bytes], bool]] = []
    held = 0
    try:
        for i, chunks in enumerate(sources):
            part: list[bytes] = []
            for chunk in chunks():
                if held >= PIECE:
                    if part:
                        batch.append((i, part, False))
                        part = []
                    yield batch
                    batch, held = [], 0
                part.append(chunk)
                held += len(chunk)
            batch.append((i, part, True))
        if batch:
            yield batch
    except GeneratorExit:
        raise
    except BaseException:
        if batch:
            yield batch
        raise
