"""A specialist creates a weekly Nähcafé series under a new sub-goal, sees it in the
calendar and in the sub-goal's progress; a calendar app fetches the iCal feed over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import icalendar
import pytest
from sqlalchemy import func, select

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin, fmt_month
from ia_events.core.models import Activity, Occurrence, Role
from storage.db import utcnow
from tests.browser.conftest import pick_option, served_data_dir, ui_login, wait_ready
from tests.conftest import make_settings

pytestmark = pytest.mark.browser


def test_specialist_creates_weekly_series_and_sees_progress(page, shared_server) -> None:  # type: ignore[no-untyped-def]
    ui_login(page, shared_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
    wait_ready(page)

    # 1. A measurable sub-goal: 30 Nähcafé dates held.
    page.get_by_role("link", name="Planung", exact=True).click()
    wait_ready(page)
    page.get_by_text("Teilziele anlegen und ändern").click()
    form = page.locator('[data-testid="stForm"]').filter(has_text="Neues Teilziel")
    form.get_by_label("Teilziel", exact=True).fill("30 Termine Nähcafé Nord")
    form.get_by_label("Zielwert").fill("30")
    indicator = form.get_by_role("combobox", name=re.compile("Messgröße"))
    # Centre it first: at the viewport's bottom edge the list opened off-screen.
    indicator.evaluate("e => e.scrollIntoView({block: 'center'})")
    # Pick from the open list (typing to filter raced Streamlit's search under load).
    pick_option(page, indicator, "durchgeführte Termine")
    form.get_by_label("Grund der Anpassung (nötig, sobald eingereicht)").fill("Neuer Standort Nord")
    form.get_by_role("button", name="Teilziel hinzufügen").click()
    page.get_by_text("Teilziel angelegt.").wait_for()
    wait_ready(page)

    # 2. A weekly series under it, beginning four weeks ago.
    page.get_by_role("link", name="Angebote & Termine").click()
    wait_ready(page)
    page.get_by_role("tab", name="Neues Angebot").click()
    # The rhythm first: it reruns the page and shows only the weekly fields.
    page.get_by_text("wöchentlich / alle n Wochen").click()
    wait_ready(page)
    form = page.locator('[data-testid="stForm"]').filter(has_text="Angebot anlegen")
    form.get_by_label("Alle … Wochen").wait_for()
    form.get_by_label("Titel").fill("Nähcafé Nord")
    form.locator('[data-testid="stMultiSelect"]').filter(has_text="Teilziele").click()
    page.get_by_role("option", name=re.compile("30 Termine Nähcafé Nord")).click()
    page.keyboard.press("Escape")
    today = berlin(utcnow()).date()
    first = max(today - timedelta(days=28), today.replace(month=1, day=1))
    # The date field is a row of spin buttons (day, month, year) that take typed digits.
    form.get_by_role("spinbutton", name="day, Erster Termin").click()
    page.keyboard.type(first.strftime("%d%m%Y"))
    page.keyboard.press("Tab")
    spin = form.get_by_role("spinbutton", name="day, Erster Termin")
    assert spin.get_attribute("aria-valuenow") == str(first.day)
    form.get_by_role("button", name="Angebot anlegen").click()
    page.get_by_text(re.compile("Angebot „Nähcafé Nord“ angelegt")).wait_for()
    wait_ready(page)

    inst = Installation.open(make_settings(served_data_dir(shared_server)))
    try:
        with inst.db.read() as s:
            activity_id = s.scalar(select(Activity.id).where(Activity.title == "Nähcafé Nord"))
            held = s.scalar(
                select(func.count())
                .select_from(Occurrence)
                .where(
                    Occurrence.activity_id == activity_id,
                    Occurrence.status == "scheduled",
                    Occurrence.starts_at <= utcnow(),
                )
            )
    finally:
        inst.close()
    assert activity_id is not None and held >= 1

    # 3. In the calendar (week view of today's week, or month view) ...
    page.get_by_role("tab", name="Kalender", exact=True).click()
    page.get_by_text("Monat", exact=True).first.click()
    wait_ready(page)
    assert page.get_by_text(re.compile("Nähcafé Nord")).count() >= 1
    calendar = page.locator(".st-key-act_cal")
    previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    page.get_by_role("button", name="Zurück").click()
    page.get_by_role("heading", name=fmt_month(previous)).wait_for()
    page.get_by_role("button", name="Heute").click()
    page.get_by_role("heading", name=fmt_month(today)).wait_for()
    wait_ready(page)
    entry = calendar.get_by_role("button", name=re.compile("Nähcafé Nord")).first
    # Titles wrap between words, never inside one.
    assert entry.locator("p").evaluate("e => getComputedStyle(e).wordBreak") == "normal"
    # A click opens the date: evidence for it is one more click away, preselected.
    entry.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Nähcafé Nord").first.wait_for()
    dialog.get_by_role("button", name="Nachweis hochladen").click()
    page.get_by_role("heading", name="Nachweise").wait_for()
    page.get_by_text(re.compile("Termin vorausgewählt: Nähcafé Nord")).wait_for()
    wait_ready(page)

    # 4. ... and in the sub-goal's progress.
    page.get_by_role("link", name="Planung", exact=True).click()
    wait_ready(page)
    page.get_by_text("Teilziele: Stand").wait_for()
    page.get_by_text(re.compile(rf"30 Termine Nähcafé Nord .*: {held} von 30")).wait_for()


def test_ical_feed_is_served_over_http_and_revocable(shared_server) -> None:  # type: ignore[no-untyped-def]
    from ia_events.planning import calendar_feeds

    inst = Installation.open(make_settings(served_data_dir(shared_server)))
    try:
        with inst.db.read() as s:
            from ia_events.core.models import Agency

            agency_id = s.scalar(select(Agency.id).where(Agency.slug == "essen"))
        fk = Actor("fk-essen", Role.specialist, agency_id=agency_id)
        with inst.db.write() as s:
            feed = calendar_feeds.create_feed(s, fk, "essen", "occurrences")
            deadlines_feed = calendar_feeds.create_feed(s, fk, "essen", "deadlines")
        url = calendar_feeds.feed_url(shared_server, feed.token)
        response = httpx.get(url, timeout=20)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(response.content)
        events = list(cal.walk("VEVENT"))
        assert any("Nähcafé" in str(e["SUMMARY"]) for e in events)
        assert any(str(e.get("STATUS")) == "CANCELLED" for e in events)  # the demo's cancelled date
        assert cal.walk("VTIMEZONE")  # Europe/Berlin travels with the feed

        dl = httpx.get(calendar_feeds.feed_url(shared_server, deadlines_feed.token), timeout=20)
        assert dl.status_code == 200
        assert any(
            "Frist:" in str(e["SUMMARY"])
            for e in icalendar.Calendar.from_ical(dl.content).walk("VEVENT")
        )

        with inst.db.write() as s:
            calendar_feeds.revoke_feed(s, fk, feed.id)
        assert httpx.get(url, timeout=20).status_code == 404
        assert httpx.get(f"{shared_server}/ical/not-a-token.ics", timeout=20).status_code == 404
    finally:
        inst.close()
