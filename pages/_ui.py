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
from sqlalchemy.exc import OperationalError

from ia_events.core.access import Actor
from ia_events.core.errors import DomainError, is_disk_full
from ia_events.core.installation import Installation, shared
from ia_events.core.messages import fmt_number, text
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
    except DomainError as exc:
        st.error(exc.message())
        if stop:
            st.stop()
    except Exception as exc:
        if is_disk_full(exc):  # the file system, SQLite or the PostgreSQL server
            log.error("no space left on a disk: %s", type(exc).__name__)
            st.error(text("disk_full"))
            if stop:
                st.stop()
            return
        if isinstance(exc, OperationalError):
            log.exception("database error")
            st.error(text("database_unavailable"))
            if stop:
                st.stop()
            return
        log.exception("unexpected error in a page")
        st.error(text("internal", at=utcnow().strftime("%d.%m.%Y %H:%M:%S")))
        if stop:
            st.stop()


def redirect(url: str) -> None:
    """Send the browser to ``url`` (a route on this server)."""
    st.html(
        f"<script>window.location.replace({url!r});</script>",
        unsafe_allow_javascript=True,
    )


def percent_bar(label: str, actual: float, target: float) -> None:
    ratio = min(actual / target, 1.0) if target else 1.0
    st.progress(ratio, text=f"{label}: {fmt_number(actual)} von {fmt_number(target)}")


def sso_configured() -> bool:
    """OIDC login (st.login) is offered when secrets.toml has an [auth] section."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False
