"""ia-events web app: login, role-based navigation, and the plain HTTP routes.

Started with ``streamlit run streamlit_app.py``. Streamlit finds ``app``
below (an ``st.App`` with our routes) and serves it with uvicorn; the part
under ``if __name__ == "__main__"`` is the script run for every browser
session: it identifies the user and builds the navigation from the role.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware
from streamlit.runtime.pages_manager import PagesManager

from ia_events.web.guard import StreamlitEndpointGuard
from ia_events.web.routes import routes


@asynccontextmanager
async def _startup(_app):  # type: ignore[no-untyped-def]
    """At server start: initialise (first start) and, while there is no account,
    print the one-time setup code on the console."""
    from ia_events.accounts.users import ensure_setup_token
    from ia_events.archive.fixity import recover_uploads
    from ia_events.core.installation import shared
    from ia_events.inspection.bundle import clear_stale_exports

    ensure_setup_token(shared())
    clear_stale_exports(shared())
    recover_uploads(shared())  # leftovers of an upload a crash interrupted (waits for live ones)
    # E-mail notifications: one sending thread per server process (guarded inside); safe
    # beside cron's `ia-events notify` and other replicas, as claims are locked.
    from ia_events.notify.delivery import start_background

    start_background(shared)
    _start_sealing()
    yield


@st.cache_resource(show_spinner=False)
def _start_sealing() -> bool:
    """Once per process: the daemon thread that seals ended occurrences' participant
    lists every few minutes (attendance/sealing.py; IA_EVENTS_SEAL_INTERVAL_MINUTES)."""
    from ia_events.attendance.sealing import ensure_background
    from ia_events.core.installation import shared

    return ensure_background(shared()) is not None


# The guard closes /_stcore/metrics and serves /media/… only with a login (web/guard.py).
app = st.App(
    "streamlit_app.py",
    routes=routes(),
    lifespan=_startup,
    middleware=[Middleware(StreamlitEndpointGuard)],
)

# Until the first st.navigation call in a process, Streamlit 1.67 treats a folder
# named pages/ as an old-style multipage app: a deep link (a volunteer's QR link)
# as a fresh server's first request would show the raw file list and a blank page.
# We navigate with st.navigation only, so switch that mode off from the start.
PagesManager.uses_pages_directory = False


def _pages_for(role: str) -> dict[str, list[st.Page]]:
    overview = st.Page("pages/overview.py", title="Übersicht", icon=":material/home:", default=True)
    account = st.Page("pages/account.py", title="Konto", icon=":material/person:")
    if role == "admin":
        return {
            "": [overview],
            "Verwaltung": [
                st.Page("pages/users.py", title="Benutzer", icon=":material/group:"),
                st.Page("pages/system.py", title="System", icon=":material/shield:"),
                st.Page("pages/retention.py", title="Aufbewahrung", icon=":material/inventory_2:"),
                st.Page("pages/templates.py", title="Vorlagen & Logos", icon=":material/image:"),
                st.Page("pages/audit_log.py", title="Audit-Log", icon=":material/history:"),
            ],
            "Ich": [account],
        }
    if role == "coordinator":
        return {
            "": [overview],
            "Koordination": [
                st.Page("pages/approvals.py", title="Freigaben", icon=":material/task_alt:"),
                st.Page("pages/planning.py", title="Planung (Freigabe)", icon=":material/flag:"),
                st.Page("pages/network.py", title="Netzwerk", icon=":material/hub:"),
                st.Page("pages/deadlines.py", title="Fristen", icon=":material/alarm:"),
                st.Page(
                    "pages/changes.py", title="Mitteilungen & Personal", icon=":material/mail:"
                ),
                st.Page("pages/evidence.py", title="Nachweise", icon=":material/folder_open:"),
                st.Page("pages/inspection.py", title="Prüfung", icon=":material/fact_check:"),
                st.Page(
                    "pages/reports.py", title="Berichte & Controlling", icon=":material/bar_chart:"
                ),
                st.Page("pages/retention.py", title="Aufbewahrung", icon=":material/inventory_2:"),
                st.Page("pages/audit_log.py", title="Audit-Log", icon=":material/history:"),
            ],
            "Ich": [account],
        }
    if role == "volunteer":  # phone first: own shifts, QR check-in, own hours
        return {
            "": [
                st.Page(
                    "pages/my_shifts.py",
                    title="Meine Einsätze",
                    icon=":material/volunteer_activism:",
                    default=True,
                ),
                st.Page(
                    "pages/volunteer_checkin.py",
                    title="Check-in",
                    icon=":material/qr_code_scanner:",
                    url_path="volunteer_checkin",
                ),
                st.Page(
                    "pages/my_certificate.py", title="Mein Nachweis", icon=":material/description:"
                ),
                account,
            ]
        }
    door = st.Page(
        "pages/checkin_door.py",
        title="Check-in",
        icon=":material/qr_code_scanner:",
        url_path="checkin_door",
    )
    plan_pages = {
        "Planung": [
            st.Page("pages/analysis.py", title="Sozialraumanalyse", icon=":material/explore:"),
            st.Page("pages/planning.py", title="Planung", icon=":material/flag:"),
            st.Page(
                "pages/activities.py", title="Angebote & Termine", icon=":material/calendar_month:"
            ),
            st.Page("pages/network.py", title="Netzwerk", icon=":material/hub:"),
            st.Page("pages/volunteers.py", title="Ehrenamt", icon=":material/diversity_3:"),
            st.Page("pages/evidence.py", title="Nachweise", icon=":material/folder_open:"),
            st.Page("pages/reports.py", title="Berichte", icon=":material/bar_chart:"),
            st.Page("pages/inspection.py", title="Prüfung", icon=":material/fact_check:"),
            st.Page("pages/deadlines.py", title="Fristen", icon=":material/alarm:"),
            st.Page("pages/changes.py", title="Mitteilungen & Personal", icon=":material/mail:"),
        ]
    }
    return {
        "": [overview],
        **(plan_pages if role == "specialist" else {}),
        "An der Tür": [door],
        "Ich": [account],
    }


def _login_pages(render) -> list[st.Page]:  # type: ignore[no-untyped-def]
    """Logged out, every page's address shows the login (a deep link such as a
    volunteer's QR link keeps its address and query, and works after login)."""
    paths = {
        page.url_path
        for role in ("specialist", "volunteer", "coordinator", "admin")
        for section in _pages_for(role).values()
        for page in section
    }
    aliases = [
        st.Page(render, title="Anmelden", url_path=path, visibility="hidden")
        for path in sorted(paths - {""})
    ]
    return [st.Page(render, title="Anmelden", icon=":material/login:", default=True), *aliases]


