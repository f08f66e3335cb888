"""Quick answers (issue 18 point 11): page changes and the main forms in a real browser.

    python -m benchmarks --only ui               on a fresh small demo (made in a temp dir)
    python -m benchmarks.ui [--data DIR] [--runs 5] [--keep] [--json out.json]
    python -m benchmarks.ui --data DIR --large     on a large demo (``ia-events demo --size large``)
    python -m benchmarks.ui --only 'koordination Seite'   only the rows matching a pattern

The small demo is loaded into a new installation (or ``--data`` names one made by
``ia-events demo``; the forms add check-ins, evidence, activities and sign-ups to it),
``streamlit run`` serves it on a free port, and headless Debian Chromium (Playwright)
logs in as ``fk-essen`` and as ``koordination``. Measured on the page's own clock, from
the click until Streamlit's last run of that click has finished (the app's script
state is ``notRunning`` again after the server's ``script_finished``) and what the user
waits for is visible (the page's heading, the form's confirmation):

- every page change in the navigation of ``fk-essen`` and of ``koordination``,
  ``--runs`` times each (going back to the overview in between);
- the main forms, ``--runs`` times each: check-in by hand on the door screen
  (``fk-essen``), one evidence upload (``fk-essen``), a new activity (``fk-essen``) and
  signing up for a shift (``ehrenamt-essen``).

Prints one row per page/form: median, p90, the goal (median <= 0.5 s; with ``--large``
1 s) and whether it is met. ``--large`` expects a data dir with the large demo (the same
logins: it loads the small demo first) and sets the pages' clock to 24 November of the
large demo's last full year (``--as-of``; the small demo's two years come after it), as
``benchmarks/pages.py --as-of`` does, so every year-bound page shows a full year of the
district; the forms then act on that day's dates. Not part of the test suite; figures
depend on the machine and on what else runs on it (``/proc/loadavg`` is printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import ROOT, Figure, pct, report

GOAL = 0.5  # seconds, median
GOAL_LARGE = 1.0  # seconds, median, on the large demo
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
# A small PDF as a scan of a signed list would be (content check passes).
_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass
class Row:
    user: str
    what: str  # "Seite: Nachweise" | "Formular: …"
    times: list[float] = field(default_factory=list)
    refused: int = 0  # sign-ups the service refused (overlap): same run, an error instead

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def p90(self) -> float:
        return pct(self.times, 90) if self.times else float("nan")

    goal: float = GOAL

    @property
    def met(self) -> bool:
        return bool(self.times) and self.median <= self.goal


def make_demo(data: Path) -> None:
    """A new installation with the small demo loaded (as ``ia-events demo`` does)."""
    from ia_events.core.access import Actor
    from ia_events.core.installation import Settings, initialise
    from ia_events.demo import loader

    inst, _ = initialise(
        Settings(data_dir=data, database_url=f"sqlite:///{data / 'ia-events.sqlite3'}")
    )
    try:
        loader.load(inst, Actor.cli("benchmark:ui"))
    finally:
        inst.close()


# -- measuring ---------------------------------------------------------------------------------


def _timed(page, act: Callable[[], None], done: Callable[[], None]) -> float:  # type: ignore[no-untyped-def]
    """Seconds on the page's clock from the click ``act`` makes until the last script run
    it started has finished, once ``done`` (waits for what the user waits for) returned."""
    from benchmarks.pages import wait_ready

    watch = page.watch
    seen = watch.finished
    page.evaluate("() => { window.__bench.done = 0; window.__bench.message = 0; }")
    act()
    deadline = time.monotonic() + 120
    while watch.finished == seen:
        if time.monotonic() > deadline:
            raise RuntimeError("no script run finished after the click")
        page.wait_for_timeout(5)
    done()
    wait_ready(page)
    b = page.evaluate("() => window.__bench")
    end = max(b["done"], b["message"])
    return float(end - b["click"]) / 1000


def _nav_link(page, title: str):  # type: ignore[no-untyped-def]
    return page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)


def _goto(page, title: str) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.pages import wait_ready

    _nav_link(page, title).first.click()
    page.locator("h1").first.wait_for()
    wait_ready(page)


def pages_of(
    page, user: str, role: str, runs: int, only: re.Pattern[str] | None = None
) -> list[Row]:  # type: ignore[no-untyped-def]
    """Every navigation link of ``role`` (matching ``only``), ``runs`` times, each from
    another page."""
    from benchmarks.pages import navigation

    refs = navigation(role)
    rows = []
    for i, ref in enumerate(refs):
        row = Row(user, f"Seite: {ref.title}")
        if only is not None and not only.search(f"{user} {row.what}"):
            continue
        other = refs[1 if i == 0 else 0]
        for _ in range(runs):
            _goto(page, other.title)

            def heading() -> None:
                page.locator("h1").first.wait_for()

            row.times.append(
                _timed(page, lambda r=ref: _nav_link(page, r.title).first.click(), heading)
            )
        problem = page.locator('[data-testid="stException"]')
        if problem.count():
            print(f"  ! {user} {ref.title}: {problem.first.inner_text()[:200]}", file=sys.stderr)
        rows.append(row)
        print(f"  {user:14} {row.what:38} {row.median:6.3f} s", file=sys.stderr, flush=True)
    return rows


def door_checkin(page, runs: int) -> Row:  # type: ignore[no-untyped-def]
    from benchmarks.pages import wait_ready

    row = Row("fk-essen", "Formular: Check-in von Hand (Tür)")
    _goto(page, "Check-in")
    page.get_by_role("heading", name="Check-in an der Tür").wait_for()
    for i in range(runs):
        page.get_by_label("Name", exact=True).fill(f"Bench Person {i} {time.time_ns() % 10**6}")
        wait_ready(page)
        button = page.get_by_role("button", name="Eintragen", exact=True)
        row.times.append(
            _timed(
                page,
                button.click,
                lambda: page.get_by_text("Eingecheckt.", exact=True).wait_for(),
            )
        )
    return row


def upload(page, runs: int, scan: Path) -> Row:  # type: ignore[no-untyped-def]
    from benchmarks.pages import wait_ready

    row = Row("fk-essen", "Formular: Nachweis hochladen")
    _goto(page, "Nachweise")
    for i in range(runs):
        exp = page.locator('[data-testid="stExpander"]').filter(has_text="Nachweise hochladen")
        form = page.locator('[data-testid="stForm"]').filter(
            has=page.get_by_role("button", name="Hochladen")
        )
        if not form.first.is_visible():
            exp.first.locator("summary").click()
        form = form.first
        one = scan.with_name(f"bench-scan-{i}.pdf")
        one.write_bytes(_PDF + f"% Benchmark {i} {time.time_ns()}\n".encode())
        form.locator('input[type="file"]').set_input_files(str(one))
        page.get_by_text(one.name).first.wait_for()
        form.get_by_label("Titel").fill(f"Benchmark-Nachweis {i}")
        wait_ready(page)
        row.times.append(
            _timed(
                page,
                form.get_by_role("button", name="Hochladen").click,
                lambda: page.get_by_text(re.compile(r"1 Nachweis archiviert")).wait_for(),
            )
        )
    return row


def new_activity(page, runs: int) -> Row:  # type: ignore[no-untyped-def]
    from benchmarks.pages import wait_ready

    row = Row("fk-essen", "Formular: Neues Angebot")
    _goto(page, "Angebote & Termine")
    page.get_by_role("tab", name="Neues Angebot").click()
    wait_ready(page)
    for i in range(runs):
        form = page.locator('[data-testid="stForm"]').filter(has_text="Angebot anlegen").first
        title = f"Benchmark-Angebot {i} {time.time_ns() % 10**6}"
        form.get_by_label("Titel").fill(title)
        wait_ready(page)
        row.times.append(
            _timed(
                page,
                form.get_by_role("button", name="Angebot anlegen").click,
                lambda t=title: page.get_by_text(  # type: ignore[misc]
                    re.compile(f"Angebot „{re.escape(t)}“ angelegt")
                ).wait_for(),
            )
        )
    return row


def shift_signup(page, runs: int, row: Row | None = None) -> Row:  # type: ignore[no-untyped-def]
    """Sign up for the last open shift, then (not timed) withdraw again, so each
    repetition starts from the same state. A refusal (it overlaps one of hers) is
    timed too, and counted in ``refused``."""
    from benchmarks.pages import wait_ready

    row = row or Row("ehrenamt-essen", "Formular: Schicht eintragen (Ehrenamt)")
    page.get_by_role("heading", name="Meine Einsätze").wait_for()
    wait_ready(page)
    ok = re.compile(r"Sie sind für „.*“ eingetragen")
    answer = page.get_by_text(ok).or_(page.get_by_text(re.compile("überschneiden"))).first
    for _ in range(runs):
        button = page.get_by_role("button", name="Eintragen", exact=True).last
        row.times.append(_timed(page, button.click, answer.wait_for))
        if page.get_by_text(ok).count():  # signed up: withdraw again (untimed)
            page.get_by_role("button", name="Abmelden").first.click()
            page.get_by_text("Sie sind von diesem Einsatz abgemeldet.").wait_for()
            wait_ready(page)
        else:
            row.refused += 1
    return row


def _safely(page, name: str, form, runs: int, scan: Path, out: Path) -> Row:  # type: ignore[no-untyped-def]
    """One form's row; a failure keeps the times measured so far and a screenshot."""
    row = Row("ehrenamt-essen" if name == "signup" else "fk-essen", _FORM_ROWS[name])
    try:
        row = form(page, runs, scan) if form is upload else form(page, runs)
    except Exception as exc:  # a benchmark reports and goes on
        shot = out / f"ui-{name}-failed.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"  ! {name} failed ({str(exc)[:400]}); see {shot}", file=sys.stderr)
    return row


