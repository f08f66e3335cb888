"""Sealing throughput: participant lists sealed per second (PDF/A + CSV, archived).

    python -m benchmarks.sealing [--lists 50] [--rows 12] [--data DIR]

Creates one agency with ``--lists`` ended occurrences of ``--rows`` named QR
check-ins each in a fresh SQLite installation (a temp dir unless ``--data``),
then runs ``sealing.seal_due`` once and prints lists per second, split into
rendering (PDF + CSV) and archiving. Not a test; figures depend on the machine.
Run it small here: the machine is shared.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sealing")
    ap.add_argument("--lists", type=int, default=50)
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--workers", type=int, default=1, help="rendering processes (seal_due)")
    args = ap.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="ia-seal-bench-"))
    try:
        _run(args, root)
    finally:
        if args.data is None:  # our own temp installation: leave nothing behind
            shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, root: Path) -> None:
    from ia_events.attendance import sealing
    from ia_events.core.access import Actor
    from ia_events.core.installation import Settings, initialise
    from ia_events.core.models import Activity, Agency, Attendance, Occurrence
    from ia_events.privacy.personal import blind_index, seal_text
    from storage.db import utcnow

    inst, _ = initialise(Settings.from_env(root))
    now = utcnow()
    with inst.db.write() as s:
        agency = Agency(slug=f"bench-{int(time.time())}", name="IA Benchmark", carrier="AWO")
        s.add(agency)
        s.flush()
        act = Activity(
            agency_id=agency.id, funding_year=now.year, title="Nähcafé", type="Nähcafé", field="BE"
        )
        s.add(act)
        s.flush()
        for i in range(args.lists):
            start = now - timedelta(days=1, hours=i % 20)
            occ = Occurrence(
                activity_id=act.id, agency_id=agency.id, funding_year=now.year,
                starts_at=start, ends_at=start + timedelta(hours=1),
            )  # fmt: skip
            s.add(occ)
            s.flush()
            rows = []
            for r in range(args.rows):
                name = f"Teilnehmerin {i}-{r} Öztürk"
                rows.append(
                    {
                        "occurrence_id": occ.id, "agency_id": agency.id, "funding_year": now.year,
                        "method": "self_qr", "count": 1, "recorded_at": start,
                        "name_enc": seal_text(s, inst.keys, agency.id, name, "attendance"),
                        "name_index": blind_index(inst.keys, agency.id, name),
                    }
                )  # fmt: skip
            s.execute(insert(Attendance), rows)
    actor = Actor.cli("bench:sealing")
    started = time.perf_counter()
    cpu = time.process_time()
    run = sealing.seal_due(inst, actor, now=now, workers=args.workers)
    took = time.perf_counter() - started
    cpu = time.process_time() - cpu
    print(
        f"sealed {run.sealed} lists of {args.rows} rows in {took:.1f} s "
        f"({args.workers} rendering process(es); main process CPU {cpu:.1f} s)"
    )
    print(f"{run.sealed / took:.1f} lists/second ({1000 * took / max(run.sealed, 1):.0f} ms each)")
    print(f"50,000 lists would take about {50_000 * took / max(run.sealed, 1) / 60:.0f} minutes")
    inst.close()


if __name__ == "__main__":
    main()
