"""Attacks on a running installation that must be held (docs/security.md lists them):
takeover of a fresh server, login CSRF through the hand-off link, telling user
names apart by the login's answer or time, sessions that outlive a password change."""

from __future__ import annotations

import os
import stat
import time

import pytest
from sqlalchemy import update

from ia_events.accounts import users
from ia_events.accounts.agencies import add_agency
from ia_events.core.access import Actor
from ia_events.core.errors import AuthError
from ia_events.core.installation import Installation, initialise
from ia_events.core.models import User
from ia_events.demo import loader
from storage.db import utcnow
from tests.conftest import make_settings

OP = Actor.cli("test:op")
PASSWORD = "richtiges-passwort-1"


def _anna(inst: Installation) -> int:
    with inst.db.write() as s:
        add_agency(s, OP, slug="essen", name="IA Essen", carrier="T", fields=["BE"])
        return users.add_user(
            s, OP, inst.settings, username="anna", password=PASSWORD, role="admin"
        ).id


# -- 1. takeover of a fresh installation ----------------------------------------------------------


def test_the_start_page_loads_the_demo_only_with_the_setup_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An anonymous visitor (no code, a guessed code) creates nothing; the right code
    passes the check that guards the load. The load itself with the code, through the
    start page, is tests/app/test_first_start.py's (one full demo load per run through
    the setup-code path); the password it leaves is the next test's."""
    inst, _ = initialise(make_settings(tmp_path / "data"))
    try:
        code = users.ensure_setup_token(inst)
        with pytest.raises(AuthError) as refused:
            loader.load_with_setup_code(inst, "")
        assert refused.value.code == "setup_token_invalid"
        with pytest.raises(AuthError):
            loader.load_with_setup_code(inst, "000000-000000-000000-000000")
        assert not users.has_users(inst)  # an anonymous visitor created nothing
        users.check_setup_token(inst, code)  # the code's holder gets through
    finally:
        inst.close()


def test_a_loaded_demo_has_a_fresh_password_kept_for_the_operator_only(demo_dir) -> None:  # type: ignore[no-untyped-def]
    """What a demo load (``loader.load``, the same the setup code leads to; the run's
    demo template was made by it) leaves behind: a fresh random password, no published
    one; the old one opens nothing; kept for the operator only, 0600 in the data dir."""
    inst = Installation.open(make_settings(demo_dir))
    try:
        password = loader.read_demo_password(inst.settings.data_dir)
        assert password and password != "Demo-Passwort-2026"
        with pytest.raises(AuthError):
            users.login(inst, "admin", "Demo-Passwort-2026")
        assert users.login(inst, "admin", password).actor.role == "admin"
        assert users.login(inst, "ehrenamt-essen", password).actor.role == "volunteer"
        path = loader.demo_logins_path(inst.settings)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        # The summary a load returns does not show the password.
        summary = loader.DemoSummary(agencies=13, password=password)
        assert "Demo-Passwort" not in repr(summary) and password not in repr(summary)
    finally:
        inst.close()


