"""Work that is not an event: opening processes (IKÖ), Antidiskriminierungsberatung as
anonymous counts, and lending material to partner organisations.

- An **opening process** accompanies one partner organisation's intercultural opening:
  dated contacts with a short note about the work, a status and an outcome, optionally
  linked to sub-goals. It counts for a year when it began then or had a contact then.
- **Counselling** is recorded only as counts: so many cases in a month, of a kind of
  discrimination (``DiscriminationKind``) and with an outcome (``CounsellingOutcome``)
  -- fixed lists, no names and no free text about persons. A wrong entry is deleted
  (audited) and entered again.
- A **lending**: what, to which partner organisation, lent on, due back, returned on.

Specialists record their own agency's work; the coordinator reads all. Another agency's
process, partner or sub-goal reads like an unknown id. Audit events carry ids only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, extract, insert, or_, select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import (
    Actor,
    Permission,
    agency_id_by_slug,
    listing_filter,
    require,
)
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.models import (
    Agency,
    CounsellingCount,
    CounsellingOutcome,
    DiscriminationKind,
    Lending,
    OpeningProcess,
    ProcessContact,
    ProcessStatus,
    opening_process_subgoals,
)
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import checked_text
from ia_events.network.meetings import own_partners, own_subgoals

PROCESS_STATUSES = [s.value for s in ProcessStatus]
DISCRIMINATION_KINDS = [k.value for k in DiscriminationKind]
COUNSELLING_OUTCOMES = [o.value for o in CounsellingOutcome]
MAX_CASES = 1000


@dataclass
class ContactView:
    id: int
    on: date
    note: str


@dataclass
class ProcessView:
    id: int
    agency_slug: str
    funding_year: int
    partner_id: int
    title: str
    started_on: date
    status: str
    outcome: str
    subgoal_ids: list[int] = field(default_factory=list)
    contacts: list[ContactView] = field(default_factory=list)


@dataclass
class CountView:
    id: int
    agency_slug: str
    period: date
    discrimination: str
    outcome: str
    cases: int
    subgoal_id: int | None


@dataclass
class LendingView:
    id: int
    agency_slug: str
    item: str
    partner_id: int
    lent_on: date
    due_on: date
    returned_on: date | None
    subgoal_id: int | None

    def overdue(self, today: date) -> bool:
        return self.returned_on is None and self.due_on < today


def _year(day: date, label: str) -> int:
    if not 2000 <= day.year <= 2100:
        raise InvalidInput(field=label, reason="Bitte ein Datum zwischen 2000 und 2100.")
    return day.year


def _choice(value: str, allowed: list[str], label: str) -> str:
    if value not in allowed:
        raise InvalidInput(field=label, reason=", ".join(allowed) + ".")
    return value


def _partner(session: Session, agency_id: int, partner_id: int) -> int:
    return own_partners(session, agency_id, [partner_id])[0]


def _subgoal(session: Session, agency_id: int, year: int, subgoal_id: int | None) -> int | None:
    if subgoal_id is None:
        return None
    return own_subgoals(session, agency_id, year, [subgoal_id])[0]


def _owned(
    row: OpeningProcess | CounsellingCount | Lending | None,
    what: str,
    actor: Actor,
    permission: Permission,
) -> None:
    if row is None:
        raise NotFound(what=what)
    try:
        require(actor, permission, row.agency_id)
    except NotFound as exc:  # another agency's row reads like an unknown one
        raise NotFound(what=what) from exc


# -- opening processes ------------------------------------------------------------------


@service(Permission.plan_edit, Reach.agency, "partner and sub-goals of the same agency")
def create_process(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    partner_id: int,
    title: str,
    started_on: date,
    subgoal_ids: list[int] | None = None,
) -> OpeningProcess:
    """Begin accompanying a partner organisation's opening process."""
    agency_id = agency_id_by_slug(session, actor, agency_slug, Permission.plan_edit)
    year = _year(started_on, "Beginn")
    process = OpeningProcess(
        agency_id=agency_id,
        funding_year=year,
        partner_id=_partner(session, agency_id, partner_id),
        title=checked_text(title, "Titel", limit=200, multiline=False),
        started_on=started_on,
        status=ProcessStatus.running.value,
    )
    goals = own_subgoals(session, agency_id, year, subgoal_ids or [])
    session.add(process)
    session.flush()
    if goals:
        session.execute(
            insert(opening_process_subgoals),
            [{"process_id": process.id, "subgoal_id": g} for g in goals],
        )
    audit.record(
        session,
        actor.name,
        Action.process_add,
        "opening_process",
        process.id,
        agency_id=agency_id,
        partner_id=process.partner_id,
        subgoal_ids=goals,
    )
    return process


def _process(
    session: Session, actor: Actor, process_id: int, permission: Permission
) -> OpeningProcess:
    process = session.get(OpeningProcess, process_id)
    _owned(process, "Der Öffnungsprozess", actor, permission)
    assert process is not None
    return process


