"""iCalendar feeds that calendar apps subscribe to: per agency, per activity, deadlines.

A feed is reached by a secret URL ``<base_url>/ical/<token>.ics``. The token
is shown once when the feed is created; the database keeps only its SHA-256
(``CalendarFeed.token_hash``), so a database leak reveals no working URL.
Revoking a feed makes its URL answer 404 at once, like an unknown token.

Feeds carry what a calendar needs -- titles, times, places, cancellations
(``STATUS:CANCELLED``) and deadline dates -- never participants' names.
Occurrence times are written with the Europe/Berlin zone, so a weekly series
stays at its local time across DST. The ``VTIMEZONE`` is written the way
calendar servers write it -- one STANDARD and one DAYLIGHT part, each with a
yearly RRULE (EU rule since 1996) -- because common readers (Mozilla's ical.js
in Thunderbird and FullCalendar, Python's vobject) read only the first value of
a multi-valued RDATE and then put summer events an hour early.
Limits: an occurrence feed covers 120 days back to 400 days ahead.

``standing_feed`` (for ``ia-events feed-link``) gives an agency's feed of one kind
whose URL can be printed again and again: its token is derived from the
installation's HMAC key (``KeyRing.keyed_hash``), so the database still holds only
its hash. Revoking it makes the next call create the next one.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import icalendar
from icalendar.enums import STATUS, TRANSP
from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import BERLIN, berlin
from ia_events.core.models import Activity, Agency, CalendarFeed, Occurrence, OccurrenceStatus
from ia_events.core.permissions import Reach, service
from ia_events.planning import deadlines
from ia_events.planning.plans import agency_id_for
from storage.db import utcnow
from storage.keys import KeyRing

PRODID = "-//ia-events//Integrationsagenturen NRW//DE"
PAST = timedelta(days=120)
AHEAD = timedelta(days=400)
REFRESH = timedelta(hours=1)
VOLUNTEER_KIND = "volunteer"  # a volunteer's own shifts (``volunteers.feed``)

# Feeds of other packages, by kind: ``render(session, feed, token, now)``. A package
# registers its kind when imported (planning imports none of them: no cycle); an
# unregistered kind answers like an unknown token.
Renderer = Callable[[Session, CalendarFeed, str, datetime], bytes | None]
RENDERERS: dict[str, Renderer] = {}


def register_kind(kind: str, renderer: Renderer) -> None:
    RENDERERS[kind] = renderer


class FeedKind(enum.StrEnum):
    occurrences = "occurrences"  # all of the agency's occurrences
    activity = "activity"  # one activity's occurrences
    deadlines = "deadlines"  # the funding cycle's deadlines with the agency's status


KIND_LABELS = {
    FeedKind.occurrences: "Alle Termine der Agentur",
    FeedKind.activity: "Termine eines Angebots",
    FeedKind.deadlines: "Fristen",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ical/{token}.ics"


@dataclass(frozen=True)
class CreatedFeed:
    id: int
    kind: str
    token: str  # shown once, never stored


@dataclass(frozen=True)
class FeedView:
    id: int
    kind: str
    activity_title: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def label(self) -> str:
        base = KIND_LABELS.get(FeedKind(self.kind), self.kind)
        return f"{base}: {self.activity_title}" if self.activity_title else base


@service(Permission.occurrence_edit, Reach.agency)
def create_feed(
    session: Session,
    actor: Actor,
    agency_slug: str,
    kind: str,
    activity_id: int | None = None,
    now: datetime | None = None,
) -> CreatedFeed:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.occurrence_edit)
    try:
        feed_kind = FeedKind(kind)
    except ValueError as exc:
        raise InvalidInput(field="Kalender", reason="Unbekannte Art des Kalenders.") from exc
    if feed_kind == FeedKind.activity:
        activity = session.get(Activity, activity_id) if activity_id else None
        if activity is None or activity.agency_id != agency_id:
            raise NotFound(what="Das Angebot")
    else:
        activity_id = None
    return _add_feed(
        session, actor, agency_id, feed_kind, activity_id, secrets.token_urlsafe(32), now
    )


def _add_feed(
    session: Session,
    actor: Actor,
    agency_id: int,
    feed_kind: FeedKind,
    activity_id: int | None,
    token: str,
    now: datetime | None,
) -> CreatedFeed:
    feed = CalendarFeed(
        agency_id=agency_id,
        activity_id=activity_id,
        kind=feed_kind.value,
        token_hash=token_hash(token),
        created_by=actor.name,
        created_at=now or utcnow(),
    )
    session.add(feed)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.feed_add,
        "calendar_feed",
        feed.id,
        agency_id=agency_id,
        kind=feed_kind.value,
        activity=activity_id,
    )
    return CreatedFeed(feed.id, feed_kind.value, token)


@dataclass(frozen=True)
class StandingFeed:
    id: int
    kind: str
    url: str
    created: bool  # False: the feed existed already (same URL as before)


STANDING_KINDS = (FeedKind.occurrences, FeedKind.deadlines)
MAX_GENERATIONS = 1000  # revoked standing feeds of one agency and kind, more is implausible


@service(Permission.occurrence_edit, Reach.agency)
def standing_feed(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_slug: str,
    kind: str,
    base_url: str,
    now: datetime | None = None,
) -> StandingFeed:
    """The agency's standing feed of ``kind`` (occurrences or deadlines): its URL, created
    on first use. Generation *n* has the token HMAC(installation key, agency:kind:n); a
    revoked generation is skipped, so revoking and asking again gives a new URL."""
    agency_id = agency_id_for(session, actor, agency_slug, Permission.occurrence_edit)
    try:
        feed_kind = FeedKind(kind)
    except ValueError:
        feed_kind = None
    if feed_kind not in STANDING_KINDS:
        raise InvalidInput(field="Kalender", reason="occurrences oder deadlines.")
    assert feed_kind is not None
    for generation in range(MAX_GENERATIONS):
        token = keys.keyed_hash("calendar-feed", f"{agency_id}:{feed_kind}:{generation}".encode())
        feed = session.scalar(
            select(CalendarFeed).where(CalendarFeed.token_hash == token_hash(token))
        )
        if feed is None:
            created = _add_feed(session, actor, agency_id, feed_kind, None, token, now)
            return StandingFeed(created.id, created.kind, feed_url(base_url, token), True)
        if feed.revoked_at is None:
            return StandingFeed(feed.id, feed.kind, feed_url(base_url, token), False)
    raise InvalidInput(field="Kalender", reason="Zu viele widerrufene Kalender-Links.")


@service(Permission.agency_read, Reach.agency)
def list_feeds(session: Session, actor: Actor, agency_slug: str) -> list[FeedView]:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    rows = session.execute(
        select(CalendarFeed, Activity.title)
        .outerjoin(Activity, Activity.id == CalendarFeed.activity_id)
        .where(CalendarFeed.agency_id == agency_id, CalendarFeed.kind != VOLUNTEER_KIND)
        .order_by(CalendarFeed.id)
    ).all()
    return [
        FeedView(f.id, f.kind, title, f.created_at, f.created_by, f.revoked_at) for f, title in rows
    ]


@service(Permission.occurrence_edit, Reach.agency)
def revoke_feed(session: Session, actor: Actor, feed_id: int, now: datetime | None = None) -> None:
    feed = session.get(CalendarFeed, feed_id)
    if feed is None:
        raise NotFound(what="Der Kalender-Link")
    require(actor, Permission.occurrence_edit, feed.agency_id)
    if feed.kind == VOLUNTEER_KIND:  # the person's own; staff do not list or manage it
        raise NotFound(what="Der Kalender-Link")
    if feed.revoked_at is not None:
        return
    feed.revoked_at = now or utcnow()
    audit.record(
        session, actor.name, Action.feed_revoke, "calendar_feed", feed.id, agency_id=feed.agency_id
    )


# -- rendering (no actor: the secret token is the credential) ---------------------------------


def render(session: Session, token: str, now: datetime | None = None) -> bytes | None:
    """The feed's iCalendar bytes, or ``None`` for an unknown or revoked token."""
    if not token or len(token) > 200:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == token_hash(token)))
    if feed is None or feed.revoked_at is not None:
        return None
    agency = session.get(Agency, feed.agency_id)
    if agency is None or not agency.active:
        return None
    now = now or utcnow()
    if feed.kind not in {k.value for k in FeedKind}:
        renderer = RENDERERS.get(feed.kind)
        return renderer(session, feed, token, now) if renderer else None
    if feed.kind == FeedKind.deadlines:
        name = f"Fristen – {agency.name}"
        events = _deadline_events(session, agency, now)
    else:
        activity = session.get(Activity, feed.activity_id) if feed.activity_id else None
        if feed.kind == FeedKind.activity and activity is None:
            return None
        name = f"{activity.title} – {agency.name}" if activity else f"Termine – {agency.name}"
        events = _occurrence_events(session, agency, activity, now)
    cal = icalendar.Calendar.new(
        prodid=PRODID,
        name=name,
        refresh_interval=REFRESH,
        subcomponents=events,
    )
    cal.add("x-wr-timezone", "Europe/Berlin")
    if feed.kind != FeedKind.deadlines:  # deadlines are all-day dates: no zone needed
        cal.subcomponents.insert(0, berlin_vtimezone())
    return cal.to_ical()


