"""Streamlit glue shared by the pages: the installation, the actor, errors.

Pages stay thin: read widgets, call one ``ia_events`` service inside
``guard()``, render. ``guard`` turns a domain error into a German sentence
and anything unexpected into a calm message (the traceback goes to the
server log, never to the user).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar, cast

import streamlit as st
from sqlalchemy.orm import Session

from ia_events.core.access import Actor
from ia_events.core.errors import classify
from ia_events.core.installation import Installation, shared
from ia_events.core.messages import berlin, fmt_number
from storage.db import utcnow

log = logging.getLogger("ia_events.ui")
T = TypeVar("T")


def inst() -> Installation:
    return shared()


def base_url() -> str:
    """The base of check-in links for this browser: ``IA_EVENTS_BASE_URL`` if set, else
    the address the staff's browser reached the server at (``core.addresses``)."""
    import os

    from ia_events.core.addresses import public_base_url

    settings = inst().settings
    headers = st.context.headers
    # Streamlit hides a loopback peer (None); a request without any client has no headers.
    peer = st.context.ip_address or ("127.0.0.1" if len(headers) else None)
    ssl = bool(st.get_option("server.sslCertFile"))
    return public_base_url(
        settings.base_url if settings.base_url_set else None,
        {k: ",".join(headers.get_all(k)) for k in headers},
        peer,
        settings.trusted_proxies,
        scheme="https" if ssl else "http",
        uvicorn_spec=os.environ.get("FORWARDED_ALLOW_IPS"),
    )


def actor() -> Actor:
    """The logged-in person; every page starts with it. It also shows, once, what the
    last change did (``commit``'s message), above the page."""
    value = st.session_state.get("actor")
    if value is None:  # the shell never runs a page without one
        st.stop()
    show_flash()
    return value


def writing():  # type: ignore[no-untyped-def]
    """A write transaction for pages: ``st.rerun()`` inside it commits first.

    Streamlit's rerun unwinds the script with an exception; a plain transaction
    would roll the change back. A stop (``st.stop()``) still rolls back.
    """
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException

    return inst().db.write(commit_on=(RerunException,))


def now() -> datetime:
    return utcnow()


# -- reads cached by the data version ----------------------------------------------------------

CACHE_TICK = 60  # seconds: what depends on the clock alone (a date has passed) is this old at most


def _reader_key(who: Actor) -> tuple[object, ...]:
    """Whose result it is: the actor's identity and reach (name, account, role, agency,
    volunteer record). A cached result is only ever handed to the same actor, never to
    another agency's user or to another role."""
    return (who.name, who.user_id, str(who.role), who.agency_id, who.volunteer_id, who.system)


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_result(key: tuple[Hashable, ...], _compute: Callable[[], object]) -> object:
    """The one store of ``cached`` (Streamlit's: bounded, thread-safe, a copy per hit so a
    page cannot change another's result); ``key`` says everything the result depends on."""
    return _compute()


def cached(
    name: str,
    who: Actor,
    args: tuple[Hashable, ...],
    compute: Callable[[Session, datetime], T],
) -> T:
    """``compute(session, now)`` -- a read service of ``ia_events`` -- or its earlier
    result if nothing changed since: the result is kept under the *data version* (the
    head of the audit chain, ``audit.data_version``: every change writes an audit event
    in its own transaction, from a page, the CLI, the sealing thread or another host, so
    any change gives a new version), the installation's database, the actor
    (``_reader_key``), ``name`` and ``args`` (all the inputs besides session and clock)
    and the current minute (``CACHE_TICK``, for what the clock alone changes). The
    version is read in the same read transaction as the computation. Use it for the
    heavy reads a page repeats on every visit (all agencies' completeness, controlling
    figures, the approvals queue); an error is not kept."""
    from ia_events.core.audit import data_version

    current = now()
    tick = int(current.timestamp()) // CACHE_TICK
    with inst().db.read() as s:
        key = (
            name,
            inst().settings.database_url,
            data_version(s),
            _reader_key(who),
            args,
            tick,
        )
        return cast(T, _cached_result(key, lambda: compute(s, current)))


class Failed(Exception):
    """Raised by ``guard`` after showing the message, to stop the current action."""


