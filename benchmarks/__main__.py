"""Run every benchmark and print each figure with its same-run baseline and ratio.

    python -m benchmarks            full run on SQLite (about 3 minutes here)
    python -m benchmarks --quick    small sizes, for a smoke check (under a minute)
    python -m benchmarks --pg       the same again on a fresh PostgreSQL database
                                    ($IA_EVENTS_BENCH_PG, default postgres@127.0.0.1:5432;
                                    created and dropped by the run)
    python -m benchmarks --pages /tmp/large/data
                                    also run ``benchmarks/pages.py`` on a large demo
                                    (``ia-events demo --size large`` makes one)
    python -m benchmarks --only archive,checkin --markdown results.md
    python -m benchmarks --only ui  page changes and main forms in Chromium on the small
                                    demo, median of 5 (``benchmarks/ui.py``; also
                                    ``python -m benchmarks.ui --runs 7``)

Modules: ``startup`` (``ia-events --help`` and ``verify`` on an empty installation),
``archive`` (ingest, verify, bundle export through ``ia-events`` vs. openssl/cp/sync,
warm and cold page cache), ``s3`` (only with ``--only s3``: ingest and verify on a
SeaweedFS cluster it starts, vs. openssl + plain boto3 upload and plain download-and-hash),
``checkin`` (service latency vs. one-row INSERT+COMMIT; HTTP and browser
crowds through ``streamlit run``), ``bundle`` (index PDF of 1,000 items), ``ui`` (only
with ``--only ui``: every page change and the main forms of a specialist, the
coordinator and a volunteer in Chromium on the small demo, goal median <= 0.5 s) and,
with ``--pages``, ``pages``. Not part of the test suite; figures depend on the
machine and on what else runs on it (``/proc/loadavg`` is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import archive, checkin, startup
from benchmarks.common import FIGURES, ROOT, table


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--pg", action="store_true", help="repeat on PostgreSQL")
    ap.add_argument("--only", default="startup,archive,checkin,bundle")
    ap.add_argument("--pages", type=Path, help="data dir of a large demo for benchmarks/pages.py")
    ap.add_argument("--markdown", type=Path, help="also write the summary table here")
    args = ap.parse_args()
    only = set(args.only.split(","))
    dbs = ["sqlite", "postgresql"] if args.pg else ["sqlite"]
    files, mb, rounds = (20, 1, 1) if args.quick else (100, 5, 3)
    n, phones, browsers = (100, 30, 8) if args.quick else (300, 100, 24)
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    for db in dbs:
        root = Path(tempfile.mkdtemp(prefix="ia-bench-", dir=os.environ.get("BENCH_DIR")))
        try:
            if "startup" in only:
                startup.run(root / "startup", db, 3 if args.quick else 7)
            if "archive" in only:
                archive.run(root / "archive", db, files, mb, rounds)
            if "checkin" in only:
                checkin.run(root / "checkin", db, n, phones, browsers)
            if "ui" in only:
                from benchmarks import ui

                ui.run(root / "ui", 5)
            if "s3" in only:
                from benchmarks import s3

                s3.run(root / "s3", db, files, mb)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if args.pages:
            cmd = [sys.executable, str(ROOT / "benchmarks" / "pages.py"), "--data", str(args.pages)]
            if db == "postgresql":
                url = os.environ.get("IA_EVENTS_DATABASE_URL")
                if not url:
                    print("pages on PostgreSQL: set IA_EVENTS_DATABASE_URL to the large demo's "
                          "database; skipped", flush=True)  # fmt: skip
                    continue
                cmd += ["--database-url", url]
            subprocess.run(cmd + (["--runs", "1", "--no-apptest"] if args.quick else []))
    if "bundle" in only:
        from benchmarks import bundle

        bundle.index_pdf(200 if args.quick else 1000)
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    summary = table(FIGURES)
    print("\n" + summary)
    if args.markdown:
        args.markdown.write_text(summary + "\n")


if __name__ == "__main__":
    main()
