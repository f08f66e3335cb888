"""Check-in benchmark: service latency and 100 simultaneous submissions through the server.

Run:  python benchmarks/checkin.py [--database-url postgresql+psycopg://...] [-n 300]

1. Service latency: ``checkin.submit`` (lock, duplicate check, encrypt name,
   attendance + scan + audit event, commit) p50/p95, as a ratio against a
   one-row INSERT+COMMIT through the same engine measured in the same run.
2. Server: ``streamlit run`` on a free port; 100 phones each GET the form,
   then all 100 POST at once (httpx, asyncio). Reports wall time, throughput,
   the ratio against 100 simultaneous GET /healthz, and checks that exactly
   100 attendances were stored (nothing lost, nothing doubled).

Not part of the test suite; figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from ia_events import checkin  # noqa: E402
from ia_events.installation import Settings, initialise  # noqa: E402
from ia_events.models import Activity, Agency, Attendance, Occurrence  # noqa: E402
from ia_events.tokens import TokenInfo, make_token, new_nonce  # noqa: E402
from storage.db import utcnow  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup(data: Path, url: str | None):  # type: ignore[no-untyped-def]
    settings = Settings(
        data_dir=data, database_url=url or f"sqlite:///{data / 'ia-events.sqlite3'}"
    )
    inst, _ = initialise(settings)
    now = utcnow()
    with inst.db.write() as s:
        agency = Agency(slug="bench", name="Integrationsagentur Bench", carrier="Bench e.V.")
        s.add(agency)
        s.flush()
        act = Activity(
            agency_id=agency.id,
            funding_year=now.year,
            title="Nähcafé",
            type="Nähcafé",
            field="BE",
            attendance_mode="named",
        )
        s.add(act)
        s.flush()
        occ = Occurrence(
            activity_id=act.id,
            agency_id=agency.id,
            funding_year=now.year,
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(hours=3),
        )
        s.add(occ)
        s.flush()
        occ_id = occ.id
    token = make_token(inst.keys, TokenInfo("participant", "occurrence", occ_id, 1))
    return inst, occ_id, token


def service_latency(inst, token: str, n: int) -> None:  # type: ignore[no-untyped-def]
    with inst.db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, v VARCHAR(40))"))
    base: list[float] = []
    for i in range(n):
        t0 = time.perf_counter()
        with inst.db.engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_rows (id, v) VALUES (:i, 'x')"), {"i": i + 1})
        base.append(time.perf_counter() - t0)
    svc: list[float] = []
    for i in range(n):
        nonce = new_nonce(inst.keys, token)
        t0 = time.perf_counter()
        with inst.db.write() as s:
            answer = checkin.submit(s, inst.keys, token, nonce, name=f"Person {i:05d}")
        svc.append(time.perf_counter() - t0)
        assert answer.ok, answer
    b50, b95 = statistics.median(base) * 1000, pct(base, 95) * 1000
    s50, s95 = statistics.median(svc) * 1000, pct(svc, 95) * 1000
    print(f"baseline INSERT+COMMIT   p50 {b50:7.2f} ms   p95 {b95:7.2f} ms")
    print(f"checkin.submit           p50 {s50:7.2f} ms   p95 {s95:7.2f} ms")
    print(f"ratio submit/baseline    p50 {s50 / b50:7.1f} x   p95 {s95 / b95:7.1f} x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def burst(base: str, token: str, phones: int) -> tuple[float, float, list[str]]:
    limits = httpx.Limits(max_connections=phones + 10)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
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
    states = [
        (m.group(1) if (m := re.search(r'data-state="(\w+)"', a.text)) else f"http {a.status_code}")
        for a in answers
    ]
    return health, wall, states


def server_burst(inst, occ_id: int, token: str, phones: int) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "IA_EVENTS_DATA": str(inst.settings.data_dir),
        "IA_EVENTS_DATABASE_URL": inst.settings.database_url,
    }
    log = open(inst.settings.data_dir.parent / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        before = count(inst, occ_id)
        health, wall, states = asyncio.run(burst(base, token, phones))
        stored = count(inst, occ_id) - before
    finally:
        proc.terminate()
        proc.wait(10)
    ok = states.count("ok")
    print(f"{phones} x GET /healthz at once    {health * 1000:8.0f} ms")
    print(
        f"{phones} x POST /checkin at once   {wall * 1000:8.0f} ms "
        f"({phones / wall:.0f}/s; {wall / health:.1f} x healthz)"
    )
    print(
        f"answers ok {ok}/{phones}, other: {sorted(set(states) - {'ok'}) or 'none'}; "
        f"stored {stored} -> {'nothing lost' if stored == phones == ok else 'MISMATCH'}"
    )


def count(inst, occ_id: int) -> int:  # type: ignore[no-untyped-def]
    with inst.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.occurrence_id == occ_id)
            )
            or 0
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--phones", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inst, occ_id, token = setup(Path(tmp) / "data", args.database_url)
        print(f"database: {inst.db.engine.dialect.name}")
        service_latency(inst, token, args.n)
        server_burst(inst, occ_id, token, args.phones)
        inst.close()


if __name__ == "__main__":
    main()
