"""CPU seconds per test, for finding and proving test-suite cuts on a busy machine.

Opt-in: ``IA_EVENTS_TEST_CPU=cpu.json python -m pytest ...`` (``tests/conftest.py``
registers the plugin when the variable is set). Wall time says little while other
processes share the two cores; CPU time says what a test costs. Per test (setup, call and
teardown apart) it records

- ``own``: this pytest process (``time.process_time``),
- ``children``: every process below it -- the ``streamlit run`` servers, Playwright's
  driver and Chromium, ``ia-events`` subprocesses: for the live ones the change of
  utime+stime+cutime+cstime in ``/proc/<pid>/stat``, for the reaped ones the change of
  ``getrusage(RUSAGE_CHILDREN)``. A process that ends and is reaped by someone outside
  the tree (a daemon that detaches; Chromium when Playwright stops) is counted while it
  runs, and its end counts 0 (not negative); PostgreSQL's server processes are not below
  pytest and so are not counted.

Session-scoped fixtures count for the first test that uses them. At the end each process
writes ``<path>`` (under pytest-xdist: ``<path>`` with the worker id before the suffix,
e.g. ``cpu.gw0.json``): the tests sorted by CPU, with totals; the terminal shows the top
``IA_EVENTS_TEST_CPU_TOP`` (default 25) when run without ``-n``.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV = "IA_EVENTS_TEST_CPU"
_TICK = os.sysconf("SC_CLK_TCK")


def _descendants_cpu() -> float:
    """CPU seconds of the live processes below this one (with their reaped children)."""
    me = os.getpid()
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read().decode("ascii", "replace")
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after it.
        fields = raw[raw.rfind(")") + 2 :].split()
        pid = int(entry)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(x) for x in fields[11:15]) / _TICK  # utime stime cutime cstime
    total = 0.0
    for pid, ticks in cpu.items():
        p, seen = parent.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parent.get(p), seen + 1
        if p == me:
            total += ticks
    return total


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime + _descendants_cpu()


class CpuTimes:
    def __init__(self, path: Path, top: int) -> None:
        self.path, self.top = path, top
        self.tests: dict[str, dict[str, float]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        yield from self._measure(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        yield from self._measure(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        yield from self._measure(item, "teardown")

    def _measure(self, item: pytest.Item, phase: str) -> Iterator[None]:
        own, kids, wall = time.process_time(), _children_cpu(), time.monotonic()
        yield
        row = self.tests.setdefault(item.nodeid, {})
        row[f"{phase}_own"] = round(time.process_time() - own, 2)
        # A tree that ends and is reaped outside (Chromium when Playwright stops at the
        # end of the session) was counted while it ran; its exit would show negative.
        row[f"{phase}_children"] = round(max(0.0, _children_cpu() - kids), 2)
        row[f"{phase}_wall"] = round(time.monotonic() - wall, 2)

    def rows(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for nodeid, row in self.tests.items():
            own = sum(v for k, v in row.items() if k.endswith("_own"))
            kids = sum(v for k, v in row.items() if k.endswith("_children"))
            wall = sum(v for k, v in row.items() if k.endswith("_wall"))
            out.append(
                {
                    "test": nodeid,
                    "cpu": round(own + kids, 2),
                    "own": round(own, 2),
                    "children": round(kids, 2),
                    "wall": round(wall, 2),
                    **row,
                }
            )
        return sorted(out, key=lambda r: -float(r["cpu"]))  # type: ignore[arg-type]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        rows = self.rows()
        worker = getattr(session.config, "workerinput", {}).get("workerid")
        path = self.path.with_suffix(f".{worker}{self.path.suffix}") if worker else self.path
        totals = {
            k: round(sum(float(r[k]) for r in rows), 2)  # type: ignore[arg-type]
            for k in ("cpu", "own", "children", "wall")
        }
        path.write_text(
            json.dumps({"tests": len(rows), "totals": totals, "per_test": rows}, indent=1)
        )

    def pytest_terminal_summary(self, terminalreporter) -> None:  # type: ignore[no-untyped-def]
        rows = self.rows()
        if not rows:
            return
        total = sum(float(r["cpu"]) for r in rows)  # type: ignore[arg-type]
        terminalreporter.write_sep("=", f"CPU seconds per test (top {self.top}, {ENV})")
        for r in rows[: self.top]:
            terminalreporter.write_line(
                f"{r['cpu']:8.2f} cpu {r['own']:7.2f} own {r['children']:7.2f} children "
                f"{r['wall']:7.2f} wall  {r['test']}"
            )
        terminalreporter.write_line(f"{total:8.2f} cpu in {len(rows)} tests -> {self.path}")


def register(config: pytest.Config) -> None:
    path = os.environ.get(ENV, "").strip()
    if path:
        top = int(os.environ.get(f"{ENV}_TOP", "25"))
        config.pluginmanager.register(CpuTimes(Path(path).resolve(), top), "ia_events_cpu_times")