def _wanted(only: re.Pattern[str] | None, user: str, what: str) -> bool:
    return only is None or bool(only.search(f"{user} {what}"))


_FORM_ROWS = {
    "door": "Formular: Check-in von Hand (Tür)",
    "upload": "Formular: Nachweis hochladen",
    "activity": "Formular: Neues Angebot",
    "signup": "Formular: Schicht eintragen (Ehrenamt)",
}


def run_browser(
    data: Path,
    runs: int,
    as_of: str | None = None,
    forms_only: bool = False,
    only: re.Pattern[str] | None = None,
) -> list[Row]:
    from playwright.sync_api import sync_playwright

    from benchmarks.pages import CHROMIUM, browser_login, free_port, navigation, start_server

    os.environ["IA_EVENTS_DATA"] = str(data)
    port = free_port()
    proc = start_server(data, None, port, as_of)
    base = f"http://127.0.0.1:{port}"
    rows: list[Row] = []
    scan = data.parent / "bench-scan.pdf"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            for user, role in (("fk-essen", "specialist"), ("koordination", "coordinator")):
                if only is not None and not any(
                    _wanted(only, user, w)
                    for w in [
                        *_FORM_ROWS.values(),
                        *(f"Seite: {r.title}" for r in navigation(role)),
                    ]
                ):
                    continue
                ctx = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    locale="de-DE",
                    timezone_id="Europe/Berlin",
                )
                page = browser_login(ctx, base, user)
                page.set_default_timeout(30_000)
                if not forms_only:
                    rows += pages_of(page, user, role, runs, only)
                if user == "fk-essen":
                    for name, form in (
                        ("door", door_checkin),
                        ("upload", upload),
                        ("activity", new_activity),
                    ):
                        if not _wanted(only, user, _FORM_ROWS[name]):
                            continue
                        row = _safely(page, name, form, runs, scan, data.parent)
                        rows.append(row)
                        print(f"  {row.user:14} {row.what:38} {row.median:6.3f} s", file=sys.stderr)
                ctx.close()
            if _wanted(only, "ehrenamt-essen", _FORM_ROWS["signup"]):
                ctx = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    locale="de-DE",
                    timezone_id="Europe/Berlin",
                )
                page = browser_login(ctx, base, "ehrenamt-essen")
                page.set_default_timeout(30_000)
                row = _safely(page, "signup", shift_signup, runs, scan, data.parent)
                rows.append(row)
                print(f"  {row.user:14} {row.what:38} {row.median:6.3f} s", file=sys.stderr)
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except Exception:
            proc.kill()
    return rows


