"""Bad input, fuzzed with hypothesis, against a real SQLite installation: form fields,
the participant page, uploads, spreadsheet exports and the command line.

Every outcome is either a success or a ``DomainError`` with a German message; a
refusal changes nothing (row counts and the audit head stay as they were); no
user-written text comes back as HTML or as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ia_events.accounts.agencies import add_agency
from ia_events.archive import evidence
from ia_events.attendance import checkin
from ia_events.cli.main import run
from ia_events.core.access import Actor
from ia_events.core.errors import DomainError, InvalidInput
from ia_events.core.installation import Installation, reset_shared
from ia_events.core.models import Attendance, AuditEvent, Evidence, TaskPlan, Volunteer
from ia_events.planning import plans
from ia_events.reporting import controlling
from ia_events.volunteers import registry
from ia_events.volunteers.transfer import export_registry
from ia_events.web import checkin_page
from ia_events.web.routes import routes
from tests.factories import make_occurrence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

OP = Actor.cli("test:op")
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
RUNS: dict[str, int] = {}

NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[klick](javascript:alert(1))",
    "**fett** _kursiv_ # Titel",
    "\u202eevil\u202c",  # right-to-left override
    "\u200fمرحبا\u200e",
    "\x00\x01\x07\x1b[31m",
    '=HYPERLINK("http://x")',
    "'; DROP TABLE users; --",
    "a" * 5000,
    "",
    "   ",
    "\r\n\t",
]
text_input = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=300),
    st.builds(lambda a, b: a + b, st.sampled_from(NASTY), st.text(max_size=50)),
)


def _count(fn: str) -> None:
    RUNS[fn] = RUNS.get(fn, 0) + 1


def _state(inst: Installation) -> tuple[int, ...]:
    with inst.db.read() as s:
        counts = tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (TaskPlan, Volunteer, Attendance, Evidence, AuditEvent)
        )
        head = s.scalar(select(func.max(AuditEvent.seq))) or 0
    return (*counts, head)


def _german(exc: DomainError) -> None:
    msg = exc.message()
    # No template placeholder left unfilled; what the user typed may contain braces.
    rest = msg
    for value in exc.params.values():
        rest = rest.replace(str(value), "")
    assert msg and "Traceback" not in msg and "{" not in rest, (exc.code, msg)


def _either(inst: Installation, fn: Callable[[], object]) -> bool:
    """Run ``fn``; True on success. A DomainError must leave everything unchanged."""
    before = _state(inst)
    try:
        fn()
    except DomainError as exc:
        _german(exc)
        assert _state(inst) == before, exc.code
        return False
    return True


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, int]]:
    from ia_events.core.installation import initialise
    from tests.conftest import make_settings

    inst, _ = initialise(make_settings(tmp_path_factory.mktemp("fuzz") / "data"))
    with inst.db.write() as s:
        agency = add_agency(s, OP, slug="essen", name="IA Essen", carrier="T", fields=["BE"])
        agency_id = agency.id
    yield inst, agency_id
    inst.close()
    print("\nfuzz examples run:", RUNS, "total", sum(RUNS.values()))


_years = itertools.cycle(range(2000, 2101))


@FUZZ
@given(topic=text_input, goal=text_input)
def test_task_plan_fields(world, topic: str, goal: str) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    _count("task_plan")
    year = next(_years)

    def create() -> None:
        with inst.db.write() as s:
            plans.create_task_plan(
                s, OP, agency_slug="essen", funding_year=year, topic=topic, goal=goal
            )

    if _either(inst, create):
        with inst.db.read() as s:
            plan = s.scalar(select(TaskPlan).where(TaskPlan.funding_year == year))
            assert plan is not None and "\x00" not in plan.topic + plan.goal


@FUZZ
@given(name=text_input, contact=text_input)
def test_volunteer_fields(world, name: str, contact: str) -> None:  # type: ignore[no-untyped-def]
    inst, agency_id = world
    _count("volunteer")

    def create() -> None:
        with inst.db.write() as s:
            registry.add_volunteer(
                s, inst.keys, OP, agency_id, name=name, contact=contact,
                consent_at=date(2026, 1, 5),
            )  # fmt: skip

    _either(inst, create)


@pytest.fixture(scope="module")
def occurrence(world):  # type: ignore[no-untyped-def]
    inst, _ = world
    return make_occurrence(inst)


@FUZZ
@given(name=text_input)
def test_door_checkin_name(world, occurrence, name: str) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    _count("door_checkin")

    def go() -> None:
        with inst.db.write() as s:
            checkin.door_checkin(s, inst.keys, occurrence.door, occurrence.occurrence_id,
                                 name=name, other_person=True)  # fmt: skip

    _either(inst, go)


@pytest.fixture(scope="module")
def client(world) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    inst, _ = world
    mp = pytest.MonkeyPatch()
    mp.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    mp.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    reset_shared()
    with TestClient(Starlette(routes=routes()), base_url="http://testserver") as c:
        yield c
    reset_shared()
    mp.undo()


@FUZZ
@given(name=text_input, junk=st.text(max_size=200))
def test_participant_page_escapes_everything(  # type: ignore[no-untyped-def]
    world, occurrence, client, name: str, junk: str
) -> None:
    _count("checkin_page")
    checkin_page.limiter.reset()
    html = client.get(f"/checkin?t={occurrence.token}").text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    for page in (
        client.post("/checkin", data={**form, "name": name, "other": "1"}),
        client.post("/checkin", data={"t": junk, "nonce": junk, "name": name}),
        client.get("/checkin", params={"t": junk, "lang": junk}),
    ):
        assert page.status_code in (200, 400, 403, 404, 429), page.status_code
        body = page.text
        # a user's text may come back as text (the name field is refilled), never as markup
        assert "<script" not in body.lower() and "<img" not in body.lower()
        assert "Traceback" not in body
        for raw in (name, junk):
            # A quote or "<" alone (or 'e"', "<p") is in every page's own markup; a
            # longer text with one can only be there if it was echoed unescaped.
            if ("<" in raw or ">" in raw or '"' in raw) and len(raw) >= 8:
                assert raw not in body


# -- uploads ------------------------------------------------------------------------------------

MB = 1024 * 1024


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in entries.items():
            z.writestr(k, v)
    return buf.getvalue()


BAD_FILES = {
    "wrong magic (exe named pdf)": ("bericht.pdf", b"MZ\x90\x00" + b"\x00" * 200, "file_type"),
    "zero bytes": ("leer.pdf", b"", "file_empty"),
    "program as jpg": ("foto.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "file_type"),
    "zip bomb": (
        "bericht.docx",
        _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"\0" * (40 * MB)}),
        "file_zip_bomb",
    ),
    "too large": ("scan.pdf", b"%PDF-1.4\n" + b"0" * (2 * MB), "file_too_large"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_uploads_are_refused_in_german_and_store_nothing(world, case: str) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    _count("upload")
    name, data, code = BAD_FILES[case]
    small = inst.settings.__class__(**{**inst.settings.__dict__, "max_upload_bytes": MB})
    target = Installation(small, inst.db, inst.keys, inst.blobs)  # same data, 1 MB limit
    before = _state(inst)
    blobs_before = set(inst.blobs.names_on_disk())
    with pytest.raises(InvalidInput) as err:
        evidence.add_evidence(target, OP, agency_slug="essen", funding_year=2026,
                              kind="other", filename=name, content=data)  # fmt: skip
    assert err.value.code.startswith(code), err.value.code
    _german(err.value)
    assert _state(inst) == before
    assert set(inst.blobs.names_on_disk()) == blobs_before


def test_pdf_with_javascript_is_stored_but_flagged(world) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    pdf = b"%PDF-1.4\n1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n%%EOF\n"
    view = evidence.add_evidence(inst, OP, agency_slug="essen", funding_year=2026,
                                 kind="other", filename="x.pdf", content=pdf)  # fmt: skip
    flags = getattr(view, "flags", None)
    assert flags is not None and "pdf_javascript" in flags, view


def test_html_named_jpg_is_kept_as_plain_text_never_as_html(world) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    html = b"<html><script>x</script></html>"
    view = evidence.add_evidence(
        inst, OP, agency_slug="essen", funding_year=2026, kind="other",
        filename="foto.jpg", content=html,
    )  # fmt: skip
    name, media, _data = evidence.read_content(inst, OP, view.id)
    assert media == "text/plain" and name.endswith(".txt"), (name, media)


# -- spreadsheet exports ------------------------------------------------------------------------

FORMULAS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", '=HYPERLINK("http://x","y")', "\t=1"]
DANGER = ("=", "+", "-", "@", "\t", "\r")


def _cells_csv(data: bytes) -> list[str]:
    body = data.decode("utf-8-sig")
    # German exports use ";" (a header may hold a comma: "Service-Club (z. B. Rotary, Lions)").
    delimiter = ";" if ";" in body.splitlines()[0] else ","
    return [c for row in csv.reader(io.StringIO(body), delimiter=delimiter) for c in row]


def _cells_xlsx(data: bytes) -> list[object]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]


def test_exports_escape_formulas(world) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    with inst.db.write() as s:
        agency_id = add_agency(s, OP, slug="export", name="=IA", carrier="+T", fields=["BE"]).id
        plan = plans.create_task_plan(
            s, OP, agency_slug="export", funding_year=2031, topic="=1+1", goal="@x"
        )
        for f in FORMULAS:
            plans.add_subgoal(s, OP, plan.id, title=f, field="BE",
                                 indicator="participants", target=1)  # fmt: skip
            registry.add_volunteer(s, inst.keys, OP, agency_id, name=f"{f} Person",
                                     contact=f, consent_at=date(2026, 1, 5))  # fmt: skip
    with inst.db.read() as s:
        reg_csv = export_registry(s, inst.keys, OP, agency_id, "csv")
        reg_xlsx = export_registry(s, inst.keys, OP, agency_id, "xlsx")
    ctl_csv = controlling.export(inst, OP, 2031, "csv", "export")[2]
    ctl_xlsx = controlling.export(inst, OP, 2031, "xlsx", "export")[2]
    for label, cells in (
        ("registry csv", _cells_csv(reg_csv)),
        ("controlling csv", _cells_csv(ctl_csv)),
        ("registry xlsx", _cells_xlsx(reg_xlsx)),
        ("controlling xlsx", _cells_xlsx(ctl_xlsx)),
    ):
        texts = [c for c in cells if isinstance(c, str)]
        assert any(c.startswith("'=") or c.startswith("'+") for c in texts), label
        bad = [c for c in texts if c.startswith(DANGER)]
        # negative numbers written as text are fine; formulas are not
        bad = [c for c in bad if not re.fullmatch(r"-\d+([.,]\d+)?", c)]
        assert bad == [], (label, bad)


# -- the command line ---------------------------------------------------------------------------

WORDS = [
    "list", "agencies", "occurrences", "subgoals", "evidence", "attendance", "scans",
    "volunteers", "deletions", "verify", "verify-bundle", "checkin-link", "participant-list",
    "volunteer-certificate", "export-bundle", "keys", "public", "status", "user", "hold",
    "release", "retention", "--json", "--agency", "--year", "--occurrence", "--subgoal",
    "--purpose", "--out", "--actor", "--dry-run", "--today", "--reason", "--help", "essen",
    "kleve", "2026", "-1", "0", "99999999999999999999", "abc", "2026-13-45", "/dev/null",
    "/nonexistent/x.zip", "", "\x00", "ü", "--", "-", "=", "'", "\u202e",
]  # fmt: skip
argv = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=7)


@FUZZ
@given(args=argv)
def test_cli_never_shows_a_traceback(world, capsys, monkeypatch, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    inst, _ = world
    _count("cli")
    if "\x00" in "".join(args):  # the OS refuses NUL in argv before we see it
        args = [a.replace("\x00", "") for a in args]
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    monkeypatch.chdir(inst.settings.data_dir.parent)
    code = run(args)
    out = capsys.readouterr()
    assert code in (0, 1, 2), (args, code)
    assert "Traceback" not in out.out + out.err, args
    assert "unerwarteter Fehler" not in out.err, (args, out.err)
    if code == 2:
        assert out.err.strip() or out.out.strip(), args
