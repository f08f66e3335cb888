"""Network meetings: Gremien, Netzwerktreffen, Facharbeitskreise, Klausuren and
Trägerkonferenzen of one agency, with the partner organisations present, agenda,
decisions, optional sub-goals and the Protokoll archived as evidence.

A meeting is single or one of a series ("every N weeks" or "every N months" until a
date, at the same local time in Europe/Berlin across daylight saving time); a series
is several rows sharing ``series_id``. The Protokoll is an evidence item of kind
``minutes`` archived through ``archive.evidence`` (so it has the usual retention and
fixity), linked to the meeting's sub-goals and listed with the meeting.

The district asks for at least ``REQUIRED_WORKING_GROUPS`` Facharbeitskreise per agency
and year (held: not cancelled, already begun); ``held_counts`` counts them for the
coordinator's completeness overview (``inspection.completeness``).

Specialists record their own agency's meetings; the coordinator reads all. Another
agency's meeting, partner or sub-goal reads like an unknown id. Audit events carry ids.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import BinaryIO

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ia_events.archive.evidence import EvidenceView, add_linked
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
from ia_events.core.installation import Installation
from ia_events.core.messages import BERLIN
from ia_events.core.models import (
    Agency,
    Evidence,
    EvidenceKind,
    MeetingKind,
    NetworkMeeting,
    Partner,
    SubGoal,
    meeting_minutes,
    meeting_partners,
    meeting_subgoals,
)
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import checked_text
from storage.db import utcnow

MEETING_KINDS = [k.value for k in MeetingKind]
# The district's rule: at least three Facharbeitskreise per agency and year.
REQUIRED_WORKING_GROUPS = 3
REQUIRED_KIND = MeetingKind.working_group.value
MAX_SERIES = 60
TEXT_LIMIT = 5000


@dataclass
class MeetingView:
    id: int
    agency_id: int
    agency_slug: str
    funding_year: int
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    agenda: str
    decisions: str
    series_id: int | None
    cancelled: bool
    partner_ids: list[int] = field(default_factory=list)
    subgoal_ids: list[int] = field(default_factory=list)
    minutes_evidence_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """``ia-events list meetings --json`` (a contract: add keys, never rename)."""
        return {
            "id": self.id,
            "date": self.starts_at.astimezone(BERLIN).date().isoformat(),
            "kind": self.kind,
            "title": self.title,
            "partner_ids": list(self.partner_ids),
            "minutes_evidence_ids": list(self.minutes_evidence_ids),
        }


def _kind(value: str) -> str:
    try:
        return MeetingKind(value).value
    except ValueError as exc:
        raise InvalidInput(field="Art", reason=", ".join(MEETING_KINDS) + ".") from exc


def _meeting(
    session: Session, actor: Actor, meeting_id: int, permission: Permission
) -> NetworkMeeting:
    meeting = session.get(NetworkMeeting, meeting_id)
    if meeting is None:
        raise NotFound(what="Die Sitzung")
    try:
        require(actor, permission, meeting.agency_id)
    except NotFound as exc:  # another agency's meeting reads like an unknown one
        raise NotFound(what="Die Sitzung") from exc
    return meeting


def own_partners(session: Session, agency_id: int, partner_ids: list[int]) -> list[int]:
    """``partner_ids`` if each is a partner of the agency, else ``NotFound``."""
    ids = sorted(set(partner_ids))
    if not ids:
        return []
    found = set(
        session.scalars(
            select(Partner.id).where(Partner.id.in_(ids), Partner.agency_id == agency_id)
        )
    )
    for pid in ids:
        if pid not in found:
            raise NotFound(what=f"Der Partner {pid}")
    return ids


def own_subgoals(session: Session, agency_id: int, year: int, subgoal_ids: list[int]) -> list[int]:
    """``subgoal_ids`` if each is a sub-goal of the agency in ``year``."""
    ids = sorted(set(subgoal_ids))
    for sid in ids:
        row = session.execute(
            select(SubGoal.agency_id, SubGoal.funding_year).where(SubGoal.id == sid)
        ).first()
        if row is None or row[0] != agency_id:
            raise NotFound(what=f"Das Teilziel {sid}")
        if row[1] != year:
            raise InvalidInput(
                field="Teilziel", reason=f"Teilziel {sid} gehört zum Förderjahr {row[1]}."
            )
    return ids


def _dates(first: date, every_weeks: int, every_months: int, until: date | None) -> list[date]:
    if every_weeks < 0 or every_months < 0 or (every_weeks and every_months):
        raise InvalidInput(field="Wiederholung", reason="Bitte Wochen oder Monate angeben.")
    if not (every_weeks or every_months):
        return [first]
    if until is None or until < first:
        raise InvalidInput(field="Bis", reason="Bitte ein Enddatum nach der ersten Sitzung.")
    out: list[date] = []
    n = 0
    while True:
        if every_weeks:
            day = first + timedelta(weeks=every_weeks * n)
        else:
            month0 = first.month - 1 + every_months * n
            y, m = first.year + month0 // 12, month0 % 12 + 1
            day = date(y, m, min(first.day, calendar.monthrange(y, m)[1]))
        if day > until:
            return out
        out.append(day)
        if len(out) > MAX_SERIES:
            raise InvalidInput(
                field="Bis", reason=f"Höchstens {MAX_SERIES} Sitzungen in einer Serie."
            )
        n += 1


def local_utc(day: date, at: time) -> datetime:
    """``day`` at ``at`` in Europe/Berlin, as UTC."""
    return datetime.combine(day, at, tzinfo=BERLIN).astimezone(UTC)


@service(Permission.plan_edit, Reach.agency, "partners and sub-goals of the same agency")
def create_meeting(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    kind: str,
    title: str,
    on: date,
    start: time,
    end: time,
    place: str = "",
    agenda: str = "",
    decisions: str = "",
    partner_ids: list[int] | None = None,
    subgoal_ids: list[int] | None = None,
    every_weeks: int = 0,
    every_months: int = 0,
    until: date | None = None,
) -> list[NetworkMeeting]:
    """One meeting, or a series; times are local (Europe/Berlin). Returns the rows."""
    agency_id = agency_id_by_slug(session, actor, agency_slug, Permission.plan_edit)
    kind = _kind(kind)
    title = checked_text(title, "Titel", limit=200, multiline=False)
    place = checked_text(place, "Ort", limit=200, required=False, multiline=False)
    agenda = checked_text(agenda, "Tagesordnung", limit=TEXT_LIMIT, required=False)
    decisions = checked_text(decisions, "Ergebnisse", limit=TEXT_LIMIT, required=False)
    if end <= start:
        raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
    days = _dates(on, every_weeks, every_months, until)
    years = {d.year for d in days}
    if not all(2000 <= y <= 2100 for y in years):
        raise InvalidInput(field="Datum", reason="Bitte ein Datum zwischen 2000 und 2100.")
    partners = own_partners(session, agency_id, partner_ids or [])
    goals = sorted(set(subgoal_ids or []))
    if goals and len(years) > 1:
        raise InvalidInput(
            field="Teilziel", reason="Eine Serie mit Teilzielen muss im selben Förderjahr liegen."
        )
    goals = own_subgoals(session, agency_id, days[0].year, goals)
    rows: list[NetworkMeeting] = []
    for day in days:
        m = NetworkMeeting(
            agency_id=agency_id,
            funding_year=day.year,
            kind=kind,
            title=title,
            starts_at=local_utc(day, start),
            ends_at=local_utc(day, end),
            place=place,
            agenda=agenda,
            decisions=decisions,
        )
        session.add(m)
        rows.append(m)
    session.flush()
    if len(rows) > 1:
        for m in rows:
            m.series_id = rows[0].id
    links_p = [{"meeting_id": m.id, "partner_id": p} for m in rows for p in partners]
    links_g = [{"meeting_id": m.id, "subgoal_id": g} for m in rows for g in goals]
    if links_p:
        session.execute(insert(meeting_partners), links_p)
    if links_g:
        session.execute(insert(meeting_subgoals), links_g)
    audit.record(
        session,
        actor.name,
        Action.meeting_add,
        "meeting",
        rows[0].id,
        agency_id=agency_id,
        meeting_ids=[m.id for m in rows],
        partner_ids=partners,
        subgoal_ids=goals,
    )
    return rows


@service(Permission.plan_edit, Reach.agency, "partners and sub-goals of the same agency")
def update_meeting(
    session: Session,
    actor: Actor,
    meeting_id: int,
    *,
    title: str,
    place: str = "",
    agenda: str = "",
    decisions: str = "",
    partner_ids: list[int] | None = None,
    subgoal_ids: list[int] | None = None,
) -> NetworkMeeting:
    """Change what a meeting was about and who came (its date stays)."""
    meeting = _meeting(session, actor, meeting_id, Permission.plan_edit)
    changed = []
    for attr, value in (
        ("title", checked_text(title, "Titel", limit=200, multiline=False)),
        ("place", checked_text(place, "Ort", limit=200, required=False, multiline=False)),
        ("agenda", checked_text(agenda, "Tagesordnung", limit=TEXT_LIMIT, required=False)),
        ("decisions", checked_text(decisions, "Ergebnisse", limit=TEXT_LIMIT, required=False)),
    ):
        if getattr(meeting, attr) != value:
            setattr(meeting, attr, value)
            changed.append(attr)
    for table, col, ids, name in (
        (
            meeting_partners,
            "partner_id",
            own_partners(session, meeting.agency_id, partner_ids or []),
            "partners",
        ),
        (
            meeting_subgoals,
            "subgoal_id",
            own_subgoals(session, meeting.agency_id, meeting.funding_year, subgoal_ids or []),
            "subgoals",
        ),
    ):
        old = sorted(session.scalars(select(table.c[col]).where(table.c.meeting_id == meeting.id)))
        if old != ids:
            session.execute(delete(table).where(table.c.meeting_id == meeting.id))
            if ids:
                session.execute(insert(table), [{"meeting_id": meeting.id, col: i} for i in ids])
            changed.append(name)
    if changed:
        audit.record(
            session,
            actor.name,
            Action.meeting_change,
            "meeting",
            meeting.id,
            agency_id=meeting.agency_id,
            fields=changed,
        )
    return meeting


@service(Permission.plan_edit, Reach.agency)
def cancel_meeting(session: Session, actor: Actor, meeting_id: int) -> NetworkMeeting:
    """Mark a meeting as cancelled (kept, no longer counted)."""
    meeting = _meeting(session, actor, meeting_id, Permission.plan_edit)
    if meeting.cancelled_at is None:
        meeting.cancelled_at = utcnow()
        audit.record(
            session,
            actor.name,
            Action.meeting_cancel,
            "meeting",
            meeting.id,
            agency_id=meeting.agency_id,
        )
    return meeting


@service(Permission.evidence_add, Reach.agency, "archived through archive.evidence")
def attach_minutes(
    inst: Installation,
    actor: Actor,
    meeting_id: int,
    filename: str,
    content: bytes | BinaryIO,
    title: str | None = None,
) -> EvidenceView:
    """Archive the Protokoll of a meeting: an evidence item of kind ``minutes`` for the
    meeting's agency and year, linked to its sub-goals, and listed with the meeting."""
    with inst.db.read() as s:
        meeting = _meeting(s, actor, meeting_id, Permission.evidence_add)
        if meeting.cancelled_at is not None:
            raise Conflict(reason="Die Sitzung ist abgesagt.")
        slug = s.scalar(select(Agency.slug).where(Agency.id == meeting.agency_id))
        goals = list(
            s.scalars(
                select(meeting_subgoals.c.subgoal_id).where(
                    meeting_subgoals.c.meeting_id == meeting.id
                )
            )
        )
        year, agency_id = meeting.funding_year, meeting.agency_id
        day = meeting.starts_at.astimezone(BERLIN).date()
        default_title = f"Protokoll {meeting.kind} „{meeting.title}“ vom {day:%d.%m.%Y}"
    data = content if isinstance(content, bytes) else content.read()

    def link(s: Session, items: list[Evidence]) -> None:
        for item in items:
            s.execute(insert(meeting_minutes).values(meeting_id=meeting_id, evidence_id=item.id))
            audit.record(
                s,
                actor.name,
                Action.meeting_minutes,
                "meeting",
                meeting_id,
                agency_id=agency_id,
                evidence_id=item.id,
            )

    return add_linked(
        inst,
        actor,
        [(filename, data, (title or "").strip() or default_title, None)],
        kind=EvidenceKind.minutes.value,
        within=link,
        agency_slug=slug,
        funding_year=year,
        subgoal_ids=goals,
        doc_date=day,
    )[0]


