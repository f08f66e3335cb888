"""Streamlit glue shared by the pages: the installation, the actor, errors.

Pages stay thin: read widgets, call one ``ia_events`` service inside
``guard()``, render. ``guard`` turns a domain error into a German sentence
and anything unexpected into a calm message (the traceback goes to the
server log, never to the user).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import streamlit as st

from ia_events.core.access import Actor
from ia_events.core.errors import classify
from ia_events.core.installation import Installation, shared
from storage.db import utcnow

log = logging.getLogger("ia_events.ui")


def inst() -> Installation:
    return shared()


def actor() -> Actor:
    value = st.session_state.get("actor")
    if value is None:  # the shell never runs a page without one
        st.stop()
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


def percent_bar(label: str, actual: float, target: float) -> None:
    ratio = min(actual / target, 1.0) if target else 1.0
    st.progress(ratio, text=f"{label}: {actual:g} von {target:g}")


def sso_configured() -> bool:
    """OIDC login (st.login) is offered when secrets.toml has an [auth] section."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False
