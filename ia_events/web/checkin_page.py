"""The participant check-in page: plain server-rendered HTML, no Streamlit, no JavaScript.

``GET /checkin?t=`` shows activity, date, place and a form, and records
nothing (messenger link previews open links). ``POST /checkin`` carries the
form's nonce (bound to the token, single use) and answers with exactly one
state. A volunteer token is sent on to the Streamlit page
``/volunteer_checkin``. The page stays far below 50 KB (about 4 KB, 2 KB
gzipped): inline CSS, system fonts, no images, no scripts, no icon request;
``dir="rtl"`` for Arabic and Farsi.

Protection (Streamlit gives routes none): same-origin check on POST, a
small body limit, rate limits per nonce, per browser session (cookie), per
client address (``clientaddr``: X-Forwarded-For only from a trusted proxy),
per link and per occurrence (or series) -- each above what a real door sees
(40 phones behind one venue Wi-Fi within a minute all pass) and below a
script (100 names in 20 seconds). What gets through shows on the door screen
as a burst that the specialist stops in one action (``attendance.bursts``).
The limits are per server process. Errors never show a traceback: a failure on our
side (database unreachable, disk full, a bug) answers 503 "Das hat gerade nicht
geklappt" with one tap to send the same submission again (same nonce, so it
never counts twice) or, after a failed GET, to open the same link again.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ia_events.attendance import checkin
from ia_events.attendance.checkin_texts import LANGS, RTL, legal_basis, notice_ref, pick_language, t
from ia_events.core.errors import InvalidInput, classify
from ia_events.core.installation import Installation, is_demo, shared
from ia_events.core.messages import fmt_date, fmt_time
from ia_events.web.clientaddr import client_address

log = logging.getLogger("ia_events.attendance.checkin")

SESSION_COOKIE = "ia_ci_s"
DEVICE_COOKIE = "ia_ci_d"
MAX_BODY = 8 * 1024
# POSTs per minute. A real door: people arrive over minutes and type a name, so
# even 40 phones behind one Wi-Fi stay below 60 a minute per address and link.
LIMITS = {"ip": 60, "session": 30, "nonce": 10, "link": 60, "occurrence": 90}
# And per hour, far beyond the participants of one occurrence.
HOURLY = {"ip": 400, "link": 400, "occurrence": 600}


class RateLimiter:
    """Fixed windows in memory (a minute, and an hour for the kinds in ``hourly``);
    old windows are dropped as time moves on."""

    def __init__(self, limits: dict[str, int], hourly: dict[str, int] | None = None) -> None:
        self.limits = dict(limits)
        self.hourly = dict(hourly or {})
        self._counts: dict[tuple[str, str, int], int] = {}
        self._windows = (0, 0)
        self._lock = threading.Lock()

    def _bump(self, slot: tuple[str, str, int], limit: int) -> bool:
        self._counts[slot] = self._counts.get(slot, 0) + 1
        return self._counts[slot] <= limit

    def allow(self, kind: str, key: str, now: float | None = None) -> bool:
        at = now if now is not None else time.time()
        windows = (int(at // 60), int(at // 3600))
        with self._lock:
            if windows != self._windows or len(self._counts) > 200_000:
                # keep the hour's counts when only the minute moved on
                keep = windows[1] == self._windows[1] and len(self._counts) <= 200_000
                self._counts = {k: v for k, v in self._counts.items() if keep and k[2] == 3600}
                self._windows = windows
            ok = self._bump((kind, key, 60), self.limits[kind])
            if kind in self.hourly:
                ok = self._bump((kind, key, 3600), self.hourly[kind]) and ok
            return ok

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


limiter = RateLimiter(LIMITS, HOURLY)

CSS = (
    "body{font:18px/1.45 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#1b1b1b}"
    "main{max-width:34rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.45rem;margin:.4rem 0}"
    ".card{background:#fff;border-radius:.6rem;padding:1rem;margin:.8rem 0;"
    "box-shadow:0 1px 3px #0002}"
    "dl{margin:0}dt{font-size:.85rem;color:#555}dd{margin:0 0 .4rem}"
    "label{display:block;margin:.6rem 0 .2rem;font-weight:600}"
    "input[type=text]{box-sizing:border-box;width:100%;font-size:1.1rem;padding:.6rem;"
    "border:1px solid #888;border-radius:.4rem}"
    "button{width:100%;font-size:1.2rem;padding:.8rem;margin-top:1rem;border:0;"
    "border-radius:.5rem;background:#0b5cad;color:#fff}"
    "button.alt{background:#fff;color:#0b5cad;border:2px solid #0b5cad}"
    ".state{font-size:1.3rem;font-weight:700;padding:1rem;border-radius:.6rem}"
    ".ok{background:#d9f2dd;color:#124d1c}.warn{background:#fff1cc;color:#5c4300}"
    ".bad{background:#fde0de;color:#7a1410}"
    ".small{font-size:.85rem;color:#444}.check{display:flex;gap:.5rem;font-weight:400}"
    "nav{font-size:.9rem;display:flex;flex-wrap:wrap;gap:.3rem .7rem;margin:.3rem 0}"
    "nav a{color:#0b5cad}nav b{font-weight:700}fieldset{border:0;padding:0;margin:0}"
    "details{margin-top:.6rem}summary{color:#0b5cad}"
)
STATE_CLASS = {
    "ok": "ok",
    "already_checked_in": "ok",
    "not_open": "warn",
    "closed": "warn",
    "cancelled": "bad",
    "invalid": "bad",
    "revoked": "bad",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class View:
    """Everything a page render needs, loaded in one short read."""

    lang: str
    token: str
    target: checkin.Target
    nonce: str = ""
    basis: str = ""
    state: str = "open"
    error: str = ""
    name: str = ""
    name_match: bool = False
    attendance_id: int | None = None
    # "try_again" after a failed POST: the submitted fields, sent again by one tap.
    retry: tuple[tuple[str, str], ...] = ()
    demo: bool = False  # a demo installation says so on every page


def _page(view: View) -> str:
    lang = view.lang
    d = "rtl" if lang in RTL else "ltr"
    tg = view.target
    tok = quote(view.token)
    nav = " ".join(
        f"<b>{_e(label)}</b>"
        if code == lang
        else f'<a href="/checkin?t={tok}&amp;lang={code}" '
        f'hreflang="{code}" lang="{code}">{_e(label)}</a>'
        for code, label in LANGS.items()
    )
    parts = [
        f'<!doctype html><html lang="{lang}" dir="{d}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<meta name="robots" content="noindex">',
        # No icon: otherwise every phone also asks for /favicon.ico, which Streamlit
        # answers with its 8 KB app page -- twice this page, on a prepaid data plan.
        '<link rel="icon" href="data:,">',
        f"<title>{_e(t(lang, 'title'))}</title><style>{CSS}</style></head><body><main>",
        f"<nav>{nav}</nav>",
    ]
    if view.demo:
        parts.append('<p class="state warn">Demo – erfundene Daten · demo, fictional data</p>')
    if tg.title:
        parts.append(f'<h1>{_e(tg.title)}</h1><div class="card"><dl>')
        if tg.starts_at and tg.ends_at:
            parts.append(
                f"<dt>{_e(t(lang, 'when'))}</dt><dd>{_e(fmt_date(tg.starts_at))}</dd>"
                f"<dt>{_e(t(lang, 'time'))}</dt>"
                f'<dd dir="ltr">{_e(fmt_time(tg.starts_at))}–{_e(fmt_time(tg.ends_at))}</dd>'
            )
        if tg.place:
            parts.append(f"<dt>{_e(t(lang, 'place'))}</dt><dd>{_e(tg.place)}</dd>")
        if tg.agency_name:
            parts.append(f'<dd class="small">{_e(tg.agency_name)}</dd>')
        parts.append("</dl></div>")
    else:
        parts.append(f"<h1>{_e(t(lang, 'title'))}</h1>")
    if view.state == "open":
        parts.append(_form(view))
    else:
        parts.append(_answer(view))
    if tg.agency_name:
        parts.append(_privacy(view))
    parts.append("</main></body></html>")
    return "".join(parts)


def _hidden(view: View) -> str:
    return (
        f'<input type="hidden" name="t" value="{_e(view.token)}">'
        f'<input type="hidden" name="n" value="{_e(view.nonce)}">'
        f'<input type="hidden" name="lang" value="{_e(view.lang)}">'
    )


def _form(view: View) -> str:
    lang, tg = view.lang, view.target
    named = tg.attendance_mode == "named"
    out = ['<form method="post" action="/checkin" class="card">', _hidden(view)]
    if view.error:
        out.append(f'<p class="state bad" role="alert">{_e(view.error)}</p>')
    if named:
        out.append(
            f'<label for="name">{_e(t(lang, "name"))}</label>'
            f'<input type="text" id="name" name="name" value="{_e(view.name)}" required '
            f'maxlength="{checkin.NAME_MAX}" autocomplete="name" dir="auto">'
            f'<div class="small">{_e(t(lang, "name_hint"))}</div>'
        )
    if tg.asks_age_band:
        out.append(f"<fieldset><label>{_e(t(lang, 'age'))}</label>")
        options = [("", t(lang, "age_none")), ("u18", t(lang, "u18"))]
        options += [(b, b) for b in checkin.AGE_BANDS[1:]]
        for value, label in options:
            checked = " checked" if value == "" else ""
            out.append(
                f'<label class="check"><input type="radio" name="age" value="{value}"'
                f'{checked}> <span dir="auto">{_e(label)}</span></label>'
            )
        out.append("</fieldset>")
    if tg.photographed:
        out.append(
            '<label class="check"><input type="checkbox" name="photo" value="1"> '
            f"<span>{_e(t(lang, 'photo'))}</span></label>"
        )
    button = t(lang, "submit_named" if named else "submit_anon")
    out.append(f'<button type="submit">{_e(button)}</button></form>')
    return "".join(out)


def _answer(view: View) -> str:
    lang, state, tg = view.lang, view.state, view.target
    shown = "invalid" if state in ("revoked", "card_unknown", "card_revoked") else state
    if shown in ("slow_down", "try_again"):
        text, css = t(lang, shown), "warn"
    else:
        text, css = t(lang, shown), STATE_CLASS.get(shown, "bad")
    out = [f'<p class="state {css}" role="status" data-state="{_e(shown)}">{_e(text)}</p>']
    if shown == "try_again":
        out.append(_retry(view))
    if shown == "not_open" and tg.opens_at:
        out.append(f"<p>{_e(t(lang, 'opens', time=fmt_time(tg.opens_at)))}</p>")
    if shown == "already_checked_in" and view.nonce:
        # The way out for a second person of the same name (or on the same phone).
        out.append('<form method="post" action="/checkin">' + _hidden(view))
        out.append('<input type="hidden" name="other" value="1">')
        if view.name:
            out.append(f'<input type="hidden" name="name" value="{_e(view.name)}">')
        out.append(
            f'<button type="submit" class="alt">{_e(t(lang, "other_person"))}</button></form>'
        )
    return "".join(out)


def _retry(view: View) -> str:
    """One tap to try again: the same submission (same nonce: never counted twice), or,
    after a failed GET, the same link."""
    label = _e(t(view.lang, "retry"))
    if view.retry:
        fields = "".join(
            f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in view.retry
        )
        return (
            f'<form method="post" action="/checkin">{fields}'
            f'<button type="submit">{label}</button></form>'
        )
    if view.token:
        href = f"/checkin?t={quote(view.token)}&amp;lang={quote(view.lang)}"
        return f'<p><a href="{href}">{label}</a></p>'
    return ""


def _try_again(lang: str, token: str = "", form: dict[str, str] | None = None) -> Response:
    """A failure on our side (database unreachable, disk full, a bug): say so plainly and
    offer the same request again -- not "invalid link" or "too many attempts"."""
    keep = ("t", "n", "lang", "name", "age", "photo", "other")
    retry = tuple((k, form[k][:200]) for k in keep if form and form.get(k))
    view = View(lang, token, checkin.Target("try_again"), state="try_again", retry=retry)
    return _headers(_html(view, 503))


def _privacy(view: View) -> str:
    lang, tg = view.lang, view.target
    ref = notice_ref(tg.privacy_law)
    fields = {
        "agency": tg.agency_name,
        "carrier": tg.carrier,
        "contact": tg.privacy_contact or tg.agency_name,
        "ref": ref,
        "basis": view.basis,
    }
    body = "".join(
        f"<p>{_e(t(lang, key, **fields))}</p>"
        for key in ("p_controller", "p_purpose", "p_data", "p_basis", "p_keep", "p_rights")
    )
    return (
        f'<div class="card small"><p>{_e(t(lang, "privacy_short", **fields))}</p>'
        f"<details><summary>{_e(t(lang, 'privacy_more', ref=ref))}</summary>{body}"
        "</details></div>"
    )


# -- loading and submitting (in a worker thread) ---------------------------------------------


def _load(inst: Installation, token: str, lang: str) -> View | str:
    """A view for the form, or the volunteer redirect target."""
    with inst.db.read() as s:
        target = checkin.resolve(s, inst.keys, token)
        if target.token is not None and target.token.purpose == "volunteer":
            return f"/volunteer_checkin?t={quote(token)}"
        basis = legal_basis(s, target.privacy_law) if target.agency_name else ""
        demo = is_demo(s)  # same read: a demo installation says so on every page
    view = View(lang, token, target, basis=basis, state=target.state, demo=demo)
    if target.state == "open":
        view.nonce = checkin.new_nonce(inst.keys, token)
    return view


def _target_key(inst: Installation, token: str) -> str:
    """What the link points at (occurrence or series), read from the signed token:
    all links of one occurrence share a bucket. A forged token shares one bucket."""
    from ia_events.attendance.tokens import parse_token

    try:
        info = parse_token(inst.keys, token)
    except Exception:
        return "invalid"
    return f"{info.scope}:{info.target_id}"


def _device_ids(inst: Installation, cookie: str | None) -> list[int]:
    ids = []
    for item in (cookie or "").split("~")[:20]:
        aid, _, mac = item.partition(".")
        if aid.isdigit() and hmac.compare_digest(mac, _device_mac(inst, aid)):
            ids.append(int(aid))
    return ids


def _device_mac(inst: Installation, aid: str) -> str:
    key = inst.keys.subkey("checkin-device")
    return hmac.new(key, aid.encode(), hashlib.sha256).hexdigest()[:20]


def _submit(inst: Installation, form: dict[str, str], lang: str, device: list[int]) -> View:
    token, nonce = form.get("t", ""), form.get("n", "")
    name = form.get("name", "")
    other = form.get("other") == "1"
    try:
        with inst.db.write() as s:
            answer = checkin.submit(
                s,
                inst.keys,
                token,
                nonce,
                name=name,
                age_band=form.get("age") or None,
                photo_consent=form.get("photo") == "1",
                other_person=other,
                device_attendance_ids=device,
            )
            # What the answer page shows, read in the same transaction (no second one).
            target = answer.target
            if target is not None and target.agency_name:
                basis = legal_basis(s, target.privacy_law)
            else:
                basis = ""
            demo = is_demo(s)
    except InvalidInput:
        view = _load(inst, token, lang)
        assert isinstance(view, View)
        view.error, view.name = t(lang, "name_missing"), name[: checkin.NAME_MAX]
        return view
    if target is None:  # a token of another purpose: shown as the link resolves
        with inst.db.read() as s:
            target = checkin.resolve(s, inst.keys, token)
            basis = legal_basis(s, target.privacy_law) if target.agency_name else ""
    view = View(lang, token, target, basis=basis, state=answer.state, demo=demo)
    view.name_match = answer.name_match
    if answer.state == checkin.ALREADY and target.is_open:
        view.nonce = checkin.new_nonce(inst.keys, token)
        view.name = name[: checkin.NAME_MAX] if answer.name_match else ""
    view.attendance_id = answer.attendance_id
    return view


# -- HTTP ---------------------------------------------------------------------------------------


def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    # Not "no-referrer": that makes browsers send "Origin: null" on the form's POST.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return response


def _html(view: View, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_page(view), status_code=status)


def _plain_state(lang: str, state: str, status: int) -> Response:
    view = View(lang, "", checkin.Target(state), state=state)
    return _headers(_html(view, status))


def _same_origin(request: Request) -> bool:
    """Refuse a POST that a browser marks as coming from another site.

    "Origin: null" (privacy settings, older phones) is let through: the nonce, not
    the origin, is what binds a submission to a form this server handed out."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return True
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
    return urlparse(origin).netloc in hosts


