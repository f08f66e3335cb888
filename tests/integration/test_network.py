"""The partner directory and the controlling table on a real database (SQLite file and
PostgreSQL): partners, links to activities, tenancy, the CLI's JSON, and the same
controlling numbers in JSON, CSV and XLSX."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from ia_events.core.access import Actor
from ia_events.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    AuditEvent,
    ParticipantCard,
    Partner,
    PartnerContact,
    Role,
    partner_activities,
)
from ia_events.network import partners
from ia_events.planning import plans
from ia_events.planning.activities import ActivitySpec
from ia_events.reporting import controlling
from tests.factories import World, build
from tests.integration.test_cli import ia

CONTACT = "Frau Amira Testkontakt-Netzwerk, 0201 123456"


@pytest.fixture
def world(inst: Installation) -> tuple[Installation, World]:
    return inst, build(inst, year=2025)


def _activity(inst: Installation, w: World, slug: str = "essen") -> int:
    with inst.db.read() as s:
        agency_id = w.essen if slug == "essen" else w.kleve
        found = s.scalar(select(Activity.id).where(Activity.agency_id == agency_id))
    assert found is not None
    return found


def _add(inst: Installation, actor: Actor, slug: str, name: str, type: str, **kw: str) -> int:
    with inst.db.write() as s:
        return partners.create_partner(
            s, inst.keys, actor, agency_slug=slug, name=name, type=type, **kw
        ).id


def _links(inst: Installation) -> int:
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(partner_activities)) or 0


def test_partner_directory_create_edit_link_archive(world: tuple[Installation, World]) -> None:
    inst, w = world
    fk = w.fk_essen
    pid = _add(inst, fk, "essen", "KI Essen", "Kommunales Integrationszentrum", contact=CONTACT)
    jc = _add(inst, fk, "essen", "Jobcenter Essen-Mitte", "Jobcenter", place="Essen")
    activity = _activity(inst, w)

    # The contact person is sealed: not in the row as text, readable for the agency's staff.
    with inst.db.read() as s:
        sealed = s.scalar(select(PartnerContact.name_enc).where(PartnerContact.partner_id == pid))
        assert sealed and CONTACT.encode() not in sealed and b"Amira" not in sealed
        assert [c.name for c in partners.list_contacts(s, inst.keys, fk, pid)] == [CONTACT]
        assert partners.list_contacts(s, inst.keys, fk, jc) == []

    with inst.db.write() as s:
        assert partners.link_partner(s, fk, pid, activity) is True
        assert partners.link_partner(s, fk, jc, activity) is True
    with inst.db.write() as s:
        assert partners.link_partner(s, fk, pid, activity) is False  # already linked
    assert _links(inst) == 2

    with inst.db.read() as s:
        rows = partners.list_partners(s, fk, "essen")
    assert [(r.name, r.type, r.activity_ids) for r in rows] == [
        ("Jobcenter Essen-Mitte", "Jobcenter", [activity]),
        ("KI Essen", "Kommunales Integrationszentrum", [activity]),
    ]

    with inst.db.write() as s:
        partners.update_partner(s, fk, pid, name="KI Stadt Essen", type="Politik/Verwaltung")
    with inst.db.read() as s:
        assert {r.name for r in partners.list_partners(s, fk, "essen")} == {
            "KI Stadt Essen",
            "Jobcenter Essen-Mitte",
        }

    with inst.db.write() as s:
        partners.unlink_partner(s, fk, jc, activity)
        partners.archive_partner(s, fk, jc)
    with inst.db.read() as s:
        assert [r.id for r in partners.list_partners(s, fk, "essen")] == [pid]
        archived = partners.list_partners(s, fk, "essen", include_archived=True)
        assert {r.id: r.archived for r in archived} == {pid: False, jc: True}
    with inst.db.write() as s, pytest.raises(Conflict):
        partners.link_partner(s, fk, jc, activity)  # archived: no new cooperation

    # Audit events carry ids, never a name or the contact.
    with inst.db.read() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.object_type == "partner")))
    assert [e.action for e in events] == [
        "partner:add",
        "partner:add",
        "partner:link",
        "partner:link",
        "partner:change",
        "partner:unlink",
        "partner:archive",
    ]
    dumped = json.dumps([e.details for e in events], ensure_ascii=False)
    assert "KI" not in dumped and "Amira" not in dumped and "Jobcenter" not in dumped


def test_bad_input_is_refused_and_changes_nothing(world: tuple[Installation, World]) -> None:
    inst, w = world
    fk = w.fk_essen
    _add(inst, fk, "essen", "Verein Zusammen e. V.", "Verein")
    for kw, error in (
        ({"name": "  ", "type": "Verein"}, InvalidInput),
        ({"name": "Firma X", "type": "Firma"}, InvalidInput),  # not in the fixed list
        ({"name": "Bad\x1b[31m", "type": "Verein"}, InvalidInput),
        ({"name": "verein  zusammen e. v.", "type": "Verein"}, Conflict),  # duplicate
    ):
        with inst.db.write() as s, pytest.raises(error):
            partners.create_partner(s, inst.keys, fk, agency_slug="essen", **kw)
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Partner)) == 1


def test_tenancy_another_agencys_partner_is_invisible_and_links_are_refused(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    essen_partner = _add(inst, w.fk_essen, "essen", "Moschee-Gemeinde", "Religionsgemeinschaft")
    kleve_partner = _add(inst, w.fk_kleve, "kleve", "Caritas Kleve", "Wohlfahrtsverband")
    essen_activity, kleve_activity = _activity(inst, w, "essen"), _activity(inst, w, "kleve")
    with inst.db.write() as s:
        partners.link_partner(s, w.fk_kleve, kleve_partner, kleve_activity)

    with inst.db.read() as s:
        # A specialist sees her own agency only, asked or not asked for the other.
        assert [p.id for p in partners.list_partners(s, w.fk_essen)] == [essen_partner]
        with pytest.raises(NotFound):
            partners.list_partners(s, w.fk_essen, "kleve")
        with pytest.raises(NotFound):
            partners.list_contacts(s, inst.keys, w.fk_essen, kleve_partner)
        # The coordinator reads every agency's partners, but edits none.
        assert {p.id for p in partners.list_partners(s, w.coordinator)} == {
            essen_partner,
            kleve_partner,
        }
    before = _links(inst)
    refusals = [
        (lambda s: partners.link_partner(s, w.fk_essen, essen_partner, kleve_activity), NotFound),
        (lambda s: partners.link_partner(s, w.fk_essen, kleve_partner, essen_activity), NotFound),
        (lambda s: partners.link_partner(s, w.fk_kleve, kleve_partner, essen_activity), NotFound),
        (lambda s: partners.unlink_partner(s, w.fk_essen, kleve_partner, kleve_activity), NotFound),
        (lambda s: partners.archive_partner(s, w.fk_essen, kleve_partner), NotFound),
        (
            lambda s: partners.update_partner(
                s, w.fk_essen, kleve_partner, name="X", type="Verein"
            ),
            NotFound,
        ),
        (
            lambda s: partners.link_partner(s, w.coordinator, essen_partner, essen_activity),
            Forbidden,
        ),
        (
            lambda s: partners.create_partner(
                s, inst.keys, w.fk_essen, agency_slug="kleve", name="X", type="Verein"
            ),
            NotFound,
        ),
        (lambda s: partners.link_partner(s, w.fk_essen, 999999, essen_activity), NotFound),
    ]
    for call, error in refusals:
        with inst.db.write() as s, pytest.raises(error):
            call(s)
    assert _links(inst) == before
    with inst.db.read() as s:
        assert s.scalar(select(Partner.name).where(Partner.id == kleve_partner)) == "Caritas Kleve"
        assert s.scalar(select(Partner.archived_at).where(Partner.id == kleve_partner)) is None
        assert s.scalar(select(func.count()).select_from(Partner)) == 2


def test_cli_lists_partners_as_json(world: tuple[Installation, World]) -> None:
    inst, w = world
    activity = _activity(inst, w)
    pid = _add(inst, w.fk_essen, "essen", "Grundschule Nord", "Schule/Kita", contact=CONTACT)
    _add(inst, w.fk_kleve, "kleve", "Tafel Kleve", "Verein")
    with inst.db.write() as s:
        partners.link_partner(s, w.fk_essen, pid, activity)
    data, url = inst.settings.data_dir, inst.settings.database_url
    rows = json.loads(ia(data, "list", "partners", "--agency", "essen", "--json", url=url).stdout)
    assert rows == [
        {"id": pid, "name": "Grundschule Nord", "type": "Schule/Kita", "activity_ids": [activity]}
    ]
    everyone = json.loads(ia(data, "list", "partners", "--json", url=url).stdout)
    assert {r["name"] for r in everyone} == {"Grundschule Nord", "Tafel Kleve"}
    unknown = ia(data, "list", "partners", "--agency", "nirgendwo", "--json", url=url, check=2)
    assert "nirgendwo" in unknown.stderr and unknown.stdout == ""
    assert "Amira" not in ia(data, "list", "partners", url=url).stdout


def _controlling_world(inst: Installation, w: World) -> tuple[int, int]:
    """Essen 2025: the factory's held Nähcafé (BE) plus an IKÖ activity on sub-goal 0;
    two partners on the Nähcafé, one of them also on the IKÖ activity."""
    year = w.year
    with inst.db.write() as s:
        ikoe = plans.create_activity(
            s,
            w.fk_essen,
            ActivitySpec(
                agency_slug="essen",
                funding_year=year,
                title="Behördenlotsen",
                type="Beratung",
                field="IKÖ",
                subgoal_ids=[w.subgoals[0]],
                off_field_reason="Test",
            ),
        ).id
        card = ParticipantCard(agency_id=w.essen, code="K-TEST-1")
        s.add(card)
        s.flush()
        base = {"agency_id": w.essen, "funding_year": year, "occurrence_id": w.occurrence}
        s.add_all(
            [
                Attendance(method="door_manual", name_index="a", **base),
                Attendance(method="self_qr", name_index="b", **base),
                Attendance(method="card_scan", card_id=card.id, **base),
                Attendance(method="headcount", count=7, **base),
            ]
        )
    nahcafe = _activity(inst, w)
    p1 = _add(inst, w.fk_essen, "essen", "Migrationsdienst", "Beratungsdienst/Migrationsfachdienst")
    p2 = _add(inst, w.fk_essen, "essen", "Frauenverein", "Migrantenselbstorganisation")
    kleve = _add(inst, w.fk_kleve, "kleve", "Kleve-Partner", "Sonstige")
    with inst.db.write() as s:
        partners.link_partner(s, w.fk_essen, p1, nahcafe)
        partners.link_partner(s, w.fk_essen, p2, nahcafe)
        partners.link_partner(s, w.fk_essen, p1, ikoe)
        partners.link_partner(s, w.fk_kleve, kleve, _activity(inst, w, "kleve"))
    return nahcafe, ikoe


def test_controlling_counts_activities_participants_and_partners(
    world: tuple[Installation, World],
) -> None:
    inst, w = world
    _controlling_world(inst, w)
    with inst.db.read() as s:
        (data,) = controlling.figures(s, w.fk_essen, w.year, "essen")
    rows = {(f.level, f.key): f for f in data.rows}
    total = rows[("Gesamt", "essen")]
    assert (total.activities, total.occurrences) == (2, 1)
    assert (total.participants, total.participants_named) == (10, 2)
    assert (total.participants_card, total.participants_counted) == (1, 7)
    assert total.distinct_persons == 3  # two names and a card; the headcount is nobody
    assert (total.partners, total.cooperations) == (2, 3)
    be, ikoe = rows[("Handlungsfeld", "BE")], rows[("Handlungsfeld", "IKÖ")]
    assert (be.activities, be.partners, be.cooperations, be.participants) == (1, 2, 2, 10)
    assert (ikoe.activities, ikoe.partners, ikoe.cooperations, ikoe.participants) == (1, 1, 1, 0)
    goal = rows[("Teilziel", str(w.subgoals[0]))]
    assert (goal.activities, goal.partners, goal.cooperations) == (1, 1, 1)
    # Kleve's partner does not count for Essen.
    with inst.db.read() as s:
        (kleve,) = controlling.figures(s, w.coordinator, w.year, "kleve")
    assert (kleve.rows[0].partners, kleve.rows[0].cooperations) == (1, 1)


def test_controlling_cli_same_numbers_in_json_csv_and_xlsx(
    world: tuple[Installation, World], tmp_path: Path
) -> None:
    inst, w = world
    _controlling_world(inst, w)
    data, url, year = inst.settings.data_dir, inst.settings.database_url, str(w.year)
    args = ("controlling", "--agency", "essen", "--year", year)
    got = json.loads(ia(data, *args, "--json", url=url).stdout)
    assert got["agency"] == "essen" and got["year"] == w.year
    assert set(got["rows"][0]) == set(controlling.JSON_KEYS)
    total = got["rows"][0]
    assert total["level"] == "Gesamt" and total["partners"] == 2 and total["activities"] == 2

    csv_file, xlsx_file = tmp_path / "c.csv", tmp_path / "c.xlsx"
    ia(data, *args, "--csv", str(csv_file), "--xlsx", str(xlsx_file), url=url)
    raw = csv_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for a German Excel
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][2:] == controlling.HEADERS
    csv_rows = [r[2:] for r in lines[1:]]
    sheet = load_workbook(xlsx_file)["essen"]
    xlsx_rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
    json_rows = got["rows"]
    assert len(csv_rows) == len(xlsx_rows) == len(json_rows) > 3

    numeric = [k for k in controlling.JSON_KEYS if k not in ("level", "key", "label", "indicator")]
    for j, c, x in zip(json_rows, csv_rows, xlsx_rows, strict=True):
        for key in numeric:
            i = controlling.JSON_KEYS.index(key)
            want = j[key]
            if want is None:
                assert c[i] == "" and x[i] in (None, ""), key
                continue
            assert float(c[i].replace(",", ".")) == pytest.approx(want), key
            assert x[i] == pytest.approx(want), key
        assert c[2] == x[2] == j["label"]
    # A bad agency or year is bad usage, with a message and no file.
    bad = ia(data, "controlling", "--agency", "essen", "--year", "1999", "--json", url=url, check=2)
    assert "--year" in bad.stderr
    unknown = ia(data, "controlling", "--agency", "nirgendwo", "--year", year, url=url, check=2)
    assert "nirgendwo" in unknown.stderr
    with inst.db.write() as s:
        s.get(Agency, w.kleve).active = False  # type: ignore[union-attr]
    gone = ia(data, "controlling", "--agency", "kleve", "--year", year, "--json", url=url, check=2)
    assert "nicht aktiv" in gone.stderr and gone.stdout == ""


def test_only_staff_of_the_agency_edit_partners(world: tuple[Installation, World]) -> None:
    inst, w = world
    volunteer = Actor("ehrenamt", Role.volunteer, agency_id=w.essen)
    with inst.db.write() as s, pytest.raises(Forbidden):
        partners.create_partner(
            s, inst.keys, volunteer, agency_slug="essen", name="X", type="Verein"
        )
    with inst.db.write() as s, pytest.raises(Forbidden):
        partners.create_partner(
            s, inst.keys, w.coordinator, agency_slug="essen", name="X", type="Verein"
        )


def test_demo_agencies_have_partners_of_several_types_linked_to_activities(
    demo_inst: Installation,
) -> None:
    coord = Actor("koordination", Role.coordinator)
    with demo_inst.db.read() as s:
        rows = partners.list_partners(s, coord, include_archived=True)
        year = s.scalar(select(func.max(Activity.funding_year)))
        assert year is not None
        figures = controlling.figures(s, coord, year, "essen")[0].rows[0]
    by_agency: dict[str, list[partners.PartnerView]] = {}
    for p in rows:
        by_agency.setdefault(p.agency_slug, []).append(p)
    assert len(by_agency) == 13
    for slug, found in by_agency.items():
        assert len({p.type for p in found}) >= 4, slug
        assert any(p.activity_ids for p in found), slug
        assert any(not p.activity_ids for p in found), slug
        assert any(p.archived for p in found), slug
    assert figures.partners > 0 and figures.cooperations >= figures.partners


def test_partners_indicator_counts_partner_records_and_old_names_once(
    world: tuple[Installation, World],
) -> None:
    from ia_events.core.models import TaskPlan
    from ia_events.reporting import progress

    inst, w = world
    with inst.db.write() as s:
        plan_id = s.scalar(select(TaskPlan.id).where(TaskPlan.agency_id == w.essen))
        assert plan_id is not None
        goal = plans.add_subgoal(
            s, w.fk_essen, plan_id, title="Kooperationen", field="BE", indicator="partners",
            target=4,
        )  # fmt: skip
        activity = plans.create_activity(
            s,
            w.fk_essen,
            ActivitySpec(
                agency_slug="essen",
                funding_year=w.year,
                title="Sprachcafé",
                type="Treff",
                field="BE",
                partners=["Jobcenter Essen", "Stadtbibliothek"],  # the old free text
                subgoal_ids=[goal.id],
                off_field_reason="Test",
            ),
        )
        goal_id, activity_id = goal.id, activity.id
    for name, kind in (
        ("Jobcenter Essen", "Jobcenter"),
        ("KI Essen", "Kommunales Integrationszentrum"),
    ):
        pid = _add(inst, w.fk_essen, "essen", name, kind)
        with inst.db.write() as s:
            partners.link_partner(s, w.fk_essen, pid, activity_id)
    with inst.db.read() as s:
        got = {g.id: g.actual for g in progress.subgoal_progress(s, w.fk_essen, "essen", w.year)}
    assert got[goal_id] == 3  # Jobcenter (record and text: once), KI, Stadtbibliothek


def test_duplicates_are_found_and_merged_into_one_partner(
    world: tuple[Installation, World],
) -> None:
    from ia_events.core.models import Multiplier
    from ia_events.network import multipliers

    inst, w = world
    fk = w.fk_essen
    awo = _add(inst, fk, "essen", "AWO Essen e.V.", "Wohlfahrtsverband", contact=CONTACT)
    twin = _add(inst, fk, "essen", "awo  essen", "Wohlfahrtsverband")
    typo = _add(inst, fk, "essen", "Jobcentre Essen", "Jobcenter")
    jc = _add(inst, fk, "essen", "Jobcenter Essen", "Jobcenter")
    _add(inst, fk, "essen", "Jobcenter Kleve", "Jobcenter")  # another place: not a duplicate
    other = _add(inst, w.fk_kleve, "kleve", "AWO Essen", "Wohlfahrtsverband")
    activity = _activity(inst, w)
    with inst.db.write() as s:
        partners.link_partner(s, fk, twin, activity)
        partners.link_partner(s, fk, awo, activity)  # both linked: one link after the merge
        twin_contact = partners.add_contact(s, inst.keys, fk, twin, name="Herr Zwilling").id
        multipliers.mark_partner_contact(s, fk, twin_contact)
        awo_contact = partners.list_contacts(s, inst.keys, fk, awo)[0].id
    with inst.db.read() as s:
        groups = partners.duplicate_groups(s, fk, "essen")
    assert [[p.id for p in g] for g in groups] == [[awo, twin], [typo, jc]]

    # Another agency's partner is unknown here, and nothing changes on a refusal.
    with pytest.raises(NotFound), inst.db.write() as s:
        partners.merge_partners(s, inst.keys, fk, awo, other)
    with pytest.raises(NotFound), inst.db.write() as s:
        partners.merge_partners(s, inst.keys, w.fk_kleve, other, twin)
    with pytest.raises(InvalidInput), inst.db.write() as s:
        partners.merge_partners(s, inst.keys, fk, awo, awo)
    assert _links(inst) == 2

    with inst.db.write() as s:
        partners.merge_partners(s, inst.keys, fk, awo, twin)
    with inst.db.read() as s:
        listed = {p.id: p for p in partners.list_partners(s, fk, "essen", include_archived=True)}
        assert listed[awo].activity_ids == [activity] and not listed[awo].archived
        assert listed[twin].archived and listed[twin].activity_ids == []
        mark = s.scalar(select(Multiplier.partner_contact_id))
        assert mark == twin_contact  # the mark moved with the contact person
        assert [c.id for c in partners.list_contacts(s, inst.keys, fk, awo)] == [
            awo_contact,
            twin_contact,
        ]
        assert [[p.id for p in g] for g in partners.duplicate_groups(s, fk, "essen")] == [
            [typo, jc]
        ]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "partner:merge")).one()
        assert event.object_id == str(awo) and "AWO" not in str(event.details)
    assert _links(inst) == 1
