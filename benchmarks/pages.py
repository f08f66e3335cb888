"""Page benchmark: every page of every demo role on the large demo, AppTest and a real browser.

Run:  python benchmarks/pages.py [--data /tmp/large/data] [--database-url postgresql+psycopg://...]
      [--runs 3] [--roles admin,koordination,fk-essen,ehrenamt-essen] [--no-apptest]
      [--no-browser] [--sessions 10] [--as-of 2024-11-24] [--json results.json]

The data dir (default ``/tmp/large/data``, made by ``ia-events demo --size large``)
must hold the keys; the database is SQLite inside it unless ``--database-url``
or ``$IA_EVENTS_DATABASE_URL`` names a PostgreSQL database.

1. AppTest (in this process): each role logs in through the real form; each
   page of its navigation is opened with ``switch_page`` ("first": the first run
   of that page in the session, with ``st.cache_data`` cleared) and then rerun
   ("warm"). Repeated ``--runs``
   times with a fresh session; the median is printed.
2. Browser: ``streamlit run`` on a free port, headless Debian Chromium via
   Playwright; each role logs in and clicks every navigation link ``--runs``
   times. Time on the page's own clock from the click until
   ``[data-test-script-state="notRunning"]`` (or, for a run so short that the
   state flips within one render, until its last websocket message); the end of
   the run is recognised by the server's ``script_finished`` message.
3. Memory per session: RSS of the server process with 1 and with
   ``1 + --sessions`` logged-in browser sessions (each opened the specialist's
   pages once); (RSS_n - RSS_1) / sessions.

``--as-of DATE`` makes the pages' clock (``pages._ui.now``) show that day, in
this process and in the server: the large demo's current and previous year
come from the small demo (a few hundred dates), its eight full years lie
before, so ``--as-of 2024-11-24`` shows every year-bound page with a full year
(and the previous one) of data.

Pages above one second are flagged with ``!``. Logging in writes sessions and
audit events into the data dir, nothing else. Not part of the test suite;
figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file is named pages.py: its own folder on sys.path would shadow the app's pages/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))


def demo_password() -> str:
    """The demo accounts' password: random per demo load, kept in the data dir (0600)."""
    from ia_events.demo.loader import read_demo_password

    return read_demo_password(Path(os.environ["IA_EVENTS_DATA"])) or ""


ROLE_OF = {
    "admin": "admin",
    "koordination": "coordinator",
    "fk-essen": "specialist",
    "ehrenamt-essen": "volunteer",
}
LIMIT = 1.0
CHROMIUM = os.environ.get("IA_EVENTS_CHROMIUM", "/usr/bin/chromium")


@dataclass
class PageRef:
    file: str
    title: str
    url_path: str  # "" for the default page


@dataclass
class Timing:
    user: str
    page: str
    first: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)


def navigation(role: str) -> list[PageRef]:
    """The pages ``streamlit_app`` offers a role, in navigation order."""
    import streamlit_app

    real = streamlit_app.st.Page
    streamlit_app.st.Page = lambda page, **kw: (page, kw)  # type: ignore[assignment]
    try:
        sections = streamlit_app._pages_for(role)
    finally:
        streamlit_app.st.Page = real  # type: ignore[assignment]
    refs = []
    for section in sections.values():
        for page, kw in section:
            url = "" if kw.get("default") else kw.get("url_path") or Path(page).stem
            refs.append(PageRef(str(page), kw["title"], url))
    return refs


# -- AppTest -----------------------------------------------------------------------------------


def apptest_login(user: str):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    fields = {t.label: t for t in at.text_input}
    fields["Benutzername"].input(user)
    fields["Passwort"].input(demo_password())
    next(b for b in at.button if b.label == "Anmelden").click().run()
    at.run()
    if at.exception or not at.session_state["actor"]:
        raise SystemExit(f"login as {user} failed: {at.exception}")
    return at


def run_apptest(users: list[str], runs: int) -> list[Timing]:
    import streamlit as st

    from ia_events.core.installation import reset_shared

    reset_shared()
    results: dict[tuple[str, str], Timing] = {}
    for rep in range(runs):
        for user in users:
            at = apptest_login(user)
            for ref in navigation(ROLE_OF[user]):
                t = results.setdefault((user, ref.file), Timing(user, ref.title))
                st.cache_data.clear()  # "first" is the cold case: no cached figures
                start = time.perf_counter()
                at.switch_page(ref.file).run()
                t.first.append(time.perf_counter() - start)
                problem = at.exception or [e.value for e in at.error]
                if problem:
                    print(f"  ! {user} {ref.file}: {problem}", file=sys.stderr)
                start = time.perf_counter()
                at.run()
                t.warm.append(time.perf_counter() - start)
        print(f"  AppTest round {rep + 1}/{runs} done", file=sys.stderr)
    return list(results.values())


