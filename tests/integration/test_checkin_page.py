"""The participant page over HTTP (Starlette test client, real database behind it)."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.pool import NullPool
from starlette.applications import Starlette

from ia_events.attendance.tokens import TokenInfo, make_token
from ia_events.core.installation import Installation, reset_shared
from ia_events.core.models import Attendance, Scan
from ia_events.web import checkin_page
from ia_events.web.routes import routes
from tests.factories import make_occurrence

with warnings.catch_warnings():
    # Starlette asks for "httpx2"; the plain httpx client works the same for these tests.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@contextmanager
def _client_for(inst: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    reset_shared()
    checkin_page.limiter.reset()
    with TestClient(Starlette(routes=routes()), base_url="http://testserver") as c:
        yield c
    reset_shared()


@pytest.fixture
def client(inst: Installation, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _client_for(inst, monkeypatch) as c:
        yield c


def _rows(inst: Installation) -> tuple[int, int]:
    with inst.db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Attendance)) or 0),
            int(s.scalar(select(func.count()).select_from(Scan)) or 0),
        )


def _form(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def _state(html: str) -> str:
    found = re.search(r'data-state="([a-z_]+)"', html)
    return found.group(1) if found else "form"


def test_get_shows_the_form_and_records_nothing(client: TestClient, inst: Installation) -> None:
    made = make_occurrence(inst, photographed=True, privacy_law="KDG")
    for _ in range(3):  # messenger previews, reloads
        page = client.get(f"/checkin?t={made.token}", headers={"accept-language": "de-DE"})
        assert page.status_code == 200
    assert _rows(inst) == (0, 0)
    html = page.text
    assert "Nähcafé" in html and "Stadtteilzentrum, Helenenstraße 12" in html
    assert 'name="name"' in html and 'name="photo"' in html and 'name="age"' not in html
    assert "§ 15 KDG" in html and "<details>" in html  # the full notice, one tap away
    assert "<script" not in html
    assert len(page.content) < 50_000
    assert page.headers["cache-control"] == "no-store"


def test_post_checks_in_once_and_a_repeat_is_already_checked_in(
    client: TestClient, inst: Installation
) -> None:
    made = make_occurrence(inst)
    form = _form(client.get(f"/checkin?t={made.token}").text)
    answer = client.post("/checkin", data={**form, "name": "Olena Kovalenko"})
    assert _state(answer.text) == "ok"
    replay = client.post("/checkin", data={**form, "name": "Olena Kovalenko"})
    assert _state(replay.text) == "ok"  # the same nonce: idempotent, not a second record
    assert _rows(inst)[0] == 1
    form2 = _form(client.get(f"/checkin?t={made.token}").text)
    repeat = client.post("/checkin", data={**form2, "name": "olena kovalenko"})
    assert _state(repeat.text) == "already_checked_in"
    assert "Ich bin eine andere Person" in repeat.text
    way_out = _form(repeat.text)
    other = client.post("/checkin", data={**way_out, "other": "1", "name": "Olena Kovalenko"})
    assert _state(other.text) == "ok"
    assert _rows(inst)[0] == 2


def test_missing_name_shows_the_form_again_and_records_nothing(
    client: TestClient, inst: Installation
) -> None:
    made = make_occurrence(inst)
    form = _form(client.get(f"/checkin?t={made.token}").text)
    answer = client.post("/checkin", data={**form, "name": "  "})
    assert "Bitte geben Sie Ihren Namen ein." in answer.text and 'name="name"' in answer.text
    assert _rows(inst) == (0, 0)


def test_anonymous_phone_is_remembered_by_cookie(client: TestClient, inst: Installation) -> None:
    made = make_occurrence(inst, mode="anonymous")
    page = client.get(f"/checkin?t={made.token}")
    assert 'name="name"' not in page.text and "Ich bin da" in page.text
    assert _state(client.post("/checkin", data=_form(page.text)).text) == "ok"
    again = client.post("/checkin", data=_form(client.get(f"/checkin?t={made.token}").text))
    assert _state(again.text) == "already_checked_in"
    assert _rows(inst)[0] == 1


@pytest.mark.parametrize(
    ("lang", "direction", "word"),
    [
        ("ar", "rtl", "تسجيل"),
        ("fa", "rtl", "ثبت"),
        ("uk", "ltr", "Реєстрація"),
        ("tr", "ltr", "Adınız"),
    ],
)
def test_languages_and_direction(
    client: TestClient, inst: Installation, lang, direction, word
) -> None:  # type: ignore[no-untyped-def]
    made = make_occurrence(inst)
    html = client.get(f"/checkin?t={made.token}&lang={lang}").text
    assert f'<html lang="{lang}" dir="{direction}">' in html and word in html
    by_header = client.get(f"/checkin?t={made.token}", headers={"accept-language": f"{lang};q=0.9"})
    assert f'lang="{lang}"' in by_header.text


def test_states_for_bad_links(client: TestClient, inst: Installation) -> None:
    soon = make_occurrence(inst, starts_in=timedelta(hours=3))
    past = make_occurrence(inst, starts_in=timedelta(hours=-6))
    assert _state(client.get(f"/checkin?t={soon.token}").text) == "not_open"
    assert _state(client.get(f"/checkin?t={past.token}").text) == "closed"
    bad = client.get("/checkin?t=not-a-token")
    assert bad.status_code == 404 and _state(bad.text) == "invalid"
    assert _state(client.get("/checkin").text) == "invalid"
    assert _rows(inst) == (0, 0)


def test_volunteer_link_goes_to_the_volunteer_page(client: TestClient, inst: Installation) -> None:
    made = make_occurrence(inst)
    token = make_token(inst.keys, TokenInfo("volunteer", "occurrence", made.occurrence_id, 1))
    answer = client.get(f"/checkin?t={token}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/volunteer_checkin?t={token}"


def test_cross_site_post_is_refused(client: TestClient, inst: Installation) -> None:
    made = make_occurrence(inst)
    form = _form(client.get(f"/checkin?t={made.token}").text)
    answer = client.post(
        "/checkin", data={**form, "name": "X Y"}, headers={"origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert _rows(inst) == (0, 0)
    # A browser that hides its origin ("null") still checks in: the nonce binds the form.
    hidden = client.post("/checkin", data={**form, "name": "X Y"}, headers={"origin": "null"})
    assert _state(hidden.text) == "ok"


def test_session_rate_limit_answers_calmly(
    client: TestClient, inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One rate window for the whole test, however slow the machine (the limiter's windows
    # are clock minutes; a run crossing one rightly gets a second minute's allowance).
    allow, frozen = checkin_page.limiter.allow, time.time()
    monkeypatch.setattr(
        checkin_page.limiter, "allow", lambda kind, key, now=None: allow(kind, key, frozen)
    )
    made = make_occurrence(inst)
    page = client.get(f"/checkin?t={made.token}")
    codes = []
    for i in range(checkin_page.LIMITS["session"] + 2):
        form = _form(client.get(f"/checkin?t={made.token}").text)
        codes.append(client.post("/checkin", data={**form, "name": f"Person {i}"}).status_code)
    assert codes[-1] == 429 and codes.count(200) == checkin_page.LIMITS["session"]
    assert "Bitte warten Sie eine Minute" in client.post("/checkin", data=_form(page.text)).text


class _Fault:
    """A real failure of the database connection the page uses, in the next ``times``
    transactions: on PostgreSQL its server process is terminated (as in a server restart),
    on SQLite the connection is switched to read-only (a write fails like on a read-only
    mount). Registered on the page's own engine."""

    def __init__(self, times: int = 1) -> None:
        from ia_events.core.installation import shared

        self.engine = shared().db.engine
        self.left = times
        self.hit = 0
        event.listen(self.engine, "begin", self._begin)

    def _begin(self, conn) -> None:  # type: ignore[no-untyped-def]
        sqlite = conn.dialect.name == "sqlite"
        if self.left <= 0:
            if sqlite:
                conn.exec_driver_sql("PRAGMA query_only=OFF")
            return
        self.left -= 1
        self.hit += 1
        if sqlite:
            conn.exec_driver_sql("PRAGMA query_only=ON")
            return
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        other = create_engine(conn.engine.url, poolclass=NullPool)
        with other.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        other.dispose()

    def remove(self) -> None:
        event.remove(self.engine, "begin", self._begin)
        self.engine.dispose()  # no connection left read-only in the pool