@service(Permission.agency_read, Reach.listing)
def list_meetings(
    session: Session,
    actor: Actor,
    agency_slug: str | None = None,
    year: int | None = None,
    include_cancelled: bool = True,
) -> list[MeetingView]:
    """The meetings the actor reaches (one agency with ``agency_slug``), by date."""
    require(actor, Permission.agency_read)
    q = (
        select(NetworkMeeting, Agency.slug)
        .join(Agency, Agency.id == NetworkMeeting.agency_id)
        .where(listing_filter(session, actor, NetworkMeeting.agency_id, agency_slug))
    )
    if year is not None:
        q = q.where(NetworkMeeting.funding_year == year)
    if not include_cancelled:
        q = q.where(NetworkMeeting.cancelled_at.is_(None))
    rows = session.execute(
        q.order_by(Agency.slug, NetworkMeeting.starts_at, NetworkMeeting.id)
    ).all()
    ids = [m.id for m, _ in rows]
    links: dict[str, dict[int, list[int]]] = {
        "p": defaultdict(list),
        "g": defaultdict(list),
        "e": defaultdict(list),
    }
    if ids:
        for key, stmt in (
            (
                "p",
                select(meeting_partners.c.meeting_id, meeting_partners.c.partner_id)
                .where(meeting_partners.c.meeting_id.in_(ids))
                .order_by(meeting_partners.c.partner_id),
            ),
            (
                "g",
                select(meeting_subgoals.c.meeting_id, meeting_subgoals.c.subgoal_id)
                .where(meeting_subgoals.c.meeting_id.in_(ids))
                .order_by(meeting_subgoals.c.subgoal_id),
            ),
            (
                "e",
                select(meeting_minutes.c.meeting_id, meeting_minutes.c.evidence_id)
                .join(Evidence, Evidence.id == meeting_minutes.c.evidence_id)
                .where(meeting_minutes.c.meeting_id.in_(ids), Evidence.deleted_at.is_(None))
                .order_by(meeting_minutes.c.evidence_id),
            ),
        ):
            for mid, other in session.execute(stmt):
                links[key][mid].append(other)
    return [
        MeetingView(
            id=m.id,
            agency_id=m.agency_id,
            agency_slug=slug,
            funding_year=m.funding_year,
            kind=m.kind,
            title=m.title,
            starts_at=m.starts_at,
            ends_at=m.ends_at,
            place=m.place,
            agenda=m.agenda,
            decisions=m.decisions,
            series_id=m.series_id,
            cancelled=m.cancelled_at is not None,
            partner_ids=list(links["p"].get(m.id, [])),
            subgoal_ids=list(links["g"].get(m.id, [])),
            minutes_evidence_ids=list(links["e"].get(m.id, [])),
        )
        for m, slug in rows
    ]


@dataclass(frozen=True)
class KindCount:
    """Meetings of one kind in a year: held so far, and still planned."""

    held: int = 0
    planned: int = 0


def held_counts(
    session: Session, agency_ids: list[int], year: int, now: datetime
) -> dict[int, dict[str, KindCount]]:
    """Per agency and kind: meetings held in ``year`` (not cancelled, begun by ``now``)
    and those still planned. Caller has checked permission; one grouped query."""
    out: dict[int, dict[str, KindCount]] = defaultdict(dict)
    if not agency_ids:
        return out
    held = NetworkMeeting.starts_at <= now
    rows = session.execute(
        select(
            NetworkMeeting.agency_id,
            NetworkMeeting.kind,
            func.count().filter(held),
            func.count().filter(~held),
        )
        .where(
            NetworkMeeting.agency_id.in_(agency_ids),
            NetworkMeeting.funding_year == year,
            NetworkMeeting.cancelled_at.is_(None),
        )
        .group_by(NetworkMeeting.agency_id, NetworkMeeting.kind)
    )
    for agency_id, kind, n_held, n_planned in rows:
        out[agency_id][kind] = KindCount(int(n_held or 0), int(n_planned or 0))
    return out
