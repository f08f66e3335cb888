"""ZipSink: read-ahead streaming and the early fsync/hash give exactly the ZIP that was written."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from ia_events.inspection import zipstream
from ia_events.inspection.zipstream import ZipSink

STAMP = (2025, 1, 2, 3, 4, 5)


def _chunks(data: bytes, size: int = 1000):  # type: ignore[no-untyped-def]
    return lambda: (data[i : i + size] for i in range(0, len(data), size))


def test_streamed_and_settled_zip_is_complete_and_its_hash_is_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipstream, "PIECE", 4096)  # several pieces per entry
    payloads = [os.urandom(n) for n in (10_000, 0, 1, 4096, 30_001)]
    out = tmp_path / "x" / "b.zip"
    sink = ZipSink(out, STAMP)
    sink.put("a/first.txt", b"hallo" * 100)
    seen: list[int] = []
    sink.stream(
        [(f"a/p{i}.bin", len(p), _chunks(p)) for i, p in enumerate(payloads)],
        before_each=seen.append,
    )
    sink.settle()  # the rest is written while the start is fsynced and hashed
    sink.put("a/index.pdf", b"%PDF" + os.urandom(5000), deflate=False)
    sink.put("a/tags.txt", b"x" * 3000)
    digest, size = sink.commit()

    assert seen == list(range(len(payloads)))
    data = out.read_bytes()
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert [zf.read(f"a/p{i}.bin") for i in range(len(payloads))] == payloads
    assert [p.name for p in out.parent.iterdir()] == ["b.zip"]


def test_a_failing_source_is_raised_for_its_own_entry_and_abort_leaves_nothing(
    tmp_path: Path,
) -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield b"ok" * 100
        raise OSError("blob unreadable")

    out = tmp_path / "b.zip"
    sink = ZipSink(out, STAMP)
    seen: list[int] = []
    with pytest.raises(OSError, match="blob unreadable"):
        sink.stream(
            [("p0", 5, _chunks(b"12345")), ("p1", 200, broken), ("p2", 3, _chunks(b"abc"))],
            before_each=seen.append,
        )
    assert seen == [0, 1]  # raised while entry 1 was written, never reached entry 2
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_small_files_travel_together_and_a_failure_is_still_named_for_its_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of small files (a year's sealed lists) are handed from the reading thread
    in a few batches, not one by one; a failing source among them is raised while its own
    entry is written, after every entry before it."""
    monkeypatch.setattr(zipstream, "PIECE", 64 * 1024)
    payloads = [os.urandom(3000 + i) for i in range(200)]
    batches = list(zipstream._pieces(_chunks(p) for p in payloads))
    assert len(batches) <= 12
    joined: dict[int, bytes] = {}
    ends = []
    for batch in batches:
        for i, chunks, last in batch:
            joined[i] = joined.get(i, b"") + b"".join(chunks)
            ends += [i] if last else []
    assert ends == list(range(len(payloads))) and list(joined.values()) == payloads

    def broken():  # type: ignore[no-untyped-def]
        yield b"ok"
        raise OSError("blob unreadable")

    sources = [_chunks(p) for p in payloads]
    sources[150] = broken
    sink = ZipSink(tmp_path / "b.zip", STAMP)
    seen: list[int] = []
    with pytest.raises(OSError, match="blob unreadable"):
        sink.stream(
            [(f"p{i}", len(p), s) for i, (p, s) in enumerate(zip(payloads, sources, strict=True))],
            before_each=seen.append,
        )
    assert seen == list(range(151))
    sink.abort()
    assert list(tmp_path.iterdir()) == []
