"""The coordinator's all-agency pages keep their reads until the next change
(``pages._ui.cached``, keyed by the audit chain's head): a change made anywhere -- here
through a service, as the CLI or another host would -- shows on the next visit, and a
cached result is never handed to another user."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ia_events.core.access import Actor
from ia_events.core.errors import NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin
from ia_events.core.models import Agency, Role, TaskPlan
from ia_events.planning import plans
from ia_events.planning.activities import ActivitySpec
from ia_events.reporting import controlling
from storage.db import utcnow
from tests.support import login, texts


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _waiting(at) -> int:  # type: ignore[no-untyped-def]
    return int(next(m for m in at.metric if m.label == "Warten auf Freigabe").value)


def _coordinator() -> Actor:
    return Actor("koordination", Role.coordinator, display_name="Koordination")


def test_an_approval_made_elsewhere_shows_on_the_next_visit(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "koordination"), "pages/approvals.py")
    before = _waiting(at)
    _open(at, "pages/account.py")
    assert _waiting(_open(at, "pages/approvals.py")) == before  # a repeat visit: the same
    with app_env.db.write() as s:
        plan_id = s.scalar(select(TaskPlan.id).where(TaskPlan.status == "submitted"))
        assert plan_id is not None
        plans.approve_plan(s, _coordinator(), plan_id, now=utcnow())  # not through the page
    _open(at, "pages/account.py")
    assert _waiting(_open(at, "pages/approvals.py")) == before - 1


def test_a_new_subgoal_shows_in_the_completeness_overview(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    at = _open(login(app, "koordination"), "pages/inspection.py")
    year = int(at.selectbox(key="ui_year_picker").value)

    def essen_subgoals() -> int:
        frame = at.dataframe(key="insp_overview").value
        row = frame[frame["Integrationsagentur"] == "Integrationsagentur Essen"]
        return int(row["Teilziele"].iloc[0])

    before = essen_subgoals()
    with app_env.db.write() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        plan_id = s.scalar(
            select(TaskPlan.id).where(TaskPlan.agency_id == essen, TaskPlan.funding_year == year)
        )
        assert plan_id is not None
        fk = Actor("fk-essen", Role.specialist, agency_id=essen)
        plans.add_subgoal(
            s,
            fk,
            plan_id,
            title="Cache-Test: neues Teilziel",
            field="BE",
            indicator="participants",
            target=10,
            why="Neu aufgenommen",
        )
    _open(at, "pages/account.py")
    _open(at, "pages/inspection.py")
    assert essen_subgoals() == before + 1


def test_a_new_partner_counts_in_the_district_controlling(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    """Berichte & Controlling (all agencies' figures) after a change on another page."""
    at = _open(login(app, "koordination"), "pages/reports.py")
    shown = texts(at)
    assert "Bezirk gesamt" in shown
    first = at.dataframe[0].value  # the chosen agency's controlling table
    total_before = first[first["Ebene"] == "Gesamt"]["Angebote"].iloc[0]
    slug = at.selectbox(key="rep_agency").value
    with app_env.db.write() as s:
        agency = s.scalar(select(Agency).where(Agency.slug == slug))
        assert agency is not None
        fk = Actor("fk", Role.specialist, agency_id=agency.id)
        plans.create_activity(
            s,
            fk,
            ActivitySpec(
                agency_slug=slug,
                title="Cache-Test-Angebot",
                type="Gruppenangebot",
                field="BE",
                attendance_mode="named",
                funding_year=berlin(utcnow()).year,
            ),
        )
    _open(at, "pages/account.py")
    _open(at, "pages/reports.py")
    first = at.dataframe[0].value
    assert first[first["Ebene"] == "Gesamt"]["Angebote"].iloc[0] == total_before + 1


def test_a_cached_result_is_never_handed_to_another_agency(app_env: Installation) -> None:
    """The same read (name and arguments) for a user of Essen and a user of Düsseldorf:
    Düsseldorf's user is asked again and refused, never given Essen's figures."""
    from pages._ui import cached

    year = berlin(utcnow()).year
    with app_env.db.read() as s:
        ids = {slug: id_ for slug, id_ in s.execute(select(Agency.slug, Agency.id))}
    essen = Actor("fk-essen", Role.specialist, agency_id=ids["essen"])
    other = Actor("fk-duesseldorf", Role.specialist, agency_id=ids["duesseldorf"])
    calls: list[str] = []

    def figures(who: Actor):  # type: ignore[no-untyped-def]
        def compute(s, at):  # type: ignore[no-untyped-def]
            calls.append(who.name)
            return controlling.figures(s, who, year, "essen", at)

        return compute

    mine = cached("test.figures", essen, (year, "essen"), figures(essen))
    again = cached("test.figures", essen, (year, "essen"), figures(essen))
    assert calls == ["fk-essen"]  # the repeat is a cache hit
    assert [a.slug for a in mine] == ["essen"] and [a.slug for a in again] == ["essen"]
    with pytest.raises(NotFound):
        cached("test.figures", other, (year, "essen"), figures(other))
    assert calls == ["fk-essen", "fk-duesseldorf"]
