"""AppTest: Planung, Angebote & Termine and Fristen render for their roles; key form flows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Occurrence, SubGoal, TaskPlan
from tests.support import login, texts


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _form_button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


@pytest.mark.parametrize(
    ("user", "pages"),
    [
        ("fk-essen", ["pages/planning.py", "pages/activities.py", "pages/deadlines.py"]),
        ("koordination", ["pages/planning.py", "pages/deadlines.py"]),
    ],
)
def test_pages_render_for_role(app, user: str, pages: list[str]) -> None:  # type: ignore[no-untyped-def]
    login(app, user)
    for page in pages:
        _open(app, page)
        shown = texts(app)
        assert "Das hat nicht geklappt" not in shown
        assert "unerwarteter Fehler" not in shown
        assert not app.error, [e.value for e in app.error]
    _open(app, "pages/overview.py")
    assert "Fristen" in texts(app)


def test_specialist_sees_plan_progress_and_history(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/planning.py")
    shown = texts(app)
    assert "Status: **eingereicht**" in shown
    bars = [p.proto.text for p in app.get("progress")]
    assert any("Mindestens 40 Frauen" in b and "von 40" in b for b in bars), bars


def test_target_that_is_not_a_number_changes_nothing(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/planning.py")
    before = _count(app_env, SubGoal)
    form = {t.label: t for t in app.text_input if t.key is None or not t.key.startswith("plan_")}
    next(t for t in app.text_input if t.label == "Teilziel" and t.value == "").input(
        "Mehr Begegnung"
    )
    next(t for t in app.text_input if t.label == "Zielwert" and t.value == "").input("viele")
    next(t for t in app.text_input if t.key == "plan_sg_why").input("Neuer Bedarf")
    _form_button(app, "Teilziel hinzufügen").click().run()
    assert any("Zielwert" in e.value and "Zahl" in e.value for e in app.error)
    assert _count(app_env, SubGoal) == before
    assert form  # the page had its form fields


def test_coordinator_returns_then_approves_plan(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app, "pages/planning.py")
    assert "warten auf Freigabe" in texts(app)
    with app_env.db.read() as s:  # the demo's Kleve plan is returned already
        before = set(s.scalars(select(TaskPlan.id).where(TaskPlan.review_note != "")))
    _form_button(app, "Zur Überarbeitung zurückgeben").click().run()
    assert any("Hinweis" in e.value for e in app.error)  # a note is required
    next(t for t in app.text_input if t.label == "Hinweis an die Agentur").input(
        "Bitte Teilziel 3 messbar formulieren."
    )
    _form_button(app, "Zur Überarbeitung zurückgeben").click().run()
    assert not app.exception
    with app_env.db.read() as s:
        returned = [
            p
            for p in s.scalars(select(TaskPlan).where(TaskPlan.review_note != ""))
            if p.id not in before
        ]
    assert len(returned) == 1 and returned[0].status == "draft"
    # Another waiting plan is picked and approved.
    with app_env.db.read() as s:
        waiting = s.scalars(select(TaskPlan).where(TaskPlan.status == "submitted")).first()
    app.selectbox(key="plan_pick").set_value(waiting.id).run()
    _form_button(app, "Freigeben").click().run()
    assert not app.exception
    with app_env.db.read() as s:
        approved_by = s.scalars(
            select(TaskPlan.approved_by).where(TaskPlan.approved_by == "koordination")
        ).all()
    assert len(approved_by) >= 14  # 13 last year's by the demo + this one


def test_specialist_creates_series_and_cancels_a_date(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/activities.py")
    next(t for t in app.text_input if t.label == "Titel").input("Sprachcafé")
    _form_button(app, "Angebot anlegen").click().run()
    assert not app.exception
    # A single date: "1 Termin", not "1 Termine" (one plural rule, core/messages.py).
    assert any(
        "angelegt: 1 Termin (" in s.value and "Sprachcafé" in s.value for s in app.success
    ), texts(app)
    with app_env.db.read() as s:
        activity = s.scalar(select(Activity).where(Activity.title == "Sprachcafé"))
        assert activity is not None
        count = len(
            s.scalars(select(Occurrence.id).where(Occurrence.activity_id == activity.id)).all()
        )
    assert count >= 1

    # Cancelling without a reason is refused; with a reason the date stays, cancelled.
    _form_button(app, "Termin absagen").click().run()
    assert any("Grund" in e.value for e in app.error)
    next(t for t in app.text_input if t.label == "Grund der Absage").input("Raum belegt")
    _form_button(app, "Termin absagen").click().run()
    with app_env.db.read() as s:
        cancelled = s.scalars(
            select(Occurrence).where(Occurrence.cancel_reason == "Raum belegt")
        ).all()
    assert len(cancelled) == 1 and cancelled[0].status == "cancelled"


def test_end_before_start_is_refused(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    from datetime import time

    login(app, "fk-essen")
    _open(app, "pages/activities.py")
    before = _count(app_env, Activity)
    next(t for t in app.text_input if t.label == "Titel").input("Verkehrt")
    next(t for t in app.time_input if t.label == "Beginn").set_value(time(14, 0))
    next(t for t in app.time_input if t.label == "Ende").set_value(time(12, 0))
    _form_button(app, "Angebot anlegen").click().run()
    assert any("Ende" in e.value for e in app.error)
    assert _count(app_env, Activity) == before


def _count(inst: Installation, model) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_coordinator_plan_table_has_one_type_per_column(app) -> None:  # type: ignore[no-untyped-def]
    # "Freigegeben (Version)" mixed numbers and "–": pyarrow refused the column.
    at = login(app, "koordination")
    at.switch_page("pages/planning.py")
    at.run()
    assert not at.exception, at.exception
    frame = at.dataframe[0].value
    approved = frame["Freigegeben (Version)"].tolist()
    assert approved and all(isinstance(v, str) for v in approved)