# Europe/Berlin as calendar servers (CalDAV servers, Thunderbird, Outlook) write it: the EU
# rule in force since 1996 -- summer time from the last Sunday of March 02:00 CET to the last
# Sunday of October 03:00 CEST. Feeds reach 120 days back, so no older rule is needed.
BERLIN_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZNAME:CEST
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZNAME:CET
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def berlin_vtimezone() -> icalendar.Timezone:
    tz = icalendar.Timezone.from_ical(BERLIN_VTIMEZONE.replace("\n", "\r\n"))
    assert isinstance(tz, icalendar.Timezone)  # from_ical is typed for any component
    return tz


def _occurrence_events(
    session: Session, agency: Agency, activity: Activity | None, now: datetime
) -> list[icalendar.Event]:
    q = (
        select(Occurrence, Activity)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(
            Occurrence.agency_id == agency.id,
            Occurrence.starts_at >= now - PAST,
            Occurrence.starts_at < now + AHEAD,
        )
        .order_by(Occurrence.starts_at)
    )
    if activity is not None:
        q = q.where(Occurrence.activity_id == activity.id)
    events = []
    for occ, act in session.execute(q).all():
        cancelled = occ.status == OccurrenceStatus.cancelled
        description = act.type
        if cancelled and occ.cancel_reason:
            description = f"Abgesagt: {occ.cancel_reason}"
        elif occ.note:
            description = f"{act.type}\n{occ.note}"
        ev = icalendar.Event.new(
            uid=f"occurrence-{occ.id}@ia-events",
            summary=("Abgesagt: " if cancelled else "") + act.title,
            start=occ.starts_at.astimezone(BERLIN),
            end=occ.ends_at.astimezone(BERLIN),
            location=occ.place or act.place or None,
            description=description,
            status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
            stamp=now,
            categories=[act.type],
        )
        events.append(ev)
    return events


def _deadline_events(session: Session, agency: Agency, now: datetime) -> list[icalendar.Event]:
    today = berlin(now).date()
    status = deadlines._statuses(session, [agency.id], set(range(today.year - 1, today.year + 3)))
    events = []
    for year in range(today.year - 1, today.year + 3):
        for d in deadlines.deadlines_for_year(year):
            done = (agency.id, d.funding_year, d.kind.value) in status
            for target, due in (("Bezirksverband", d.district_due), ("Land", d.state_due)):
                if due is None or (target == "Land" and due == d.district_due):
                    continue
                events.append(
                    icalendar.Event.new(
                        uid=f"deadline-{agency.id}-{d.funding_year}-{d.kind.value}-{target}@ia-events",
                        summary=f"Frist: {d.title} ({target})" + (" – eingereicht" if done else ""),
                        start=due,
                        end=due + timedelta(days=1),
                        description="eingereicht" if done else "offen",
                        stamp=now,
                        transparency=TRANSP.TRANSPARENT,
                    )
                )
    return events


def serve(inst: Installation, token: str) -> bytes | None:
    """For the HTTP route: one read transaction, the feed or ``None``."""
    with inst.db.read() as session:
        return render(session, token)
