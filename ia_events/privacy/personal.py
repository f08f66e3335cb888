"""Personal values at rest: encrypted fields and keyed blind indexes.

Names and contacts are sealed with AES-256-GCM under a data key per agency
(``DataKey``, wrapped by the key ring); destroying that key shreds the
agency's personal fields at once. To recognise the same person twice (e.g.
"already checked in", distinct persons reached) we compare a keyed blind
index of the normalised name, never plaintext.
"""

from __future__ import annotations

import re
import unicodedata

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, String, cast, literal, select
from sqlalchemy.orm import Session

from ia_events.core.models import DataKey
from storage.keys import KeyRing, open_sealed, seal

# A stored data key as a hot path reads it alongside its own row: (id, kek_id, wrapped_key).
StoredKey = tuple[int, str, bytes]


def normalise_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name or "").casefold()
    # Turkish: "YILMAZ" casefolds to "yilmaz" but "Yılmaz" keeps its dotless ı, and
    # "İ" becomes "i" + a combining dot -- fold both so the same name matches.
    text = text.replace("ı", "i").replace("i\u0307", "i")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("C",))
    return re.sub(r"\s+", " ", text).strip()


def _scope(agency_id: int) -> str:
    return f"agency:{agency_id}"


def scope_of(agency_id: ColumnElement[int]) -> ColumnElement[str]:
    """``_scope`` in SQL: lets a query join an agency's ``data_keys`` row (``StoredKey``)."""
    return literal("agency:") + cast(agency_id, String)


def data_key(
    session: Session, keys: KeyRing, agency_id: int, stored: StoredKey | None = None
) -> bytes:
    """The agency's data key, created on first use. ``stored`` is its row if the caller
    already read it; the unwrapped key is cached in the key ring per stored version."""
    return _scoped_key(session, keys, _scope(agency_id), stored)


def _scoped_key(
    session: Session, keys: KeyRing, scope: str, stored: StoredKey | None = None
) -> bytes:
    if stored is None:
        row = session.execute(
            select(DataKey.id, DataKey.kek_id, DataKey.wrapped_key).where(DataKey.scope == scope)
        ).first()
        if row is None:
            dek = AESGCM.generate_key(bit_length=256)
            kek_id, wrapped = keys.wrap(dek)
            session.add(DataKey(scope=scope, kek_id=kek_id, wrapped_key=wrapped))
            session.flush()
            return dek
        stored = (row[0], row[1], row[2])
    # Keyed by the wrapped bytes too: two installations in one process (tests, restore)
    # can both have data key 1 under a key-encryption key of the same id.
    return keys.data_key(scope, *stored)


# Staff without an agency (coordinators, admins) keep their contact under one key of
# the district; people of an agency under their agency's key (shredded with it).
DISTRICT_SCOPE = "district:contacts"


def seal_contact(
    session: Session, keys: KeyRing, agency_id: int | None, value: str, purpose: str
) -> bytes:
    """Seal a person's contact under the agency's key, or the district's for staff
    without an agency."""
    if agency_id is not None:
        return seal_text(session, keys, agency_id, value, purpose)
    key = _scoped_key(session, keys, DISTRICT_SCOPE)
    return seal(key, value.encode(), f"{purpose}:district".encode())


def open_contact(
    session: Session, keys: KeyRing, agency_id: int | None, sealed: bytes | None, purpose: str
) -> str:
    if agency_id is not None:
        return open_text(session, keys, agency_id, sealed, purpose)
    if not sealed:
        return ""
    key = _scoped_key(session, keys, DISTRICT_SCOPE)
    return open_sealed(key, sealed, f"{purpose}:district".encode()).decode()


def seal_text(
    session: Session,
    keys: KeyRing,
    agency_id: int,
    value: str,
    purpose: str,
    stored: StoredKey | None = None,
) -> bytes:
    key = data_key(session, keys, agency_id, stored)
    return seal(key, value.encode(), f"{purpose}:{agency_id}".encode())


def open_text(
    session: Session, keys: KeyRing, agency_id: int, sealed: bytes | None, purpose: str
) -> str:
    if not sealed:
        return ""
    key = data_key(session, keys, agency_id)
    return open_sealed(key, sealed, f"{purpose}:{agency_id}".encode()).decode()


def blind_index(keys: KeyRing, agency_id: int, name: str) -> str:
    return keys.keyed_hash("name-index", f"{agency_id}\0{normalise_name(name)}".encode())
