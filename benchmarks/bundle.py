"""Benchmark: bundle export vs. `openssl dgst -sha256` + `cp` + `sync`; the index PDF.

Run:  .venv/bin/python benchmarks/bundle.py [--files 100] [--mb 5] [--rounds 3] [--lists 150]

1. Archives FILES random (incompressible) evidence files of MB MiB each in a
   fresh installation (setup, not timed), then per round measures
     baseline: `openssl dgst -sha256` over the plaintext files, `cp` to a new
               folder and `sync` (hash + copy + make durable, the least any
               export must do), and
     export:   `export_bundle` (decrypt, verify, hash, ZIP, sign, fsync, rename).
   Prints the median times and their ratio (goal: export <= 1.5x baseline).
   With ``--lists N`` (default 150, about an agency's year) the year also holds N
   sealed participant lists (PDF/A + CSV each, 12 names; sealed in the setup, not
   timed), and the baseline covers their bytes too: the bundle carries them in each
   occurrence's folder.
2. Renders the index PDF of a bundle with 1,000 evidence items (goal < 5 s)
   and times opening it: `pdfinfo` (parse) and `pdftoppm` of the first and
   the last page (what a viewer does to show it; goal < 2 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, report
from ia_events.archive.evidence import add_evidence
from ia_events.core.access import Actor
from ia_events.core.installation import Settings, initialise
from ia_events.core.models import Activity, Agency, Occurrence, SubGoal, TaskPlan
from ia_events.inspection.bundle import export_bundle
from ia_events.inspection.completeness import (
    ActivityNode,
    EvidenceNode,
    InspectionTree,
    OccurrenceNode,
    findings,
)
from ia_events.inspection.index import render_index
from ia_events.reporting.progress import SubGoalProgress

ACTOR = Actor.cli("bench")


def setup(root: Path, files: int, mb: int, lists: int = 0) -> tuple[object, Path]:
    data = root / "data"
    inst, _ = initialise(Settings(data_dir=data, database_url=f"sqlite:///{data / 'db.sqlite3'}"))
    with inst.db.write() as s:
        agency = Agency(slug="bench", name="Integrationsagentur Benchmark", carrier="Träger e.V.")
        s.add(agency)
        s.flush()
        plan = TaskPlan(agency_id=agency.id, funding_year=2025, topic="Thema", goal="Ziel")
        s.add(plan)
        s.flush()
        goal = SubGoal(
            task_plan_id=plan.id,
            agency_id=agency.id,
            funding_year=2025,
            title="Teilziel",
            field="BE",
            indicator="occurrences",
            target=10,
        )
        act = Activity(
            agency_id=agency.id, funding_year=2025, title="Nähcafé", type="x", field="BE"
        )
        act.subgoals = [goal]
        s.add_all([goal, act])
        s.flush()
        start = datetime(2025, 2, 4, 9, tzinfo=UTC)
        occ_ids = []
        for i in range(10):
            occ = Occurrence(
                activity_id=act.id,
                agency_id=agency.id,
                funding_year=2025,
                starts_at=start + timedelta(days=7 * i),
                ends_at=start + timedelta(days=7 * i, hours=2),
            )
            s.add(occ)
            s.flush()
            occ_ids.append(occ.id)
    plain = root / "plain"
    plain.mkdir()
    if lists:
        sealed_lists(inst, plain, act.id, agency.id, start, lists)
    for i in range(files):
        # Incompressible like a scan; a PDF header so the upload check accepts it.
        body = b"%PDF-1.7\n" + os.urandom(mb * 1024 * 1024 - 9).replace(b"/", b"_")
        (plain / f"scan-{i:03d}.pdf").write_bytes(body)
        add_evidence(
            inst,
            ACTOR,
            agency_slug="bench",
            funding_year=2025,
            kind="signed_list_scan",
            filename=f"scan-{i:03d}.pdf",
            content=body,
            occurrence_id=occ_ids[i % len(occ_ids)],
        )
    return inst, plain


def sealed_lists(inst, plain: Path, activity_id: int, agency_id: int, start, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` ended dates with 12 QR check-ins each, sealed; their plaintext into ``plain``."""
    from sqlalchemy import insert, select

    from ia_events.archive.evidence import read_content
    from ia_events.attendance import sealing
    from ia_events.core.models import Attendance, Evidence
    from ia_events.privacy.personal import blind_index, seal_text

    with inst.db.write() as s:
        for i in range(n):
            begin = start + timedelta(days=i % 300, hours=i // 300)
            occ = Occurrence(
                activity_id=activity_id, agency_id=agency_id, funding_year=2025,
                starts_at=begin, ends_at=begin + timedelta(hours=1),
            )  # fmt: skip
            s.add(occ)
            s.flush()
            rows = []
            for r in range(12):
                name = f"Teilnehmerin {i}-{r} Öztürk"
                rows.append(
                    {
                        "occurrence_id": occ.id, "agency_id": agency_id, "funding_year": 2025,
                        "method": "self_qr", "count": 1, "recorded_at": begin,
                        "name_enc": seal_text(s, inst.keys, agency_id, name, "attendance"),
                        "name_index": blind_index(inst.keys, agency_id, name),
                    }
                )  # fmt: skip
            s.execute(insert(Attendance), rows)
    run = sealing.seal_due(inst, ACTOR, now=datetime(2026, 1, 10, tzinfo=UTC))
    assert run.sealed == n and not run.failed, (run.sealed, run.failed)
    with inst.db.read() as s:
        ids = s.scalars(select(Evidence.id).where(Evidence.kind == "participant_list")).all()
    for eid in ids:
        name, _media, data = read_content(inst, ACTOR, eid)
        (plain / f"list-{eid}-{name}").write_bytes(data)


def baseline(plain: Path, target: Path) -> float:
    files = sorted(str(p) for p in plain.iterdir())
    t = time.perf_counter()
    subprocess.run(["openssl", "dgst", "-sha256", *files], check=True, capture_output=True)
    subprocess.run(["cp", "-r", str(plain), str(target)], check=True)
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t


def export(inst, out: Path) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    export_bundle(inst, ACTOR, "bench", 2025, out)
    return time.perf_counter() - t


def index_tree(items: int) -> InspectionTree:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    goals = [
        SubGoalProgress(
            i, f"Teilziel {i}: Begegnung im Quartier", "BE", "participants", 100, 80 + i
        )
        for i in range(1, 5)
    ]
    acts = {i: ActivityNode(i, f"Angebot {i}", "BE", "named", [1 + i % 4]) for i in range(1, 5)}
    occs = {}
    for i in range(1, 201):
        start = now - timedelta(days=i)
        occs[i] = OccurrenceNode(
            i,
            1 + i % 4,
            start,
            start + timedelta(hours=2),
            "scheduled",
            True,
            12,
            {"self_qr": 9, "door_manual": 3},
        )
        acts[1 + i % 4].occurrence_ids.append(i)
    ev = {}
    for i in range(1, items + 1):
        ev[i] = EvidenceNode(
            i,
            "photo",
            f"Foto Nähcafé {i}",
            f"foto-{i}.jpg",
            "image/jpeg",
            os.urandom(32).hex(),
            2_345_678,
            date(2025, 5, 1),
            1 + i % 200,
            None,
            (1 + i % 4,),
            date(2035, 12, 31),
            False,
            None,
            i,
        )
        occs[1 + i % 200].evidence_ids.append(i)
    tree = InspectionTree(
        1,
        "bench",
        "Integrationsagentur Benchmark",
        "Träger e.V.",
        2025,
        None,
        {
            "id": 1,
            "topic": "Thema",
            "goal": "Ziel",
            "methods": "",
            "status": "approved",
            "reason": "",
            "version": 1,
            "approved_version": 1,
            "approved_by": "koordination",
            "approved_at": now,
        },
        None,
        None,
        goals,
        acts,
        occs,
        ev,
        [],
        now,
    )
    tree.findings = findings(tree, now)
    return tree


def index_pdf(items: int, root: Path | None = None) -> None:
    """Render the index PDF of ``items`` evidence items and time opening it."""
    own = root is None
    root = root or Path(tempfile.mkdtemp(prefix="ia-bench-"))
    try:
        tree = index_tree(items)
        paths = {
            i: f"data/03_Nachweise/01_Teilziel/2025-05-01_Angebot_T{i}/{i}_photo_foto-{i}.jpg"
            for i in tree.evidence
        }
        t = time.perf_counter()
        pdf = render_index(tree, paths, "ABCD:" * 7 + "ABCD", [])
        pdf_t = time.perf_counter() - t
        pdf_path = root / "index.pdf"
        pdf_path.write_bytes(pdf)
        info = subprocess.run(["pdfinfo", str(pdf_path)], capture_output=True, text=True).stdout
        pages = int(next(x.split()[-1] for x in info.splitlines() if x.startswith("Pages:")))
        t = time.perf_counter()
        subprocess.run(
            ["pdftoppm", "-r", "72", "-png", "-f", "1", "-l", "1", str(pdf_path), str(root / "p")],
            check=True,
        )
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "72",
                "-png",
                "-f",
                str(pages),
                "-l",
                str(pages),
                str(pdf_path),
                str(root / "q"),
            ],
            check=True,
        )
        open_t = time.perf_counter() - t
        print(f"index PDF: {items} evidence items, {pages} pages, {len(pdf) / 1024:.0f} KiB")
        name = f"index PDF, {items} evidence items"
        report(Figure("-", f"{name}: written", pdf_t, "s", goal="< 5 s", met=pdf_t < 5))
        report(
            Figure("-", f"{name}: first + last page shown (pdftoppm)", open_t, "s",
                   goal="< 2 s", met=open_t < 2)
        )  # fmt: skip
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def export_cli(inst, out: Path) -> float:  # type: ignore[no-untyped-def]
    """``ia-events export-bundle`` as a coordinator's admin runs it: a new process."""
    env = dict(os.environ, IA_EVENTS_DATA=str(inst.settings.data_dir),
               IA_EVENTS_DATABASE_URL=inst.settings.database_url)  # fmt: skip
    cmd = [str(Path(sys.executable).with_name("ia-events")), "--actor", "bench",
           "export-bundle", "--agency", "bench", "--year", "2025", "--out", str(out)]  # fmt: skip
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--mb", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--index-items", type=int, default=1000)
    ap.add_argument("--lists", type=int, default=150, help="sealed lists in the year")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ia-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        inst, plain = setup(root, args.files, args.mb, args.lists)
        # Per round: wall time and CPU time (all threads of our process; the children's
        # for openssl + cp + sync and for the command): CPU is the steadier figure when
        # other work shares the machine.
        base_t, exp_t, cli_t, base_c, exp_c, cli_c = [], [], [], [], [], []
        # One uncounted warm-up of each (imports, fonts, page cache), then the rounds.
        baseline(plain, root / "copy-warm")
        shutil.rmtree(root / "copy-warm")
        export(inst, root / "bundle-warm.zip")
        (root / "bundle-warm.zip").unlink()
        for r in range(args.rounds):
            c = _children_cpu()
            base_t.append(baseline(plain, root / f"copy-{r}"))
            base_c.append(_children_cpu() - c)
            c = time.process_time()
            exp_t.append(export(inst, root / f"bundle-{r}.zip"))
            exp_c.append(time.process_time() - c)
            c = _children_cpu()
            cli_t.append(export_cli(inst, root / f"bundle-cli-{r}.zip"))
            cli_c.append(_children_cpu() - c)
            shutil.rmtree(root / f"copy-{r}")
            (root / f"bundle-{r}.zip").unlink()
            (root / f"bundle-cli-{r}.zip").unlink()
        med = statistics.median
        b, e, c = med(base_t), med(exp_t), med(cli_t)
        bc, ec, cc = med(base_c), med(exp_c), med(cli_c)
        total = sum(p.stat().st_size for p in plain.iterdir()) / 1024 / 1024
        print(
            f"bundle: {args.files} scans x {args.mb} MiB + {args.lists} sealed lists "
            f"(PDF + CSV) = {total:.0f} MiB in {len(list(plain.iterdir()))} files, "
            f"{args.rounds} rounds, load {os.getloadavg()[0]:.1f}"
        )
        print(f"  baseline openssl dgst -sha256 + cp + sync: {b:.2f} s wall, {bc:.2f} s CPU")
        print(f"  export_bundle (in process):  {e:.2f} s wall, {ec:.2f} s CPU "
              f"(rounds {[round(x, 2) for x in exp_t]})")  # fmt: skip
        print(f"  ia-events export-bundle:     {c:.2f} s wall, {cc:.2f} s CPU "
              f"(rounds {[round(x, 2) for x in cli_t]}; process start included)")  # fmt: skip
        print(f"  ratio wall: {e / b:.2f}x in process, {c / b:.2f}x command (goal <= 1.5x)")
        print(f"  ratio CPU:  {ec / bc:.2f}x in process, {cc / bc:.2f}x command")
        base = "openssl dgst -sha256 + cp + sync"
        what = f"year's bundle, {args.files} scans + {args.lists} sealed lists"
        report(Figure("sqlite", what, e, "s", b, base, "ratio <= 1.5", e / b <= 1.5))
        report(Figure("sqlite", f"{what}, ia-events command", c, "s", b, base, "ratio <= 1.5",
                      c / b <= 1.5))  # fmt: skip

        index_pdf(args.index_items, root)
        inst.close()  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