def _identify():  # type: ignore[no-untyped-def]
    """The logged-in actor, from this browser session or the HttpOnly cookie."""
    from ia_events.accounts import users
    from pages._ui import inst, sso_configured

    installation = inst()
    for token in (st.session_state.get("auth_token"), st.context.cookies.get("ia_session")):
        actor = users.resolve(installation, token)
        if actor is not None:
            st.session_state["auth_token"] = token
            return actor
    if sso_configured() and getattr(st.user, "is_logged_in", False):
        login = users.login_external(installation, str(st.user.get("email") or ""))
        if login is not None:
            st.session_state["auth_token"] = login.token
            return login.actor
    return None


def main() -> None:
    st.set_page_config(page_title="ia-events", page_icon=":material/diversity_3:", layout="wide")
    from pages._ui import guard, style

    # On a phone Streamlit's 2.75rem page title broke long German words mid-word
    # ("Integrationsagent|ur Essen"); a smaller title keeps them whole.
    style("@media (max-width: 640px) { h1 { font-size: 1.9rem !important; } }")

    with guard(stop=True):
        actor = _identify()
    if actor is None:
        st.session_state.pop("actor", None)
        if st.query_params.get("t"):  # a volunteer QR link opened before logging in
            st.session_state["volunteer_checkin_token"] = st.query_params["t"]
        from pages import login

        st.navigation(_login_pages(login.render), position="hidden").run()
        return
    st.session_state["actor"] = actor
    with st.sidebar:
        st.caption("Angemeldet als")
        st.text(actor.label)  # a user-chosen name: never read as Markdown
    from ia_events.accounts import users
    from pages._ui import demo_banner, demo_installation, inst

    if users.must_change_password(inst(), actor):
        # A temporary password set by an admin opens nothing but the Konto page.
        st.warning("Bitte vergeben Sie zuerst ein eigenes Passwort.")
        page = st.navigation([st.Page("pages/account.py", title="Konto", icon=":material/person:")])
    else:
        # One flat list, in section order: Streamlit's sectioned sidebar puts each section
        # as a <div> inside the <ul> of links, which screen readers and axe-core reject
        # as a broken list (WCAG 1.3.1; axe "list"/"listitem", serious).
        sections = _pages_for(str(actor.role))
        # expanded=True: with more than twelve pages Streamlit would hide the rest behind
        # "View more" (the specialist has thirteen); nobody should have to look for Konto.
        page = st.navigation([p for section in sections.values() for p in section], expanded=True)
    if demo_installation():  # after st.navigation, so it belongs to every page's run
        demo_banner()
    with guard():
        page.run()


if __name__ == "__main__":
    main()
