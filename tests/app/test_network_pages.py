"""AppTest: the Netzwerk page lists the agency's partners, adds one, adds a contact
person and marks her, links a partner to an activity; the coordinator reads it without
the forms."""

from __future__ import annotations

from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    FundingShare,
    Multiplier,
    OpeningProcess,
    Partner,
    PartnerContact,
    partner_activities,
)
from tests.support import login

NAME = "Nachbarschaftsverein *Fett* [Link](http://x.example)"


def _open(at, page: str = "pages/network.py"):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return at.dataframe[0].value.to_dict("records")


def test_specialist_adds_a_partner_and_links_it(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app)
    assert [t.value for t in app.title] == ["Netzwerk"]
    before = _table(app)
    assert before and {"Name", "Art", "Angebote (Kooperationen)"} <= set(before[0])
    assert not any("Kleve" in r["Name"] for r in before)  # only her own agency

    fields = {t.label: t for t in app.text_input}
    fields["Name der Organisation"].input(NAME)
    fields["Ort"].input("Essen-Altendorf")
    fields["Name einer Kontaktperson (optional)"].input("Frau Vorstand-Apptest")
    next(s for s in app.selectbox if s.key == "net_add_type").set_value("Verein")
    next(b for b in app.button if b.label == "Partner speichern").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    row = next(r for r in _table(app) if r["Name"] == NAME)  # shown as typed, not as Markdown
    assert row["Art"] == "Verein" and row["Angebote (Kooperationen)"] == ""

    with app_env.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        partner = s.scalars(select(Partner).where(Partner.name == NAME)).one()
        assert partner.agency_id == essen
        sealed = s.scalar(
            select(PartnerContact.name_enc).where(PartnerContact.partner_id == partner.id)
        )
        assert sealed and b"Apptest" not in sealed
    assert row["Kontaktpersonen"] == 1
    partner_box = next(s for s in app.selectbox if s.key == "net_link_p")
    activity_box = next(s for s in app.selectbox if s.key == "net_link_a")
    partner_box.set_value(partner.id)
    with app_env.db.read() as s:
        naehcafe = s.scalar(
            select(Activity.id)
            .where(Activity.agency_id == essen, Activity.title == "Nähcafé")
            .order_by(Activity.funding_year.desc())
        )
    activity_box.set_value(naehcafe)
    next(b for b in app.button if b.label == "Verknüpfen").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    row = next(r for r in _table(app) if r["Name"] == NAME)
    assert "Nähcafé" in row["Angebote (Kooperationen)"]
    with app_env.db.read() as s:
        linked = s.scalars(
            select(partner_activities.c.activity_id).where(
                partner_activities.c.partner_id == partner.id
            )
        ).all()
    assert linked == [naehcafe]


def test_specialist_adds_a_contact_person_and_marks_her(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app)
    with app_env.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        partner = s.scalar(
            select(Partner.id)
            .where(Partner.agency_id == essen, Partner.archived_at.is_(None))
            .order_by(Partner.name)
        )
    assert partner is not None
    app.selectbox(key="net_c_p").set_value(partner).run()
    key = f"net_c_add_{partner}"
    app.text_input(key=f"{key}_name").input("Frau Kontakt *Apptest*")
    app.text_input(key=f"{key}_role").input("Integrationsbeauftragte")
    app.text_input(key=f"{key}_email").input("kontakt.apptest@partner.example")
    next(b for b in app.button if b.label == "Kontaktperson speichern").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    listed = next(
        d.value.to_dict("records") for d in app.dataframe if "Funktion" in d.value.columns
    )
    row = next(r for r in listed if r["Name"] == "Frau Kontakt *Apptest*")  # as typed
    assert row["Funktion"] == "Integrationsbeauftragte"
    assert row["E-Mail"] == "kontakt.apptest@partner.example"
    with app_env.db.read() as s:
        contact = s.scalars(
            select(PartnerContact)
            .where(PartnerContact.partner_id == partner)
            .order_by(PartnerContact.id.desc())
        ).first()
        assert contact is not None and contact.role == "Integrationsbeauftragte"
        assert contact.email_enc and b"apptest" not in contact.email_enc

    # A contact person without a name and without a mailbox is refused in German.
    app.text_input(key=f"{key}_role").input("Leitung")
    next(b for b in app.button if b.label == "Kontaktperson speichern").click().run()
    assert any("Funktionspostfach" in e.value for e in app.error)

    # Marked as Multiplikator*in.
    app.selectbox(key="net_mult_pick").set_value(contact.id).run()
    app.checkbox(key=f"net_mult_flag_{contact.id}").check()
    app.button(key="net_mult_save").click().run()
    assert not app.exception
    with app_env.db.read() as s:
        assert s.scalar(select(Multiplier.id).where(Multiplier.partner_contact_id == contact.id))


def test_coordinator_reads_partners_without_forms(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app)
    assert _table(app)
    labels = {b.label for b in app.button}
    assert "Partner speichern" not in labels and "Verknüpfen" not in labels
    assert "Kontaktperson speichern" not in labels
    assert "Kontaktpersonen" in _table(app)[0]  # how many, never who


