"""The real server (``streamlit run``) under faults: ``kill -9`` while a crowd checks in
and while it takes an upload, and what it writes to its log.

- Check-in crowd: phones post the plain ``/checkin`` form (anonymous mode, so each
  "checked in" answer names its attendance in the signed device cookie); the server is
  killed with SIGKILL in the middle of two crowds and started again. Every answer
  "checked in" that a phone received is stored (the scan of that very form names that
  attendance), every attendance has its one scan, a phone that got no answer sends the
  same form again and is counted exactly once, ``verify`` passes, the server serves.
- Upload (Chromium; Streamlit's upload endpoint belongs to its websocket session, so
  there is no upload without a browser): the server is stopped by a small hook at a
  crash point -- while it encrypts the files into temp files, or inside the transaction
  that would write the rows after the journal entries and blobs -- and killed there.
  Nothing of the batch is recorded, the restarted server takes the same files, and
  ``verify`` leaves no temp file, no open journal entry and no file without its record.
- Secrets: with Streamlit's debug logging on, an admin logs in (after a wrong password),
  runs the integrity check, a participant checks in with her name; the server's log and
  any log file in the data dir hold none of: the password, the wrong password, the
  password hash, the session cookie, the participant's name, the check-in token, any
  key (raw, hex or base64).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from sqlalchemy import select

from ia_events.accounts import users
from ia_events.archive import fixity
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Attendance, Evidence, Scan, UploadJournal, User
from tests.browser.conftest import free_port, start_server, ui_login, wait_http, wait_ready
from tests.conftest import make_settings
from tests.factories import make_occurrence
from tests.integration.test_faults import _consistent
from tests.integration.test_secrets import _forms, _key_material

pytestmark = pytest.mark.browser

OP = Actor.cli("test:server-faults")
DEVICE_COOKIE = "ia_ci_d"


class Server:
    """``streamlit run`` on the data dir; ``kill9`` and ``start`` again at will."""

    def __init__(self, data: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data, self.extra_env = data, extra_env
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self.base = ""

    def start(self) -> str:
        port = free_port()
        self.proc = start_server(self.data, port, self.extra_env)
        self.logs.append(self.data.parent / f"streamlit-{port}.log")
        self.base = f"http://127.0.0.1:{port}"
        wait_http(self.base + "/healthz")
        return self.base

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None


# -- kill -9 during check-ins ---------------------------------------------------------------


@dataclass
class Post:
    form: dict[str, str]
    state: str | None = None  # None: no answer (the server died first)
    attendance_id: int | None = None
    failure: str = ""


def _form(base: str, token: str) -> dict[str, str]:
    page = httpx.get(f"{base}/checkin", params={"t": token}, timeout=15)
    assert page.status_code == 200
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))


def _send(base: str, post: Post) -> None:
    """One phone: no cookies of its own yet, so each post is a different device."""
    try:
        answer = httpx.post(f"{base}/checkin", data=post.form, timeout=15)
    except httpx.HTTPError as exc:
        post.failure = type(exc).__name__
        return
    found = re.search(r'data-state="(\w+)"', answer.text)
    post.state = found.group(1) if found else f"http {answer.status_code}"
    cookie = answer.cookies.get(DEVICE_COOKIE) or ""
    last = cookie.split("~")[-1].partition(".")[0]
    post.attendance_id = int(last) if last.isdigit() else None


def _crowd(server: Server, posts: list[Post], kill_after: int) -> None:
    """The phones post at once (8 in flight); after ``kill_after`` answers: SIGKILL."""
    lock, answered = threading.Lock(), [0]

    def one(post: Post) -> None:
        _send(server.base, post)
        if post.state is not None:
            with lock:
                answered[0] += 1
                if answered[0] == kill_after:
                    server.kill9()  # the other phones are mid-request right now

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, posts))
    assert server.proc is not None
    assert server.proc.wait(timeout=10) == -signal.SIGKILL
    server.proc = None


def test_kill_9_during_a_check_in_crowd_loses_no_answered_check_in(demo_dir: Path) -> None:
    inst = Installation.open(make_settings(demo_dir))
    try:
        made = make_occurrence(inst, mode="anonymous")
    finally:
        inst.close()  # the server owns the installation now
    server = Server(demo_dir)
    crash_points = (6, 23)  # answers received before the SIGKILL, one crowd each
    try:
        server.start()
        with ThreadPoolExecutor(max_workers=8) as pool:  # phones open the link (GET)
            posts = list(pool.map(lambda _: Post(_form(server.base, made.token)), range(64)))
        crowds = [posts[:32], posts[32:]]
        for i, kill_after in enumerate(crash_points):
            if i:
                server.start()
            _crowd(server, crowds[i], kill_after)
        answered = [p for p in posts if p.state is not None]
        unanswered = [p for p in posts if p.state is None]
        assert {p.state for p in answered} == {"ok"}, Counter(p.state for p in answered)
        assert all(p.attendance_id for p in answered)
        assert unanswered, "the kills hit no request in flight"
        in_flight = [p for p in unanswered if p.failure != "ConnectError"]

        # Started again: the phones that got no answer send the same form once more.
        server.start()
        for post in unanswered:
            _send(server.base, post)
        assert {p.state for p in posts} == {"ok"}, Counter(p.state for p in posts)
        # and it serves a new phone
        late = Post(_form(server.base, made.token))
        _send(server.base, late)
        assert late.state == "ok"
    finally:
        server.stop()

    inst = Installation.open(make_settings(demo_dir))
    try:
        with inst.db.read() as s:
            rows = set(
                s.scalars(
                    select(Attendance.id).where(
                        Attendance.occurrence_id == made.occurrence_id,
                        Attendance.undone_at.is_(None),
                    )
                )
            )
            scans = s.execute(
                select(Scan.nonce, Scan.attendance_id).where(
                    Scan.occurrence_id == made.occurrence_id, Scan.successful.is_(True)
                )
            ).all()
        stored = dict(scans)  # the form's nonce -> the attendance its scan admitted
        # An answer "checked in" is stored when the scan of that very form names the
        # attendance the answer named (ids alone could be handed out again after a crash).
        lost = [
            p
            for p in answered
            if stored.get(p.form["n"]) != p.attendance_id or p.attendance_id not in rows
        ]
        assert lost == [], f"answered 'checked in' but not stored: {len(lost)}"
        assert all(stored.get(p.form["n"]) == p.attendance_id for p in [*posts, late])
        assert len(rows) == len(posts) + 1  # each phone exactly once: nothing lost, nothing twice
        assert len(scans) == len(rows) and set(stored.values()) == rows  # one scan per attendance
        report = fixity.verify(inst, OP)
        assert report.ok, [f.line() for f in report.findings]
    finally:
        inst.close()
    print(
        f"\ncheck-in crowd: {len(crash_points)} kills, {len(posts)} phones, {len(answered)} "
        f"answered before a kill, {len(unanswered)} without answer ({len(in_flight)} "
        f"mid-request), answered but not stored: {len(lost)}"
    )


# -- kill -9 during an upload ---------------------------------------------------------------

# Loaded by the server process (PYTHONPATH): it stops the server at the crash point and
# says so in a marker file; the test then kills it there.
# - "staging":     2 MiB of the first file are encrypted into its temp file;
# - "before-rows": the batch's journal entries are committed and its blobs in place, and
#                  the transaction that would write the rows is open.
HOOK = """
import os
crash, marker = os.environ.get("IA_TEST_CRASH"), os.environ.get("IA_TEST_CRASH_MARKER")


