"""Roles, permissions and tenant scope: the one permission mechanism.

Every service calls ``require(actor, Permission.X, agency_id)`` before it
reads or changes anything of an agency. Specialists and volunteers reach only
their own agency; another agency's id is answered exactly like an unknown id
(``NotFound``), so ids cannot be probed. Coordinators read the whole
district; admins run the installation.

``ROLE_PERMISSIONS`` is the matrix printed in docs/security.md.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, select, true
from sqlalchemy.orm import Session

from ia_events.core.errors import Forbidden, NotFound
from ia_events.core.models import Agency, Role


class Permission(enum.StrEnum):
    agency_read = "agency.read"  # plans, activities, occurrences, figures
    plan_edit = "plan.edit"
    plan_approve = "plan.approve"
    occurrence_edit = "occurrence.edit"
    checkin_door = "checkin.door"
    attendance_names = "attendance.names"  # see participants' names
    evidence_read = "evidence.read"
    evidence_add = "evidence.add"
    evidence_hold = "evidence.hold"
    volunteer_manage = "volunteer.manage"
    volunteer_self = "volunteer.self"
    bundle_export = "bundle.export"
    users_manage = "users.manage"
    system_run = "system.run"  # verify, retention, backup, keys
    audit_read = "audit.read"
    deadline_set = "deadline.set"  # the district's own deadlines (Eigene Fristen)


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.specialist: frozenset(
        {
            P.agency_read,
            P.plan_edit,
            P.occurrence_edit,
            P.checkin_door,
            P.attendance_names,
            P.evidence_read,
            P.evidence_add,
            P.volunteer_manage,
            P.bundle_export,
        }
    ),
    Role.volunteer: frozenset({P.agency_read, P.checkin_door, P.volunteer_self}),
    Role.coordinator: frozenset(
        {
            P.agency_read,
            P.plan_approve,
            P.evidence_read,
            P.evidence_hold,
            P.bundle_export,
            P.audit_read,
            P.deadline_set,
        }
    ),
    Role.admin: frozenset(
        {P.agency_read, P.users_manage, P.system_run, P.audit_read, P.evidence_hold}
    ),
}

# Roles whose reach is one agency.
TENANT_ROLES = frozenset({Role.specialist, Role.volunteer})


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user, or the operator at the command line."""

    name: str
    role: Role
    user_id: int | None = None
    agency_id: int | None = None
    volunteer_id: int | None = None
    display_name: str = ""
    system: bool = False

    @classmethod
    def cli(cls, name: str = "system:cli") -> Actor:
        return cls(name=name, role=Role.admin, display_name=name, system=True)

    @property
    def label(self) -> str:
        return self.display_name or self.name


def can(actor: Actor | None, permission: Permission) -> bool:
    if actor is None:  # nobody logged in: a service asking ``can`` must not crash
        return False
    if actor.system:
        return True
    return role_may(actor.role, permission)


def role_may(role: Role, permission: Permission) -> bool:
    """Does the role carry ``permission`` (whoever holds it, e.g. a named approver)?"""
    return permission in ROLE_PERMISSIONS[role]


def sees_all_agencies(actor: Actor) -> bool:
    """True for the district's view (coordinator, admin, the CLI); a specialist or a
    volunteer reaches only her own agency."""
    return actor.system or actor.role not in TENANT_ROLES


def require(actor: Actor | None, permission: Permission, agency_id: int | None = None) -> Actor:
    """Refuse unless ``actor`` may do ``permission`` (on ``agency_id``, if given)."""
    if actor is None:
        raise Forbidden()
    if not can(actor, permission):
        raise Forbidden()
    if agency_id is not None and not reaches(actor, agency_id):
        raise NotFound(what="Der Eintrag")
    return actor


def reaches(actor: Actor, agency_id: int) -> bool:
    if sees_all_agencies(actor):
        return True
    return actor.agency_id == agency_id


def scope_filter(
    actor: Actor, column: SQLColumnExpression[int] | SQLColumnExpression[int | None]
) -> ColumnElement[bool]:
    """A WHERE clause limiting ``column`` (an agency_id) to what the actor reaches."""
    if sees_all_agencies(actor):
        return true()
    return column == actor.agency_id


def visible_agency_ids(actor: Actor, all_ids: Iterable[int]) -> list[int]:
    return [a for a in all_ids if reaches(actor, a)]


def agency_id_by_slug(session: Session, actor: Actor, slug: str, permission: Permission) -> int:
    """The id of agency ``slug`` once ``actor`` holds ``permission`` for it (``require``);
    an unknown slug answers ``NotFound`` with a German sentence."""
    agency_id = session.scalar(select(Agency.id).where(Agency.slug == slug))
    if agency_id is None:
        raise NotFound(what=f"Die Integrationsagentur „{slug}“")
    require(actor, permission, agency_id)
    return agency_id


def listing_filter(
    session: Session, actor: Actor, column: SQLColumnExpression[int], agency_slug: str | None
) -> ColumnElement[bool]:
    """A listing's WHERE clause: what the actor reaches (``scope_filter``) and, with
    ``agency_slug``, only that agency (unknown or out of reach: ``NotFound``)."""
    reached = scope_filter(actor, column)
    if not agency_slug:
        return reached
    return and_(
        reached, column == agency_id_by_slug(session, actor, agency_slug, Permission.agency_read)
    )