# -- browser -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CLOCK = """
from datetime import date, datetime, time, timezone
from ia_events.core.messages import BERLIN
import pages._ui
moment = datetime.combine(date.fromisoformat({day!r}), time(12), tzinfo=BERLIN)
pages._ui.utcnow = lambda: moment.astimezone(timezone.utc)
"""


def patch_clock(day: str | None) -> None:
    """Fix the pages' clock at noon (Berlin) of ``day`` in this process."""
    if day:
        exec(_CLOCK.format(day=day), {})  # our own constant, see start_server


def start_server(
    data: Path, url: str | None, port: int, as_of: str | None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IA_EVENTS_DATA": str(data),
        "IA_EVENTS_BASE_URL": f"http://127.0.0.1:{port}",
    }
    if url:
        env["IA_EVENTS_DATABASE_URL"] = url
    log = open(f"/tmp/ia-events-pages-bench-{port}.log", "wb")  # noqa: SIM115 - lives with the server
    argv = [
        "streamlit",
        "run",
        str(ROOT / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    boot = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(ROOT)!r})",
            f"sys.argv = {argv!r}",
            _CLOCK.format(day=as_of) if as_of else "",
            "from streamlit.web.cli import main",
            "main()",
        ]
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", boot],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"streamlit did not come up; see {log.name}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ScriptWatch:
    """Counts Streamlit's ``script_finished`` messages on the page's websocket.

    The DOM attribute ``data-test-script-state`` alone is not a reliable signal:
    a run of a few milliseconds flips it to "running" and back within one React
    render, so nothing may change that one could wait for. The server's own
    message says that the run is over; the time is then taken in the page
    (``_CLOCK_JS``), because Playwright relays each websocket frame to Python and
    that relay would be counted on pages with many elements.
    """

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.finished = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(payload, bytes | bytearray):
            return
        try:
            msg = self._msg.FromString(bytes(payload))
        except Exception:  # not a ForwardMsg (never expected)
            return
        if msg.WhichOneof("type") == "script_finished":
            self.finished += 1


# In the page, on its own clock: the last click, the last websocket message, the
# last change of the script state to "notRunning".
_CLOCK_JS = """(() => {
  window.__bench = {click: 0, message: 0, done: 0};
  document.addEventListener('click', () => { window.__bench.click = performance.now(); }, true);
  const Native = window.WebSocket;
  function Watched(...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', () => { window.__bench.message = performance.now(); });
    return ws;
  }
  Watched.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Watched[k] = Native[k];
  window.WebSocket = Watched;
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.attributeName === 'data-test-script-state'
          && c.target.getAttribute('data-test-script-state') === 'notRunning') {
        window.__bench.done = performance.now();
      }
    }
  }).observe(document, {attributes: true, subtree: true,
                        attributeFilter: ['data-test-script-state']});
})();"""


def wait_ready(page, timeout: float = 120_000) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout
    )
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_timeout(150)
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout)


def browser_login(context, base: str, user: str):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.add_init_script(_CLOCK_JS)
    page.watch = ScriptWatch(page)  # type: ignore[attr-defined]
    page.goto(base + "/")
    wait_ready(page)
    page.get_by_label("Benutzername").fill(user)
    page.get_by_label("Passwort", exact=True).fill(demo_password())
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_selector('[data-testid="stSidebarNav"]')
    wait_ready(page)
    return page


def click_nav(page, ref: PageRef) -> float:  # type: ignore[no-untyped-def]
    """Click the navigation link of ``ref``: seconds (page clock) from the click until
    the script state is "notRunning" again, or, where the state flipped within one
    render, until the last message of the run arrived."""
    links = page.locator('[data-testid="stSidebarNavLink"]')
    link = links.filter(has_text=ref.title).first
    if not link.is_visible():
        more = page.locator('[data-testid="stSidebarNavViewButton"]')
        if more.count() and "more" in (more.first.inner_text() or "").lower():
            more.first.click()
    watch: ScriptWatch = page.watch
    seen = watch.finished
    link.click()
    deadline = time.monotonic() + 120
    while watch.finished == seen:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no script run finished after clicking {ref.title}")
        page.wait_for_timeout(5)
    wait_ready(page)
    b = page.evaluate("() => window.__bench")
    end = b["done"] if b["done"] > b["click"] else b["message"]
    return (end - b["click"]) / 1000


