"""Each person's notification address and choices, and the signed opt-out link.

The address is the one the person gave *for notifications* (not the login
e-mail of single sign-on); it is sealed like every contact (``privacy.personal``)
and only ``delivery`` opens it, right before sending. Without an address
nothing is sent to the person. Every kind is on until the person switches it
off -- on the Konto page or with the one-click link in every mail, whose token
is an HMAC over (user, kind) under a key derived from the installation's.

Limits: one address per person; no double opt-in mail (the person types the
address into their own, logged-in account).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor
from ia_events.core.audit import Action
from ia_events.core.errors import DomainError, InvalidInput
from ia_events.core.models import NotifyPreference, User
from ia_events.core.permissions import Reach, service
from ia_events.notify.kinds import KINDS, Kind, kinds_for
from ia_events.privacy.personal import open_contact, seal_contact
from storage.db import utcnow
from storage.keys import KeyRing

PURPOSE = "notify-email"
EMAIL_RE = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class Preferences:
    email: str
    enabled: list[str]
    available: list[Kind]
    reminder_hour: int


def _own_user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None or not user.active:
        raise DomainError("notify_no_account")
    return user


def _row(session: Session, user_id: int) -> NotifyPreference | None:
    return session.get(NotifyPreference, user_id)


@service(None, Reach.own, "the actor's own address and choices")
def get_preferences(session: Session, keys: KeyRing, actor: Actor) -> Preferences:
    """The actor's own address and choices (everything on until switched off)."""
    user = _own_user(session, actor)
    row = _row(session, user.id)
    available = kinds_for(user.role)
    disabled = set(row.disabled or []) if row else set()
    email = open_contact(session, keys, user.agency_id, row.email_enc, PURPOSE) if row else ""
    return Preferences(
        email,
        [k.code for k in available if k.code not in disabled],
        available,
        row.reminder_hour if row else 18,
    )


@service(None, Reach.own, "the actor's own address and choices")
def set_preferences(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    *,
    email: str,
    enabled: list[str],
    reminder_hour: int = 18,
) -> Preferences:
    """Save the actor's address (empty: no mail at all) and the kinds they want."""
    user = _own_user(session, actor)
    email = (email or "").strip()
    if email and (len(email) > 200 or not EMAIL_RE.match(email)):
        raise InvalidInput("notify_email_invalid")
    if not 0 <= int(reminder_hour) <= 23:
        raise InvalidInput(field="Uhrzeit", reason="Bitte eine volle Stunde von 0 bis 23.")
    codes = {k.code for k in kinds_for(user.role)}
    disabled = sorted(codes - set(enabled))
    row = _row(session, user.id)
    if row is None:
        row = NotifyPreference(user_id=user.id)
        session.add(row)
    row.email_enc = seal_contact(session, keys, user.agency_id, email, PURPOSE) if email else None
    row.disabled = disabled
    row.reminder_hour = int(reminder_hour)
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.notify_prefs,
        "user",
        user.id,
        agency_id=user.agency_id,
        email_given=bool(email),
        disabled=disabled,
    )
    return get_preferences(session, keys, actor)


def recipient(session: Session, keys: KeyRing, user_id: int, kind: str) -> str | None:
    """The address to send ``kind`` to, or None (no address, switched off, inactive)."""
    user = session.get(User, user_id)
    row = _row(session, user_id)
    if user is None or not user.active or row is None or not row.email_enc:
        return None
    if kind in (row.disabled or []) or user.role not in KINDS[kind].roles:
        return None
    try:
        return open_contact(session, keys, user.agency_id, row.email_enc, PURPOSE) or None
    except (InvalidTag, KeyError, ValueError):  # the agency's data key was shredded
        return None


def reminder_hour(session: Session, user_id: int) -> int:
    row = _row(session, user_id)
    return row.reminder_hour if row else 18


# -- the one-click opt-out ---------------------------------------------------------------------


def _sig(keys: KeyRing, user_id: int, kind: str) -> str:
    return keys.keyed_hash("notify-optout", f"{user_id}:{kind}".encode())[:32]


def optout_token(keys: KeyRing, user_id: int, kind: str) -> str:
    return f"{user_id}.{kind}.{_sig(keys, user_id, kind)}"


def read_optout(keys: KeyRing, token: str) -> tuple[int, str] | None:
    """(user id, kind) of a valid token, else None."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or parts[1] not in KINDS:
        return None
    user_id, kind, sig = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(sig, _sig(keys, user_id, kind)):
        return None
    return user_id, kind


def optout_url(base_url: str, keys: KeyRing, user_id: int, kind: str) -> str:
    return f"{base_url.rstrip('/')}/notify/optout?t={optout_token(keys, user_id, kind)}"


def opt_out(session: Session, keys: KeyRing, token: str, now: datetime | None = None) -> str:
    """Switch one kind off for the token's person; returns the kind's code. Idempotent."""
    found = read_optout(keys, token)
    if found is None:
        raise InvalidInput("notify_optout_invalid")
    user_id, kind = found
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput("notify_optout_invalid")
    row = _row(session, user_id)
    if row is None:
        row = NotifyPreference(user_id=user_id, disabled=[])
        session.add(row)
    if kind not in (row.disabled or []):
        row.disabled = sorted({*(row.disabled or []), kind})
        row.updated_at = now or utcnow()
        session.flush()
        audit.record(
            session,
            f"optout:user:{user_id}",
            Action.notify_optout,
            "user",
            user_id,
            agency_id=user.agency_id,
            kind=kind,
        )
    return kind
