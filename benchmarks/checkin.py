"""Check-in: service latency, and crowds through the real server.

    python benchmarks/checkin.py [--pg] [-n 300] [--phones 100] [--browsers 24]
    (or as part of ``python -m benchmarks``)

1. Service latency: ``checkin.submit`` in its own write transaction (token and
   nonce MACs, row lock, replay and duplicate checks, encrypted name,
   attendance + scan + audit event, commit) p50/p95, as a ratio against a
   one-row INSERT+COMMIT through the same engine, measured in the same run.
2. HTTP crowd: ``streamlit run`` on a free port; ``--phones`` clients each GET
   the form, then all POST at once (httpx, asyncio; the baseline is the same
   number of simultaneous ``GET /healthz``).
3. Browser crowd: ``--browsers`` phone-sized pages of one headless Chromium,
   each in its own context (its own cookies, like its own phone), all at once
   open the link and type a name; then, every form filled in, all press submit
   at the same moment. The check-in rate is ``browsers`` / the time from that
   moment to the last answer on screen (like the HTTP crowd, which GETs its
   forms before it POSTs); the whole way (open + type + submit) and the CPU
   seconds the server and the browsers (with Playwright) used in each phase
   are printed too -- on one machine they share its cores.

Both crowds check that exactly as many attendances were stored as were
answered "checked in" (nothing lost, nothing doubled). Goals: p50 <= 5 ms,
p95 <= 20 ms, ratio <= 3; crowds >= 4 check-ins per second, none lost.
``--phones 0 --browsers 0`` measures the service alone (no server started).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select, text

from benchmarks.common import (
    Figure,
    database,
    free_port,
    median,
    pct,
    report,
    start_streamlit,
    stop,
    wait_http,
)
from ia_events.attendance import checkin
from ia_events.attendance.tokens import TokenInfo, make_token, new_nonce
from ia_events.core.installation import Installation, Settings, initialise
from ia_events.core.models import Activity, Agency, Attendance, Occurrence
from storage.db import utcnow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def setup(data: Path, url: str, occurrences: int = 1) -> tuple[Installation, list[int], list[str]]:
    """An agency with a named-attendance activity and open occurrences; their tokens."""
    inst, _ = initialise(Settings(data_dir=data, database_url=url))
    now = utcnow()
    with inst.db.write() as s:
        agency = Agency(slug="bench", name="Integrationsagentur Bench", carrier="Bench e.V.")
        s.add(agency)
        s.flush()
        act = Activity(
            agency_id=agency.id, funding_year=now.year, title="Nähcafé", type="Nähcafé",
            field="BE", attendance_mode="named",
        )  # fmt: skip
        s.add(act)
        s.flush()
        occs = [
            Occurrence(
                activity_id=act.id,
                agency_id=agency.id,
                funding_year=now.year,
                starts_at=now - timedelta(minutes=10),
                ends_at=now + timedelta(hours=3),
            )
            for _ in range(occurrences)
        ]
        s.add_all(occs)
        s.flush()
        ids = [o.id for o in occs]
    tokens = [make_token(inst.keys, TokenInfo("participant", "occurrence", i, 1)) for i in ids]
    return inst, ids, tokens


def count(inst: Installation, occ_id: int) -> int:
    with inst.db.read() as s:
        q = select(func.count()).select_from(Attendance).where(Attendance.occurrence_id == occ_id)
        return int(s.scalar(q) or 0)


def service_latency(inst: Installation, db: str, token: str, n: int) -> list[Figure]:
    engine = inst.db.engine
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, v VARCHAR(40))"))
    try:
        for i in range(20):  # warm-up: pool, prepared statements, caches
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO bench_rows (id, v) VALUES (:i, 'x')"), {"i": -i - 1})
            with inst.db.write() as s:
                checkin.submit(s, inst.keys, token, new_nonce(inst.keys, token), name=f"W {i}")
        base: list[float] = []
        svc: list[float] = []
        # Interleaved, so that load from elsewhere on the machine hits both alike.
        for i in range(n):
            t0 = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO bench_rows (id, v) VALUES (:i, 'x')"), {"i": i + 1})
            base.append(time.perf_counter() - t0)
            nonce = new_nonce(inst.keys, token)
            t0 = time.perf_counter()
            with inst.db.write() as s:
                answer = checkin.submit(s, inst.keys, token, nonce, name=f"Person {i:05d}")
            svc.append(time.perf_counter() - t0)
            assert answer.ok, answer
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_rows"))
    out = []
    for label, p, goal in (("p50", 50, 5.0), ("p95", 95, 20.0)):
        ours = (median(svc) if p == 50 else pct(svc, p)) * 1000
        b = (median(base) if p == 50 else pct(base, p)) * 1000
        out.append(
            report(
                Figure(
                    db,
                    f"checkin.submit {label} (n={n})",
                    ours,
                    "ms",
                    b,
                    "one-row INSERT+COMMIT",
                    f"<= {goal:g} ms (ratio goal <= 3)",
                    ours <= goal and ours <= 3 * b,
                )
            )
        )
    return out


async def http_crowd(base: str, token: str, phones: int) -> tuple[float, float, list[str]]:
    limits = httpx.Limits(max_connections=phones + 10)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        await asyncio.gather(*(client.get("/healthz") for _ in range(phones)))  # warm-up
        t0 = time.perf_counter()
        await asyncio.gather(*(client.get("/healthz") for _ in range(phones)))
        health = time.perf_counter() - t0
        forms = await asyncio.gather(*(client.get(f"/checkin?t={token}") for _ in range(phones)))
        bodies = []
        for i, page in enumerate(forms):
            hidden = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
            bodies.append({**hidden, "name": f"Handy {i:03d}"})
        client.cookies.clear()
        t0 = time.perf_counter()
        answers = await asyncio.gather(*(client.post("/checkin", data=b) for b in bodies))
        wall = time.perf_counter() - t0
    return health, wall, [_state(a.text, a.status_code) for a in answers]


def _state(html: str, status: int) -> str:
    m = re.search(r'data-state="(\w+)"', html)
    return m.group(1) if m else f"http {status}"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux ``/proc``); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren, ... (Playwright's driver and Chromium's processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_split(server_pid: int) -> dict[str, float]:
    """CPU seconds so far: the server, and this process's browsers (+ their driver)."""
    server = {server_pid, *_descendants(server_pid)}
    others = [p for p in _descendants(os.getpid()) if p not in server]
    return {
        "server": sum(_cpu_seconds(p) for p in server),
        "browsers": sum(_cpu_seconds(p) for p in others),
    }