def test_a_partner_without_a_name_is_refused_and_nothing_saved(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app)
    with app_env.db.read() as s:
        before = len(s.scalars(select(Partner.id)).all())
    next(b for b in app.button if b.label == "Partner speichern").click().run()
    assert not app.exception
    assert any("Name" in e.value for e in app.error), [e.value for e in app.error]
    with app_env.db.read() as s:
        assert len(s.scalars(select(Partner.id)).all()) == before


def test_specialist_records_a_facharbeitskreis_and_counselling_cases(
    app, app_env: Installation
) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from ia_events.core.models import CounsellingCount, NetworkMeeting

    login(app, "fk-essen")
    _open(app)
    assert [t.label for t in app.tabs][:4] == [
        ":material/handshake: Partner",
        ":material/groups: Sitzungen",
        ":material/route: Prozesse & Beratung",
        ":material/inventory_2: Verleih",
    ]
    metric = next(m for m in app.metric if m.label.startswith("Facharbeitskreise"))
    before = int(metric.value.split()[0])
    title = "AK *Vielfalt* [x](http://x.example)"
    app.text_input(key="net_m_title").input(title)
    app.date_input(key="net_m_on").set_value(date(date.today().year, 1, 20))
    app.text_area(key="net_m_agenda").input("1. Bericht\n2. Planung")
    next(b for b in app.button if b.label == "Sitzung speichern").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    metric = next(m for m in app.metric if m.label.startswith("Facharbeitskreise"))
    assert int(metric.value.split()[0]) == before + 1
    with app_env.db.read() as s:
        meeting = s.scalars(select(NetworkMeeting).where(NetworkMeeting.title == title)).one()
        assert meeting.kind == "Facharbeitskreis" and meeting.agenda == "1. Bericht\n2. Planung"
    rows = next(
        d for d in app.dataframe if "Titel" in d.value.columns and "Protokoll" in d.value.columns
    )
    assert title in list(rows.value["Titel"])  # as typed, not as Markdown

    with app_env.db.read() as s:
        cases_before = sum(s.scalars(select(CounsellingCount.cases)).all())
    app.number_input(key="net_k_cases").set_value(3)
    app.selectbox(key="net_k_kind").set_value("Behinderung")
    next(b for b in app.button if b.label == "Fälle erfassen").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        assert sum(s.scalars(select(CounsellingCount.cases)).all()) == cases_before + 3


def test_coordinator_reads_network_work_without_forms(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app)
    labels = {b.label for b in app.button}
    assert not labels & {"Sitzung speichern", "Fälle erfassen", "Verleih speichern"}
    assert any(m.label.startswith("Facharbeitskreise") for m in app.metric)


def test_near_duplicate_partners_are_offered_for_merging(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    from ia_events.core.access import Actor
    from ia_events.core.models import Role
    from ia_events.network import partners

    with app_env.db.write() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        fk = Actor("fk-essen", Role.specialist, agency_id=essen)
        first = partners.create_partner(
            s,
            app_env.keys,
            fk,
            agency_slug="essen",
            name="Kulturverein Doppelt e.V.",
            type="Verein",
        ).id
        second = partners.create_partner(
            s, app_env.keys, fk, agency_slug="essen", name="Kulturverein  doppelt", type="Verein"
        ).id
    login(app, "fk-essen")
    _open(app)
    box = next(e for e in app.expander if e.label.startswith("Mögliche doppelte Einträge"))
    assert any("Kulturverein  doppelt" in t.value for t in box.text)
    next(
        b for b in app.button if b.label == "Zu „Kulturverein Doppelt e.V.“ zusammenführen"
    ).click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert [s.value for s in app.success] == ["Zusammengeführt."]
    with app_env.db.read() as s:
        archived = dict(
            s.execute(
                select(Partner.id, Partner.archived_at).where(Partner.id.in_([first, second]))
            ).all()
        )
    assert archived[first] is None and archived[second] is not None


def test_specialist_funds_an_opening_process(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app)
    with app_env.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        year, process = s.execute(
            select(OpeningProcess.funding_year, OpeningProcess.id)
            .where(OpeningProcess.agency_id == essen)
            .order_by(OpeningProcess.id)
        ).one()
    app.selectbox(key="ui_year_picker").set_value(year).run()
    app.session_state["net_procs"] = {"selection": {"rows": [0], "columns": []}}
    app.run()
    assert not app.exception, app.exception
    app.selectbox(key=f"fund_src_p{process}").set_value("Stadtteilfonds")
    app.text_input(key=f"fund_amount_p{process}").input("250,50")
    next(b for b in app.button if b.label == "Quelle speichern").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        shares = s.execute(
            select(FundingShare.source, FundingShare.amount_cents).where(
                FundingShare.process_id == process, FundingShare.source == "Stadtteilfonds"
            )
        ).all()
    assert shares == [("Stadtteilfonds", 25_050)]
