"""Funding sources and multipliers on a real database (SQLite file and PostgreSQL): amounts
in cents, the carrier's 10 % own share, the over-assignment warning, tenancy, bad input,
the multipliers' count and indicator, and the district's controlling table."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from ia_events.core.access import Actor
from ia_events.core.errors import Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    ActivityCost,
    AuditEvent,
    FundingShare,
    Multiplier,
    Role,
    Shift,
    ShiftAssignment,
    TaskPlan,
    activity_subgoals,
)
from ia_events.network import funding, multipliers, partners
from ia_events.planning import plans
from ia_events.reporting import controlling, progress
from ia_events.volunteers import registry
from tests.factories import World, build
from tests.integration.test_cli import ia

LAND = "Integrationsagentur-Förderung (Land NRW)"
OWN = "Eigenanteil des Trägers"
NOTE = "Spende von Frau Erika Spendabel-Test"


@pytest.fixture
def world(inst: Installation) -> tuple[Installation, World]:
    return inst, build(inst, year=2025)


def _activity(inst: Installation, agency_id: int) -> int:
    with inst.db.read() as s:
        found = s.scalar(select(Activity.id).where(Activity.agency_id == agency_id))
    assert found is not None
    return found


def _shares(inst: Installation) -> int:
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(FundingShare)) or 0


def test_sources_amounts_own_share_and_over_assignment(world: tuple[Installation, World]) -> None:
    inst, w = world
    fk, act = w.fk_essen, _activity(inst, w.essen)
    with inst.db.write() as s:
        funding.add_funding(s, inst.keys, fk, act, source=LAND, amount="1.234,50")
        funding.add_funding(s, inst.keys, fk, act, source="Aktion Mensch", amount=Decimal("500"))
        funding.add_funding(s, inst.keys, fk, act, source="Spenden", note=NOTE)  # no amount
        own = funding.add_funding(s, inst.keys, fk, act, source=OWN, amount="100").id
    with inst.db.read() as s:
        sealed = s.scalar(select(FundingShare.note_enc).where(FundingShare.source == "Spenden"))
        assert sealed and b"Erika" not in sealed
        view = funding.activity_funding(s, inst.keys, fk, act)
        assert [(x.source, x.amount_cents) for x in view.lines] == [
            (LAND, 123450),
            ("Aktion Mensch", 50000),
            ("Spenden", None),
            (OWN, 10000),
        ]
        assert view.lines[2].note == NOTE and view.assigned_cents == 183450
        assert not view.over_assigned  # no total cost stated: nothing to compare with
        # The coordinator reads the figures, but not the donor's name.
        assert funding.activity_funding(s, inst.keys, w.coordinator, act).lines[2].note == ""
        ov = funding.overview(s, fk, "essen", w.year)
    assert ov.total_cents == 183450 and ov.own_share_cents == 10000
    assert ov.required_own_share_cents == 18345 and ov.own_share_met is False  # 5,45 %

    # Raise the own share to exactly 10 % of the new total: met.
    with inst.db.write() as s:
        funding.remove_funding(s, fk, own)
        funding.add_funding(s, inst.keys, fk, act, source=OWN, amount="192,72")
    with inst.db.read() as s:
        ov = funding.overview(s, fk, "essen", w.year)
    assert (ov.total_cents, ov.own_share_cents) == (192722, 19272)
    assert ov.own_share_cents * 10 < ov.total_cents  # 19272 < 19272,2: still below
    assert ov.own_share_met is False
    with inst.db.write() as s:
        funding.add_funding(s, inst.keys, fk, act, source=OWN, amount="0,02")
    with inst.db.read() as s:
        ov = funding.overview(s, fk, "essen", w.year)
    assert ov.own_share_met is True and ov.own_share_cents == 19274

    # A stated total cost below what is assigned: the same costs financed twice.
    with inst.db.write() as s:
        funding.set_total_cost(s, fk, act, "1.500")
    with inst.db.read() as s:
        view = funding.activity_funding(s, inst.keys, fk, act)
        ov = funding.overview(s, fk, "essen", w.year)
    assert view.total_cost_cents == 150000 and view.over_assigned
    assert view.excess_cents == 192724 - 150000
    assert [a.activity_id for a in ov.over_assigned] == [act]
    assert ov.as_json()["over_assigned_activity_ids"] == [act]
    with inst.db.write() as s:
        funding.set_total_cost(s, fk, act, "2.000,00")
    with inst.db.read() as s:
        assert not funding.activity_funding(s, inst.keys, fk, act).over_assigned
    with inst.db.write() as s:
        funding.set_total_cost(s, fk, act, "")
    with inst.db.read() as s:
        assert s.get(ActivityCost, act) is None

    # Audit events: ids, source codes and cents -- never the note.
    with inst.db.read() as s:
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type.in_(("funding", "activity_cost")))
                .order_by(AuditEvent.seq)
            )
        )
    assert [e.action for e in events].count("funding:add") == 6
    assert [e.action for e in events].count("funding:cost") == 3
    assert events[0].details["amount_cents"] == 123450 and events[0].details["source"] == "state"
    assert "Erika" not in json.dumps([e.details for e in events], ensure_ascii=False)


def test_bad_input_is_refused_with_a_german_sentence_and_changes_nothing(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    fk, act = w.fk_essen, _activity(inst, w.essen)
    for kw in (
        {"source": "Lotto", "amount": "100"},  # not in the fixed list
        {"source": LAND, "amount": "-100"},
        {"source": LAND, "amount": "0"},
        {"source": LAND, "amount": "12,345"},  # a tenth of a cent
        {"source": LAND, "amount": "99.999.999"},  # absurd for one activity
        {"source": LAND, "amount": "viel"},
        {"source": LAND, "amount": 12.5},  # money is never a float
        {"source": LAND, "amount": "100", "note": "Bad\x1b[31m"},
    ):
        with inst.db.write() as s, pytest.raises(InvalidInput) as err:
            funding.add_funding(s, inst.keys, fk, act, **kw)  # type: ignore[arg-type]
        assert err.value.message().startswith("Bitte prüfen Sie das Feld")
    with inst.db.write() as s, pytest.raises(InvalidInput):
        funding.set_total_cost(s, fk, act, "-5")
    assert _shares(inst) == 0
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ActivityCost)) == 0
        assert (s.scalar(select(func.count()).where(AuditEvent.object_type == "funding")) or 0) == 0


def test_tenancy_another_agencys_activity_reads_as_unknown(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    essen_act, kleve_act = _activity(inst, w.essen), _activity(inst, w.kleve)
    with inst.db.write() as s:
        kleve_share = funding.add_funding(
            s, inst.keys, w.fk_kleve, kleve_act, source=OWN, amount="50"
        ).id
    refusals = [
        (
            lambda s: funding.add_funding(s, inst.keys, w.fk_essen, kleve_act, source=OWN),
            NotFound,
        ),
        (lambda s: funding.remove_funding(s, w.fk_essen, kleve_share), NotFound),
        (lambda s: funding.set_total_cost(s, w.fk_essen, kleve_act, "10"), NotFound),
        (lambda s: funding.activity_funding(s, inst.keys, w.fk_essen, kleve_act), NotFound),
        (lambda s: funding.overview(s, w.fk_essen, "kleve", w.year), NotFound),
        (lambda s: funding.add_funding(s, inst.keys, w.fk_essen, 999999, source=OWN), NotFound),
        # The coordinator reads, but edits no agency's funding.
        (
            lambda s: funding.add_funding(s, inst.keys, w.coordinator, essen_act, source=OWN),
            Forbidden,
        ),
    ]
    for call, error in refusals:
        with inst.db.write() as s, pytest.raises(error):
            call(s)
    assert _shares(inst) == 1
    with inst.db.read() as s:
        assert funding.overview(s, w.coordinator, "kleve", w.year).own_share_cents == 5000
        assert funding.overview(s, w.fk_essen, "essen", w.year).total_cents == 0


def _worked(inst: Installation, w: World, volunteer_id: int) -> None:
    """The volunteer worked a shift at Essen's held Nähcafé."""
    start = datetime(w.year, 3, 3, 9, tzinfo=UTC)
    with inst.db.write() as s:
        shift = Shift(
            occurrence_id=w.occurrence,
            agency_id=w.essen,
            role="Aufbau",
            starts_at=start,
            ends_at=start.replace(hour=11),
        )
        s.add(shift)
        s.flush()
        s.add(
            ShiftAssignment(
                shift_id=shift.id,
                volunteer_id=volunteer_id,
                agency_id=w.essen,
                status="checked_out",
                checked_in_at=start,
                checked_out_at=start.replace(hour=11),
            )
        )


