"""Check-in tokens: signed, unguessable, bound to a target, purpose and generation.

A token is a version byte, a kind (participant or volunteer; one occurrence
or a whole series), the target id, the target's token generation and the
validity window (minutes before start / after end), followed by a truncated
HMAC-SHA256 under ``keys.subkey("checkin-token")``. Only the canonical
base64url spelling is accepted. Bumping ``Occurrence.token_generation`` (or
``Activity.checkin_generation`` for a series poster) revokes every link
issued so far. Form nonces are bound to their token by a second keyed MAC.

Limits: ``parse_token`` checks form and signature only; whether the target
exists, is revoked, cancelled or inside its window is ``checkin.resolve``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import CheckInError, InvalidInput, NotFound
from ia_events.core.models import Activity, Occurrence
from ia_events.core.permissions import Reach, service
from storage.keys import KeyRing, b64, unb64

PURPOSES = ("participant", "volunteer")
DEFAULT_BEFORE = timedelta(hours=1)
DEFAULT_AFTER = timedelta(hours=2)
INVALID = "invalid"


# -- tokens ----------------------------------------------------------------------------------

_VERSION = 1
_BODY = struct.Struct(">BcIHHH")  # version, kind, target id, generation, before, after (min)
_MAC_LEN = 16
_TOKEN_LEN = len(b64(b"\0" * (_BODY.size + _MAC_LEN)))
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
_KINDS = {
    b"P": ("participant", "occurrence"),
    b"V": ("volunteer", "occurrence"),
    b"S": ("participant", "series"),
    b"W": ("volunteer", "series"),
}
_KIND_OF = {v: k for k, v in _KINDS.items()}


@dataclass(frozen=True)
class TokenInfo:
    purpose: str  # participant | volunteer
    scope: str  # occurrence | series (the activity; resolves to the day's occurrence)
    target_id: int
    generation: int
    before: timedelta = DEFAULT_BEFORE
    after: timedelta = DEFAULT_AFTER

    @property
    def occurrence_id(self) -> int | None:
        return self.target_id if self.scope == "occurrence" else None

    @property
    def activity_id(self) -> int | None:
        return self.target_id if self.scope == "series" else None


def _mac(keys: KeyRing, body: bytes) -> bytes:
    return hmac.new(keys.subkey("checkin-token"), body, hashlib.sha256).digest()[:_MAC_LEN]


def make_token(keys: KeyRing, info: TokenInfo) -> str:
    minutes = [int(w.total_seconds() // 60) for w in (info.before, info.after)]
    if info.purpose not in PURPOSES or not all(0 <= m <= 65535 for m in minutes):
        raise InvalidInput(field="Gültigkeit", reason="Zwischen 0 Minuten und 45 Tagen.")
    kind = _KIND_OF[(info.purpose, info.scope)]
    body = _BODY.pack(_VERSION, kind, info.target_id, info.generation & 0xFFFF, *minutes)
    return b64(body + _mac(keys, body))


def parse_token(keys: KeyRing, token: str) -> TokenInfo:
    """The token's content if it is ours and unaltered; ``CheckInError("invalid")`` if not.

    Checks form and signature only; revocation and the time window need the
    database (``resolve``)."""
    if not isinstance(token, str) or len(token) != _TOKEN_LEN or not _TOKEN_RE.fullmatch(token):
        raise CheckInError(INVALID)
    try:
        raw = unb64(token)
    except ValueError as exc:
        raise CheckInError(INVALID) from exc
    # Only the canonical spelling: the unused low bits of the last character must be zero.
    if len(raw) != _BODY.size + _MAC_LEN or b64(raw) != token:
        raise CheckInError(INVALID)
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, _mac(keys, body)):
        raise CheckInError(INVALID)
    version, kind, target, generation, before, after = _BODY.unpack(body)
    if version != _VERSION or kind not in _KINDS or target < 1:
        raise CheckInError(INVALID)
    purpose, scope = _KINDS[kind]
    return TokenInfo(
        purpose, scope, target, generation, timedelta(minutes=before), timedelta(minutes=after)
    )


def occurrence_from_code(keys: KeyRing, text: str) -> int | None:
    """The occurrence a printed list's QR code names (a link with our signed participant
    or volunteer token for one occurrence), else None. Signature only: a scan of an old
    list still files after the link was renewed."""
    from urllib.parse import parse_qs, urlparse

    token = text.strip()
    if "://" in token or token.startswith("/"):
        token = (parse_qs(urlparse(token).query).get("t") or [""])[0]
    try:
        return parse_token(keys, token).occurrence_id
    except CheckInError:
        return None


def new_nonce(keys: KeyRing, token: str) -> str:
    """A single-use form nonce bound to ``token`` (so it cannot be replayed elsewhere)."""
    rand = b64(os.urandom(12))
    return f"{rand}.{_nonce_mac(keys, token, rand)}"


def _nonce_mac(keys: KeyRing, token: str, rand: str) -> str:
    digest = hmac.new(keys.subkey("checkin-nonce"), f"{rand}|{token}".encode(), hashlib.sha256)
    return b64(digest.digest()[:12])


def nonce_valid(keys: KeyRing, token: str, nonce: str) -> bool:
    if not isinstance(nonce, str) or len(nonce) != 33 or nonce.count(".") != 1:
        return False
    rand, mac = nonce.split(".")
    return hmac.compare_digest(mac, _nonce_mac(keys, token, rand))


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/checkin?t={quote(token)}"


# -- links --------------------------------------------------------------------------------------


@service(Permission.checkin_door, Reach.agency)
def occurrence_link(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    occurrence_id: int,
    base_url: str,
    *,
    purpose: str = "participant",
    before: timedelta = DEFAULT_BEFORE,
    after: timedelta = DEFAULT_AFTER,
) -> str:
    """The check-in URL of one occurrence (the same every time until revoked)."""
    if purpose not in PURPOSES:
        raise InvalidInput(field="Zweck", reason="participant oder volunteer.")
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.checkin_door, occ.agency_id)
    info = TokenInfo(purpose, "occurrence", occ.id, occ.token_generation, before, after)
    return link(base_url, make_token(keys, info))


@service(Permission.checkin_door, Reach.agency)
def series_link(
    session: Session, keys: KeyRing, actor: Actor, activity_id: int, base_url: str
) -> str:
    """The poster link of a series: resolves to the occurrence of the day."""
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what="Das Angebot")
    require(actor, Permission.checkin_door, activity.agency_id)
    info = TokenInfo("participant", "series", activity.id, activity.checkin_generation)
    return link(base_url, make_token(keys, info))


@service(Permission.occurrence_edit, Reach.agency)
def revoke_links(
    session: Session, actor: Actor, occurrence_id: int, now: datetime | None = None
) -> int:
    """Invalidate every link of an occurrence issued so far; returns the new generation."""
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what="Der Termin")
    require(actor, Permission.occurrence_edit, occ.agency_id)
    occ.token_generation = (occ.token_generation % 0xFFFF) + 1
    audit.record(
        session,
        actor.name,
        Action.checkin_revoke,
        "occurrence",
        occ.id,
        agency_id=occ.agency_id,
        generation=occ.token_generation,
        now=now,
    )
    return occ.token_generation


@service(Permission.occurrence_edit, Reach.agency)
def revoke_series_link(
    session: Session, actor: Actor, activity_id: int, now: datetime | None = None
) -> int:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what="Das Angebot")
    require(actor, Permission.occurrence_edit, activity.agency_id)
    activity.checkin_generation = (activity.checkin_generation % 0xFFFF) + 1
    audit.record(
        session,
        actor.name,
        Action.checkin_revoke,
        "activity",
        activity.id,
        agency_id=activity.agency_id,
        generation=activity.checkin_generation,
        now=now,
    )
    return activity.checkin_generation
