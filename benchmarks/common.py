"""Shared pieces of the benchmarks: figures with their baseline, databases, a live server.

A ``Figure`` is one measured value, optionally with the baseline measured in
the same run and the goal for the ratio ours/baseline (or for the value). The
suite prints each figure as it is measured and a table at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("IA_EVENTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


@dataclass
class Figure:
    db: str  # sqlite | postgresql | - (no database involved)
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""  # e.g. "ratio <= 1.5", "<= 5 ms"
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def line(self) -> str:
        text = f"[{self.db}] {self.name}: {self.value:.2f} {self.unit}"
        if self.baseline is not None:
            text += f"  baseline ({self.baseline_name}) {self.baseline:.2f} {self.unit}"
            text += f"  ratio {self.ratio:.2f}x"
        if self.goal:
            text += f"  goal {self.goal}: {'met' if self.met else 'NOT met'}"
        return text


FIGURES: list[Figure] = []


def report(fig: Figure) -> Figure:
    FIGURES.append(fig)
    print(fig.line(), flush=True)
    return fig


def table(figures: list[Figure]) -> str:
    rows = ["| db | figure | ours | baseline | ratio | goal |", "|---|---|---|---|---|---|"]
    for f in figures:
        base = f"{f.baseline:.2f} {f.unit} ({f.baseline_name})" if f.baseline is not None else "–"
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "–"
        goal = f"{f.goal} {'✓' if f.met else '✗'}" if f.goal else ""
        rows.append(f"| {f.db} | {f.name} | {f.value:.2f} {f.unit} | {base} | {ratio} | {goal} |")
    return "\n".join(rows)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def database(kind: str, data_dir: Path, tag: str) -> Iterator[str]:
    """A fresh database URL: SQLite inside ``data_dir`` or a new PostgreSQL database
    (dropped afterwards)."""
    if kind == "sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{data_dir / 'ia-events.sqlite3'}"
        return
    import psycopg

    name = f"ia_bench_{tag}_{os.getpid()}"
    admin = PG_SERVER.rstrip("/") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER.rstrip('/')}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")


def start_streamlit(
    data_dir: Path, database_url: str, port: int, log: Path, base_url: str | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IA_EVENTS_DATA": str(data_dir),
        "IA_EVENTS_DATABASE_URL": database_url,
        "IA_EVENTS_BASE_URL": base_url or f"http://127.0.0.1:{port}",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