def test_multipliers_are_marked_counted_and_measured_on_a_sub_goal(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    fk, act = w.fk_essen, _activity(inst, w.essen)
    with inst.db.write() as s:
        vols = [
            registry.add_volunteer(
                s, inst.keys, fk, w.essen, name=n, consent_at=date(2025, 1, 2)
            ).id
            for n in ("Ayşe Multi-Test", "Bernd Nur-Helfer", "Carla Später-Test")
        ]
        pid = partners.create_partner(
            s, inst.keys, fk, agency_slug="essen", name="Elternverein", type="Verein"
        ).id
        other = partners.create_partner(
            s, inst.keys, fk, agency_slug="essen", name="Sportverein", type="Verein"
        ).id
        chair = partners.add_contact(s, inst.keys, fk, pid, name="Frau Vorsitz", role="Vorsitz").id
        coach = partners.add_contact(s, inst.keys, fk, other, email="trainer@sv.example").id
        partners.link_partner(s, fk, pid, act)
        plan_id = s.scalar(select(TaskPlan.id).where(TaskPlan.agency_id == w.essen))
        assert plan_id is not None
        goal = plans.add_subgoal(
            s, fk, plan_id, title="Multiplikator*innen gewinnen", field="BE",
            indicator="multipliers", target=3,
        ).id  # fmt: skip
        s.execute(activity_subgoals.insert().values(activity_id=act, subgoal_id=goal))
    _worked(inst, w, vols[0])
    _worked(inst, w, vols[1])
    with inst.db.write() as s:
        assert multipliers.mark_volunteer(s, fk, vols[0], since=date(2024, 5, 1)) is True
        assert multipliers.mark_volunteer(s, fk, vols[0], since=date(2024, 5, 1)) is False
        multipliers.mark_volunteer(s, fk, vols[2], since=date(2026, 2, 1))  # counts from 2026
        multipliers.mark_partner_contact(s, fk, chair)
        multipliers.mark_partner_contact(s, fk, coach, since=date(2025, 6, 1))
    with inst.db.read() as s:
        m = multipliers.marks(s, fk, w.essen)
        assert set(m["volunteer"]) == {vols[0], vols[2]} and set(m["contact"]) == {chair, coach}
        assert m["volunteer"][vols[0]].since == date(2024, 5, 1)
        (data,) = controlling.figures(s, fk, w.year, "essen")
        goals = {g.id: g for g in progress.progress_for_agency(s, w.essen, w.year)}
    assert data.rows[0].multipliers == 3  # Ayşe, Elternverein, Sportverein; Carla from 2026
    assert all(r.multipliers is None for r in data.rows[1:])
    # On the sub-goal: Ayşe worked there, the Elternverein cooperates; Bernd is no
    # multiplier and the Sportverein works on nothing of the sub-goal.
    assert goals[goal].actual == 2

    with inst.db.write() as s:
        assert multipliers.mark_volunteer(s, fk, vols[0], multiplier=False) is True
    with inst.db.read() as s:
        assert controlling.figures(s, fk, w.year, "essen")[0].rows[0].multipliers == 2
        assert controlling.figures(s, fk, 2026, "essen")[0].rows[0].multipliers == 3
    # Tenancy and permissions: Kleve's staff cannot mark Essen's people; a bad date.
    for call, error in (
        (lambda s: multipliers.mark_volunteer(s, w.fk_kleve, vols[1]), NotFound),
        (lambda s: multipliers.mark_partner_contact(s, w.fk_kleve, chair, False), NotFound),
        (lambda s: multipliers.mark_volunteer(s, w.coordinator, vols[1]), Forbidden),
        (
            lambda s: multipliers.mark_volunteer(s, fk, vols[1], since=date(1900, 1, 1)),
            InvalidInput,
        ),
        (lambda s: multipliers.mark_volunteer(s, fk, 999999), NotFound),
    ):
        with inst.db.write() as s, pytest.raises(error):
            call(s)
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Multiplier)) == 3
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.object_type == "multiplier")))
    assert [e.action for e in events].count("multiplier:set") == 4
    assert "Ayşe" not in json.dumps([e.details for e in events], ensure_ascii=False)


