"""Start-up of the ``ia-events`` command, as cron and admins meet it (a new process).

    python benchmarks/startup.py [--runs 7] [--pg]
    (or as part of ``python -m benchmarks``)

- ``ia-events --help``: goal 0.3 s.
- ``ia-events verify`` on a new, empty installation: goal 0.6 s.

Each the median of ``--runs`` runs, with the start of a bare interpreter
(``python -c pass``) measured in the same run as the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, database, median, report


def _time(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return median(times)


def run(root: Path, db: str, runs: int = 7) -> list[Figure]:
    cli = str(Path(sys.executable).with_name("ia-events"))
    figs = []
    with database(db, root / "data", "startup") as url:
        env = {**os.environ, "IA_EVENTS_DATA": str(root / "data"), "IA_EVENTS_DATABASE_URL": url}
        subprocess.run([cli, "init"], check=True, env=env, stdout=subprocess.DEVNULL)
        bare = _time([sys.executable, "-c", "pass"], env, runs)
        for args, goal in ((["--help"], 0.3), (["verify"], 0.6)):
            t = _time([cli, *args], env, runs)
            name = f"ia-events {args[0]} (median of {runs})"
            fig = Figure(db, name, t, "s", bare, "python -c pass", f"<= {goal} s", t <= goal)
            figs.append(report(fig))
    return figs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--pg", action="store_true", help="use a fresh PostgreSQL database")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ia-bench-"))
    try:
        run(root, "postgresql" if args.pg else "sqlite", args.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