@service(Permission.plan_edit, Reach.agency)
def add_contact(
    session: Session, actor: Actor, process_id: int, *, on: date, note: str
) -> ProcessContact:
    """A dated contact of the process with a short note about the work (not about persons)."""
    process = _process(session, actor, process_id, Permission.plan_edit)
    _year(on, "Datum")
    if on < process.started_on:
        raise InvalidInput(field="Datum", reason="Der Kontakt liegt vor dem Beginn des Prozesses.")
    contact = ProcessContact(
        process_id=process.id,
        agency_id=process.agency_id,
        contact_on=on,
        note=checked_text(note, "Notiz", limit=500),
    )
    session.add(contact)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.process_contact,
        "opening_process",
        process.id,
        agency_id=process.agency_id,
        contact_id=contact.id,
    )
    return contact


@service(Permission.plan_edit, Reach.agency)
def set_status(
    session: Session, actor: Actor, process_id: int, *, status: str, outcome: str = ""
) -> OpeningProcess:
    """The process's status and outcome (what the institution changed, what is agreed)."""
    process = _process(session, actor, process_id, Permission.plan_edit)
    status = _choice(status, PROCESS_STATUSES, "Stand")
    outcome = checked_text(outcome, "Ergebnis", limit=2000, required=False)
    changed = [
        attr
        for attr, value in (("status", status), ("outcome", outcome))
        if getattr(process, attr) != value
    ]
    process.status, process.outcome = status, outcome
    if changed:
        audit.record(
            session,
            actor.name,
            Action.process_change,
            "opening_process",
            process.id,
            agency_id=process.agency_id,
            fields=changed,
        )
    return process


def active_in(year: int) -> ColumnElement[bool]:
    """A process counts for ``year`` when it began then or had a contact then."""
    return or_(
        OpeningProcess.funding_year == year,
        exists().where(
            ProcessContact.process_id == OpeningProcess.id,
            extract("year", ProcessContact.contact_on) == year,
        ),
    )


@service(Permission.agency_read, Reach.listing)
def list_processes(
    session: Session, actor: Actor, agency_slug: str | None = None, year: int | None = None
) -> list[ProcessView]:
    """Opening processes the actor reaches (of ``year``: begun then or with a contact then)."""
    require(actor, Permission.agency_read)
    q = (
        select(OpeningProcess, Agency.slug)
        .join(Agency, Agency.id == OpeningProcess.agency_id)
        .where(listing_filter(session, actor, OpeningProcess.agency_id, agency_slug))
    )
    if year is not None:
        q = q.where(active_in(year))
    rows = session.execute(q.order_by(Agency.slug, OpeningProcess.started_on)).all()
    ids = [p.id for p, _ in rows]
    goals: dict[int, list[int]] = defaultdict(list)
    contacts: dict[int, list[ContactView]] = defaultdict(list)
    if ids:
        for pid, sid in session.execute(
            select(opening_process_subgoals.c.process_id, opening_process_subgoals.c.subgoal_id)
            .where(opening_process_subgoals.c.process_id.in_(ids))
            .order_by(opening_process_subgoals.c.subgoal_id)
        ):
            goals[pid].append(sid)
        for c in session.scalars(
            select(ProcessContact)
            .where(ProcessContact.process_id.in_(ids))
            .order_by(ProcessContact.contact_on, ProcessContact.id)
        ):
            contacts[c.process_id].append(ContactView(c.id, c.contact_on, c.note))
    return [
        ProcessView(
            id=p.id,
            agency_slug=slug,
            funding_year=p.funding_year,
            partner_id=p.partner_id,
            title=p.title,
            started_on=p.started_on,
            status=p.status,
            outcome=p.outcome,
            subgoal_ids=goals.get(p.id, []),
            contacts=contacts.get(p.id, []),
        )
        for p, slug in rows
    ]


# -- counselling counts -----------------------------------------------------------------


@service(Permission.plan_edit, Reach.agency, "anonymous counts only: fixed lists, no names")
def add_counselling(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    year: int,
    month: int,
    discrimination: str,
    outcome: str,
    cases: int,
    subgoal_id: int | None = None,
) -> CounsellingCount:
    """So many counselling cases in a month, of a kind of discrimination, with an outcome."""
    agency_id = agency_id_by_slug(session, actor, agency_slug, Permission.plan_edit)
    if not 1 <= int(month) <= 12:
        raise InvalidInput(field="Monat", reason="Bitte einen Monat von 1 bis 12.")
    period = date(int(year), int(month), 1)
    _year(period, "Jahr")
    if not 1 <= int(cases) <= MAX_CASES:
        raise InvalidInput(field="Fälle", reason=f"Bitte eine Zahl von 1 bis {MAX_CASES}.")
    row = CounsellingCount(
        agency_id=agency_id,
        funding_year=period.year,
        period=period,
        discrimination=_choice(discrimination, DISCRIMINATION_KINDS, "Diskriminierungsmerkmal"),
        outcome=_choice(outcome, COUNSELLING_OUTCOMES, "Ergebnis"),
        cases=int(cases),
        subgoal_id=_subgoal(session, agency_id, period.year, subgoal_id),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.counselling_add,
        "counselling",
        row.id,
        agency_id=agency_id,
        cases=row.cases,
    )
    return row


