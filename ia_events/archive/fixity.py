"""Fixity: re-read every blob, walk the audit chain, check signed checkpoints.

Like paperless-ngx's sanity checker, this module only *collects* findings
into a report; the CLI and the System page render it. It also clears what an
interrupted upload left behind (journal entries whose record never came),
so that no file lingers that no record knows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ia_events.archive import journal, objectlock
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.installation import Installation
from ia_events.core.models import Blob, UploadJournal
from ia_events.core.permissions import Reach, service
from storage.archive_store import ArchiveUnavailable
from storage.db import utcnow


@dataclass
class Finding:
    # blob_changed | blob_missing | blob_untracked | blob_overwritten | blob_unlocked |
    # archive_unavailable | chain | checkpoint
    kind: str
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass
class Report:
    blobs_checked: int = 0
    bytes_checked: int = 0
    events_checked: int = 0
    leftovers_cleared: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


Progress = Callable[[float, str], None]


def recover_uploads(inst: Installation, now: datetime | None = None) -> int:
    """Finish the journal: delete blobs of uploads whose record never committed.

    Local folder: waits for running uploads (``recovering``, a flock), so what it finds
    is crashed. Shared store (S3): takes only entries whose lease ran out, on any host
    (``journal.recover``); then applies object locks a crash skipped."""
    try:
        with inst.blobs.recovering():
            cleared = journal.recover(inst, now=now)
    except ArchiveUnavailable:
        return 0  # the store does not answer: the next start or verify recovers (and
        # verify reports the store as unavailable when it reads)
    objectlock.try_apply(inst)
    return cleared


# One reader per core for a local archive (at most four: past that the disk, not the
# CPU, is the limit).
VERIFY_WORKERS = max(1, min(4, os.cpu_count() or 1))
READERS = 4  # objects read at once from a shared store (network waits overlap)


def _check_rows(inst: Installation, rows: Sequence[Any]) -> list[tuple[str | None, str | None]]:
    """(content fault, lock fault) per blob row; a shared store is read a few at a time."""

    def one(row: Any) -> tuple[str | None, str | None]:
        _bid, name, kek_id, wrapped, sha, _size, version, locked, hold = row
        problem, status = inst.blobs.verify_locked(name, kek_id, wrapped or b"", sha, version)
        if problem:
            return problem, None
        return None, objectlock.check(inst, name, version, locked, hold, status)

    # A local archive: decrypting and hashing release the GIL, so one reader per core.
    workers = READERS if inst.blobs.shared else VERIFY_WORKERS
    with ThreadPoolExecutor(workers, thread_name_prefix="verify") as pool:
        return list(pool.map(one, rows))


def _unknown_objects(
    inst: Installation,
    s: Session,
    report: Report,
    known: set[str],
    recorded: set[tuple[str, str | None]],
) -> None:
    """Objects no record knows; on S3 also versions written over a recorded key."""
    store = inst.blobs
    if not store.shared:
        shredded = set(s.scalars(select(Blob.name).where(Blob.shredded_at.is_not(None))).all())
        for name in store.names_on_disk():
            if name not in known:
                what = (
                    "gelöschter Blob liegt noch auf der Platte"
                    if name in shredded
                    else "keinem Datensatz zugeordnet"
                )
                report.findings.append(Finding("blob_untracked", name[:16] + "…", what))
        return
    if any(f.kind == "archive_unavailable" for f in report.findings):
        return  # already reported; a listing would only fail again
    try:
        objects = list(store.list_objects())
    except ArchiveUnavailable as exc:
        report.findings.append(Finding("archive_unavailable", store.describe(), str(exc)))
        return
    # Read after listing: an upload running now has a live journal entry for its key.
    now = utcnow()
    running = set(
        s.scalars(
            select(UploadJournal.blob_name).where(
                UploadJournal.finished_at.is_(None), UploadJournal.lease_until >= now
            )
        )
    )
    pending = {
        (name, version)
        for name, version in s.execute(
            select(func.coalesce(Blob.object_name, Blob.name), Blob.version_id).where(
                Blob.shredded_at.is_not(None), Blob.removed_at.is_(None)
            )
        )
    }
    for obj in objects:
        if (obj.name, obj.version_id) in recorded or obj.name in running:
            continue
        if (obj.name, obj.version_id) in pending:
            continue  # erased before its lock ran out; the retention run removes it
        if obj.name in known:
            report.findings.append(
                Finding(
                    "blob_overwritten",
                    obj.name[:16] + "…",
                    f"neue Version {obj.version_id} über einem bekannten Schlüssel "
                    "(gelesen wird weiter die erfasste Version)",
                )
            )
        else:
            report.findings.append(
                Finding(
                    "blob_untracked",
                    obj.name[:16] + "…",
                    f"Objekt (Version {obj.version_id}) keinem Datensatz zugeordnet",
                )
            )


@service(Permission.system_run, Reach.installation)
def verify(inst: Installation, actor: Actor, progress: Progress | None = None) -> Report:
    require(actor, Permission.system_run)
    report = Report()
    report.leftovers_cleared = recover_uploads(inst)
    with inst.db.read() as s:
        total = (
            s.scalar(select(func.count()).select_from(Blob).where(Blob.shredded_at.is_(None))) or 0
        )
        known: set[str] = set()
        recorded: set[tuple[str, str | None]] = set()
        last_id = 0
        while True:
            rows = s.execute(
                select(
                    Blob.id,
                    Blob.name,
                    Blob.kek_id,
                    Blob.wrapped_key,
                    Blob.sha256,
                    Blob.size,
                    Blob.version_id,
                    Blob.locked_until,
                    Blob.object_hold,
                )
                .where(Blob.shredded_at.is_(None), Blob.id > last_id)
                .order_by(Blob.id)
                .limit(500)
            ).all()
            if not rows:
                break
            last_id = rows[-1][0]
            for row in rows:
                known.add(row[1])
                recorded.add((row[1], row[6]))
            try:
                checked = _check_rows(inst, rows)
            except ArchiveUnavailable as exc:
                report.findings.append(
                    Finding("archive_unavailable", inst.blobs.describe(), str(exc))
                )
                break  # the store does not answer: one finding, not one per blob
            for (bid, *_rest, size, _v, _l, _h), (problem, lock_problem) in zip(
                rows, checked, strict=True
            ):
                report.blobs_checked += 1
                report.bytes_checked += size
                if problem == "missing":
                    report.findings.append(Finding("blob_missing", f"Blob {bid}", "Datei fehlt"))
                elif problem:
                    report.findings.append(Finding("blob_changed", f"Blob {bid}", problem))
                if lock_problem:
                    report.findings.append(Finding("blob_unlocked", f"Blob {bid}", lock_problem))
            if progress and total:
                progress(
                    report.blobs_checked / total * 0.8, f"Datei {report.blobs_checked}/{total}"
                )
        _unknown_objects(inst, s, report, known, recorded)
        if progress:
            progress(0.85, "Audit-Kette")
        report.events_checked = audit.count(s)
        for fault in audit.check_chain(s):
            report.findings.append(Finding("chain", f"Ereignis {fault.seq}", fault.problem))
        for fault in audit.check_checkpoints(s, inst.keys, inst.settings.checkpoints_dir):
            report.findings.append(Finding("checkpoint", f"Ereignis {fault.seq}", fault.problem))
    with inst.db.write() as s:
        audit.record(
            s,
            actor.name,
            audit.Action.system_verify,
            "installation",
            blobs=report.blobs_checked,
            events=report.events_checked,
            faults=len(report.findings),
        )
    if report.ok:
        # After the commit, so a checkpoint never names an event that was rolled back.
        with inst.db.read() as s:
            audit.checkpoint(s, inst.keys, inst.settings.checkpoints_dir)
    if progress:
        progress(1.0, "fertig")
    return report