def _session_id(request: Request) -> tuple[str, bool]:
    value = request.cookies.get(SESSION_COOKIE, "")
    if len(value) == 22 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return secrets.token_urlsafe(16), True


def _set_cookies(request: Request, response: Response, sid: str, new: bool) -> None:
    secure = (request.headers.get("x-forwarded-proto") or request.url.scheme) == "https"
    if new:
        response.set_cookie(
            SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=secure, path="/checkin"
        )


def _log_failure(what: str, exc: Exception) -> None:
    """Every failure here is answered "try again" (the participant's language has no
    sentence for our faults); the log says which kind it was (``errors.classify``)."""
    failure = classify(exc)
    if failure.expected:
        log.warning("%s: %s", what, failure.code)
    else:
        log.error("%s (%s)", what, failure.code, exc_info=exc)


async def checkin_route(request: Request) -> Response:
    try:
        if request.method == "POST":
            return await _post(request)
        return await _get(request)
    except Exception as exc:
        _log_failure("check-in page failed", exc)
        lang = pick_language(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        token = request.query_params.get("t", "")[:200] if request.method == "GET" else ""
        return _try_again(lang, token)


async def _get(request: Request) -> Response:
    token = request.query_params.get("t", "")[:200]
    lang = pick_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    inst = shared()
    result = await run_in_threadpool(_load, inst, token, lang)
    if isinstance(result, str):
        return _headers(RedirectResponse(result, status_code=303))
    sid, new = _session_id(request)
    response = _headers(_html(result, 200 if result.target.token else 404))
    _set_cookies(request, response, sid, new)
    return response


async def _post(request: Request) -> Response:
    lang = pick_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    if not _same_origin(request):
        return _plain_state(lang, "invalid", 403)
    body = await request.body()
    if len(body) > MAX_BODY:
        return _plain_state(lang, "invalid", 413)
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return _plain_state(lang, "invalid", 400)
    form = {k: v[0] for k, v in parsed.items() if v}
    lang = pick_language(form.get("lang"), request.headers.get("accept-language"))
    sid, new = _session_id(request)
    inst = shared()
    address = client_address(request, inst.settings.trusted_proxies)
    nonce = form.get("n", "")[:64]
    token = form.get("t", "")[:200]
    checks = [
        ("ip", address),
        ("session", sid),
        ("nonce", nonce),
        ("link", token),
        ("occurrence", _target_key(inst, token)),
    ]
    if not all([limiter.allow(kind, key) for kind, key in checks]):  # count every one
        return _plain_state(lang, "slow_down", 429)
    device = _device_ids(inst, request.cookies.get(DEVICE_COOKIE))
    try:
        view = await run_in_threadpool(_submit, inst, form, lang, device)
    except Exception as exc:
        _log_failure("check-in submission failed", exc)
        return _try_again(lang, form=form)
    response = _headers(_html(view, 200))
    _set_cookies(request, response, sid, new)
    aid = view.attendance_id
    if view.state == checkin.OK and aid and view.target.attendance_mode != "named":
        items = [i for i in (request.cookies.get(DEVICE_COOKIE) or "").split("~") if i][-9:]
        items.append(f"{aid}.{_device_mac(inst, str(aid))}")
        response.set_cookie(
            DEVICE_COOKIE,
            "~".join(items),
            max_age=86400,
            httponly=True,
            samesite="lax",
            path="/checkin",
        )
    return response