@dataclass
class BrowserCrowd:
    """One browser crowd: how long opening + typing took (all at once), how long the
    check-ins took once every phone pressed "Einchecken" at the same moment, each
    phone's answer, and the CPU seconds server and browsers used in each phase."""

    open_wall: float
    submit_wall: float
    states: list[str]
    cpu_open: dict[str, float]
    cpu_submit: dict[str, float]

    @property
    def wall(self) -> float:
        return self.open_wall + self.submit_wall


async def browser_crowd(link: str, browsers: int, server_pid: int | None = None) -> BrowserCrowd:
    """``browsers`` phone-sized pages, each in its own context (own cookies, like its own
    phone). Phase 1, all at once: open the link and type a name. Phase 2: when every
    phone has its form filled in, all press submit at the same moment (the crowd at the
    door; as the HTTP crowd, which GETs its forms before it POSTs); until the last answer
    is on screen."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        contexts = [
            await chromium.new_context(
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
                device_scale_factor=2,
                locale="de-DE",
            )
            for _ in range(browsers)
        ]
        pages = [await c.new_page() for c in contexts]

        async def fill(i: int) -> None:
            await pages[i].goto(link)
            await pages[i].fill("#name", f"Browser {i:03d}")

        async def press(i: int) -> str:
            await pages[i].click("button[type=submit]")
            answer = pages[i].locator("[data-state]")
            await answer.wait_for(timeout=60_000)
            return str(await answer.get_attribute("data-state"))

        def cpu() -> dict[str, float]:
            return cpu_split(server_pid) if server_pid else {}

        c0 = cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(fill(i) for i in range(browsers)))
        t1 = time.perf_counter()
        c1 = cpu()
        states = await asyncio.gather(*(press(i) for i in range(browsers)))
        t2 = time.perf_counter()
        # Measured before the contexts close (closing renderers takes their counts along).
        c2 = cpu()
        for c in contexts:
            await c.close()
        await chromium.close()
    return BrowserCrowd(
        t1 - t0,
        t2 - t1,
        list(states),
        {k: c1[k] - c0[k] for k in c1},
        {k: c2[k] - c1[k] for k in c2},
    )


def crowd_figures(
    db: str, what: str, n: int, wall: float, states: list[str], stored: int,
    base: float | None = None, base_name: str = "",
) -> Figure:  # fmt: skip
    ok = states.count("ok")
    lost = not (stored == ok == n)
    rate = n / wall
    fig = Figure(
        db, f"{what}: {n} at once, {ok} ok, {stored} stored", wall, "s", base, base_name,
        ">= 4/s, nothing lost", rate >= 4 and not lost,
    )  # fmt: skip
    report(fig)
    others = sorted(set(states) - {"ok"})
    print(f"    rate {rate:.1f}/s; other answers: {others or 'none'}; "
          f"{'nothing lost' if not lost else 'MISMATCH'}", flush=True)  # fmt: skip
    return fig


def crowds(
    inst: Installation, db: str, occ_ids: list[int], tokens: list[str], phones: int, browsers: int
) -> list[Figure]:
    if not phones and not browsers:
        return []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = inst.settings.data_dir.parent / f"streamlit-{db}.log"
    proc = start_streamlit(inst.settings.data_dir, inst.settings.database_url, port, log)
    figs = []
    try:
        wait_http(base + "/healthz")
        urls = [f"{base}/checkin?t={t}" for t in tokens]
        httpx.get(urls[1])  # first request of the route: imports, engine
        if phones:
            health, wall, states = asyncio.run(http_crowd(base, tokens[1], phones))
            figs.append(
                crowd_figures(
                    db,
                    "HTTP crowd (httpx POST /checkin)",
                    phones,
                    wall,
                    states,
                    count(inst, occ_ids[1]),
                    health,
                    "same number of GET /healthz",
                )
            )
        if browsers:
            crowd = asyncio.run(browser_crowd(urls[2], browsers, proc.pid))
            figs.append(
                crowd_figures(
                    db,
                    "browser crowd (Chromium phones, forms filled in, all press submit)",
                    browsers,
                    crowd.submit_wall,
                    crowd.states,
                    count(inst, occ_ids[2]),
                )
            )
            # The whole way (open the link, type, submit; all at once) and where the two
            # cores went: the server's share shows whether it is the limit.
            print(
                f"    whole way, all at once (open link + type: {crowd.open_wall:.2f} s, "
                f"submit: {crowd.submit_wall:.2f} s): {crowd.wall:.2f} s = "
                f"{browsers / crowd.wall:.1f}/s",
                flush=True,
            )
            for phase, cpu, wall in (
                ("open + type", crowd.cpu_open, crowd.open_wall),
                ("submit", crowd.cpu_submit, crowd.submit_wall),
            ):
                print(
                    f"    CPU during {phase}: server {cpu['server']:.2f} s, Chromium + "
                    f"Playwright {cpu['browsers']:.2f} s (wall {wall:.2f} s x "
                    f"{os.cpu_count()} cores)",
                    flush=True,
                )
    finally:
        stop(proc)
    return figs


def run(root: Path, db: str, n: int = 300, phones: int = 100, browsers: int = 24) -> list[Figure]:
    with database(db, root / "data", "checkin") as url:
        inst, occ_ids, tokens = setup(root / "data", url, occurrences=3)
        try:
            figs = service_latency(inst, db, tokens[0], n)
            figs += crowds(inst, db, occ_ids, tokens, phones, browsers)
        finally:
            inst.close()
    return figs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", action="store_true", help="use a fresh PostgreSQL database")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--browsers", type=int, default=24)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ia-bench-"))
    try:
        run(root, "postgresql" if args.pg else "sqlite", args.n, args.phones, args.browsers)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
