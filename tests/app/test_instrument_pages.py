"""AppTest: Sozialraumanalyse, Freigaben, Mitteilungen & Personal and the sub-goal
methods on the Planung page, on the demo data."""

from __future__ import annotations

from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import Agency, NeedsAnalysis, PlanNotice, SubGoal, TaskPlan
from tests.support import login, texts


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_subgoal_methods_are_edited_on_the_planung_page(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/planning.py")
    field = app.text_area(key="plan_sg_edit_methods")
    assert field.value  # the demo's methods are shown, not an empty field
    goal_title = next(t for t in app.text_input if t.label == "Teilziel" and t.value).value
    field.input("Zweimal pro Woche, mit Kinderbetreuung")
    app.text_input(key="plan_sg_edit_why").input("Mehr Nachfrage")
    _button(app, "Teilziel speichern").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        methods = s.scalars(
            select(SubGoal.methods)
            .join(Agency, Agency.id == SubGoal.agency_id)
            .where(SubGoal.title == goal_title, Agency.slug == "essen")
        ).all()
    assert "Zweimal pro Woche, mit Kinderbetreuung" in methods  # this year's, last year's kept
    assert len(set(methods)) == 2


def test_specialist_adds_a_need_to_the_analysis(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/analysis.py")
    shown = texts(app)
    assert "Sozialraum-/Bedarfsanalyse" in shown
    assert "Aufgaben dazu" in shown  # the link from a need to the plans answering it
    next(t for t in app.text_input if t.label == "Bedarf").input("Wohnungssuche ist schwer")
    next(t for t in app.text_input if t.key == "sra_need_why").input("Neue Erkenntnis")
    _button(app, "Bedarf hinzufügen").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "Wohnungssuche ist schwer" in texts(app)


def test_coordinator_decides_on_one_screen(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app, "pages/approvals.py")
    shown = texts(app)
    # Only the open tab is drawn: it opens on the analyses; what waits is counted above.
    assert "Anlass/Begründung" not in shown
    assert "Wartend: 1 Sozialraumanalyse, " in shown
    # The agency name is typed text: shown escaped in Markdown (what the reader sees is equal).
    assert "Integrationsagentur Wuppertal-Barmen" in shown.replace("\\", "")  # analysis waits
    with app_env.db.read() as s:
        analysis_id = s.scalar(
            select(NeedsAnalysis.id).join(Agency).where(Agency.slug == "wuppertal-barmen",
                                                        NeedsAnalysis.status == "submitted")
        )  # fmt: skip
    _button(app, "Zur Überarbeitung zurückgeben").click().run()
    assert any("Hinweis" in e.value for e in app.error)
    next(t for t in app.text_input if t.label.startswith("Hinweis an die Agentur")).input(
        "Bitte die Abstimmung mit dem KI ergänzen."
    )
    _button(app, "Zur Überarbeitung zurückgeben").click().run()
    assert not app.exception
    assert "Die Sozialraumanalyse ist mit Ihrem Hinweis zur Überarbeitung zurückgegeben." in [
        m.value for m in app.success
    ]
    with app_env.db.read() as s:
        row = s.get(NeedsAnalysis, analysis_id)
        assert (row.status, row.review_note) == (
            "draft",
            "Bitte die Abstimmung mit dem KI ergänzen.",
        )
        waiting = s.scalar(select(func_count()).where(TaskPlan.status == "submitted"))
    app.session_state["appr_tab"] = "Aufgabenplanungen"  # a click on the tab
    app.run()
    shown = texts(app)
    assert "Anlass/Begründung" in shown and "Bedarfe aus der Analyse" in shown
    next(b for b in app.button if b.label == "Freigeben" and b.key.startswith("ok_plan_")).click()
    app.run()
    assert "Die Aufgabenplanung ist freigegeben." in [m.value for m in app.success]
    with app_env.db.read() as s:
        assert s.scalar(select(func_count()).where(TaskPlan.status == "submitted")) == waiting - 1


def func_count():  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    return func.count(TaskPlan.id)


def test_notice_is_downloaded_and_its_sending_recorded(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-duesseldorf")
    _open(app, "pages/changes.py")
    shown = texts(app)
    assert "Mitteilungen an die Bewilligungsbehörde" in shown
    assert "Gesundheitswesen" in shown
    labels = [b.proto.label for b in app.get("download_button")]
    assert {"PDF", "Word"} <= set(labels)
    _button(app, "Versand vermerken").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        notice = s.scalar(select(PlanNotice))
    assert notice.sent_on is not None and notice.evidence_id is not None


def test_personnel_change_before_consent_is_warned_about(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-moenchengladbach")
    _open(app, "pages/changes.py")
    # A matter to settle (yellow), not a failure of the app (red).
    assert any("Zustimmung steht aus" in e.value for e in app.warning)
    assert not app.error, [e.value for e in app.error]


def test_coordinator_sees_changes_without_red_errors(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app, "pages/changes.py")
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert [e.value for e in app.warning if "Zustimmung" in e.value]
