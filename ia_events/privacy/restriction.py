"""Art. 18 DSGVO on working screens: a restricted person's data stays sealed.

After an erasure request that a retention duty still blocks (Art. 17(3)(b)),
the rows are kept only to prove the funding and may not be processed for
anything else. Door screens, attendance lists, volunteer lists and rosters
therefore show a marker instead of the name or contact; the counts stay. Only
the person's own access report (``subjects.find_subject``) opens the data.

Limits: the marker replaces decrypted text; it does not hide that a row exists,
since the count is part of what must be proved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ia_events.privacy.personal import open_text
from storage.keys import KeyRing

RESTRICTED_NAME = "eingeschränkt (Art. 18 DSGVO)"


def shown_text(
    session: Session,
    keys: KeyRing,
    agency_id: int,
    sealed: bytes | None,
    purpose: str,
    restricted_at: datetime | None,
) -> str:
    """The decrypted text for a working screen, or the marker while processing is restricted."""
    if restricted_at is not None:
        return RESTRICTED_NAME if purpose != "volunteer-contact" else ""
    return open_text(session, keys, agency_id, sealed, purpose)
