"""AppTest: Fristen with Eigene Fristen -- the coordinator sets one, an agency marks it
done, "bald fällig" is set apart on the Fristen page and the overview."""

from __future__ import annotations

from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import Agency, AuditEvent, CustomDeadline
from ia_events.planning.deadlines import DEMO_CUSTOM, DEMO_CUSTOM_OPEN
from tests.support import login, texts

FIRST = DEMO_CUSTOM[0][0]  # "Teilnehmerlisten des Jahres vollständig", most agencies done


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _slug_at(inst: Installation, index: int) -> str:
    with inst.db.read() as s:
        return list(s.scalars(select(Agency.slug).order_by(Agency.id)))[index]


def _records(at) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [r for f in at.dataframe for r in f.value.to_dict("records")]


def test_an_agency_that_has_not_done_it_sees_bald_faellig_and_marks_it_done(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    slug = _slug_at(app_env, DEMO_CUSTOM_OPEN[0])
    login(app, f"fk-{slug}")
    _open(app, "pages/deadlines.py")
    notice = " ".join(str(w.value) for w in app.warning)
    assert "Bald fällig" in notice and FIRST in notice
    row = next(r for r in _records(app) if r["Unterlage"] == FIRST)
    assert row["Status"].startswith("bald fällig (in ")
    assert "Eigene Frist der Koordination" in row["Hinweis"]
    # a click on its row opens it in the form below; done without a document (optional)
    frame = app.dataframe(key="dl_table").value
    index = int(frame.index[frame["Unterlage"] == FIRST][0])
    app.session_state["dl_table"] = {"selection": {"rows": [index], "columns": [], "cells": []}}
    app.run()
    assert str(app.selectbox(key="dl_kind").value).startswith("custom:")
    next(b for b in app.button if b.label == "Als eingereicht vermerken").click().run()
    assert not app.exception, app.exception
    assert "Als erledigt vermerkt." in texts(app)
    _open(app, "pages/deadlines.py")
    row = next(r for r in _records(app) if r["Unterlage"] == FIRST)
    assert row["Status"] == "erledigt"
    with app_env.db.read() as s:
        assert "deadline:done" in set(s.scalars(select(AuditEvent.action)))
    _open(app, "pages/overview.py")
    assert FIRST not in [r.get("Unterlage") for r in _records(app)]


def test_an_agency_that_did_it_sees_erledigt(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    done = next(i for i in range(13) if i not in DEMO_CUSTOM_OPEN)
    login(app, f"fk-{_slug_at(app_env, done)}")
    _open(app, "pages/deadlines.py")
    row = next(r for r in _records(app) if r["Unterlage"] == FIRST)
    assert row["Status"] == "erledigt"


def test_coordinator_sees_who_is_done_and_sets_a_new_one(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app, "pages/deadlines.py")
    shown = texts(app)
    assert "Eigene Fristen" in shown
    assert (
        "Bald fällig" in shown and f"{len(DEMO_CUSTOM_OPEN)} Integrationsagenturen offen" in shown
    )
    custom = {r["Frist"]: r for r in _records(app) if "Frist" in r}
    total = 13
    assert custom[FIRST]["erledigt"] == f"{total - len(DEMO_CUSTOM_OPEN)} von {total}"
    assert custom[FIRST]["für"] == "alle Integrationsagenturen"
    assert custom["Fördermittelabruf 2. Halbjahr"]["für"] == "4 Integrationsagenturen"
    matrix = [r for r in _records(app) if "Integrationsagentur" in r]
    assert sum(r[FIRST].startswith("bald fällig") for r in matrix) == len(DEMO_CUSTOM_OPEN)

    before = len(custom)
    next(t for t in app.text_input if t.label == "Titel").input("Kassenprüfung vorbereiten")
    next(b for b in app.button if b.label == "Eigene Frist setzen").click().run()
    assert not app.exception, app.exception
    assert "Eigene Frist gesetzt." in texts(app)
    custom = {r["Frist"]: r for r in _records(app) if "Frist" in r}
    assert len(custom) == before + 1 and custom["Kassenprüfung vorbereiten"]["erledigt"] == (
        f"0 von {total}"
    )
    with app_env.db.read() as s:
        assert s.scalar(
            select(CustomDeadline.id).where(CustomDeadline.title == "Kassenprüfung vorbereiten")
        )
        assert "deadline:add" in set(s.scalars(select(AuditEvent.action)))


def test_overview_sets_bald_faellig_apart(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, f"fk-{_slug_at(app_env, DEMO_CUSTOM_OPEN[1])}")
    _open(app, "pages/overview.py")
    assert any("Bald fällig" in str(w.value) for w in app.warning)
    row = next(r for r in _records(app) if r.get("Unterlage") == FIRST)
    assert row["Status"] == "bald fällig"
