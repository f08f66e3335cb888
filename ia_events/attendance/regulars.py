"""Regulars of a series: who came to earlier dates of the same activity, for the door's
type-ahead.

Most participants of a weekly Nähcafé come every week; staff pick them from a list
instead of typing each name. The list is the named attendances (valid, not undone) of
the activity's earlier occurrences, one entry per person (the blind name index), most
frequent first. Names are decrypted only for the agency's own staff
(``attendance.names``); a person whose processing is restricted (Art. 18 DSGVO) or
whose name was erased is not offered. Checking a regular in goes through
``checkin.door_checkin`` like a typed name, so nobody is counted twice.

Limits: no writing; no matching of different spellings (a typed name stays a new person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission, require
from ia_events.core.errors import NotFound
from ia_events.core.models import Attendance, Occurrence
from ia_events.core.permissions import Reach, service
from ia_events.privacy.personal import open_text
from storage.keys import KeyRing

LIMIT = 300  # more than any weekly group; the selectbox filters as one types


@dataclass(frozen=True)
class Regular:
    name: str
    visits: int  # earlier dates of the series this person came to
    last_seen: datetime
    present: bool  # already checked in to this occurrence


@service(Permission.attendance_names, Reach.agency)
def series_regulars(
    session: Session, keys: KeyRing, actor: Actor, occurrence_id: int, limit: int = LIMIT
) -> list[Regular]:
    """The people who came to earlier dates of ``occurrence_id``'s activity, most
    frequent first (then most recent); ``present`` marks who is already checked in."""
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.attendance_names, occ.agency_id)
    valid = Attendance.undone_at.is_(None) & Attendance.name_index.is_not(None)
    # A person with any restricted row is not offered (the restriction covers the person).
    restricted = select(Attendance.name_index).where(
        Attendance.agency_id == occ.agency_id,
        Attendance.name_index.is_not(None),
        Attendance.restricted_at.is_not(None),
    )
    visits = func.count(func.distinct(Attendance.occurrence_id))
    last = func.max(Attendance.recorded_at)
    ranked = session.execute(
        select(Attendance.name_index, visits, last)
        .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
        .where(
            valid,
            Attendance.name_enc.is_not(None),
            Occurrence.activity_id == occ.activity_id,
            Occurrence.starts_at < occ.starts_at,
            Attendance.name_index.not_in(restricted),
        )
        .group_by(Attendance.name_index)
        .order_by(visits.desc(), last.desc(), Attendance.name_index)
        .limit(limit)
    ).all()
    if not ranked:
        return []
    indexes = [index for index, _, _ in ranked]
    # The newest stored spelling of each person's name.
    sealed: dict[str | None, bytes | None] = {}
    for index, name_enc in session.execute(
        select(Attendance.name_index, Attendance.name_enc)
        .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
        .where(
            valid,
            Attendance.name_enc.is_not(None),
            Occurrence.activity_id == occ.activity_id,
            Attendance.name_index.in_(indexes),
        )
        .order_by(Attendance.recorded_at.desc(), Attendance.id.desc())
    ).all():
        sealed.setdefault(index, name_enc)
    present = set(
        session.scalars(
            select(Attendance.name_index).where(valid, Attendance.occurrence_id == occ.id)
        )
    )
    out = []
    for index, count, seen in ranked:
        name = open_text(session, keys, occ.agency_id, sealed[index], "attendance")
        if name:
            out.append(Regular(name, int(count), seen, index in present))
    return out
