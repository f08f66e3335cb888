"""The upload journal in the database, and recovery of what a crash left behind.

Protocol (DESIGN.md section 4): an entry per new blob is committed *before* the blob is
put in place; the record transaction (blob row, items, audit) marks it committed. An
open entry is therefore a blob that may exist without a record.

On the local folder one host writes: ``recover`` runs under the store's exclusive
``flock`` and every open entry it sees is a crashed upload. On a shared store (S3)
several hosts write and no lock spans them, so each entry carries a lease
(``lease_until``, renewed while the transfer runs): an open entry is crashed only once
its lease has run out, whichever host looks. Recovery then deletes every version of the
entry's key that no blob row records and aborts unfinished multipart uploads; it never
touches a version a record names, so it never leaves a record without its object.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ia_events.core.installation import Installation
from ia_events.core.models import Blob, UploadJournal
from storage.archive_store import BlobError, ObjectLocked, PendingBlob
from storage.db import utcnow


def lease() -> timedelta:
    """How long an upload may run without renewing its entry (default 15 minutes)."""
    return timedelta(seconds=int(os.environ.get("IA_EVENTS_UPLOAD_LEASE_SECONDS", "900")))


def open_entries(inst: Installation, agency_id: int, firsts: list[PendingBlob]) -> dict[str, int]:
    """The journal's first commit: an entry for every blob the agency does not hold yet,
    before any of them is put in place. Returns blob name -> journal id."""
    with inst.db.write() as s:
        held = set(
            s.scalars(
                select(Blob.sha256).where(
                    Blob.agency_id == agency_id,
                    Blob.sha256.in_([p.sha256 for p in firsts]),
                    Blob.shredded_at.is_(None),
                )
            )
        )
        until = utcnow() + lease()
        entries = [
            UploadJournal(blob_name=p.name, lease_until=until)
            for p in firsts
            if p.sha256 not in held
        ]
        s.add_all(entries)
        s.flush()
        return {e.blob_name: e.id for e in entries}


def renew(inst: Installation, ids: list[int]) -> None:
    """Extend the lease of a running upload's entries."""
    if not ids:
        return
    with inst.db.write() as s:
        s.execute(
            update(UploadJournal)
            .where(UploadJournal.id.in_(ids), UploadJournal.finished_at.is_(None))
            .values(lease_until=utcnow() + lease())
        )


def note_versions(
    inst: Installation, journal: dict[str, int], versions: dict[str, str | None]
) -> None:
    """Record which object version each entry wrote (S3), before the record commits."""
    if not any(versions.values()):
        return
    with inst.db.write() as s:
        for name, entry_id in journal.items():
            if versions.get(name):
                s.execute(
                    update(UploadJournal)
                    .where(UploadJournal.id == entry_id)
                    .values(version_id=versions[name])
                )


def abandon(inst: Installation, journal: dict[str, int]) -> None:
    """An upload failed before its record: remove what it may have written now (best
    effort; when the store is down, the expired lease lets a later recovery do it)."""
    if not journal or not inst.blobs.shared:
        return  # local folder: the entries stay open for the next recovery, as before
    with inst.db.write() as s:
        s.execute(
            update(UploadJournal)
            .where(UploadJournal.id.in_(list(journal.values())))
            .values(lease_until=utcnow())
        )
    with contextlib.suppress(BlobError):
        recover(inst, only=list(journal.values()))


def settle(inst: Installation, lost: dict[str, int], versions: dict[str, str | None]) -> None:
    """Entries whose content another upload recorded first (two hosts, same file): delete
    this upload's own, never recorded, version and close the entry."""
    for name, entry_id in lost.items():
        version = versions.get(name)
        if version:
            try:
                inst.blobs.shred(name, version)
            except BlobError:
                continue  # the entry stays open; recovery removes the version later
        with inst.db.write() as s:
            s.execute(
                update(UploadJournal)
                .where(UploadJournal.id == entry_id)
                .values(finished_at=utcnow(), outcome="deduplicated")
            )


def recover(inst: Installation, now: datetime | None = None, only: list[int] | None = None) -> int:
    """Close crashed entries, deleting the objects they may have left; returns how many
    objects (or temp files) were removed. Safe on every host, at any time."""
    store = inst.blobs
    cleared = store.clear_temp()
    now = now or utcnow()
    with inst.db.read() as s:
        q = select(UploadJournal.id, UploadJournal.blob_name).where(
            UploadJournal.finished_at.is_(None)
        )
        if store.shared:
            q = q.where(or_(UploadJournal.lease_until.is_(None), UploadJournal.lease_until < now))
        if only is not None:
            q = q.where(UploadJournal.id.in_(only))
        crashed = s.execute(q.order_by(UploadJournal.id)).all()
    for entry_id, name in crashed:
        if store.shared:
            removed = _recover_shared(inst, name, now)
            if removed is None:
                continue  # another upload of the same content is running: later
            cleared += removed
            outcome = "rolled_back" if removed else "committed"
        else:
            with inst.db.read() as s:
                known = s.scalar(select(Blob.id).where(Blob.name == name))
            if known is None:
                store.shred(name)
                cleared += 1
            outcome = "committed" if known is not None else "rolled_back"
        with inst.db.write() as s:
            s.execute(
                update(UploadJournal)
                .where(UploadJournal.id == entry_id, UploadJournal.finished_at.is_(None))
                .values(finished_at=utcnow(), outcome=outcome)
            )
    return cleared


def _recover_shared(inst: Installation, name: str, now: datetime) -> int | None:
    store = inst.blobs
    aborted = store.abort_incomplete(name)
    versions = [o.version_id for o in store.list_objects(name) if o.name == name]
    # Only after listing: an upload that wrote one of these versions committed its entry
    # before, so a live lease on the name shows here (and the version is left alone).
    with inst.db.read() as s:
        live = s.scalar(
            select(UploadJournal.id).where(
                UploadJournal.blob_name == name,
                UploadJournal.finished_at.is_(None),
                UploadJournal.lease_until >= now,
            )
        )
        if live is not None:
            return None
        recorded = set(
            s.scalars(
                select(Blob.version_id).where(or_(Blob.name == name, Blob.object_name == name))
            )
        )
    removed = 0
    for version in versions:
        if version in recorded:
            continue
        try:
            store.shred(name, version)
        except ObjectLocked:
            continue  # never ours to delete: locked versions are recorded ones
        removed += 1
    return removed + aborted