@service(Permission.plan_edit, Reach.agency)
def delete_counselling(session: Session, actor: Actor, count_id: int) -> None:
    """Remove a wrong entry (audited with its figures, which are not personal)."""
    row = session.get(CounsellingCount, count_id)
    _owned(row, "Der Eintrag", actor, Permission.plan_edit)
    assert row is not None
    audit.record(
        session,
        actor.name,
        Action.counselling_delete,
        "counselling",
        row.id,
        agency_id=row.agency_id,
        period=row.period.isoformat(),
        discrimination=row.discrimination,
        outcome=row.outcome,
        cases=row.cases,
    )
    session.delete(row)


@service(Permission.agency_read, Reach.listing)
def list_counselling(
    session: Session, actor: Actor, agency_slug: str | None = None, year: int | None = None
) -> list[CountView]:
    require(actor, Permission.agency_read)
    q = (
        select(CounsellingCount, Agency.slug)
        .join(Agency, Agency.id == CounsellingCount.agency_id)
        .where(listing_filter(session, actor, CounsellingCount.agency_id, agency_slug))
    )
    if year is not None:
        q = q.where(CounsellingCount.funding_year == year)
    rows = session.execute(q.order_by(Agency.slug, CounsellingCount.period, CounsellingCount.id))
    return [
        CountView(c.id, slug, c.period, c.discrimination, c.outcome, c.cases, c.subgoal_id)
        for c, slug in rows
    ]


def counselling_table(rows: list[CountView]) -> dict[str, dict[str, int]]:
    """Cases by kind of discrimination and outcome (every kind, every outcome)."""
    out = {k: dict.fromkeys(COUNSELLING_OUTCOMES, 0) for k in DISCRIMINATION_KINDS}
    for r in rows:
        out[r.discrimination][r.outcome] += r.cases
    return out


# -- lending ----------------------------------------------------------------------------


@service(Permission.plan_edit, Reach.agency, "partner and sub-goal of the same agency")
def lend(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    item: str,
    partner_id: int,
    lent_on: date,
    due_on: date,
    subgoal_id: int | None = None,
) -> Lending:
    """Material lent to a partner organisation until ``due_on``."""
    agency_id = agency_id_by_slug(session, actor, agency_slug, Permission.plan_edit)
    year = _year(lent_on, "Verliehen am")
    if due_on < lent_on:
        raise InvalidInput(field="Zurück bis", reason="Das Datum liegt vor dem Verleih.")
    row = Lending(
        agency_id=agency_id,
        funding_year=year,
        item=checked_text(item, "Material", limit=200, multiline=False),
        partner_id=_partner(session, agency_id, partner_id),
        lent_on=lent_on,
        due_on=due_on,
        subgoal_id=_subgoal(session, agency_id, year, subgoal_id),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.lending_add,
        "lending",
        row.id,
        agency_id=agency_id,
        partner_id=row.partner_id,
    )
    return row


@service(Permission.plan_edit, Reach.agency)
def mark_returned(session: Session, actor: Actor, lending_id: int, *, on: date) -> Lending:
    row = session.get(Lending, lending_id)
    _owned(row, "Der Verleih", actor, Permission.plan_edit)
    assert row is not None
    if row.returned_on is not None:
        raise Conflict(reason="Das Material ist schon zurückgegeben.")
    if on < row.lent_on:
        raise InvalidInput(field="Zurück am", reason="Das Datum liegt vor dem Verleih.")
    row.returned_on = on
    audit.record(
        session, actor.name, Action.lending_return, "lending", row.id, agency_id=row.agency_id
    )
    return row


@service(Permission.agency_read, Reach.listing)
def list_lendings(
    session: Session, actor: Actor, agency_slug: str | None = None, year: int | None = None
) -> list[LendingView]:
    """Lendings the actor reaches (of ``year``: lent then, or still out from before)."""
    require(actor, Permission.agency_read)
    q = (
        select(Lending, Agency.slug)
        .join(Agency, Agency.id == Lending.agency_id)
        .where(listing_filter(session, actor, Lending.agency_id, agency_slug))
    )
    if year is not None:
        q = q.where(
            or_(
                Lending.funding_year == year,
                and_(Lending.funding_year < year, Lending.returned_on.is_(None)),
            )
        )
    rows = session.execute(q.order_by(Agency.slug, Lending.lent_on, Lending.id))
    return [
        LendingView(
            x.id, slug, x.item, x.partner_id, x.lent_on, x.due_on, x.returned_on, x.subgoal_id
        )
        for x, slug in rows
    ]