def _funded(inst: Installation, w: World) -> None:
    """Essen: 1.000 € Land, 100 € own share; Kleve: 2.000,50 € KOMM-AN, 150 € own share."""
    essen, kleve = _activity(inst, w.essen), _activity(inst, w.kleve)
    with inst.db.write() as s:
        funding.add_funding(s, inst.keys, w.fk_essen, essen, source=LAND, amount="1000")
        funding.add_funding(s, inst.keys, w.fk_essen, essen, source=OWN, amount="100")
        funding.add_funding(s, inst.keys, w.fk_kleve, kleve, source="KOMM-AN NRW", amount="2000,5")
        funding.add_funding(s, inst.keys, w.fk_kleve, kleve, source=OWN, amount="150")


def test_controlling_funding_columns_and_the_district_sum(
    world: tuple[Installation, World], tmp_path: Path
) -> None:
    inst, w = world
    _funded(inst, w)
    land, komm, own = (
        controlling.JSON_KEYS.index(k)
        for k in ("funding_state", "funding_komm_an", "funding_own_share")
    )
    total_i = controlling.JSON_KEYS.index("funding_total")
    with inst.db.read() as s:
        data = controlling.figures(s, w.coordinator, w.year)
    by_slug = {a.slug: a for a in data}
    essen = by_slug["essen"].rows[0]
    assert essen.row()[land] == Decimal("1000") and essen.row()[own] == Decimal("100")
    assert essen.row()[total_i] == Decimal("1100")
    be = next(r for r in by_slug["essen"].rows if r.level == "Handlungsfeld" and r.key == "BE")
    assert be.funding_total_cents == 110000  # the Nähcafé is a BE activity

    whole = controlling.district(data, w.year)
    assert (whole.slug, whole.name) == ("bezirk", "Bezirk gesamt")
    total = whole.rows[0]
    for name in ("participants", "occurrences", "activities", "partners", "multipliers"):
        assert getattr(total, name) == sum(getattr(a.rows[0], name) for a in data), name
    assert total.funding_total_cents == 110000 + 215050
    assert total.row()[komm] == Decimal("2000.50") and total.row()[own] == Decimal("250")
    assert [r.level for r in whole.rows] == ["Gesamt", "Handlungsfeld"]  # BE of both

    # The CLI without --agency: each agency as with --agency, plus "district".
    data_dir, url, year = inst.settings.data_dir, inst.settings.database_url, str(w.year)
    got = json.loads(ia(data_dir, "controlling", "--year", year, "--json", url=url).stdout)
    assert [a["agency"] for a in got["agencies"]] == ["essen", "kleve"]
    one = json.loads(
        ia(data_dir, "controlling", "--agency", "essen", "--year", year, "--json", url=url).stdout
    )
    assert got["agencies"][0]["rows"] == one["rows"]
    assert one["rows"][0]["funding_own_share"] == 100 and one["rows"][0]["funding_total"] == 1100
    district_total = got["district"]["rows"][0]
    assert got["district"]["agency"] == "bezirk" and district_total["funding_total"] == 3250.5
    for key in ("participants", "occurrences", "funding_komm_an", "funding_own_share"):
        assert district_total[key] == sum(a["rows"][0][key] for a in got["agencies"]), key

    # CSV: the district's rows at the end; XLSX: the district's sheet first.
    csv_file, xlsx_file = tmp_path / "all.csv", tmp_path / "all.xlsx"
    ia(
        data_dir,
        "controlling",
        "--year",
        year,
        "--csv",
        str(csv_file),
        "--xlsx",
        str(xlsx_file),
        url=url,
    )
    lines = list(csv.reader(io.StringIO(csv_file.read_text("utf-8-sig")), delimiter=";"))
    assert lines[0][2:] == controlling.HEADERS
    bezirk = [r for r in lines[1:] if r[0] == "bezirk"]
    assert lines[-len(bezirk) :] == bezirk and bezirk[0][2] == "Gesamt"
    assert bezirk[0][2 + total_i] == "3250,5"  # decimal comma, a German number
    wb = load_workbook(xlsx_file)
    assert wb.sheetnames == ["Bezirk gesamt", "essen", "kleve"]
    first = [c.value for c in wb["Bezirk gesamt"][3]]
    assert first[0] == "Gesamt" and first[total_i] == pytest.approx(3250.5)
    # A specialist's export of "every agency she reaches" has no district table.
    _, _, body = controlling.export(inst, w.fk_essen, w.year, "xlsx")
    assert load_workbook(io.BytesIO(body)).sheetnames == ["essen"]


def test_demo_has_funding_and_multipliers(demo_inst: Installation) -> None:
    coord = Actor("koordination", Role.coordinator)
    with demo_inst.db.read() as s:
        year = s.scalar(select(func.max(Activity.funding_year)))
        assert year is not None
        data = controlling.figures(s, coord, year)
        slugs = [a.slug for a in data]
        views = {slug: funding.overview(s, coord, slug, year) for slug in slugs}
        marked = s.scalar(select(func.count()).select_from(Multiplier)) or 0
    assert len(views) == 13 and all(v.total_cents > 0 for v in views.values())
    below = [slug for slug, v in views.items() if not v.own_share_met]
    assert len(below) == 1
    assert any(v.over_assigned for v in views.values())
    assert marked >= 13
    # The district table sums the network work too.
    whole = controlling.district(data, year).rows[0]
    for name in ("meetings", "processes", "counselling_cases", "lendings", "funding_total_cents"):
        per_agency = [getattr(a.rows[0], name) for a in data]
        assert getattr(whole, name) == sum(per_agency), name
    assert whole.meetings > 0
