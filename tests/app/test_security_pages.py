"""AppTest: lockout across fresh sessions, page query parameters that name another
agency's ids or junk, and no user-written text rendered as HTML."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ia_events.attendance import checkin
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import text
from ia_events.core.models import Agency, AuditEvent, Occurrence, ShiftAssignment, User
from storage.db import utcnow
from tests.conftest import ROOT
from tests.support import demo_password, login, texts


def _fresh(app_env: Installation):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)


def _head(inst: Installation) -> tuple[int, int]:
    with inst.db.read() as s:
        n = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
        seq = s.scalar(select(func.max(AuditEvent.seq))) or 0
    return n, seq


def test_ten_wrong_passwords_from_ten_fresh_sessions_lock_the_account(
    app_env: Installation,
) -> None:
    for attempt in range(1, 11):
        at = login(_fresh(app_env), "fk-kleve", f"falsch-{attempt}-xxxxxxxx", follow=False)
        errors = [e.value for e in at.error]
        # The same answer as for an unknown name: a lock reveals no account.
        assert errors == [text("login_invalid")], (attempt, errors)
    # The right password, from yet another fresh session, is refused while locked.
    at = login(_fresh(app_env), "fk-kleve", demo_password(), follow=False)
    assert [e.value for e in at.error] == [text("login_invalid")]
    assert "Abmelden" not in [b.label for b in at.button]
    with app_env.db.read() as s:
        locked = s.scalar(select(AuditEvent).where(AuditEvent.action == "user:locked"))
        assert locked is not None
    # When the lock ends, the right password works again.
    with app_env.db.write() as s:
        s.execute(
            update(User)
            .where(User.username == "fk-kleve")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    at = login(_fresh(app_env), "fk-kleve", demo_password())
    assert not at.error and not at.exception
    assert "Abmelden" in [b.label for b in at.button] or at.title[0].value != "Anmelden"


def _ids(inst: Installation, slug: str) -> tuple[int, int]:
    with inst.db.read() as s:
        agency = s.scalar(select(Agency.id).where(Agency.slug == slug))
        occ = s.scalar(select(Occurrence.id).where(Occurrence.agency_id == agency))
    assert agency and occ
    return agency, occ


def test_evidence_page_with_another_agencys_occurrence_says_not_found(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    _kleve, kleve_occ = _ids(app_env, "kleve")
    at = login(app, "fk-essen")
    before = _head(app_env)
    at.query_params["occurrence"] = str(kleve_occ)
    at.switch_page("pages/evidence.py").run()
    assert not at.exception
    shown = texts(at)
    assert "Termin vorausgewählt" not in shown and "Kleve" not in shown
    assert any("nicht gefunden" in e.value for e in at.error), [e.value for e in at.error]
    assert _head(app_env) == before


@pytest.mark.parametrize(
    "raw", ["abc", "-1", "1e9", "99999999", "<script>alert(1)</script>", "1;DROP TABLE x", ""]
)
def test_evidence_page_with_junk_occurrence_never_crashes(
    app, app_env: Installation, raw: str
) -> None:  # type: ignore[no-untyped-def]
    at = login(app, "fk-essen")
    at.query_params["occurrence"] = raw
    at.switch_page("pages/evidence.py").run()
    assert not at.exception
    assert "unerwarteter Fehler" not in texts(at)
    assert "<script>" not in texts(at)


@pytest.mark.parametrize("which", ["kleve", "junk", "participant"])
def test_volunteer_checkin_with_a_foreign_or_bad_token_records_nothing(
    app, app_env: Installation, which: str
) -> None:  # type: ignore[no-untyped-def]
    _kleve, kleve_occ = _ids(app_env, "kleve")
    _essen, essen_occ = _ids(app_env, "essen")
    with app_env.db.read() as s:
        if which == "junk":
            token = "AAAA" + "x" * 40
        else:
            occ = kleve_occ if which == "kleve" else essen_occ
            purpose = "volunteer" if which == "kleve" else "participant"
            url = checkin.occurrence_link(
                s, app_env.keys, Actor.cli(), occ, "http://x", purpose=purpose
            )
            token = url.split("t=")[1]
        checked = s.scalar(
            select(func.count())
            .select_from(ShiftAssignment)
            .where(ShiftAssignment.checked_in_at.is_not(None))
        )
    at = login(app, "ehrenamt-essen")
    before = _head(app_env)
    at.query_params["t"] = token
    at.switch_page("pages/volunteer_checkin.py").run()
    assert not at.exception
    assert "unerwarteter Fehler" not in texts(at)
    assert not [b for b in at.button if b.label in ("Jetzt einchecken", "Jetzt auschecken")]
    assert at.error, "a refused token must be said in German"
    assert "Kleve" not in texts(at)
    with app_env.db.read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ShiftAssignment)
                .where(ShiftAssignment.checked_in_at.is_not(None))
            )
            == checked
        )
    assert _head(app_env) == before


UNSAFE = re.compile(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.html\(")


def test_pages_render_no_user_text_as_html() -> None:
    """The only raw-HTML call in the pages is the fixed redirect script in ``_ui``;
    it interpolates a URL with ``repr``, never a user's text."""
    hits: list[str] = []
    for path in [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if UNSAFE.search(line):
                hits.append(f"{path.name}:{no}")
    assert [h.split(":")[0] for h in hits] == ["_ui.py", "_ui.py"], hits
    ui = (ROOT / "pages" / "_ui.py").read_text(encoding="utf-8")
    assert "target = repr(url)" in ui and "window.location.replace({target})" in ui
    # The other is ``style``: pages hand it a CSS constant of their own, nothing else.
    assert 'st.html(f"<style>{css}</style>")' in ui
    for path in sorted((ROOT / "pages").glob("*.py")):
        for call in re.findall(r"\bstyle\(([^)]*)\)", path.read_text(encoding="utf-8")):
            assert re.fullmatch(r"_[A-Z_]+_CSS|css: str", call), (path.name, call)
