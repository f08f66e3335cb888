"""Demo: notification addresses for a few demo logins, and the outbox filled once.

The demo configures no mail server: the admin's System page shows what would
have been sent (from the outbox), in its wording. Addresses are fictional
(``.example``) and sealed like every contact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ia_events.core.installation import Installation
from ia_events.core.models import NotifyPreference, User
from ia_events.notify import rules
from ia_events.notify.prefs import PURPOSE
from ia_events.privacy.personal import seal_contact

DEMO_ADDRESSES = ("fk-essen", "koordination", "ehrenamt-essen")


def load_demo(inst: Installation, now: datetime) -> int:
    """Give the demo logins of Essen and the coordination an address; enqueue what is
    due now. Returns the number of messages waiting."""
    with inst.db.write() as s:
        for user in s.scalars(select(User).where(User.username.in_(DEMO_ADDRESSES))):
            s.add(
                NotifyPreference(
                    user_id=user.id,
                    email_enc=seal_contact(
                        s, inst.keys, user.agency_id, f"{user.username}@demo.example", PURPOSE
                    ),
                    disabled=[],
                    reminder_hour=18,
                    updated_at=now,
                )
            )
        s.flush()
        return rules.plan(s, now)
