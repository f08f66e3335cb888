"""Who may call which service: each service declares its permission and reach once,
beside its definition, with ``@service(...)``; the registry it fills is what
``scripts/security_matrix.py`` prints into docs/security.md, what the tenancy tests
derive their expectations from, and what a unit test holds complete (every public
function taking an ``actor`` is registered).

The decorator declares; it does not wrap (the check-in hot path pays nothing): the
service itself calls ``access.require`` / ``agency_id_for`` with the same permission,
which tests/unit/test_permission_matrix.py and tests/integration/test_tenancy.py check.

Reach:

- ``agency``        acts on one agency's object (by id or slug); specialists and
                    volunteers reach only their own agency, another agency's id is
                    answered ``NotFound`` exactly like an unknown id
- ``listing``       lists filtered to the agencies the actor reaches (``scope_filter``)
- ``own``           the actor's own account or own volunteer record only
- ``installation``  the whole installation (users, keys, verify, retention)
- ``setup``         demo/setup loaders for the operator: the CLI, or the first-start
                    screen before any account exists; never offered to a logged-in user
- ``internal``      building blocks that take the actor's *name* or are called only
                    by other services after those checked the permission
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ia_events.core.access import ROLE_PERMISSIONS, TENANT_ROLES, Permission
from ia_events.core.models import Role

F = TypeVar("F", bound=Callable[..., object])


class Reach(enum.StrEnum):
    agency = "agency"
    listing = "listing"
    own = "own"
    installation = "installation"
    setup = "setup"
    internal = "internal"


@dataclass(frozen=True)
class Rule:
    permission: Permission | None
    reach: Reach
    note: str = ""
    # Other permissions that also open the service (``volunteer.self``: only for
    # the volunteer's own record or assignment).
    alternatives: tuple[Permission, ...] = ()

    @property
    def scoped(self) -> bool:
        """True where a specialist or volunteer reaches only her own agency."""
        return self.reach in (Reach.agency, Reach.listing, Reach.own)

    def allows(self, role: Role) -> bool:
        """May a user of ``role`` (of the right agency) call it at all?"""
        if self.permission is None:
            return self.reach is Reach.own
        return any(p in ROLE_PERMISSIONS[role] for p in (self.permission, *self.alternatives))

    def across_agencies(self, role: Role) -> bool:
        """Does a user of ``role`` reach another agency's objects through it?"""
        return self.allows(role) and not (self.scoped and role in TENANT_ROLES)


REGISTRY: dict[str, Rule] = {}


def service(
    permission: Permission | None,
    reach: Reach,
    note: str = "",
    alternatives: tuple[Permission, ...] = (),
) -> Callable[[F], F]:
    """Declare a service's permission and reach; registers it as ``package.module.name``."""
    rule = Rule(permission, reach, note, alternatives)

    def register(fn: F) -> F:
        REGISTRY[service_name(fn)] = rule
        fn.__rule__ = rule  # type: ignore[attr-defined]  # read back by the tests
        return fn

    return register


def service_name(fn: Callable[..., object]) -> str:
    return f"{fn.__module__.removeprefix('ia_events.')}.{fn.__qualname__}"


def registry() -> dict[str, Rule]:
    """Every registered service: imports every module of ``ia_events`` first."""
    import ia_events

    for info in pkgutil.walk_packages(ia_events.__path__, prefix="ia_events."):
        importlib.import_module(info.name)
    return dict(REGISTRY)


def rows() -> list[tuple[str, str, str, dict[Role, str], str]]:
    """The matrix as rows: service, permission, reach, a cell per role, note.

    A cell reads ``own agency`` (tenant roles on a scoped service), ``all``
    (every agency), ``own`` (own record) or ``–`` (refused).
    """
    out = []
    for name, rule in sorted(registry().items()):
        cells: dict[Role, str] = {}
        for role in Role:
            if rule.reach in (Reach.setup, Reach.internal):
                cells[role] = "n/a"
            elif not rule.allows(role):
                cells[role] = "–"
            elif rule.reach is Reach.own:
                cells[role] = "own"
            elif rule.scoped and role in TENANT_ROLES:
                cells[role] = "own agency"
            else:
                cells[role] = "all"
        perm = " / ".join(p.value for p in (rule.permission, *rule.alternatives) if p) or "–"
        out.append((name, perm, rule.reach.value, cells, rule.note))
    return out


def markdown() -> str:
    roles = list(Role)
    head = (
        "| service | permission | reach | "
        + " | ".join(r.value for r in roles)
        + " | anonymous | note |"
    )
    sep = "|" + "---|" * (len(roles) + 5)
    lines = [head, sep]
    for name, perm, reach, cells, note in rows():
        lines.append(
            f"| `{name}` | {perm} | {reach} | "
            + " | ".join(cells[r] for r in roles)
            + f" | – | {note} |"
        )
    return "\n".join(lines) + "\n"