@contextmanager
def guard(stop: bool = False) -> Iterator[None]:
    """Show a German message for any error of the block; with ``stop`` end the run."""
    try:
        yield
    except Exception as exc:
        # The values in a message (a file name, a user name) may be typed by anyone.
        failure = classify(exc, escape=md)
        if failure.code == "disk_full":
            log.error("no space left on a disk: %s", type(exc).__name__)
        elif not failure.expected:
            log.exception("unexpected error in a page (%s)", failure.code)
        st.error(failure.message)
        if stop:
            st.stop()


def commit(action: Callable[[Session], T], done: str | None = None) -> T | None:
    """The one way a page changes data: run ``action`` in one write transaction; if it
    commits, remember ``done`` (a German sentence) for the next run and rerun the page
    so every part of it shows the new state; if it fails, show why and change nothing.
    Returns only on failure (``None``): a success ends the run."""
    with guard():
        with writing() as s:
            result = action(s)
        if done:
            st.session_state[_FLASH] = done
        st.rerun()
        return result  # not reached: st.rerun() ends the run
    return None


def flash(done: str) -> None:
    """Say ``done`` on the next run (after a change made outside ``commit``)."""
    st.session_state[_FLASH] = done


def show_flash() -> None:
    """The message of the last change, once (called by ``actor()`` as a page starts)."""
    done = st.session_state.pop(_FLASH, None)
    if done:
        st.success(done, icon=":material/check_circle:")


_FLASH = "ui_flash"
_YEAR = "ui_year"  # one funding year for every page, kept while moving between them


def year_picker(
    years: Sequence[int] | None = None, label: str = "Förderjahr", key: str = "ui_year_picker"
) -> int:
    """The funding year the user works on: the current one unless she chose another, the
    same on every page (Planung, Nachweise, Prüfung, Berichte, Fristen)."""
    this = berlin(now()).year
    choices = list(years) if years is not None else [this + 1, *range(this, this - 11, -1)]
    current = st.session_state.get(_YEAR, this)
    if current not in choices:
        current = this if this in choices else choices[0]
    picked = st.selectbox(label, choices, index=choices.index(current), key=key)
    st.session_state[_YEAR] = int(picked)
    return int(picked)


def rows_height(n: int) -> int:
    """A table's height showing all ``n`` rows and its header: no scroll box hides a row.
    Pass as ``st.dataframe(..., height=rows_height(len(rows)))``."""
    return 38 + 35 * max(n, 1) + 3


def row_table(
    rows: Sequence[dict[str, object]],
    ids: Sequence[object],
    *,
    key: str,
    opens: str,
    column_config: dict[str, object] | None = None,
    hint: str | None = "Klicken Sie auf eine Zeile, um sie zu öffnen.",
) -> None:
    """A table whose rows open their item: a click puts ``ids[row]`` into
    ``st.session_state[opens]`` (the page shows that item's details), every row
    visible (no scroll box), no picker beside it. Only a new click changes what is
    open, so a page may still open an item itself (e.g. the one just added)."""
    event = st.dataframe(
        list(rows),
        hide_index=True,
        width="stretch",
        height=rows_height(len(rows)),
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config=column_config,  # type: ignore[arg-type]
    )
    picked = list(event.selection.rows) if event is not None else []
    current = picked[0] if picked else None
    last = f"{key}__last"
    if current is not None and st.session_state.get(last) != current and current < len(ids):
        st.session_state[opens] = ids[current]
    st.session_state[last] = current
    if hint:
        st.caption(hint)


def upload_limit_mb() -> int:
    """The largest evidence file in MB (``IA_EVENTS_MAX_UPLOAD_MB``, one number for the
    uploader's own "Limit … MB" line, the error message and the README). Pass it as
    ``st.file_uploader(..., max_upload_size=upload_limit_mb())``."""
    return inst().settings.max_upload_bytes // (1024 * 1024)


def agency_picker(who: Actor, key: str, label: str = "Integrationsagentur") -> str | None:
    """The agency a district user looks at (slug); a specialist's own agency, unasked."""
    from ia_events.accounts.agencies import list_agencies

    with inst().db.read() as s:
        agencies = list_agencies(s, who)
    if not agencies:
        return None
    if len(agencies) == 1:
        return agencies[0].slug
    names = {a.slug: a.name for a in agencies}
    return st.selectbox(label, list(names), format_func=names.get, key=key)


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:=\"'&")


