"""Fixity: re-read every blob, walk the audit chain, check signed checkpoints.

Like paperless-ngx's sanity checker, this module only *collects* findings
into a report; the CLI and the System page render it. It also clears what an
interrupted upload left behind (journal entries whose record never came),
so that no file lingers that no record knows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import func, select

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.installation import Installation
from ia_events.core.models import Blob, UploadJournal
from ia_events.core.permissions import Reach, service
from storage.db import utcnow


@dataclass
class Finding:
    kind: str  # blob_changed | blob_missing | blob_untracked | chain | checkpoint
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


def recover_uploads(inst: Installation) -> int:
    """Finish the journal: delete blobs of uploads whose record never committed.

    Waits for running uploads (``BlobStore.recovering``), so what it finds is crashed."""
    with inst.blobs.recovering():
        return _recover(inst)


def _recover(inst: Installation) -> int:
    cleared = inst.blobs.clear_temp()
    with inst.db.write() as s:
        open_entries = s.scalars(
            select(UploadJournal).where(UploadJournal.finished_at.is_(None))
        ).all()
        for entry in open_entries:
            known = s.scalar(select(Blob.id).where(Blob.name == entry.blob_name))
            if known is None:
                inst.blobs.shred(entry.blob_name)
                entry.outcome = "rolled_back"
                cleared += 1
            else:
                entry.outcome = "committed"
            entry.finished_at = utcnow()
    return cleared


# One reader per core (at most four: past that the disk, not the CPU, is the limit).
VERIFY_WORKERS = max(1, min(4, os.cpu_count() or 1))


@service(Permission.system_run, Reach.installation)
def verify(inst: Installation, actor: Actor, progress: Progress | None = None) -> Report:
    require(actor, Permission.system_run)
    report = Report()
    report.leftovers_cleared = recover_uploads(inst)
    with inst.db.read() as s, ThreadPoolExecutor(VERIFY_WORKERS) as pool:
        total = (
            s.scalar(select(func.count()).select_from(Blob).where(Blob.shredded_at.is_(None))) or 0
        )
        known: set[str] = set()
        last_id = 0
        while True:
            rows = s.execute(
                select(Blob.id, Blob.name, Blob.kek_id, Blob.wrapped_key, Blob.sha256, Blob.size)
                .where(Blob.shredded_at.is_(None), Blob.id > last_id)
                .order_by(Blob.id)
                .limit(500)
            ).all()
            if not rows:
                break
            # Decrypting and hashing release the GIL: both cores check blobs at once.
            problems = pool.map(
                lambda r: inst.blobs.verify(r.name, r.kek_id, r.wrapped_key or b"", r.sha256),
                rows,
            )
            for (bid, name, *_, size), problem in zip(rows, problems, strict=True):
                last_id = bid
                known.add(name)
                report.blobs_checked += 1
                report.bytes_checked += size
                if problem == "missing":
                    report.findings.append(Finding("blob_missing", f"Blob {bid}", "Datei fehlt"))
                elif problem:
                    report.findings.append(Finding("blob_changed", f"Blob {bid}", problem))
                if progress and total:
                    progress(
                        report.blobs_checked / total * 0.8, f"Datei {report.blobs_checked}/{total}"
                    )
        shredded = set(s.scalars(select(Blob.name).where(Blob.shredded_at.is_not(None))).all())
        for name in inst.blobs.names_on_disk():
            if name not in known:
                what = (
                    "gelöschter Blob liegt noch auf der Platte"
                    if name in shredded
                    else "keinem Datensatz zugeordnet"
                )
                report.findings.append(Finding("blob_untracked", name[:16] + "…", what))
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
