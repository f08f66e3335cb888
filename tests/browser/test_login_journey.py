"""A specialist logs in, sees her overview, stays logged in across a reload, logs out."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ui_login, wait_ready

pytestmark = pytest.mark.browser


def test_login_overview_reload_logout(page, shared_server):  # type: ignore[no-untyped-def]
    page.goto(shared_server + "/")
    wait_ready(page)
    # Nothing of any agency before a login.
    assert (
        "Integrationsagentur Essen"
        not in page.locator("section.main, [data-testid='stMain']").inner_text()
    )

    ui_login(page, shared_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht – Integrationsagentur Essen")).wait_for()
    wait_ready(page)
    assert "Teilziele" in page.content()
    page.get_by_text(re.compile("^Demo-Installation: Alle Daten sind erfunden")).wait_for()

    page.reload()
    wait_ready(page)
    page.get_by_role("heading", name=re.compile("Übersicht – Integrationsagentur Essen")).wait_for()

    page.get_by_role("link", name="Konto").click()
    wait_ready(page)
    page.get_by_role("button", name="Abmelden", exact=True).click()
    page.get_by_role("heading", name="Anmelden").wait_for()
    page.reload()
    wait_ready(page)
    page.get_by_role("heading", name="Anmelden").wait_for()


def test_wrong_password_is_refused(page, shared_server):  # type: ignore[no-untyped-def]
    ui_login(page, shared_server, "fk-essen", "falsches-Passwort-123")
    page.get_by_text(re.compile("^Benutzername oder Passwort ist falsch")).wait_for()
    assert page.get_by_role("heading", name="Anmelden").is_visible()
    assert "Übersicht" not in page.get_by_role("heading").all_inner_texts()


def test_a_hand_off_link_sent_to_someone_else_logs_nobody_in(browser, page, shared_server):  # type: ignore[no-untyped-def]
    """Login CSRF: the attacker logs in, stops before the hand-off and sends the
    link to a victim; the victim's browser must not end up in the attacker's account."""
    links: list[str] = []

    def stop(route):  # type: ignore[no-untyped-def]
        links.append(route.request.url)
        route.abort()

    page.route(re.compile(r".*/auth/session\?code=.*"), stop)
    ui_login(page, shared_server, "fk-essen")
    page.wait_for_timeout(500)
    for _ in range(40):
        if links:
            break
        page.wait_for_timeout(250)
    assert links, "the login did not go to the hand-off"
    victim_ctx = browser.new_context(locale="de-DE")
    victim = victim_ctx.new_page()
    try:
        victim.goto(links[0])
        wait_ready(victim)
        victim.get_by_role("heading", name="Anmelden").wait_for()
        assert "ia_session" not in {c["name"] for c in victim_ctx.cookies()}
        victim.reload()
        wait_ready(victim)
        assert "Übersicht" not in " ".join(victim.get_by_role("heading").all_inner_texts())
    finally:
        victim_ctx.close()


def test_metrics_are_off_and_media_links_need_a_login(browser, page, shared_server):  # type: ignore[no-untyped-def]
    import httpx

    assert httpx.get(f"{shared_server}/_stcore/metrics", timeout=20).status_code == 404
    ui_login(page, shared_server, "fk-essen")
    page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
    page.goto(f"{shared_server}/checkin_door")
    wait_ready(page)
    page.get_by_role("tab", name="Drucken").click()  # the QR for paper is there
    qr = page.locator("img[src*='/media/']").first
    qr.wait_for()
    src = qr.get_attribute("src") or ""
    url = src if src.startswith("http") else shared_server + src
    assert page.request.get(url).status == 200  # the logged-in browser sees it
    # The same link outside the session: refused, and nothing of the file.
    outside = httpx.get(url, timeout=20)
    assert outside.status_code == 403 and b"PNG" not in outside.content


_WORD_LINES = """(word) => {
  const h = document.querySelector('h1');
  const walker = document.createTreeWalker(h, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const at = n.textContent.indexOf(word);
    if (at < 0) continue;
    const r = document.createRange();
    r.setStart(n, at);
    r.setEnd(n, at + word.length);
    return new Set(Array.from(r.getClientRects()).map((b) => Math.round(b.top))).size;
  }
  return -1;
}"""


def test_page_title_keeps_long_words_whole_on_a_phone(phone, shared_server):  # type: ignore[no-untyped-def]
    ui_login(phone, shared_server, "fk-essen")
    phone.get_by_role(
        "heading", name=re.compile("Übersicht – Integrationsagentur Essen")
    ).wait_for()
    wait_ready(phone)
    # One line for the word: a title broken mid-word ("Integrationsagent|ur") is hard to read.
    assert phone.evaluate(_WORD_LINES, "Integrationsagentur") == 1
