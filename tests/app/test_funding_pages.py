"""AppTest: funding sources on an activity (Angebote & Termine), the agency-year's
overview with the 10 % own share (Berichte → Finanzierung), the district's table for the
coordinator, and marking Multiplikator*innen (Ehrenamt, Netzwerk)."""

from __future__ import annotations

from sqlalchemy import func, select

from ia_events.core.installation import Installation
from ia_events.core.models import (
    Agency,
    FundingShare,
    Multiplier,
    Partner,
    PartnerContact,
    Volunteer,
)
from tests.support import login, texts


def _open(at, page: str):  # type: ignore[no-untyped-def]
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _shares(inst: Installation, activity_id: int) -> list[tuple[str, int | None]]:
    with inst.db.read() as s:
        return [
            (src, cents)
            for src, cents in s.execute(
                select(FundingShare.source, FundingShare.amount_cents)
                .where(FundingShare.activity_id == activity_id)
                .order_by(FundingShare.id)
            )
        ]


def test_specialist_adds_a_funding_source_to_an_activity(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/activities.py")
    activity_id = app.selectbox(key="act_pick").value
    before = _shares(app_env, activity_id)

    # A negative amount: a German sentence, nothing saved.
    amount = next(t for t in app.text_input if t.label == "Betrag (EUR, optional)")
    amount.input("-50")
    app.selectbox(key=f"fund_src_{activity_id}").set_value("Aktion Mensch")
    _button(app, "Quelle speichern").click().run()
    assert not app.exception
    assert any("negativ" in e.value for e in app.error), [e.value for e in app.error]
    assert _shares(app_env, activity_id) == before

    amount = next(t for t in app.text_input if t.label == "Betrag (EUR, optional)")
    amount.input("1.234,50")
    app.selectbox(key=f"fund_src_{activity_id}").set_value("Aktion Mensch")
    _button(app, "Quelle speichern").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert _shares(app_env, activity_id) == [*before, ("Aktion Mensch", 123450)]
    tables = [d.value.to_dict("records") for d in app.dataframe]
    rows = [r for t in tables for r in t if r.get("Quelle") == "Aktion Mensch"]
    assert any(r["Betrag"] == "1.234,50 €" for r in rows), rows


def test_reports_show_the_own_share_against_ten_percent(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-wesel-moers")
    _open(app, "pages/reports.py")
    shown = texts(app)
    assert "Eigenanteil" in shown and "nicht erfüllt" in shown


def test_essen_sees_its_own_share_met_and_the_over_assignment(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/reports.py")
    shown = texts(app)
    assert "– erfüllt." in shown
    assert "dieselben Kosten sind mehreren Quellen zugeordnet" in shown
    tables = [d.value.to_dict("records") for d in app.dataframe]
    assert any(
        r.get("Quelle") == "Eigenanteil des Trägers" and r["Betrag"].endswith(" €")
        for t in tables
        for r in t
    )


def test_coordinator_sees_the_district_table(app) -> None:  # type: ignore[no-untyped-def]
    login(app, "koordination")
    _open(app, "pages/reports.py")
    assert "Bezirk gesamt" in [h.value for h in app.subheader]
    labels = {b.label for b in app.button}
    assert "Quelle speichern" not in labels


def test_specialist_marks_a_volunteer_and_a_partner_contact(app, app_env: Installation) -> None:  # type: ignore[no-untyped-def]
    login(app, "fk-essen")
    _open(app, "pages/volunteers.py")
    with app_env.db.read() as s:
        essen = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        marked = set(
            s.scalars(
                select(Multiplier.volunteer_id).where(
                    Multiplier.agency_id == essen, Multiplier.volunteer_id.is_not(None)
                )
            )
        )
        person = s.scalar(
            select(func.max(Volunteer.id)).where(
                Volunteer.agency_id == essen, Volunteer.id.not_in(marked or {0})
            )
        )
    assert person is not None
    app.selectbox(key="vo_mult_pick").set_value(person).run()
    app.checkbox(key=f"vo_mult_flag_{person}").check()
    app.button(key="vo_mult_save").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        assert s.scalar(select(Multiplier.id).where(Multiplier.volunteer_id == person))

    _open(app, "pages/network.py")
    with app_env.db.read() as s:
        contact, partner = s.execute(
            select(PartnerContact.id, PartnerContact.partner_id)
            .join(Partner, Partner.id == PartnerContact.partner_id)
            .outerjoin(Multiplier, Multiplier.partner_contact_id == PartnerContact.id)
            .where(
                Partner.agency_id == essen,
                Partner.archived_at.is_(None),
                Multiplier.id.is_(None),
            )
            .order_by(PartnerContact.id)
        ).first()
    app.selectbox(key="net_c_p").set_value(partner).run()
    app.selectbox(key="net_mult_pick").set_value(contact).run()
    app.checkbox(key=f"net_mult_flag_{contact}").check()
    app.button(key="net_mult_save").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    with app_env.db.read() as s:
        assert s.scalar(select(Multiplier.id).where(Multiplier.partner_contact_id == contact))
