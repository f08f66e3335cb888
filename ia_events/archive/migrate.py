"""Moving the archive between stores: local folder -> S3 bucket and back.

``migrate(inst, actor, to_url)`` copies the ciphertext of every live blob as it is
(no decryption needed: the data keys are in the database and stay valid), checks each
copy by reading it back from the target (decrypt and SHA-256 against the record),
then switches the records to the target's object versions in one transaction and
applies the target's locks. Until that commit the records name the source; a failure
before it changes nothing (copies already made are unknown objects at the target,
which ``verify`` there reports and a new run overwrites with a new version).

The source is left as it was: objects in a locked bucket cannot be removed before their
lock ends anyway, and an operator removes a local folder only after ``verify`` passed
on the target. Blobs shredded before (their key destroyed) are not copied.

Run it with the app stopped (uploads during a move would land in the source only);
afterwards set ``IA_EVENTS_ARCHIVE_URL`` to the target. docs/deployment.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update

from ia_events.archive import objectlock
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.errors import DomainError
from ia_events.core.installation import Installation
from ia_events.core.models import Blob
from ia_events.core.permissions import Reach, service
from storage.archive_store import ArchiveStore, BlobError, open_store


@dataclass(frozen=True)
class MigrateResult:
    source: str
    target: str
    blobs: int
    bytes: int


def target_store(inst: Installation, to_url: str) -> ArchiveStore:
    """``local`` (the data dir's archive folder), ``file:///path`` or ``s3://…``."""
    url = None if to_url.strip().lower() in ("", "local") else to_url.strip()
    try:
        store = open_store(url, inst.settings.archive_dir, inst.keys)
        store.ensure_ready()
    except BlobError as exc:
        raise DomainError(exc.code, bucket=str(exc), store=to_url) from exc
    return store


@service(Permission.system_run, Reach.installation)
def migrate(
    inst: Installation,
    actor: Actor,
    to_url: str,
    progress: Callable[[int, int], None] | None = None,
) -> MigrateResult:
    require(actor, Permission.system_run)
    source = inst.blobs
    target = target_store(inst, to_url)
    if target.describe() == source.describe():
        raise DomainError("archive_migrate_same", store=target.describe())
    with inst.db.read() as s:
        rows = s.execute(
            select(
                Blob.id, Blob.name, Blob.version_id, Blob.kek_id, Blob.wrapped_key, Blob.sha256,
                Blob.size,
            )
            .where(Blob.shredded_at.is_(None))
            .order_by(Blob.id)
        ).all()  # fmt: skip
    moved: dict[int, str | None] = {}
    total = 0
    try:
        for i, (bid, name, version, kek, wrapped, sha, size) in enumerate(rows):
            new_version = target.write_raw(name, source.read_raw(name, version))
            problem = target.verify(name, kek, wrapped or b"", sha, new_version)
            if problem:
                raise DomainError(
                    "archive_migrate_failed", blob=bid, reason=problem, store=target.describe()
                )
            moved[bid] = new_version
            total += size
            if progress:
                progress(i + 1, len(rows))
    except BlobError as exc:
        raise DomainError(
            "archive_migrate_failed", blob="?", reason=str(exc), store=target.describe()
        ) from exc
    with inst.db.write() as s:
        for bid, new_version in moved.items():
            s.execute(
                update(Blob)
                .where(Blob.id == bid)
                .values(version_id=new_version, locked_until=None, object_hold=None)
            )
        # Shredded blobs whose object stays locked at the source are not moved.
        audit.record(
            s,
            actor.name,
            audit.Action.archive_migrate,
            "installation",
            source=source.kind,
            target=target.kind,
            blobs=len(moved),
        )
    inst.blobs = target
    objectlock.try_apply(inst)  # verify reports (and repairs) a lock this missed
    return MigrateResult(source.describe(), target.describe(), len(moved), total)
