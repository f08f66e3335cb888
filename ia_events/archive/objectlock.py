"""Object Lock: the retention rules and legal holds, enforced by the object store itself.

How the app's rules map to S3 Object Lock (docs/deployment.md):

- an object's **retention date** is the latest retention end of the live items that
  use it (31.12. of funding year + 10 by default), as the instant the day after ends
  (00:00 UTC of the next day); mode COMPLIANCE, or GOVERNANCE
  (``IA_EVENTS_ARCHIVE_LOCK_MODE``) for test installations. A later item on the same
  blob extends the lock; a lock is never shortened.
- an active **legal hold** covering any item of the object sets the object's legal
  hold; when no active hold covers it any more, the object's hold is cleared.

The lock is applied once the record has committed (``apply``), so that an interrupted
upload leaves nothing locked that recovery must delete. What a crash skipped is applied
by the next ``apply`` without ids (run by ``verify``, the retention run and after every
hold change). On the local folder every function here does nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Integer, func, select, update

from ia_events.core.access import Actor, Permission, require
from ia_events.core.installation import Installation
from ia_events.core.models import Blob, Evidence
from ia_events.core.permissions import Reach, service
from storage.archive_store import BlobError, BlobMissing, LockStatus
from storage.db import utcnow


def lock_until(retention_until: date) -> datetime:
    """The object lock for a retention end: until the end of that day (UTC)."""
    return datetime.combine(retention_until + timedelta(days=1), time(0), UTC)


@dataclass(frozen=True)
class _Want:
    blob_id: int
    name: str
    version_id: str | None
    locked_until: datetime | None
    object_hold: bool
    until: datetime | None
    hold: bool


def _wanted(inst: Installation, blob_ids: list[int] | None) -> list[_Want]:
    with inst.db.read() as s:
        q = (
            select(
                Blob.id,
                Blob.name,
                Blob.version_id,
                Blob.locked_until,
                Blob.object_hold,
                func.max(Evidence.retention_until),
                func.max(Evidence.legal_hold.cast(Integer)),
            )
            .join(Evidence, Evidence.blob_id == Blob.id)
            .where(Blob.shredded_at.is_(None), Evidence.deleted_at.is_(None))
            .group_by(Blob.id, Blob.name, Blob.version_id, Blob.locked_until, Blob.object_hold)
            .order_by(Blob.id)
        )
        if blob_ids is not None:
            q = q.where(Blob.id.in_(blob_ids))
        rows = s.execute(q).all()
    return [
        _Want(
            bid, name, version, locked, bool(ohold), lock_until(until) if until else None, bool(h)
        )
        for bid, name, version, locked, ohold, until, h in rows
    ]


LOCK_CALLS = 4  # lock requests in flight at once (each a round trip to the store)


def apply(inst: Installation, blob_ids: list[int] | None = None) -> int:
    """Bring the objects' locks up to their items; returns how many objects changed.

    Without ``blob_ids`` every live blob is compared (after a crash, a hold change).
    The store's requests run a few at a time; the rows are updated afterwards, in one
    transaction, for the objects whose requests succeeded (a crash in between leaves
    rows that say less than the store has, which the next ``apply`` repeats)."""
    store = inst.blobs
    if not store.enforces_lock:
        return 0
    now = utcnow()

    def one(w: _Want) -> dict[str, object]:
        values: dict[str, object] = {}
        if w.until is not None and (w.locked_until is None or w.locked_until < w.until):
            if w.until > now:
                store.set_retention(w.name, w.version_id, w.until)
            values["locked_until"] = w.until
        if w.hold != w.object_hold:
            store.set_legal_hold(w.name, w.version_id, w.hold)
            values["object_hold"] = w.hold
        return values

    wanted = _wanted(inst, blob_ids)
    done: list[tuple[int, dict[str, object]]] = []
    failed: BlobError | None = None
    with ThreadPoolExecutor(LOCK_CALLS, thread_name_prefix="lock") as pool:
        for w, future in [(w, pool.submit(one, w)) for w in wanted]:
            try:
                values = future.result()
            except BlobError as exc:
                failed = failed or exc
                continue
            if values:
                done.append((w.blob_id, values))
    if done:
        with inst.db.write() as s:
            for blob_id, values in done:
                s.execute(update(Blob).where(Blob.id == blob_id).values(**values))
    if failed is not None:
        raise failed
    return len(done)


def try_apply(inst: Installation, blob_ids: list[int] | None = None) -> str | None:
    """``apply``, reporting (not raising) a store that does not answer: the records are
    committed and the next ``apply`` catches up. None when done, else what failed."""
    try:
        apply(inst, blob_ids)
    except BlobError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check(
    inst: Installation,
    name: str,
    version_id: str | None,
    locked: datetime | None,
    hold: bool | None,
    status: LockStatus | None = None,
) -> str | None:
    """The lock the record says an object has (``locked`` until, legal ``hold``) is in
    place at the store; None or the fault. ``status``: as a read already reported it."""
    store = inst.blobs
    if not store.enforces_lock:
        return None
    if status is None:
        try:
            status = store.lock_status(name, version_id)
        except BlobMissing:
            return None  # reported as missing by the read
    now = utcnow()
    if locked is not None and locked > now and (status.until is None or status.until < locked):
        have = status.until.isoformat() if status.until else "keine"
        return f"Objektsperre fehlt oder ist kürzer (erwartet bis {locked.date()}, ist {have})"
    if locked is not None and locked > now and status.mode not in (None, store_mode(inst)):
        return f"Objektsperre im Modus {status.mode} statt {store_mode(inst)}"
    if hold and not status.legal_hold:
        return "Legal Hold am Objekt fehlt"
    return None


def store_mode(inst: Installation) -> str | None:
    return getattr(inst.blobs, "mode", None)


@dataclass(frozen=True)
class ArchiveStatus:
    """Where the archive is and what protects it (System page)."""

    location: str
    kind: str
    enforces_lock: bool
    mode: str | None
    objects: int
    locked: int
    held: int
    waiting_for_lock_end: int

    def lines(self) -> list[str]:
        if not self.enforces_lock:
            return [
                f"Ablage: {self.location} ({self.objects} Dateien).",
                "Aufbewahrung und Sperren setzt die App selbst durch (Aufbewahrungslauf, "
                "Legal Hold, Audit-Kette, Prüfung). Für mehrere Server und eine Sperre im "
                "Speicher selbst: S3 mit Objektsperre (IA_EVENTS_ARCHIVE_URL, "
                "docs/deployment.md).",
            ]
        return [
            f"Ablage: {self.location}.",
            f"{self.objects} Objekte, davon {self.locked} mit Objektsperre ({self.mode}) bis "
            f"zum Ende ihrer Aufbewahrungsfrist und {self.held} unter Legal Hold.",
            f"{self.waiting_for_lock_end} gelöschte Nachweise: Schlüssel vernichtet, die "
            "verschlüsselte Datei bleibt bis zum Ende ihrer Sperre gesperrt im Archiv.",
        ]


@service(Permission.system_run, Reach.installation)
def archive_status(inst: Installation, actor: Actor) -> ArchiveStatus:
    require(actor, Permission.system_run)
    now = utcnow()
    with inst.db.read() as s:
        live = Blob.shredded_at.is_(None)
        objects = s.scalar(select(func.count()).select_from(Blob).where(live)) or 0
        locked = (
            s.scalar(select(func.count()).select_from(Blob).where(live, Blob.locked_until > now))
            or 0
        )
        held = (
            s.scalar(select(func.count()).select_from(Blob).where(live, Blob.object_hold.is_(True)))
            or 0
        )
        waiting = (
            s.scalar(
                select(func.count())
                .select_from(Blob)
                .where(Blob.shredded_at.is_not(None), Blob.removed_at.is_(None))
            )
            or 0
        )
    store = inst.blobs
    return ArchiveStatus(
        store.describe(),
        store.kind,
        store.enforces_lock,
        store_mode(inst),
        objects,
        locked,
        held,
        waiting if store.enforces_lock else 0,
    )
