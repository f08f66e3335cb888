"""Demo check-ins: every agency's "open now" Nähcafé gets real scans through the services.

Called once from ``demo.load`` inside its transaction. Each agency's running
Nähcafé receives a few self check-ins, a repeated name (denied:
``already_checked_in``), a forged link (``invalid``), a revoked link
(``revoked``), a hand entry that is undone with a reason, and last week's
Nähcafé a late scan (``closed``) -- so the door screen, ``list scans`` and
the audit log show what real use looks like. The occurrence stays open for
check-in from the CLI link right away.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.attendance import checkin, records
from ia_events.attendance.tokens import TokenInfo, make_token, new_nonce
from ia_events.core.access import Actor
from ia_events.core.models import Activity, Occurrence
from ia_events.core.permissions import Reach, service
from storage.keys import KeyRing

SELF = ["Olena Kovalenko", "Fatima Haddad", "Ayşe Demir"]


@service(None, Reach.setup)
def load(session: Session, keys: KeyRing, actor: Actor, now: datetime) -> int:
    """Returns the number of scans written."""
    running = session.scalars(
        select(Occurrence)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(Activity.type == "Nähcafé", Occurrence.starts_at <= now, Occurrence.ends_at >= now)
    ).all()
    scans = 0
    for occ in running:
        info = TokenInfo("participant", "occurrence", occ.id, occ.token_generation)
        token = make_token(keys, info)
        at = occ.starts_at + timedelta(minutes=5)
        for i, name in enumerate(SELF):
            when = at + timedelta(minutes=i)
            checkin.submit(session, keys, token, new_nonce(keys, token), name=name, now=when)
        again = at + timedelta(minutes=8)
        checkin.submit(session, keys, token, new_nonce(keys, token), name=SELF[0], now=again)
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        checkin.submit(session, keys, forged, new_nonce(keys, forged), now=again)
        old = make_token(keys, TokenInfo("participant", "occurrence", occ.id, 0xFFFF))
        checkin.submit(session, keys, old, new_nonce(keys, old), name="Nour Saleh", now=again)
        wrong = checkin.door_checkin(
            session, keys, actor, occ.id, name="Zahra Ahmadi", now=at + timedelta(minutes=9)
        )
        if wrong.attendance_id:
            records.undo(
                session,
                actor,
                wrong.attendance_id,
                "Versehentlich beim falschen Termin erfasst",
                now=at + timedelta(minutes=11),
            )
        scans += 7
        last_week = session.scalars(
            select(Occurrence)
            .where(
                Occurrence.activity_id == occ.activity_id,
                Occurrence.ends_at < now - timedelta(days=1),
            )
            .order_by(Occurrence.starts_at.desc())
        ).first()
        if last_week is not None:
            past = make_token(
                keys,
                TokenInfo("participant", "occurrence", last_week.id, last_week.token_generation),
            )
            checkin.submit(session, keys, past, new_nonce(keys, past), name="Gül Kaya", now=now)
            scans += 1
    return scans