def test_two_demo_loads_get_different_passwords(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert loader.new_demo_password() != loader.new_demo_password()
    assert len(loader.new_demo_password()) >= 20


# -- 3. login CSRF through the hand-off code ------------------------------------------------------


def test_a_hand_off_code_works_only_in_the_browser_that_logged_in(inst: Installation) -> None:
    _anna(inst)
    login = users.login(inst, "anna", PASSWORD)
    code = users.create_handoff(inst, login.token, "annas-browser-login-cookie")
    # The attacker sends the link to a victim: another browser, another (or no) cookie.
    assert users.redeem_handoff(inst, code, None) is None
    assert users.redeem_handoff(inst, code, "victims-browser-login-cookie") is None
    assert users.redeem_handoff(inst, code, "annas-browser-login-cookie")
    with pytest.raises(AuthError):  # no code without a login cookie to bind it to
        users.create_handoff(inst, login.token, "")


def test_the_hand_off_route_sets_the_cookie_only_with_the_login_cookie(inst: Installation) -> None:
    import warnings

    from tests.conftest import point_app_at

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.applications import Starlette
        from starlette.testclient import TestClient

    from ia_events.web.routes import LOGIN_COOKIE, routes

    mp = pytest.MonkeyPatch()
    point_app_at(inst, mp)
    try:
        _anna(inst)
        with TestClient(Starlette(routes=routes())) as attacker:
            # The login page sends a browser without the cookie to /auth/prepare first.
            first = attacker.get("/auth/prepare?next=/evidence", follow_redirects=False)
            assert first.status_code == 303
            assert first.headers["location"] == "/evidence?bound=1"
            binding = attacker.cookies.get(LOGIN_COOKIE)
            assert binding and "httponly" in first.headers["set-cookie"].lower()
            login = users.login(inst, "anna", PASSWORD)
            code = users.create_handoff(inst, login.token, binding)
        with TestClient(Starlette(routes=routes())) as victim:
            victim.get("/auth/prepare", follow_redirects=False)
            answer = victim.get(f"/auth/session?code={code}", follow_redirects=False)
            assert answer.status_code == 303
            assert "ia_session" not in answer.headers.get("set-cookie", "")
        with TestClient(Starlette(routes=routes())) as owner:
            owner.cookies.set(LOGIN_COOKIE, binding)
            answer = owner.get(f"/auth/session?code={code}", follow_redirects=False)
            assert "ia_session=" in answer.headers.get("set-cookie", "")
    finally:
        mp.undo()
        from ia_events.core.installation import reset_shared

        reset_shared()


# -- 9. the login names no account -------------------------------------------------------------


def _refusal(inst: Installation, name: str, password: str) -> tuple[str, str, float]:
    started = time.perf_counter()
    with pytest.raises(AuthError) as refused:
        users.login(inst, name, password)
    return refused.value.code, refused.value.message(), time.perf_counter() - started


def test_unknown_locked_and_deactivated_accounts_answer_alike(inst: Installation) -> None:
    uid = _anna(inst)
    with inst.db.write() as s:
        users.add_user(s, OP, inst.settings, username="bert", password=PASSWORD, role="coordinator")
        bert = users.user_id_by_name(s, "bert")
        users.set_active(s, OP, bert, False)
        s.execute(
            update(User).where(User.id == uid).values(locked_until=utcnow().replace(year=2999))
        )
    cases = {
        "unknown": ("nobody-here", PASSWORD),
        "locked, right password": ("anna", PASSWORD),
        "locked, wrong password": ("anna", "falsch-falsch-1"),
        "deactivated, right password": ("bert", PASSWORD),
        "deactivated, wrong password": ("bert", "falsch-falsch-1"),
    }
    _refusal(inst, "warm-up", "x")
    answers = {case: _refusal(inst, *args) for case, args in cases.items()}
    assert {code for code, _, _ in answers.values()} == {"login_invalid"}
    assert len({message for _, message, _ in answers.values()}) == 1
    # Each did one Argon2 verify (~0.1 s): none answers in a few milliseconds.
    times = {case: t for case, (_, _, t) in answers.items()}
    fastest, slowest = min(times.values()), max(times.values())
    assert fastest > 0.02, times
    assert slowest < fastest * 5, times


# -- 10. a password change ends the other sessions ------------------------------------------------


def test_changing_the_password_ends_every_other_session(inst: Installation) -> None:
    _anna(inst)
    laptop = users.login(inst, "anna", PASSWORD)
    stolen = users.login(inst, "anna", PASSWORD).token  # e.g. a forgotten public PC
    with inst.db.write() as s:
        users.change_own_password(
            s,
            laptop.actor,
            inst.settings,
            PASSWORD,
            "ein-neues-passwort-2",
            keep_token=laptop.token,
        )
    assert users.resolve(inst, stolen) is None
    assert users.resolve(inst, laptop.token) is not None


# -- 2. active content in PDFs, 5. previews without size limits ----------------------------------


def _evidence(inst: Installation, actor: Actor, name: str, content: bytes):  # type: ignore[no-untyped-def]
    from ia_events.archive.evidence import add_evidence

    return add_evidence(
        inst, actor, agency_slug="essen", funding_year=2025, kind="flyer",
        filename=name, content=content,
    )  # fmt: skip


@pytest.mark.parametrize("sample", ["JS_IN_OBJECT_STREAM", "ESCAPED_JS", "ESCAPED_LAUNCH"])
def test_a_pdf_with_hidden_active_content_is_flagged_and_not_previewed(
    inst: Installation, sample: str
) -> None:
    from ia_events.archive import previews
    from tests import pdf_samples
    from tests.factories import build

    w = build(inst)
    view = _evidence(inst, w.fk_essen, "flyer.pdf", getattr(pdf_samples, sample))
    assert "pdf_javascript" in view.flags
    assert view.warnings  # the uploader is told
    shown = previews.preview(inst, w.fk_essen, view.id, view.flags)
    assert shown.kind == "none" and not shown.images


def _huge_png(side: int = 13_000) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = (b"\x00" + b"\x00" * ((side + 7) // 8)) * side  # 1-bit grey, filter 0
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def test_huge_pages_and_images_get_a_german_note_instead_of_a_preview(
    inst: Installation,
) -> None:
    import io

    from PIL import Image

    from ia_events.archive import previews
    from tests.factories import build
    from tests.pdf_samples import HUGE_PAGE, PLAIN

    w = build(inst)
    page = _evidence(inst, w.fk_essen, "plakat.pdf", HUGE_PAGE)
    picture = _huge_png()
    assert len(picture) < 200_000  # small on the wire, 169 million pixels inside
    image = _evidence(inst, w.fk_essen, "foto.png", picture)
    started = time.perf_counter()
    shown = previews.preview(inst, w.fk_essen, image.id, image.flags)
    assert time.perf_counter() - started < 3
    assert shown.kind == "none" and "zu groß" in shown.note, shown.note
    # The 200-inch page is drawn small (it took 18.6 s and 2.7 GB at the usual scale).
    started = time.perf_counter()
    shown = previews.preview(inst, w.fk_essen, page.id, page.flags)
    assert time.perf_counter() - started < 3
    with Image.open(io.BytesIO(shown.images[0])) as img:
        assert max(img.size) <= previews.MAX_EDGE
    # An ordinary A4 page is still previewed, and at a bounded size.
    a4 = _evidence(inst, w.fk_essen, "liste.pdf", PLAIN)
    shown = previews.preview(inst, w.fk_essen, a4.id, a4.flags)
    import io

    from PIL import Image

    assert shown.kind == "images"
    with Image.open(io.BytesIO(shown.images[0])) as img:
        assert max(img.size) <= previews.MAX_EDGE


# -- 13. data files readable by the service account only -----------------------------------------


def test_data_files_are_created_0600_whatever_the_umask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ia_events.archive.evidence import add_evidence
    from tests.factories import build
    from tests.pdf_samples import PLAIN

    old = os.umask(0o022)  # a typical service umask
    try:
        inst, _ = initialise(make_settings(tmp_path / "data"))
        try:
            w = build(inst)
            add_evidence(
                inst, w.fk_essen, agency_slug="essen", funding_year=2025, kind="flyer",
                filename="liste.pdf", content=PLAIN,
            )  # fmt: skip
            with inst.db.write() as s:  # something for the WAL
                users.add_user(s, OP, inst.settings, username="wal-test",
                               password=PASSWORD, role="coordinator")  # fmt: skip
        finally:
            inst.close()
    finally:
        os.umask(old)
    data = tmp_path / "data"
    database = data / "ia-events.sqlite3"
    assert database.exists()
    files = [p for p in data.rglob("*") if p.is_file()]
    blobs = [p for p in files if "blobs" in p.parts]
    assert blobs, files
    loose = [
        f"{p.relative_to(data)} {oct(stat.S_IMODE(p.stat().st_mode))}"
        for p in [database, *blobs, *data.glob("ia-events.sqlite3-*")]
        if p.exists() and p.stat().st_mode & 0o077
    ]
    assert loose == []
