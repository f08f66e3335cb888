"""A volunteer's own calendar: their shifts as iCalendar, to download or to subscribe to.

The subscription uses the calendar feeds of ``planning.calendar_feeds`` (a
``CalendarFeed`` row of kind ``volunteer``, the same ``/ical/<token>.ics`` route,
only the token's SHA-256 stored, revoking answers 404 at once). Its token is
``v<volunteer id>-<HMAC(installation key, volunteer id:generation)>``: unguessable,
shown again whenever the person asks (like ``standing_feed``), and a revoked
generation is skipped, so revoking and asking again gives a new URL. The id in the
token only says whose feed it is once its hash has matched a feed we created.

A deactivated or erased (restricted) person's feed answers 404. The feed holds only
that person's active shifts (task, activity, times, place,
cancellations) -- no other person's name, not even their own.
"""

from __future__ import annotations

from datetime import datetime

import icalendar
from icalendar.enums import STATUS
from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput
from ia_events.core.messages import BERLIN
from ia_events.core.models import (
    Activity,
    Agency,
    CalendarFeed,
    Occurrence,
    OccurrenceStatus,
    Shift,
    ShiftAssignment,
    Volunteer,
)
from ia_events.core.permissions import Reach, service
from ia_events.planning import calendar_feeds
from ia_events.volunteers.registry import load_volunteer, own_volunteer_id
from ia_events.volunteers.shifts import ACTIVE
from storage.db import utcnow
from storage.keys import KeyRing

KIND = calendar_feeds.VOLUNTEER_KIND
MAX_GENERATIONS = 1000


def _token(keys: KeyRing, volunteer_id: int, generation: int) -> str:
    secret = keys.keyed_hash("volunteer-feed", f"{volunteer_id}:{generation}".encode())
    return f"v{volunteer_id}-{secret}"


def _current(session: Session, keys: KeyRing, volunteer_id: int) -> tuple[CalendarFeed | None, str]:
    """The person's feed in use (or ``None``) and the token of it, or of the next one."""
    for generation in range(MAX_GENERATIONS):
        token = _token(keys, volunteer_id, generation)
        feed = session.scalar(
            select(CalendarFeed).where(CalendarFeed.token_hash == calendar_feeds.token_hash(token))
        )
        if feed is None or feed.revoked_at is None:
            return feed, token
    raise InvalidInput(field="Kalender", reason="Zu viele widerrufene Kalender-Links.")


@service(Permission.volunteer_self, Reach.own)
def my_feed_url(session: Session, keys: KeyRing, actor: Actor, base_url: str) -> str | None:
    """The URL of the person's calendar subscription, ``None`` while there is none."""
    feed, token = _current(session, keys, own_volunteer_id(actor))
    return calendar_feeds.feed_url(base_url, token) if feed is not None else None


@service(Permission.volunteer_self, Reach.own)
def create_my_feed(
    session: Session, keys: KeyRing, actor: Actor, base_url: str, now: datetime | None = None
) -> str:
    """Switch the subscription on (or give the URL of the one in use)."""
    volunteer = load_volunteer(session, actor, own_volunteer_id(actor))
    feed, token = _current(session, keys, volunteer.id)
    if feed is None:
        feed = CalendarFeed(
            agency_id=volunteer.agency_id,
            activity_id=None,
            kind=KIND,
            token_hash=calendar_feeds.token_hash(token),
            created_by=actor.name,
            created_at=now or utcnow(),
        )
        session.add(feed)
        session.flush()
        audit.record(session, actor.name, Action.feed_add, "calendar_feed", feed.id,
                     agency_id=volunteer.agency_id, kind=KIND)  # fmt: skip
    return calendar_feeds.feed_url(base_url, token)


@service(Permission.volunteer_self, Reach.own)
def revoke_my_feed(
    session: Session, keys: KeyRing, actor: Actor, now: datetime | None = None
) -> bool:
    """Switch the subscription off: its URL answers 404 from now on. False: none was on."""
    feed, _ = _current(session, keys, own_volunteer_id(actor))
    if feed is None:
        return False
    feed.revoked_at = now or utcnow()
    audit.record(session, actor.name, Action.feed_revoke, "calendar_feed", feed.id,
                 agency_id=feed.agency_id)  # fmt: skip
    return True


def _events(session: Session, volunteer_id: int, now: datetime) -> list[icalendar.Event]:
    rows = session.execute(
        select(ShiftAssignment, Shift, Occurrence, Activity)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(
            ShiftAssignment.volunteer_id == volunteer_id,
            ShiftAssignment.status.in_(ACTIVE),
            Shift.starts_at >= now - calendar_feeds.PAST,
            Shift.starts_at < now + calendar_feeds.AHEAD,
        )
        .order_by(Shift.starts_at, Shift.id)
    ).all()
    events = []
    for a, shift, occ, act in rows:
        cancelled = occ.status != OccurrenceStatus.scheduled
        description = f"Ihr Einsatz: {shift.role}"
        if cancelled and occ.cancel_reason:
            description = f"Der Termin ist abgesagt: {occ.cancel_reason}"
        events.append(
            icalendar.Event.new(
                uid=f"shift-assignment-{a.id}@ia-events",
                summary=("Abgesagt: " if cancelled else "") + f"{shift.role} – {act.title}",
                start=shift.starts_at.astimezone(BERLIN),
                end=shift.ends_at.astimezone(BERLIN),
                location=occ.place or act.place or None,
                description=description,
                status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
                stamp=now,
            )
        )
    return events


def _calendar(session: Session, volunteer: Volunteer, now: datetime) -> bytes | None:
    agency = session.get(Agency, volunteer.agency_id)
    if agency is None or not agency.active or volunteer.restricted_at is not None:
        return None
    cal = icalendar.Calendar.new(
        prodid=calendar_feeds.PRODID,
        name=f"Meine Einsätze – {agency.name}",
        refresh_interval=calendar_feeds.REFRESH,
        subcomponents=[calendar_feeds.berlin_vtimezone(), *_events(session, volunteer.id, now)],
    )
    cal.add("x-wr-timezone", "Europe/Berlin")
    return cal.to_ical()


@service(Permission.volunteer_self, Reach.own)
def my_calendar(session: Session, actor: Actor, now: datetime | None = None) -> bytes:
    """The person's shifts as an .ics file to download."""
    volunteer = load_volunteer(session, actor, own_volunteer_id(actor))
    body = _calendar(session, volunteer, now or utcnow())
    if body is None:
        raise InvalidInput(field="Kalender", reason="Für Sie gibt es keinen Kalender.")
    return body


def render(session: Session, feed: CalendarFeed, token: str, now: datetime) -> bytes | None:
    """For ``calendar_feeds.render`` (registered below): the subscription behind ``feed``
    (matched by ``token``)."""
    head = token.split("-", 1)[0]
    if feed.kind != KIND or not head.startswith("v") or not head[1:].isdigit():
        return None
    volunteer = session.get(Volunteer, int(head[1:]))
    if volunteer is None or volunteer.agency_id != feed.agency_id or not volunteer.active:
        return None  # a deactivated person's feed stops (it answers again if reactivated)
    return _calendar(session, volunteer, now)


calendar_feeds.register_kind(KIND, render)
