"""Plain HTTP routes served beside Streamlit (``st.App(..., routes=routes())``).

These are entry points like pages: parse the request, call a service, answer.
They see no ``st.session_state`` and get no XSRF protection from Streamlit,
so each protects itself; nothing is recorded on a bare GET.

- ``GET /auth/prepare?next=/path``  set the browser's random login cookie
  (``ia_login``, HttpOnly) and go back to the local ``next`` path; the login page
  sends a browser here once when it lacks the cookie.
- ``GET /auth/session?code=[&next=/path]``  trade a one-time login hand-off code
  for an HttpOnly session cookie, then go to ``/`` or the local ``next`` path
  (e.g. back to a scanned volunteer QR link; the code is single-use, 60 s, and
  works only together with the login cookie of the browser that logged in).
- ``GET /auth/logout``         clear the cookie (the session itself was
  revoked by the page), then go to ``/``.
- ``GET /healthz``             liveness for the reverse proxy.
- ``GET|POST /checkin?t=``      the participant check-in page (``checkin_page``).
- ``GET /ical/<token>.ics``     an iCalendar feed (``calendar_feeds``); 404 when the
  token is unknown or revoked.
- ``GET|POST /notify/optout?t=``  the one-click opt-out of every notification mail:
  GET shows what would be switched off and a button (mail scanners and link
  previews fire GETs); POST (the button, or a mail program's RFC 8058
  ``List-Unsubscribe=One-Click``) records it. The token is HMAC-signed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ia_events.accounts import users
from ia_events.core.installation import shared
from ia_events.web import checkin_page

COOKIE = "ia_session"
LOGIN_COOKIE = "ia_login"  # binds a login hand-off code to the browser that logged in


def _secure(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto") or request.url.scheme
    return proto == "https"


def _local_path(value: str) -> str:
    """A path on this server to continue to after login (never another site)."""
    if value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return "/"


async def auth_prepare(request: Request) -> Response:
    """Give the browser its login cookie before it shows the login form."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    target = urlsplit(_local_path(request.query_params.get("next", "")))
    # ``bound=1`` tells the login page not to send the browser here again (no loop
    # when a browser refuses cookies).
    query = "&".join(p for p in (target.query, "bound=1") if p)
    response = RedirectResponse(urlunsplit(("", "", target.path, query, "")), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if not request.cookies.get(LOGIN_COOKIE):
        response.set_cookie(
            LOGIN_COOKIE,
            secrets.token_urlsafe(24),
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
    return response


async def auth_session(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    code = request.query_params.get("code", "")
    binding = request.cookies.get(LOGIN_COOKIE)
    token = await run_in_threadpool(users.redeem_handoff, shared(), code, binding)
    response = RedirectResponse(_local_path(request.query_params.get("next", "")), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    if token:
        inst = shared()
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(inst.settings.session_max_days * 86400),
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
    return response


async def auth_logout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def ical_feed(request: Request) -> Response:
    """A calendar subscription; the secret is in the path and is never logged."""
    from starlette.concurrency import run_in_threadpool

    from ia_events.planning import calendar_feeds
    from ia_events.volunteers import feed as volunteer_feed  # registers the volunteer kind

    assert volunteer_feed.KIND in calendar_feeds.RENDERERS
    body = await run_in_threadpool(
        calendar_feeds.serve, shared(), str(request.path_params.get("token", ""))
    )
    headers = {"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"}
    if body is None:
        return PlainTextResponse("Kalender nicht gefunden.", status_code=404, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


_OPTOUT_PAGE = """<!doctype html><html lang="de"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>Benachrichtigungen abbestellen</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
line-height:1.4}}button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style></head>
<body><h1>Benachrichtigungen abbestellen</h1>{body}</body></html>"""


def _optout_page(body: str, status: int = 200) -> Response:
    return HTMLResponse(
        _OPTOUT_PAGE.format(body=body),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def notify_optout(request: Request) -> Response:
    """GET: confirm form (changes nothing). POST: switch the kind off."""
    import html

    from starlette.concurrency import run_in_threadpool

    from ia_events.notify import kinds, prefs

    inst = shared()
    token = request.query_params.get("t", "")
    if request.method == "POST":
        form = await request.form()
        token = str(form.get("t") or token)
    found = prefs.read_optout(inst.keys, token)
    if found is None:
        return _optout_page(
            "<p>Der Link ist ungültig oder unvollständig. Ihre Einstellungen finden Sie in "
            "ia-events auf der Seite „Konto“.</p>",
            400,
        )
    what = html.escape(kinds.label(found[1]))
    if request.method == "GET":
        return _optout_page(
            f"<p>Möchten Sie die E-Mails „{what}“ nicht mehr erhalten?</p>"
            '<form method="post"><input type="hidden" name="t" '
            f'value="{html.escape(token, quote=True)}">'
            '<button type="submit">Ja, abbestellen</button></form>'
        )

    def record() -> None:
        with inst.db.write() as s:
            prefs.opt_out(s, inst.keys, token)

    await run_in_threadpool(record)
    return _optout_page(
        f"<p>Erledigt: Sie erhalten keine E-Mails „{what}“ mehr. Wieder einschalten können "
        "Sie das in ia-events auf der Seite „Konto“.</p>"
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/auth/prepare", auth_prepare, methods=["GET"]),
        Route("/auth/session", auth_session, methods=["GET"]),
        Route("/auth/logout", auth_logout, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/checkin", checkin_page.checkin_route, methods=["GET", "POST"]),
        Route("/ical/{token}.ics", ical_feed, methods=["GET"]),
        Route("/notify/optout", notify_optout, methods=["GET", "POST"]),
    ]