def test_a_failure_on_our_side_offers_the_same_check_in_again(
    client: TestClient, inst: Installation
) -> None:
    """Database trouble during the POST: the phone is told it did not work (not "too many
    attempts"), one tap sends the same submission again, and it counts once."""
    made = make_occurrence(inst)
    form = _form(client.get(f"/checkin?t={made.token}", headers={"accept-language": "de"}).text)
    fault = _Fault()
    try:
        failed = client.post("/checkin", data={**form, "name": "Amira Haddad"})
    finally:
        fault.remove()
    assert fault.hit == 1
    assert failed.status_code == 503
    assert _state(failed.text) == "try_again"
    assert "Das hat gerade nicht geklappt" in failed.text and "Traceback" not in failed.text
    assert _rows(inst)[0] == 0
    retry = _form(failed.text)  # the retry button's hidden fields: the same submission
    assert retry["n"] == form["n"] and retry["name"] == "Amira Haddad"
    again = client.post("/checkin", data=retry)
    assert _state(again.text) == "ok"
    assert _state(client.post("/checkin", data=retry).text) == "ok"  # a third tap: replay
    assert _rows(inst)[0] == 1


@pytest.mark.postgres
def test_a_failure_while_opening_the_link_offers_the_link_again(
    pg_inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database connection is lost while the form loads (PostgreSQL: a read fails
    there, a read-only SQLite connection still reads): "try again" with the same link,
    not "this link is invalid"."""
    made = make_occurrence(pg_inst)
    with _client_for(pg_inst, monkeypatch) as client:
        fault = _Fault()
        try:
            failed = client.get(f"/checkin?t={made.token}&lang=en")
        finally:
            fault.remove()
        assert fault.hit == 1
        assert failed.status_code == 503 and _state(failed.text) == "try_again"
        assert "That did not work just now" in failed.text
        assert "This link is invalid" not in failed.text
        link = re.search(r'<a href="(/checkin\?t=[^"]+)">Try again</a>', failed.text)
        assert link is not None
        assert _state(client.get(link.group(1).replace("&amp;", "&")).text) == "form"