def run_browser(
    users: list[str], runs: int, data: Path, url: str | None, sessions: int, as_of: str | None
) -> tuple[list[Timing], dict[str, float]]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = start_server(data, url, port, as_of)
    base = f"http://127.0.0.1:{port}"
    results: list[Timing] = []
    memory: dict[str, float] = {}
    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            for user in users:
                ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
                page = browser_login(ctx, base, user)
                for ref in navigation(ROLE_OF[user]):
                    t = Timing(user, ref.title)
                    for _ in range(runs):
                        t.first.append(click_nav(page, ref))
                    results.append(t)
                ctx.close()
                print(f"  browser: {user} done", file=sys.stderr)
            memory = measure_memory(browser, base, proc.pid, sessions)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return results, memory


def measure_memory(browser, base: str, pid: int, sessions: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    pages = navigation("specialist")

    def one_session():  # type: ignore[no-untyped-def]
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
        page = browser_login(ctx, base, "fk-essen")
        for ref in pages[1:]:
            click_nav(page, ref)
        return ctx

    contexts = [one_session()]
    time.sleep(2)
    rss_1 = rss_mib(pid)
    for _ in range(sessions):
        contexts.append(one_session())
    time.sleep(2)
    rss_n = rss_mib(pid)
    for ctx in contexts:
        ctx.close()
    return {
        "rss_1_session_mib": rss_1,
        f"rss_{sessions + 1}_sessions_mib": rss_n,
        "per_session_mib": (rss_n - rss_1) / sessions,
    }


# -- output ------------------------------------------------------------------------------------


def fmt(seconds: float) -> str:
    return f"{seconds:6.3f}{' !' if seconds > LIMIT else '  '}"


def table(title: str, rows: list[Timing], warm: bool) -> list[str]:
    out = [f"\n{title}", f"{'user':16} {'page':26} {'first':>8} {'warm':>8}"]
    for t in rows:
        first = statistics.median(t.first)
        line = f"{t.user:16} {t.page:26} {fmt(first)}"
        if warm and t.warm:
            line += f" {fmt(statistics.median(t.warm))}"
        out.append(line)
    slow = [t for t in rows if max(statistics.median(t.first), *(t.warm or [0])) > LIMIT]
    out.append(f"pages above {LIMIT:g} s: {len(slow)} of {len(rows)}")
    return out


def describe_data(url: str) -> str:
    from sqlalchemy import create_engine, func, select

    from ia_events.core.models import Attendance, Evidence, Occurrence

    eng = create_engine(url)
    with eng.connect() as c:
        n = [
            c.scalar(select(func.count()).select_from(m))
            for m in (Occurrence, Attendance, Evidence)
        ]
    eng.dispose()
    return f"{n[0]:,} occurrences, {n[1]:,} attendance rows, {n[2]:,} evidence items"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/large/data"))
    ap.add_argument("--database-url", default=os.environ.get("IA_EVENTS_DATABASE_URL"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--roles", default=",".join(ROLE_OF))
    ap.add_argument("--no-apptest", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--as-of", help="the pages' today, YYYY-MM-DD (default: the real today)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    data = args.data.resolve()
    url = args.database_url or f"sqlite:///{data / 'ia-events.sqlite3'}"
    os.environ["IA_EVENTS_DATA"] = str(data)
    if args.database_url:
        os.environ["IA_EVENTS_DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("IA_EVENTS_DATABASE_URL", None)
    os.chdir(ROOT)
    users = [u for u in args.roles.split(",") if u]
    backend = url.split(":", 1)[0]
    patch_clock(args.as_of)
    lines = [
        f"database: {backend}; {describe_data(url)}; median of {args.runs}; "
        f"pages' today: {args.as_of or 'today'}"
    ]
    report: dict[str, object] = {"database": backend, "as_of": args.as_of}
    if not args.no_apptest:
        rows = run_apptest(users, args.runs)
        lines += table("AppTest (script run, seconds)", rows, warm=True)
        print("\n".join(lines), flush=True)
        lines = []
        report["apptest"] = [t.__dict__ for t in rows]
    if not args.no_browser:
        rows, memory = run_browser(
            users, args.runs, data, args.database_url, args.sessions, args.as_of
        )
        lines += table("Browser (click -> notRunning, seconds)", rows, warm=False)
        lines.append(
            f"\nmemory: server RSS {memory['rss_1_session_mib']:.0f} MiB with 1 session, "
            f"{list(memory.values())[1]:.0f} MiB with {args.sessions + 1}: "
            f"{memory['per_session_mib']:.1f} MiB per session"
        )
        report["browser"] = [t.__dict__ for t in rows]
        report["memory"] = memory
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