def md(value: object) -> str:
    """``value`` (text a person typed) made literal inside a Markdown string: every
    Markdown/HTML special character is backslash-escaped and line breaks become
    spaces, so ``![b](http://x/beacon)`` shows as those characters, never as an
    image, a link, a heading, an icon (``:material/…:``) or a formula (``$…$``).
    Use for every user value interpolated into ``st.markdown``/``st.write``/
    ``st.caption``/``st.info``/… and into widget, tab and expander labels."""
    text = " ".join(str(value).splitlines())
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in text)


def demo_installation() -> bool:
    from ia_events.core.installation import is_demo

    with inst().db.read() as s:
        return is_demo(s)


def demo_banner() -> None:
    """Shown on every page of a demo installation: nobody should mistake it for a real one."""
    st.warning(
        "Demo-Installation: Alle Daten sind erfunden. Bitte geben Sie hier keine echten "
        "Personendaten ein.",
        icon=":material/science:",
    )


def redirect(url: str, *, append_here: bool = False) -> None:
    """Send the browser to ``url`` (a route on this server); with ``append_here``
    the browser's own path and query are appended, URL-encoded (a ``next=``)."""
    target = repr(url)
    if append_here:
        target += " + encodeURIComponent(window.location.pathname + window.location.search)"
    st.html(
        f"<script>window.location.replace({target});</script>",
        unsafe_allow_javascript=True,
    )


def style(css: str) -> None:
    """Fixed CSS for a page's own layout (e.g. the calendar's titles that must not break
    inside a word). ``css`` is a constant of the code, never text a user typed."""
    st.html(f"<style>{css}</style>")


def percent_bar(label: str, actual: float, target: float) -> None:
    ratio = min(actual / target, 1.0) if target else 1.0
    st.progress(ratio, text=f"{label}: {fmt_number(actual)} von {fmt_number(target)}")


def sso_configured() -> bool:
    """OIDC login (st.login) is offered when secrets.toml has an [auth] section."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


# -- charts ------------------------------------------------------------------------------------
# Vega-Lite specifications written out, drawn with ``st.vega_lite_chart``: the same bars and
# lines as ``st.bar_chart``/``st.line_chart``, without building an Altair chart and checking
# it against the Vega-Lite JSON schema on every run (0.1-0.4 s of a page's run each).

_SERIES = "Reihe"
_VALUE = "Wert"


def bar_chart(
    frame: object,
    x: str,
    y: Sequence[str],
    *,
    horizontal: bool = False,
    height: int | None = None,
) -> None:
    """Bars of ``y`` (one column: one bar per row; several: grouped side by side) over the
    categories in column ``x``, in the rows' order; ``horizontal`` puts the categories
    on the left (long labels such as sub-goal titles)."""
    columns = list(y)
    category: dict[str, object] = {"field": x, "type": "nominal", "sort": None, "title": x}
    value: dict[str, object] = {"field": _VALUE, "type": "quantitative", "title": None}
    encoding: dict[str, object] = {}
    if len(columns) == 1:
        value = {"field": columns[0], "type": "quantitative", "title": columns[0]}
    else:
        encoding["color"] = {"field": _SERIES, "type": "nominal", "title": None}
        encoding["yOffset" if horizontal else "xOffset"] = {"field": _SERIES}
    encoding["y" if horizontal else "x"] = category
    encoding["x" if horizontal else "y"] = value
    if not horizontal:
        category["axis"] = {"labelAngle": 0, "labelLimit": 160}
    else:  # the labels say what they are; a title beside them would cross them
        category["axis"] = {"labelLimit": 400}
        category["title"] = None
    spec: dict[str, object] = {
        "mark": {"type": "bar", "tooltip": True},
        "encoding": encoding,
    }
    if len(columns) > 1:
        spec["transform"] = [{"fold": columns, "as": [_SERIES, _VALUE]}]
    if height is not None:
        spec["height"] = height - 60  # the axis and its labels take the rest
    st.vega_lite_chart(frame, spec, width="stretch")  # type: ignore[arg-type]


def line_chart(frame: object, x: str, y: Sequence[str], order: Sequence[str]) -> None:
    """One line per column of ``y`` over the categories ``order`` of column ``x``."""
    spec = {
        "transform": [{"fold": list(y), "as": [_SERIES, _VALUE]}],
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": x, "type": "ordinal", "sort": list(order), "title": x,
                  "axis": {"labelAngle": 0}},
            "y": {"field": _VALUE, "type": "quantitative", "title": None},
            "color": {"field": _SERIES, "type": "nominal", "title": None},
        },
    }  # fmt: skip
    st.vega_lite_chart(frame, spec, width="stretch")  # type: ignore[arg-type]
