"""Archive speed: ingest and verify against OpenSSL baselines measured in the same run.

    python benchmarks/archive.py [--files 100] [--mb 5]

Ingest = ``evidence.add_evidence`` for every file (content check, SHA-256,
AES-256-GCM in 1 MiB chunks, fsync, atomic rename, database rows, audit) vs.
``openssl dgst -sha256`` + ``cp`` + ``sync`` of the same files. Verify =
``integrity.verify`` (decrypt, GCM tags, SHA-256, audit chain) vs.
``openssl dgst -sha256``. Goal: both ratios <= 1.5. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ia_events.access import Actor
from ia_events.evidence import add_many
from ia_events.installation import Settings, initialise
from ia_events.integrity import verify
from ia_events.models import Agency


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--mb", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ia-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        src = root / "src"
        src.mkdir()
        files = []
        for i in range(args.files):
            path = src / f"scan-{i:03d}.pdf"
            path.write_bytes(b"%PDF-1.7\n" + os.urandom(args.mb * 1024 * 1024 - 9))
            files.append(path)
        subprocess.run(["sync"], check=True)
        names = [str(p) for p in files]

        def baseline_ingest() -> None:
            dest = root / "copy"
            dest.mkdir()
            subprocess.run(
                ["openssl", "dgst", "-sha256", *names], check=True, stdout=subprocess.DEVNULL
            )
            subprocess.run(["cp", *names, str(dest)], check=True)
            subprocess.run(["sync"], check=True)

        def baseline_verify() -> None:
            subprocess.run(
                ["openssl", "dgst", "-sha256", *names], check=True, stdout=subprocess.DEVNULL
            )

        inst, _ = initialise(
            Settings(
                data_dir=root / "data", database_url=f"sqlite:///{root / 'data' / 'db.sqlite3'}"
            )
        )
        actor = Actor.cli("bench")
        with inst.db.write() as s:
            s.add(Agency(slug="bench", name="Bench", carrier="-"))

        def ingest() -> None:
            # As `ia-events evidence add FILE...` does: batches of 32 share one flush.
            for start in range(0, len(files), 32):
                handles = [(p.name, open(p, "rb")) for p in files[start : start + 32]]  # noqa: SIM115
                try:
                    add_many(
                        inst,
                        actor,
                        handles,
                        kind="signed_list_scan",  # type: ignore[arg-type]
                        agency_slug="bench",
                        funding_year=2025,
                    )
                finally:
                    for _, fh in handles:
                        fh.close()
            subprocess.run(["sync"], check=True)

        base_in = _timed(baseline_ingest)
        ours_in = _timed(ingest)
        base_ver = _timed(baseline_verify)
        report = None

        def run_verify() -> None:
            nonlocal report
            report = verify(inst, actor)

        ours_ver = _timed(run_verify)
        assert report is not None and report.ok, report
        total = args.files * args.mb
        print(f"{args.files} files x {args.mb} MiB = {total} MiB")
        print(
            f"ingest: ours {ours_in:6.2f} s  baseline (openssl+cp+sync) {base_in:6.2f} s  "
            f"ratio {ours_in / base_in:4.2f}  (goal <= 1.5)"
        )
        print(
            f"verify: ours {ours_ver:6.2f} s  baseline (openssl dgst)     {base_ver:6.2f} s  "
            f"ratio {ours_ver / base_ver:4.2f}  (goal <= 1.5)"
        )
        inst.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