def table(rows: list[Row]) -> str:
    goal = rows[0].goal if rows else GOAL
    out = [
        "| user | page/form | median | p90 | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        what = r.what + (f" ({r.refused} of {len(r.times)} refused: overlap)" if r.refused else "")
        out.append(
            f"| {r.user} | {what} | {r.median:.2f} s | {r.p90:.2f} s | "
            f"≤ {r.goal:g} s | {'yes' if r.met else 'no'} |"
        )
    met = sum(r.met for r in rows)
    out.append(f"\n{met} of {len(rows)} meet the goal (median ≤ {goal:g} s).")
    return "\n".join(out)


def run(
    root: Path,
    runs: int = 5,
    data: Path | None = None,
    keep: bool = False,
    forms_only: bool = False,
    *,
    as_of: str | None = None,
    large: bool = False,
    only: re.Pattern[str] | None = None,
) -> list[Row]:
    """For ``python -m benchmarks``: a fresh small demo under ``root`` unless ``data``."""
    if data is None:
        data = root / "data"
        started = time.monotonic()
        make_demo(data)
        print(f"  small demo loaded in {time.monotonic() - started:.0f} s", file=sys.stderr)
    if large and as_of is None:
        as_of = large_as_of()
    rows = run_browser(data.resolve(), runs, as_of=as_of, forms_only=forms_only, only=only)
    for r in rows:
        r.goal = GOAL_LARGE if large else GOAL
    print(table(rows), flush=True)
    for r in rows:
        report(
            Figure(
                "sqlite",
                f"ui {r.user} {r.what} (median of {len(r.times)}, p90 {r.p90:.2f} s)",
                r.median,
                "s",
                goal=f"<= {r.goal:g} s",
                met=r.met,
            )
        )
    if not keep and data.is_relative_to(root):
        shutil.rmtree(data, ignore_errors=True)
    return rows


def large_as_of() -> str:
    """The Tuesday on or before 24 November of the large demo's last full year (two years
    before this one: the small demo's two years follow it), near the day
    ``benchmarks/pages.py`` measures on; a Tuesday, so the door has the Nähcafé's date."""
    from datetime import date, timedelta

    day = date(date.today().year - 2, 11, 24)
    return (day - timedelta(days=(day.weekday() - 1) % 7)).isoformat()


def main() -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.ui",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    ap.add_argument("--data", type=Path, help="data dir of a demo installation (SQLite)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the temporary demo")
    ap.add_argument("--forms-only", action="store_true", help="only the forms")
    ap.add_argument(
        "--large",
        action="store_true",
        help="--data is a large demo: goal 1 s, pages' today = --as-of (default 24.11. two "
        "years ago)",
    )
    ap.add_argument("--as-of", help="the pages' today, YYYY-MM-DD (default: the real today)")
    ap.add_argument("--only", help="only rows whose 'user page/form' matches this pattern")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.large and args.data is None:
        ap.error("--large needs --data (a data dir of `ia-events demo --size large`)")
    os.chdir(ROOT)
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="ia-bench-ui-", dir=os.environ.get("BENCH_DIR")))
    try:
        rows = run(
            root,
            args.runs,
            args.data,
            args.keep,
            args.forms_only,
            as_of=args.as_of,
            large=args.large,
            only=re.compile(args.only) if args.only else None,
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept: {root}")
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2))


if __name__ == "__main__":
    main()
