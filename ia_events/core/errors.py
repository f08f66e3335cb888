"""Domain errors, each with a stable ``code``.

::

    DomainError
    ├── NotFound          unknown id -- or another agency's id (we never say which)
    ├── Forbidden         the role may not do this
    ├── InvalidInput      a field is wrong; ``field`` names it
    ├── Conflict          the state does not allow it (already approved, on hold, ...)
    └── AuthError         login refused (invalid, locked, inactive)

Tests assert on ``code``; pages and the CLI turn a code into a German
sentence with ``ia_events.core.messages.text``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
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


class AuthError(DomainError):
    code = "login_invalid"


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
