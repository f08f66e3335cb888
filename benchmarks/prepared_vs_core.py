"""Check-in through ``storage.prepared`` vs. the same statements through SQLAlchemy Core.

    python benchmarks/prepared_vs_core.py [--pg] [-n 300]

One process, one installation, interleaved: a one-row INSERT+COMMIT, a check-in on the
prepared path, a check-in through Core (``storage.prepared.ENABLED`` off), in alternating
order -- so load from elsewhere on the machine hits all three alike. Prints the p50s,
their ratios to the INSERT+COMMIT and Core / prepared. Goal for Core (to drop
``storage/prepared.py``): p50 <= 5 ms and <= 3x the INSERT+COMMIT on both databases
(docs/performance.md, "Check-in: prepared path vs. Core").
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from benchmarks.checkin import setup
from benchmarks.common import database, median, pct
from ia_events.attendance import checkin
from ia_events.attendance.tokens import new_nonce
from storage import prepared


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", action="store_true", help="use a fresh PostgreSQL database")
    ap.add_argument("-n", type=int, default=300)
    args = ap.parse_args()
    kind = "postgresql" if args.pg else "sqlite"
    root = Path(tempfile.mkdtemp(prefix="ia-bench-paths-"))
    try:
        with database(kind, root / "db", "paths") as url:
            inst, _, tokens = setup(root / "data", url)
            try:
                print(f"[{kind}] {run(inst, tokens[0], args.n)}", flush=True)
            finally:
                inst.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(inst, token: str, n: int) -> str:  # type: ignore[no-untyped-def]
    engine = inst.db.engine
    counter = iter(range(1, 10**9))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, v VARCHAR(40))"))

    def insert() -> float:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_rows (id, v) VALUES (:i, 'x')"), {"i": next(counter)}
            )
        return time.perf_counter() - t0

    def submit(use_prepared: bool) -> float:
        prepared.ENABLED = use_prepared
        nonce = new_nonce(inst.keys, token)
        t0 = time.perf_counter()
        with inst.db.write() as s:
            answer = checkin.submit(s, inst.keys, token, nonce, name=f"P {next(counter):07d}")
        took = time.perf_counter() - t0
        assert answer.ok, answer
        return took

    steps: list[tuple[list[float], Callable[[], float]]] = [
        ([], insert), ([], lambda: submit(True)), ([], lambda: submit(False))
    ]  # fmt: skip
    try:
        for _ in range(20):  # warm-up: pool, compiled statements, caches
            for _, step in steps:
                step()
        for i in range(n):
            for times, step in steps if i % 2 == 0 else reversed(steps):
                times.append(step())
    finally:
        prepared.ENABLED = True
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_rows"))
    (base, prep, core) = (median(t) * 1000 for t, _ in steps)
    p95 = [pct(t, 95) * 1000 for t, _ in steps]
    return (
        f"n={n} load {Path('/proc/loadavg').read_text().split()[0]}: INSERT+COMMIT p50 "
        f"{base:.2f} ms | prepared p50 {prep:.2f} ms ({prep / base:.2f}x), p95 {p95[1]:.2f} ms"
        f" | Core p50 {core:.2f} ms ({core / base:.2f}x), p95 {p95[2]:.2f} ms"
        f" | Core / prepared {core / prep:.2f}"
    )


if __name__ == "__main__":
    main()
