"""Unusual bursts of self check-ins at one occurrence, and stopping one in one action.

A real door sees people arrive over minutes; a script posts dozens of names a
minute. The rate limits of the participant page (``web.checkin_page``) slow a
script down; this module is the specialist's side: ``find_burst`` names a run
of self check-ins (QR) denser than ``BURST_COUNT`` within ``BURST_WINDOW``
(the door screen shows it), and ``stop_burst`` closes the occurrence's links
(and the series' poster link) and undoes every self check-in of the burst — in
one transaction, each undo audited like a single one, nothing deleted.

Limits: a burst is a hint, not a verdict — 30 phones in one minute can be a
real crowd; the person at the door decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.attendance import tokens
from ia_events.attendance.records import _mark_undone
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.models import Attendance, Occurrence
from ia_events.core.permissions import Reach, service
from storage.db import utcnow

BURST_WINDOW = timedelta(seconds=60)
BURST_COUNT = 30  # self check-ins within BURST_WINDOW that make a burst
BURST_GAP = timedelta(seconds=20)  # a burst goes on while check-ins come this close


@dataclass(frozen=True)
class Burst:
    occurrence_id: int
    since: datetime  # the first check-in of the burst
    until: datetime  # the last one
    count: int


def _self_checkins(session: Session, occurrence_id: int) -> list[tuple[int, datetime]]:
    return list(
        session.execute(
            select(Attendance.id, Attendance.recorded_at)
            .where(
                Attendance.occurrence_id == occurrence_id,
                Attendance.method == "self_qr",
                Attendance.undone_at.is_(None),
            )
            .order_by(Attendance.recorded_at, Attendance.id)
        ).all()
    )


def _occurrence(session: Session, actor: Actor, occurrence_id: int) -> Occurrence:
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.checkin_door, occ.agency_id)
    return occ


@service(Permission.checkin_door, Reach.agency)
def find_burst(session: Session, actor: Actor, occurrence_id: int) -> Burst | None:
    """The latest burst of valid self check-ins at the occurrence, or None."""
    occ = _occurrence(session, actor, occurrence_id)
    rows = _self_checkins(session, occ.id)
    times = [at for _, at in rows]
    burst: Burst | None = None
    i = 0
    while i < len(times):
        # the densest run starting at i: BURST_COUNT within BURST_WINDOW
        j = i + BURST_COUNT - 1
        if j < len(times) and times[j] - times[i] <= BURST_WINDOW:
            start, end = i, j
            while end + 1 < len(times) and times[end + 1] - times[end] <= BURST_GAP:
                end += 1
            burst = Burst(occ.id, times[start], times[end], end - start + 1)
            i = end + 1
        else:
            i += 1
    return burst


@service(Permission.checkin_door, Reach.agency, "and occurrence.edit (closes links)")
def stop_burst(
    session: Session,
    actor: Actor,
    occurrence_id: int,
    since: datetime,
    now: datetime | None = None,
) -> int:
    """Close every check-in link of the occurrence (and its series' poster link) and
    undo each valid self check-in recorded since ``since``; returns how many."""
    now = now or utcnow()
    occ = _occurrence(session, actor, occurrence_id)
    require(actor, Permission.occurrence_edit, occ.agency_id)
    if since > now:
        raise InvalidInput(field="Beginn", reason="Der Beginn liegt in der Zukunft.")
    tokens.revoke_links(session, actor, occ.id, now=now)
    tokens.revoke_series_link(session, actor, occ.activity_id, now=now)
    undone = 0
    for att in session.scalars(
        select(Attendance)
        .where(
            Attendance.occurrence_id == occ.id,
            Attendance.method == "self_qr",
            Attendance.undone_at.is_(None),
            Attendance.recorded_at >= since,
        )
        .order_by(Attendance.id)
    ):
        _mark_undone(session, actor, att, "Ungewöhnliche Häufung von Check-ins (Burst)", now)
        undone += 1
    audit.record(
        session,
        actor.name,
        Action.checkin_burst_stop,
        "occurrence",
        occ.id,
        agency_id=occ.agency_id,
        undone=undone,
        now=now,
    )
    return undone
