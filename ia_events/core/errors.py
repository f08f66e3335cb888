"""Domain errors, each with a stable ``code``.

::

    DomainError
    ├── NotFound          unknown id -- or another agency's id (we never say which)
    ├── Forbidden         the role may not do this
    ├── InvalidInput      a field is wrong; ``field`` names it
    ├── Conflict          the state does not allow it (already approved, on hold, ...)
    ├── DuplicateActivity the same activity (title, place, weekday, time) exists already
    ├── AuthError         login refused (invalid, locked, inactive)
    ├── CheckInError      a token or check-in refused; ``code`` is a scan reason code
    ├── BackupError       a backup that cannot be restored (``backup_invalid``)
    └── NotInitialised    no installation in the data dir yet

Tests assert on ``code``. Every entry point turns an exception into words the same
way: ``classify`` gives a ``Failure`` (code, German sentence, whether it is the
user's to fix, the CLI's exit code); pages show ``failure.message``, the CLI prints
it, the participant page maps ``failure.code`` to its seven languages.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# "No space left": the file system (ENOSPC, a quota, a file-size limit), SQLite's
# SQLITE_FULL and PostgreSQL's SQLSTATE 53100 (disk_full).
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


class DomainError(Exception):
    code = "error"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        if code:
            self.code = code
        self.params = params
        super().__init__(self.code, params)

    def message(self, escape: Callable[[object], object] | None = None) -> str:
        """The German sentence; ``escape`` is applied to every value put into it
        (a page escapes Markdown there: a file or user name may be typed by anyone)."""
        from ia_events.core.messages import text

        return text(self.code, **self._shown_params(escape))

    def _shown_params(self, escape: Callable[[object], object] | None) -> dict[str, Any]:
        if escape is None:
            return dict(self.params)
        return {k: escape(v) for k, v in self.params.items()}

    def __str__(self) -> str:
        return self.message()


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class InvalidInput(DomainError):
    code = "invalid_input"


class Conflict(DomainError):
    code = "conflict"


class DuplicateActivity(DomainError):
    """A new series would meet when an existing one of the agency already meets
    (same title, place, weekday and start time); the page asks before creating it
    anyway. ``params``: ``title``, ``rhythm`` (German), ``activity`` (its id)."""

    code = "duplicate_activity"


class AuthError(DomainError):
    code = "login_invalid"


class CheckInError(DomainError):
    """A token or check-in refused; ``code`` is a scan reason code (``checkin.REASONS``)."""

    code = "invalid"

    def message(self, escape: Callable[[object], object] | None = None) -> str:
        from ia_events.core.messages import text

        return text(f"checkin_{self.code}", **self._shown_params(escape))


class BackupError(DomainError):
    code = "backup_invalid"


class NotInitialised(DomainError):
    code = "not_initialised"


# Codes of a DomainError that are a fault of the installation (the operator's to fix),
# not of the input: the CLI exits 1 for them, 2 for every other DomainError.
_SYSTEM_CODES = frozenset({"keys_missing", "storage_full", "archive_unavailable"})


@dataclass(frozen=True)
class Failure:
    """What an entry point says about an exception."""

    # a DomainError's code, or disk_full / database_unavailable / archive_unavailable / internal
    code: str
    message: str  # the German sentence
    expected: bool  # a refusal the user can act on (a DomainError), not a fault of ours
    exit_code: int  # for the CLI: 2 bad usage / refused input, 1 a problem on our side


def classify(
    exc: BaseException,
    now: datetime | None = None,
    escape: Callable[[object], object] | None = None,
) -> Failure:
    """The one way from an exception to a sentence (pages, CLI, participant page);
    ``escape`` is applied to the values put into a domain error's sentence."""
    from sqlalchemy.exc import OperationalError

    from ia_events.core.messages import berlin, text

    if isinstance(exc, DomainError):
        return Failure(exc.code, exc.message(escape), True, 1 if exc.code in _SYSTEM_CODES else 2)
    if is_disk_full(exc):  # the file system, SQLite or the PostgreSQL server
        return Failure("disk_full", text("disk_full"), False, 1)
    if isinstance(exc, OperationalError):
        return Failure("database_unavailable", text("database_unavailable"), False, 1)
    store = archive_unreachable(exc)
    if store is not None:  # an object store that did not answer, wherever it surfaced
        return Failure("archive_unavailable", text("archive_unavailable", store=store), False, 1)
    at = berlin(now or datetime.now(UTC)).strftime("%d.%m.%Y %H:%M:%S")
    return Failure("internal", text("internal", at=at), False, 1)


def archive_unreachable(exc: BaseException) -> str | None:
    """The archive's location when ``exc`` (or what caused it) is the storage layer's
    ``ArchiveUnavailable`` (an S3 store that did not answer), else ``None``. Services
    that expect it turn it into ``Conflict("archive_unavailable")``; this catches the
    paths that do not (a bundle export, a preview), so nobody sees "unexpected error"."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if getattr(e, "code", None) == "archive_unavailable" and not isinstance(e, DomainError):
            # storage's message is "<location>: <what failed>"; the location has no secrets
            return str(e).rsplit(": ", 1)[0] or "Objektspeicher"
        todo += [e.__cause__, e.__context__]
    return None


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a disk is full: a write, an fsync,
    SQLite or the PostgreSQL server. Pages and the CLI then say so in plain German
    instead of an "unexpected error" (a full disk is the operator's to fix)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return True
        if getattr(e, "code", None) == "storage_full":
            return True
        orig = getattr(e, "orig", None)  # a SQLAlchemy DBAPIError wraps the driver's error
        for err in (e, orig):
            if getattr(err, "sqlite_errorcode", None) == _SQLITE_FULL:
                return True
            if getattr(err, "sqlstate", None) == _PG_DISK_FULL:
                return True
        todo += [orig, e.__cause__, e.__context__]
    return False
