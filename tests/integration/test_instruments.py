"""The handbook's instruments on a real database (SQLite and PostgreSQL): analysis per
Förderphase with its needs, several Aufgaben per year, one Freigabe for analysis, plan
and Sachbericht, notices of grundsätzliche changes, fields of action, personnel changes,
and the demo's reference data."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from docx import Document as Docx
from sqlalchemy import func, select

from ia_events.accounts import personnel
from ia_events.accounts.agencies import BEZIRKSVERBAND, DISTRICT_AGENCIES
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Agency,
    AuditEvent,
    Evidence,
    PlanNotice,
    Role,
    SubGoal,
    TaskPlan,
)
from ia_events.demo import instruments
from ia_events.planning import analyses, approvals, deadlines, notices, plans
from ia_events.planning.activities import ActivitySpec
from ia_events.reporting import activity_report

NOW = datetime(2026, 2, 2, 9, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world(inst: Installation):  # type: ignore[no-untyped-def]
    """Essen (IKÖ, SRO, BE) and Kleve (IKÖ, SRO), their specialists, the coordinator."""
    with inst.db.write() as s:
        a = Agency(slug="essen", name="IA Essen", carrier="AWO Kreisverband Essen",
                   city="Essen", fields=["IKÖ", "SRO", "BE"])  # fmt: skip
        b = Agency(slug="kleve", name="IA Kleve", carrier="AWO Kreisverband Kleve",
                   city="Kleve", fields=["IKÖ", "SRO"])  # fmt: skip
        s.add_all([a, b])
        s.flush()
        ids = (a.id, b.id)
    fk = Actor("fk-essen", Role.specialist, agency_id=ids[0])
    other = Actor("fk-kleve", Role.specialist, agency_id=ids[1])
    coord = Actor("koordination", Role.coordinator)
    return inst, fk, other, coord


def _analysis_with_two_needs(inst: Installation, fk: Actor) -> tuple[int, int, int]:
    with inst.db.write() as s:
        row = analyses.create_analysis(
            s, fk, agency_slug="essen", year=2027, orientation="bedarf",
            raster="Raster 2025", sources=["integrationskonzept", "ki", "andere_ia"],
            continued=True, summary="Bedarfe im Stadtteil", now=NOW,
        )  # fmt: skip
        n1 = analyses.add_need(s, fk, row.id, title="Kaum Treffpunkte", field="SRO")
        n2 = analyses.add_need(s, fk, row.id, title="Ämter unbekannt", field="IKÖ")
        return row.id, n1.id, n2.id


def test_analysis_is_per_phase_and_its_needs_link_to_plans_both_ways(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, _coord = world
    analysis_id, n1, n2 = _analysis_with_two_needs(inst, fk)
    with inst.db.write() as s:
        assert s.get(analyses.NeedsAnalysis, analysis_id).phase_start == 2026  # 2027 -> 2026/27
        with pytest.raises(Conflict):  # one analysis per phase
            analyses.create_analysis(s, fk, agency_slug="essen", year=2026)
    evidence_id = analyses.attach_document(
        inst, fk, analysis_id, filename="raster.pdf", content=PDF, media_type="application/pdf"
    )
    with inst.db.write() as s:
        p1 = plans.create_task_plan(
            s, fk, agency_slug="essen", funding_year=2026, topic="Treffpunkte", goal="Begegnung",
            reason="Analyse: kaum Treffpunkte", need_ids=[n1],
        )  # fmt: skip
        plans.create_task_plan(
            s, fk, agency_slug="essen", funding_year=2026, topic="Ämter", goal="Öffnung",
            need_ids=[n1, n2],
        )  # fmt: skip
        p1_id = p1.id
        with pytest.raises(NotFound):  # Kleve cannot name Essen's need
            plans.create_task_plan(s, other, agency_slug="kleve", funding_year=2026,
                                   topic="x", goal="y", need_ids=[n1])  # fmt: skip
    with inst.db.read() as s:
        view = analyses.get_analysis(s, fk, "essen", 2026)
        plan = plans.plan_view(s, fk, p1_id)
        evidence_row = s.get(Evidence, evidence_id)
        with pytest.raises(NotFound):
            analyses.get_analysis(s, other, "essen", 2026)
    assert view is not None and view.evidence_ids == [evidence_id]
    assert evidence_row.funding_year == 2026 and evidence_row.agency_id == fk.agency_id
    by_need = {n.id: [t for _, t, _ in n.plans] for n in view.needs}
    assert by_need == {n1: ["Treffpunkte", "Ämter"], n2: ["Ämter"]}
    assert [n.title for n in plan.needs] == ["Kaum Treffpunkte"]
    assert plan.analysis_id == analysis_id
    assert view.continued and view.orientation == "bedarf" and not view.missing_points


def test_analysis_deadline_only_before_a_phase_and_met_by_the_analysis(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, _coord = world
    today = date(2027, 3, 1)
    with inst.db.read() as s:
        second_year = deadlines.for_year(s, fk, 2027, "essen")
        first_year = deadlines.for_year(s, fk, 2026, "essen")
    assert "sozialraumanalyse" not in {r.deadline.kind for r in second_year}
    analysis = next(r for r in first_year if r.deadline.kind == "sozialraumanalyse")
    assert analysis.deadline.district_due == date(2025, 11, 15)
    assert analysis.status(today) == "overdue"
    analysis_id, _n1, _n2 = _analysis_with_two_needs(inst, fk)
    with inst.db.write() as s:
        analyses.submit_analysis(s, fk, analysis_id, now=NOW)
    with inst.db.read() as s:
        row = next(
            r for r in deadlines.for_year(s, fk, 2026, "essen")
            if r.deadline.kind == "sozialraumanalyse"
        )  # fmt: skip
    assert row.as_json(today)["status"] == "submitted"
    # The contract keys stay; keys may be added (due_soon, issue 18 point 12).
    assert {"kind", "title", "due", "status", "document_id"} <= set(row.as_json(today))


def test_several_aufgaben_per_year_one_spanning_the_phase(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, _coord = world
    with inst.db.write() as s:
        a = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026,
                                   topic="A", goal="g", fields=["SRO"])  # fmt: skip
        b = plans.create_task_plan(
            s, fk, agency_slug="essen", funding_year=2026, topic="B", goal="g",
            spans_phase=True, target_group="Frauen", timeline="2026–2027",
            evaluation="Befragung", partners_text="KI, Bibliothek", financing="Landesmittel",
        )  # fmt: skip
        plans.add_subgoal(s, fk, b.id, title="im 2. Jahr", field="IKÖ",
                          indicator="manual", target=3, funding_year=2027)  # fmt: skip
        with pytest.raises(InvalidInput):
            plans.add_subgoal(s, fk, a.id, title="x", field="SRO", indicator="manual",
                              target=1, funding_year=2027)  # fmt: skip
        with pytest.raises(InvalidInput):  # a phase begins in an even year
            plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2027,
                                   topic="C", goal="g", spans_phase=True)  # fmt: skip
    with inst.db.read() as s:
        y2026 = plans.plans_for(s, fk, "essen", 2026)
        y2027 = plans.plans_for(s, fk, "essen", 2027)
    assert [p.topic for p in y2026] == ["A", "B"]
    assert [p.topic for p in y2027] == ["B"] and y2027[0].years == "2026/2027"
    assert (y2027[0].target_group, y2027[0].financing) == ("Frauen", "Landesmittel")
    assert y2027[0].subgoals[0].funding_year == 2027


def test_subgoal_methods_are_kept_when_an_edit_does_not_touch_them(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, _coord = world
    with inst.db.write() as s:
        plan = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026,
                                      topic="T", goal="G")  # fmt: skip
        goal = plans.add_subgoal(s, fk, plan.id, title="20 Termine", field="SRO",
                                 indicator="occurrences", target=20,
                                 methods="Wöchentliches Nähcafé")  # fmt: skip
        goal_id = goal.id
    with inst.db.write() as s:
        plans.change_subgoal(s, fk, goal_id, title="25 Termine", field="SRO",
                             indicator="occurrences", target=25)  # fmt: skip
    with inst.db.read() as s:
        assert s.get(SubGoal, goal_id).methods == "Wöchentliches Nähcafé"
    with inst.db.write() as s:
        plans.change_subgoal(s, fk, goal_id, title="25 Termine", field="SRO",
                             indicator="occurrences", target=25,
                             methods="Zweimal pro Woche")  # fmt: skip
    with inst.db.read() as s:
        assert s.get(SubGoal, goal_id).methods == "Zweimal pro Woche"
        assert plans.plans_for(s, fk, "essen", 2026)[0].as_json()["subgoals"][0] == {
            "id": goal_id, "title": "25 Termine", "indicator": "occurrences",
            "target": 25.0, "methods": "Zweimal pro Woche",
        }  # fmt: skip


def _submitted_report(inst: Installation, fk: Actor) -> int:
    with inst.db.write() as s:
        plan = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2025,
                                      topic="Vorjahr", goal="G")  # fmt: skip
        plans.add_subgoal(s, fk, plan.id, title="10 Termine", field="SRO",
                          indicator="occurrences", target=10)  # fmt: skip
    activity_report.submit(inst, fk, "essen", 2025, now=NOW)
    with inst.db.read() as s:
        return s.scalar(select(activity_report.ActivityReport.id))


def test_one_freigabe_for_analysis_plan_and_sachbericht(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, coord = world
    analysis_id, n1, _n2 = _analysis_with_two_needs(inst, fk)
    report_id = _submitted_report(inst, fk)
    with inst.db.write() as s:
        p = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026, topic="A",
                                   goal="g", reason="Weil kaum Treffpunkte",
                                   need_ids=[n1])  # fmt: skip
        plans.add_subgoal(s, fk, p.id, title="x", field="SRO", indicator="manual", target=1)
        plan_id = p.id
        analyses.submit_analysis(s, fk, analysis_id, now=NOW)
        plans.submit_plan(s, fk, plan_id, now=NOW)
    with inst.db.write() as s:
        with pytest.raises(Forbidden):
            analyses.approve_analysis(s, fk, analysis_id)
        with pytest.raises(InvalidInput):
            approvals.return_report(s, coord, report_id, "  ")
        q = approvals.queue(s, coord, 2026)
        assert q.waiting == 3
        (queued_plan,) = q.plans
        assert queued_plan.reason == "Weil kaum Treffpunkte"
        assert [n.title for n in queued_plan.needs] == ["Kaum Treffpunkte"]
        assert q.analyses[0].id == queued_plan.analysis_id
        analyses.return_analysis(s, coord, analysis_id, "Quellen ergänzen", now=NOW)
        plans.approve_plan(s, coord, plan_id, now=NOW)
        approvals.return_report(s, coord, report_id, "Abschnitt 1 konkreter", now=NOW)
    with inst.db.write() as s:
        analyses.update_analysis(
            s, fk, analysis_id, orientation="bedarf", raster="Raster 2025",
            sources=["integrationskonzept", "ki", "andere_ia", "statistik"], sources_note="",
            continued=True, summary="Bedarfe im Stadtteil", why="Quellen ergänzt",
            now=NOW + timedelta(hours=1),
        )  # fmt: skip
        analyses.submit_analysis(s, fk, analysis_id, now=NOW + timedelta(hours=1))
    with inst.db.write() as s:
        analyses.approve_analysis(s, coord, analysis_id, now=NOW + timedelta(hours=2))
    activity_report.submit(inst, fk, "essen", 2025, now=NOW + timedelta(hours=3))
    with inst.db.write() as s:
        approvals.approve_report(s, coord, report_id, now=NOW + timedelta(hours=4))
        steps = approvals.history(s, coord, "analysis", analysis_id)
        report_steps = approvals.history(s, fk, "report", report_id)
        row = s.get(activity_report.ActivityReport, report_id)
        assert (row.status, row.version, row.approved_by) == ("approved", 2, "koordination")
        view = analyses.analysis_by_id(s, fk, analysis_id)
    assert [(st.action, st.version, st.actor) for st in steps] == [
        ("approve", 2, "koordination"), ("submit", 2, "fk-essen"),
        ("change", 2, "fk-essen"), ("return", 1, "koordination"), ("submit", 1, "fk-essen"),
    ]  # fmt: skip
    assert steps[3].note == "Quellen ergänzen" and steps[2].note == "Quellen ergänzt"
    assert view.status == "approved" and view.version == 2
    assert [st.action for st in report_steps] == ["approve", "submit", "return", "submit"]
    with inst.db.read() as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"analysis:return", "analysis:approve", "report:return", "report:approve"} <= actions


def test_grundsaetzliche_change_creates_a_notice_ordinary_does_not(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, coord = world
    with inst.db.write() as s:
        p = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026,
                                   topic="Begegnung", goal="Teilhabe")  # fmt: skip
        plans.add_subgoal(s, fk, p.id, title="x", field="SRO", indicator="manual", target=1)
        plan_id = p.id
        plans.submit_plan(s, fk, plan_id, now=NOW)
        plans.approve_plan(s, coord, plan_id, now=NOW)
    with inst.db.write() as s:
        plans.update_plan(s, fk, plan_id, topic="Begegnung im Quartier", goal="Teilhabe",
                          why="Kleinere Anpassung", now=NOW)  # fmt: skip
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PlanNotice)) == 0
    with inst.db.write() as s:
        plans.update_plan(s, fk, plan_id, topic="Gesundheit", goal="Zugang zu Ärzten",
                          why="Neue Zielgruppe", fundamental=True, now=NOW)  # fmt: skip
    with inst.db.read() as s:
        (notice,) = notices.list_notices(s, fk, "essen", open_only=True)
        pdf = notices.notice_pdf(s, fk, notice.id)
        docx = notices.notice_docx(s, coord, notice.id)
        assert notices.list_notices(s, other) == []
        with pytest.raises(NotFound):
            notices.notice_pdf(s, other, notice.id)
        assert plans.plans_for(s, fk, "essen", 2026)[0].open_notices == 1
    assert notice.plan_version == 3 and notice.due_on == date(2026, 2, 16)
    assert any("Thema geändert" in c for c in notice.changes)
    assert pdf.startswith(b"%PDF")
    text = "\n".join(p.text for p in Docx(io.BytesIO(docx)).paragraphs)
    assert "Neue Zielgruppe" in text and "Bezirksregierung Arnsberg" in text
    with pytest.raises(Forbidden):
        notices.mark_sent(inst, coord, notice.id, date(2026, 2, 5))
    sent = notices.mark_sent(inst, fk, notice.id, date(2026, 2, 5))
    assert sent.sent_on == date(2026, 2, 5) and sent.evidence_id is not None
    with pytest.raises(Conflict):
        notices.mark_sent(inst, fk, notice.id, date(2026, 2, 6))
    with inst.db.read() as s:
        assert s.get(Evidence, sent.evidence_id).media_type == "application/pdf"
        assert notices.list_notices(s, fk, open_only=True) == []


def test_outside_the_agencys_fields_needs_a_reason_and_is_flagged(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, coord = world
    with inst.db.write() as s:
        p = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026,
                                   topic="T", goal="G")  # fmt: skip
        plan_id = p.id
        with pytest.raises(InvalidInput) as err:  # Essen works in IKÖ, SRO, BE -- not ADA
            plans.add_subgoal(s, fk, plan_id, title="Workshops", field="ADA",
                              indicator="occurrences", target=3)  # fmt: skip
        assert err.value.params["field"] == "Begründung Handlungsfeld"
        with pytest.raises(InvalidInput):
            plans.create_activity(
                s,
                fk,
                ActivitySpec(
                    agency_slug="essen",
                    funding_year=2026,
                    title="Workshop",
                    type="Workshop",
                    field="ADA",
                ),
            )
    with inst.db.write() as s:
        plans.add_subgoal(s, fk, plan_id, title="Workshops", field="ADA",
                          indicator="occurrences", target=3,
                          off_field_reason="Vorfall an der Schule, Absprache mit KI")  # fmt: skip
        act = plans.create_activity(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                title="Workshop",
                type="Workshop",
                field="ADA",
                off_field_reason="Einmalig auf Bitte der Schule",
            ),
        )
        assert act.off_field_reason
        plans.add_subgoal(s, fk, plan_id, title="Treffpunkt", field="SRO",
                          indicator="manual", target=1, off_field_reason="überflüssig")  # fmt: skip
    with inst.db.read() as s:
        (view,) = plans.list_plans(s, coord, 2026)
        flagged = approvals.queue(s, coord, 2026).off_field_activities
    assert flagged == [("IA Essen", "Workshop", "ADA", "Einmalig auf Bitte der Schule")]
    assert view.off_field == ["Teilziel „Workshops“ (ADA): Vorfall an der Schule, Absprache mit KI"]
    assert view.subgoals[1].off_field_reason == ""  # a reason inside the fields is not kept


def test_personnel_change_warns_when_it_would_precede_consent(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, other, coord = world
    today = date(2026, 3, 1)
    with inst.db.write() as s:
        hire = personnel.add_change(s, fk, agency_slug="essen", kind="neueinstellung",
                                    planned_on=date(2026, 4, 1), requested_on=date(2026, 2, 1),
                                    today=today)  # fmt: skip
        late = personnel.add_change(s, fk, agency_slug="essen", kind="aufstockung",
                                    planned_on=date(2026, 3, 20), today=today)  # fmt: skip
        notify = personnel.add_change(s, fk, agency_slug="essen", kind="reduzierung",
                                      planned_on=date(2026, 5, 1), today=today)  # fmt: skip
        with pytest.raises(InvalidInput):  # a notifiable change has no consent
            personnel.add_change(s, fk, agency_slug="essen", kind="vakanz",
                                 planned_on=date(2026, 5, 1),
                                 consent_on=date(2026, 4, 1))  # fmt: skip
        with pytest.raises(NotFound):
            personnel.set_dates(s, other, hire.id, requested_on=date(2026, 2, 1),
                                consent_on=date(2026, 3, 1))  # fmt: skip
    assert hire.needs_consent and "Zustimmung steht aus" in hire.warning
    assert hire.due == date(2026, 2, 18)
    assert "Antrag überfällig" in late.warning  # due 06.02., not requested
    assert notify.warning == "" and notify.due == date(2026, 5, 1)
    with inst.db.write() as s:
        after = personnel.set_dates(s, fk, hire.id, requested_on=date(2026, 2, 1),
                                    consent_on=date(2026, 4, 15), today=today)  # fmt: skip
        assert "vor der Zustimmung wirksam" in after.warning
        ok = personnel.set_dates(s, fk, hire.id, requested_on=date(2026, 2, 1),
                                 consent_on=date(2026, 3, 15), today=today)  # fmt: skip
        assert ok.warning == ""
    with inst.db.read() as s:
        seen = personnel.list_changes(s, coord, today=date(2026, 3, 25))
        assert personnel.list_changes(s, other) == []
    by_kind = {c.kind: c for c in seen}
    assert "nachträgliche Zustimmung ist nicht möglich" in by_kind["aufstockung"].warning


def test_reference_agencies_are_the_handbooks_and_their_demo_plans_follow_their_fields(
    inst: Installation,
) -> None:
    assert len(DISTRICT_AGENCIES) == 13
    by_slug = {a.slug: a for a in DISTRICT_AGENCIES}
    assert by_slug["self-i-essen"].carrier == BEZIRKSVERBAND
    assert by_slug["self-i-essen"].fields == ("BE", "IKÖ")
    assert by_slug["du-marxloh"].fields == ("BE", "IKÖ", "SRO", "ADA")
    assert by_slug["duesseldorf"].fields == ("IKÖ", "ADA", "BE")
    assert by_slug["meerbusch"].carrier == "AWO Kreisverband Mönchengladbach"
    assert all(a.carrier.startswith("AWO Kreisverband ") for a in DISTRICT_AGENCIES
               if a.slug != "self-i-essen")  # fmt: skip
    assert {a.privacy_law for a in DISTRICT_AGENCIES} == {"DSGVO"}
    with inst.db.write() as s:
        for ref in DISTRICT_AGENCIES:
            agency = Agency(slug=ref.slug, name=ref.name, carrier=ref.carrier, city=ref.city,
                            fields=list(ref.fields))  # fmt: skip
            s.add(agency)
            s.flush()
            needs = instruments.analyses(s, agency, [2025, 2026])
            served = instruments.plans(s, agency, 2026, "submitted", needs[2026])
            for kind, goals in served.items():
                field = instruments.activity_field(agency, kind)
                assert field in ref.fields
                assert goals, (ref.slug, kind)
    with inst.db.read() as s:
        rows = s.execute(
            select(Agency.slug, Agency.fields, SubGoal.field, TaskPlan.fields)
            .join(TaskPlan, TaskPlan.agency_id == Agency.id)
            .join(SubGoal, SubGoal.task_plan_id == TaskPlan.id)
        ).all()
    for slug, agency_fields, goal_field, fields_of_plan in rows:
        assert goal_field in agency_fields, (slug, goal_field)
        assert fields_of_plan == [goal_field]
    covered = {(slug, goal_field) for slug, _a, goal_field, _p in rows}
    assert covered == {(a.slug, f) for a in DISTRICT_AGENCIES for f in a.fields}


def _png(colour: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 20), colour).save(out, format="PNG")
    return out.getvalue()


def test_plan_exports_use_the_templates_valid_on_their_date_and_warn(world) -> None:  # type: ignore[no-untyped-def]
    from ia_events.planning import plan_export, templates

    inst, fk, other, _coord = world
    admin = Actor("admin", Role.admin)
    with inst.db.write() as s:
        p = plans.create_task_plan(
            s, fk, agency_slug="essen", funding_year=2026, topic="Begegnung", goal="Teilhabe",
            reason="Kaum Treffpunkte", target_group="Frauen", financing="Landesmittel",
        )  # fmt: skip
        plans.add_subgoal(s, fk, p.id, title="40 Frauen", field="SRO",
                          indicator="distinct_persons", target=40, methods="Nähcafé")  # fmt: skip
        plan_id = p.id
        with pytest.raises(Forbidden):
            templates.add_template(s, fk, kind="logo_awo", title="x", valid_from=date(2025, 1, 1),
                                   filename="x.png", content=_png("red"))  # fmt: skip
        with pytest.raises(InvalidInput):  # a logo must be an image
            templates.add_template(s, admin, kind="logo_awo", title="x",
                                   valid_from=date(2025, 1, 1), filename="x.pdf",
                                   content=PDF)  # fmt: skip
        for kind in templates.LOGOS:
            templates.add_template(s, admin, kind=kind, title=f"{kind} 2025",
                                   valid_from=date(2025, 1, 1), filename="a.png",
                                   content=_png("red"))  # fmt: skip
        templates.add_template(s, admin, kind="form_plan", title="Vordruck 2025",
                               valid_from=date(2025, 1, 1), filename="v.docx",
                               content=b"v1")  # fmt: skip
        templates.add_template(s, admin, kind="logo_ministry", title="Ministerium neu",
                               valid_from=date(2026, 1, 1), filename="b.png",
                               content=_png("blue"))  # fmt: skip
    with inst.db.read() as s:
        current = plan_export.export(s, fk, plan_id, "pdf", on=date(2026, 3, 1),
                                     today=date(2026, 3, 1))  # fmt: skip
        old = plan_export.export(s, fk, plan_id, "docx", on=date(2025, 12, 1),
                                 today=date(2026, 3, 1))  # fmt: skip
        before_any = templates.for_document(s, on=date(2024, 6, 1), today=date(2026, 3, 1))
        with pytest.raises(NotFound):
            plan_export.export(s, other, plan_id, "pdf", on=date(2026, 3, 1),
                               today=date(2026, 3, 1))  # fmt: skip
        ministry = [t for t in templates.list_templates(s, fk) if t.kind == "logo_ministry"]
    assert current.content.startswith(b"%PDF") and current.warnings == []
    assert old.filename.endswith(".docx") and len(old.warnings) == 1
    assert "seit 01.01.2026 gilt eine neuere" in old.warnings[0]
    doc = Docx(io.BytesIO(old.content))
    cells = {r.cells[0].text: r.cells[1].text for r in doc.tables[0].rows}
    assert cells["Anlass/Begründung"] == "Kaum Treffpunkte" and cells["Zielgruppe"] == "Frauen"
    assert any("Methoden: Nähcafé" in p.text for p in doc.paragraphs)
    assert len(doc.inline_shapes) == 3  # the three logos valid on 01.12.2025
    assert len(before_any.warnings) == 4 and not before_any.used
    assert [t.title for t in ministry] == ["Ministerium neu", "logo_ministry 2025"]


def test_sachbericht_has_a_part_per_aufgabe_with_the_self_evaluation_questions(world) -> None:  # type: ignore[no-untyped-def]
    inst, fk, _other, _coord = world
    with inst.db.write() as s:
        for topic, title in (("Treffpunkte", "Nähcafé"), ("Öffnung", "Infoabende")):
            p = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026,
                                       topic=topic, goal="g")  # fmt: skip
            plans.add_subgoal(s, fk, p.id, title=title, field="SRO", indicator="manual",
                              target=2)  # fmt: skip
    with inst.db.read() as s:
        d = activity_report.draft(s, fk, "essen", 2026, inst.keys.fingerprint())
    assert [(x.aufgabe, x.goal.title) for x in d.sections] == [
        ("Treffpunkte", "Nähcafé"), ("Öffnung", "Infoabende"),
    ]  # fmt: skip
    assert d.topic == "Treffpunkte · Öffnung"
    _, _, body = activity_report.export(inst, fk, "essen", 2026, "docx")
    text = [p.text for p in Docx(io.BytesIO(body)).paragraphs]
    assert "Aufgabe: Treffpunkte" in text and "Aufgabe: Öffnung" in text
    assert text.count(activity_report.SELF_EVALUATION[0]) == 2
    assert activity_report.PLAIN_LANGUAGE in text


def test_analysis_on_an_old_raster_and_a_notice_without_logos_are_pointed_out(world) -> None:  # type: ignore[no-untyped-def]
    from ia_events.planning import templates

    inst, fk, _other, coord = world
    admin = Actor("admin", Role.admin)
    analysis_id, _n1, _n2 = _analysis_with_two_needs(inst, fk)  # on "Raster 2025"
    with inst.db.write() as s:
        templates.add_template(s, admin, kind="raster_sra", title="Raster 2026",
                               valid_from=date(2020, 1, 1), filename="r.xlsx",
                               content=b"raster")  # fmt: skip
        p = plans.create_task_plan(s, fk, agency_slug="essen", funding_year=2026,
                                   topic="T", goal="G")  # fmt: skip
        plans.add_subgoal(s, fk, p.id, title="x", field="SRO", indicator="manual", target=1)
        plans.submit_plan(s, fk, p.id, now=NOW)
        plan_id = p.id
    with inst.db.write() as s:
        plans.update_plan(s, fk, plan_id, topic="T2", goal="G", why="neu", fundamental=True,
                          now=NOW)  # fmt: skip
    with inst.db.read() as s:
        view = analyses.analysis_by_id(s, coord, analysis_id)
        (notice,) = notices.list_notices(s, fk)
        warnings = notices.template_warnings(s, fk, notice.id, date(2026, 2, 3))
    assert any("nicht das aktuelle („Raster 2026“)" in m for m in view.missing_points)
    assert len(warnings) == 3 and all("keine gültige Fassung" in w for w in warnings)
    with inst.db.write() as s:
        for kind in templates.LOGOS:
            templates.add_template(s, admin, kind=kind, title=kind, valid_from=date(2026, 1, 1),
                                   filename="l.png", content=_png("green"))  # fmt: skip
    with inst.db.read() as s:
        assert notices.template_warnings(s, fk, notice.id, date(2026, 2, 3)) == []
        assert notices.notice_pdf(s, fk, notice.id).startswith(b"%PDF")
