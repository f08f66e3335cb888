"""Multiplikator*innen: volunteers and partner contacts who carry the agency's work on.

A volunteer of the registry or a partner's contact person (``PartnerContact``) is
marked as a multiplier, with the day since when if known; unmarking removes the mark
(both audited, ids only), and so does removing the contact person. Counted per agency
and funding year (``count_by_agency``): every mark of the agency whose ``since`` is not
after the year's end, with the volunteer not anonymised and the contact's partner not
archived before the year began -- two marked contacts of one partner are two
multipliers. The sub-goal indicator ``multipliers`` counts the marked volunteers who
worked a shift at the sub-goal's activities that year plus the marked contacts of
partners cooperating on them (``reporting.progress``).

Volunteers' marks are kept by those who manage volunteers, partners' by those who edit
the partner directory -- each in their own agency only; another agency's volunteer or
partner answers ``NotFound`` like an unknown id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.models import Multiplier, Partner, PartnerContact, Volunteer
from ia_events.core.permissions import Reach, service
from storage.db import utcnow


@dataclass(frozen=True)
class Mark:
    since: date | None


def _since(since: date | None, now: datetime | None) -> date | None:
    if since is None:
        return None
    if isinstance(since, datetime) or not isinstance(since, date):
        raise InvalidInput(field="Seit", reason="Bitte ein Datum angeben.")
    today = (now or utcnow()).date()
    if since.year < 1950 or since > today.replace(year=today.year + 1):
        raise InvalidInput(field="Seit", reason="Das Datum liegt außerhalb des Möglichen.")
    return since


def _set(
    session: Session,
    actor: Actor,
    agency_id: int,
    where: ColumnElement[bool],
    what: dict[str, int],
    multiplier: bool,
    since: date | None,
) -> bool:
    row = session.scalar(select(Multiplier).where(where))
    if multiplier:
        if row is not None and row.since == since:
            return False
        if row is None:
            row = Multiplier(agency_id=agency_id, since=since, **what)
            session.add(row)
        else:
            row.since = since
        session.flush()
        action = Action.multiplier_set
    else:
        if row is None:
            return False
        session.delete(row)
        action = Action.multiplier_unset
    kind, object_id = next(iter(what.items()))
    audit.record(
        session,
        actor.name,
        action,
        "multiplier",
        object_id,
        agency_id=agency_id,
        kind=kind.removesuffix("_id"),
        since=since.isoformat() if since and multiplier else None,
    )
    return True


@service(Permission.volunteer_manage, Reach.agency, "audit carries ids only")
def mark_volunteer(
    session: Session,
    actor: Actor,
    volunteer_id: int,
    multiplier: bool = True,
    since: date | None = None,
    now: datetime | None = None,
) -> bool:
    """Mark (or unmark) a volunteer as multiplier; False if nothing changed."""
    v = session.get(Volunteer, volunteer_id)
    if v is None:
        raise NotFound(what="Die ehrenamtliche Person")
    try:
        require(actor, Permission.volunteer_manage, v.agency_id)
    except NotFound as exc:
        raise NotFound(what="Die ehrenamtliche Person") from exc
    since = _since(since, now)
    return _set(
        session,
        actor,
        v.agency_id,
        Multiplier.volunteer_id == v.id,
        {"volunteer_id": v.id},
        multiplier,
        since,
    )


@service(Permission.plan_edit, Reach.agency, "audit carries ids only")
def mark_partner_contact(
    session: Session,
    actor: Actor,
    contact_id: int,
    multiplier: bool = True,
    since: date | None = None,
    now: datetime | None = None,
) -> bool:
    """Mark (or unmark) a partner's contact person as multiplier; False if nothing changed."""
    c = session.get(PartnerContact, contact_id)
    if c is None:
        raise NotFound(what="Die Kontaktperson")
    try:
        require(actor, Permission.plan_edit, c.agency_id)
    except NotFound as exc:
        raise NotFound(what="Die Kontaktperson") from exc
    since = _since(since, now)
    return _set(
        session,
        actor,
        c.agency_id,
        Multiplier.partner_contact_id == c.id,
        {"partner_contact_id": c.id},
        multiplier,
        since,
    )


@service(Permission.agency_read, Reach.agency)
def marks(session: Session, actor: Actor, agency_id: int) -> dict[str, dict[int, Mark]]:
    """The agency's marks: ``{"volunteer": {id: Mark}, "contact": {contact id: Mark}}``."""
    require(actor, Permission.agency_read, agency_id)
    out: dict[str, dict[int, Mark]] = {"volunteer": {}, "contact": {}}
    for vid, cid, since in session.execute(
        select(Multiplier.volunteer_id, Multiplier.partner_contact_id, Multiplier.since).where(
            Multiplier.agency_id == agency_id
        )
    ):
        if vid is not None:
            out["volunteer"][vid] = Mark(since)
        elif cid is not None:
            out["contact"][cid] = Mark(since)
    return out


def counted(year: int) -> ColumnElement[bool]:
    """Internal: the marks that count for ``year`` (a WHERE clause over ``Multiplier``
    joined outer to ``Volunteer`` and, through ``PartnerContact``, ``Partner``:
    ``joined``)."""
    start = datetime(year, 1, 1, tzinfo=UTC)
    return and_(
        or_(Multiplier.since.is_(None), Multiplier.since <= date(year, 12, 31)),
        or_(Multiplier.volunteer_id.is_(None), Volunteer.anonymised_at.is_(None)),
        or_(
            Multiplier.partner_contact_id.is_(None),
            Partner.archived_at.is_(None),
            Partner.archived_at >= start,
        ),
    )


_Q = TypeVar("_Q", bound=Select)


def joined(q: _Q) -> _Q:
    """Internal: ``q`` over ``Multiplier`` joined outer to what ``counted`` looks at."""
    return (
        q.outerjoin(Volunteer, Volunteer.id == Multiplier.volunteer_id)
        .outerjoin(PartnerContact, PartnerContact.id == Multiplier.partner_contact_id)
        .outerjoin(Partner, Partner.id == PartnerContact.partner_id)
    )


def count_by_agency(session: Session, agency_ids: list[int], year: int) -> dict[int, int]:
    """Internal (caller checked permission): multipliers per agency counting for ``year``."""
    if not agency_ids:
        return {}
    q = joined(select(Multiplier.agency_id, func.count(Multiplier.id)))
    q = q.where(Multiplier.agency_id.in_(agency_ids), counted(year)).group_by(Multiplier.agency_id)
    return {aid: int(n) for aid, n in session.execute(q)}
