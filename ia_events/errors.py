"""Domain errors, each with a stable ``code``.

::

    DomainError
    ├── NotFound          unknown id -- or another agency's id (we never say which)
    ├── Forbidden         the role may not do this
    ├── InvalidInput      a field is wrong; ``field`` names it
    ├── Conflict          the state does not allow it (already approved, on hold, ...)
    └── AuthError         login refused (invalid, locked, inactive)

Tests assert on ``code``; pages and the CLI turn a code into a German
sentence with ``ia_events.messages.text``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        if code:
            self.code = code
        self.params = params
        super().__init__(self.code, params)

    def message(self) -> str:
        from ia_events.messages import text

        return text(self.code, **self.params)

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