def _stop():
    import time
    from pathlib import Path

    Path(marker).write_text(crash)
    time.sleep(120)


if crash == "staging":
    from storage import blobs

    _real_chunks = blobs._chunks_of

    def _chunks_of(source):
        for i, block in enumerate(_real_chunks(source)):
            yield block
            if i == 2:
                _stop()

    blobs._chunks_of = _chunks_of
elif crash == "before-rows":
    from sqlalchemy import event
    from ia_events.core.models import Evidence

    @event.listens_for(Evidence, "before_insert")
    def _before_rows(mapper, connection, target):
        _stop()
"""


def _upload(page, base: str, files: list[Path]) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/evidence")
    wait_ready(page)
    page.get_by_text("Nachweise hochladen").click()  # the form is in a closed expander
    form = page.locator('[data-testid="stForm"]').first
    form.locator('input[type="file"]').set_input_files([str(f) for f in files])
    chips = form.locator('[data-testid="stFileChip"]')
    spinning = form.locator('[data-testid="stFileChipIconSpinner"]')
    deadline = time.monotonic() + 30
    while chips.count() < len(files) or spinning.count():  # until every file is sent
        assert time.monotonic() < deadline, "the files never finished uploading"
        time.sleep(0.05)
    form.get_by_role("button", name="Hochladen").click()


@pytest.mark.parametrize("crash", ["staging", "before-rows"])
def test_kill_9_during_an_upload_then_the_restarted_server_takes_it(  # type: ignore[no-untyped-def]
    page, demo_dir: Path, tmp_path: Path, crash: str
) -> None:
    files = []
    for i in range(3):
        f = tmp_path / f"Liste-{crash}-{i}.pdf"
        f.write_bytes(b"%PDF-1.4\n" + os.urandom(4 * 1024 * 1024) + b"\n%%EOF\n")
        files.append(f)
    temp = demo_dir / "archive" / "tmp"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    marker = tmp_path / "crash-point"
    server = Server(
        demo_dir,
        {"PYTHONPATH": str(hook), "IA_TEST_CRASH": crash, "IA_TEST_CRASH_MARKER": str(marker)},
    )
    try:
        base = server.start()
        ui_login(page, base, "fk-essen")
        page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
        _upload(page, base, files)
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert server.proc is not None and server.proc.poll() is None, "the server died"
            assert time.monotonic() < deadline, "the server never reached the crash point"
            time.sleep(0.01)
        server.kill9()
        assert server.proc is not None and server.proc.wait(timeout=10) == -signal.SIGKILL
        server.proc = None
        if crash == "staging":
            assert any(temp.glob("up-*"))  # a half-written temp file is left ...
        else:
            assert any((demo_dir / "archive" / "blobs").glob("*/*/*"))  # ... or journaled blobs

        server.extra_env = None  # started again, as it is (still logged in: sessions persist)
        base = server.start()
        _upload(page, base, files)  # the same files again, on the restarted server
        page.get_by_text(re.compile(r"3 Nachweise archiviert")).wait_for()
    finally:
        server.stop()

    inst = Installation.open(make_settings(demo_dir))
    try:
        names = [f.name for f in files]
        with inst.db.read() as s:
            stored = s.scalars(select(Evidence.filename).where(Evidence.filename.in_(names)))
            assert sorted(stored) == sorted(names)  # the batch of the crash left no record
        _consistent(inst)  # verify passes; every record has its file, no file lacks one
        assert not any(temp.glob("up-*"))  # verify cleared what the crash left
        with inst.db.read() as s:
            assert not s.scalar(select(UploadJournal.id).where(UploadJournal.finished_at.is_(None)))
    finally:
        inst.close()


# -- secrets never in logs ----------------------------------------------------------------

ADMIN = "log-chefin"
PASSWORD = "Geheimes-Admin-Passwort-4711-Logtest"
WRONG = "Geheimes-Admin-Passwort-4712-Logtest"  # the typical typo of the real one
NAME = "Zofia Logtest-Wiśniewska"


def test_secrets_never_reach_the_server_log(  # type: ignore[no-untyped-def]
    page, demo_dir: Path
) -> None:
    inst = Installation.open(make_settings(demo_dir))
    try:
        with inst.db.write() as s:
            users.add_user(s, OP, inst.settings, username=ADMIN, password=PASSWORD,
                              role="admin")  # fmt: skip
        with inst.db.read() as s:
            password_hash = s.scalar(select(User.password_hash).where(User.username == ADMIN)) or ""
        made = make_occurrence(inst, mode="named")
        keys = _key_material(inst)
    finally:
        inst.close()
    server = Server(demo_dir, {"STREAMLIT_LOGGER_LEVEL": "debug"})
    try:
        base = server.start()
        ui_login(page, base, ADMIN, WRONG)
        page.get_by_text(re.compile("^Benutzername oder Passwort ist falsch")).wait_for()
        ui_login(page, base, ADMIN, PASSWORD)
        page.get_by_role("link", name="System").click()
        wait_ready(page)
        page.get_by_role("button", name="Jetzt prüfen").click()
        page.get_by_text("Alles in Ordnung").wait_for()
        session = next(c["value"] for c in page.context.cookies() if c["name"] == "ia_session")

        form = _form(base, made.token)
        answer = httpx.post(f"{base}/checkin", data={**form, "name": NAME}, timeout=15)
        assert 'data-state="ok"' in answer.text
        again = httpx.post(f"{base}/checkin", data={**_form(base, made.token), "name": NAME})
        assert 'data-state="already_checked_in"' in again.text
        forged = httpx.post(f"{base}/checkin", data={**form, "t": made.token[:-4] + "AAAA"})
        assert 'data-state="invalid"' in forged.text
    finally:
        server.stop()  # SIGTERM: the log is complete

    logs = server.logs + sorted(demo_dir.rglob("*.log"))
    text = b"\n".join(p.read_bytes() for p in logs)
    assert (
        b"You can now view" in text and b"Beginning script thread" in text
    )  # debug: the right log
    secrets: dict[str, list[bytes]] = {name: _forms(raw) for name, raw in keys.items()}
    secrets |= {
        "admin password": [PASSWORD.encode()],
        "wrong password": [WRONG.encode()],
        "password hash": [
            h.encode() for h in (password_hash, *password_hash.split("$")) if len(h) >= 16
        ],
        "session cookie": [session.encode()],
        "participant name": [
            NAME.encode(),
            NAME.encode("unicode_escape"),
            quote_plus(NAME).encode(),
            quote(NAME).encode(),
        ],
        "check-in token": [made.token.encode(), quote_plus(made.token).encode()],
    }
    found = [name for name, forms in secrets.items() if any(f in text for f in forms)]
    assert found == [], f"in {[p.name for p in logs]}"
