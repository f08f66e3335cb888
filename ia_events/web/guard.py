"""Rules for Streamlit's own HTTP endpoints, as ASGI middleware around the whole app.

- ``/_stcore/metrics`` is off (404): it tells anyone how many sessions are open
  and how much memory they use. Monitor the process from the server instead.
- ``/media/…`` (images, previews and downloads a page put on screen) answers
  only a browser with a valid login cookie (``ia_session``): a link to an
  evidence file copied out of a page opens nothing for someone without a session.
  Streamlit's media links are unguessable for a while, but they are plain URLs
  that land in browser histories, proxies and chat messages.

Everything else passes through unchanged.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse

Scope = dict[str, Any]

SESSION_COOKIE = "ia_session"  # web.routes.COOKIE


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _is_metrics(path: str) -> bool:
    parts = _segments(path)
    return parts[-2:] == ["_stcore", "metrics"]


def _is_media(path: str) -> bool:
    return "media" in _segments(path)[:2]  # /media/… or /<base-url-path>/media/…


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            if name in jar:
                return jar[name].value
    return None


def _logged_in(token: str | None) -> bool:
    from ia_events.accounts.users import resolve
    from ia_events.core.installation import shared

    return token is not None and resolve(shared(), token) is not None


class StreamlitEndpointGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope.get("type") == "http":
            path = scope.get("path", "")
            if _is_metrics(path):
                await PlainTextResponse("Nicht gefunden.", status_code=404)(scope, receive, send)
                return
            if _is_media(path):
                token = _cookie(scope, SESSION_COOKIE)
                if not await run_in_threadpool(_logged_in, token):
                    answer = PlainTextResponse(
                        "Bitte melden Sie sich an.",
                        status_code=403,
                        headers={"Cache-Control": "no-store"},
                    )
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)
