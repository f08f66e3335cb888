"""The inspection bundle (Prüfpaket): one ZIP holding one signed BagIt bag, and its verifier.

``export_bundle`` writes, for an agency and funding year (optionally one
sub-goal), a BagIt 1.0 bag (RFC 8493) inside a ZIP: the index PDF, the
evidence files under readable names grouped by sub-goal and occurrence (each
occurrence's sealed participant list -- with names: it is the proof -- and signed
scans in its folder), per sub-goal a summary CSV tying its figure to the lists
behind it, attendance counts as CSV (no names), the audit extract with a fresh signed
checkpoint, the approved task-plan version and the submitted Sachbericht
(frozen copies) with their differences to today, and ``README-VERIFY.txt``.
The Ed25519 signature over the exact bytes of ``tagmanifest-sha256.txt``
lies in the ZIP beside the bag directory (``<bag>.tagmanifest-sha256.txt.sig``),
outside the bag, so the bag holds no file that no manifest lists.

Hot path: every evidence file is read once, decrypted and hashed by
``BlobStore.iter_plaintext`` (which checks the recorded SHA-256, so the
manifest needs no second hash) and written in 1 MiB chunks into a stored
(uncompressed) ZIP entry; ``ZipSink`` reads ahead on a worker thread. The
index PDF is rendered after the payload, while workers fsync and hash it.
The ZIP goes to a temp file beside the target, is fsynced and renamed: a
crash never leaves a half-written bundle. Only SHA-256 manifests are
written: SHA-512 would double the hashing time.

``verify_bundle`` needs nothing but the ZIP and a public key: it checks
every payload and tag checksum, Payload-Oxum, missing and extra files and
the signature, and names every change it finds.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from ia_events.core import audit
from ia_events.core.access import Actor, Permission
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin
from ia_events.core.models import AuditEvent, Blob, ListSeal
from ia_events.core.permissions import Reach, service
from ia_events.inspection import bag
from ia_events.inspection.bag import BundleCheck, load_public_key, verify_bundle
from ia_events.inspection.completeness import (
    EvidenceNode,
    InspectionTree,
    differences,
    grace_of,
    inspect,
)
from ia_events.inspection.index import render_index
from ia_events.inspection.zipstream import ZipSink
from storage.archive_store import ArchiveUnavailable
from storage.blobs import BlobError
from storage.db import utcnow

CHUNK = 1024 * 1024
TAGMANIFEST = bag.TAGMANIFEST
AUDITED_TYPES = ("task_plan", "subgoal", "activity", "occurrence", "evidence", "activity_report")
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class BundleResult:
    path: Path
    sha256: str
    size: int
    files: int
    payload_bytes: int
    bag_name: str
    findings: int


def _part(text: str, limit: int = 60) -> str:
    """A readable, portable path component (no separators, controls, % or spaces)."""
    text = unicodedata.normalize("NFC", str(text))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.sub(r'[\\/:*?"<>|%\u202a-\u202e\u2066-\u2069]', "_", text)
    text = re.sub(r"\s+", "_", text.strip()).strip("._")
    return (text or "ohne_Titel")[:limit].rstrip("._") or "ohne_Titel"


class _Names:
    """Hands out collision-free paths (case-insensitive, as on Windows and macOS)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, path: str) -> str:
        stem, dot, ext = path.rpartition(".")
        if not dot or "/" in ext:
            stem, ext = path, ""
        candidate, n = path, 1
        while candidate.casefold() in self.used:
            n += 1
            candidate = f"{stem}_{n}.{ext}" if ext else f"{stem}_{n}"
        self.used.add(candidate.casefold())
        return candidate


def evidence_paths(tree: InspectionTree, report_evidence_id: int | None) -> dict[int, str]:
    """Where each evidence file goes under ``data/``: by sub-goal, then occurrence."""
    names = _Names()
    goal_dirs = {
        g.id: f"03_Nachweise/{i:02d}_{_part(g.title)}" for i, g in enumerate(tree.subgoals, 1)
    }
    out: dict[int, str] = {}
    if report_evidence_id is not None:
        out[report_evidence_id] = ""
    for e in tree.evidence.values():
        if e.id == report_evidence_id:
            continue
        goal = _home_goal(tree, e)
        base = goal_dirs.get(goal, "03_Nachweise/00_ohne_Teilziel") if goal else None
        base = base or "03_Nachweise/00_ohne_Teilziel"
        occ = tree.occurrences.get(e.occurrence_id) if e.occurrence_id else None
        if occ is not None:
            act = tree.activities[occ.activity_id]
            day = berlin(occ.starts_at).strftime("%Y-%m-%d")
            base += f"/{day}_{_part(act.title, 40)}_T{occ.id}"
        elif e.activity_id in tree.activities:
            base += f"/{_part(tree.activities[e.activity_id].title, 40)}"
        out[e.id] = names.take(f"{base}/{e.id}_{e.kind}_{_part(e.filename, 80)}")
    return out


def _home_goal(tree: InspectionTree, e: EvidenceNode) -> int | None:
    shown = {g.id for g in tree.subgoals}
    for sid in e.subgoal_ids:
        if sid in shown:
            return sid
    act_id = e.activity_id
    if e.occurrence_id in tree.occurrences:
        act_id = tree.occurrences[e.occurrence_id].activity_id
    if act_id in tree.activities:
        for sid in tree.activities[act_id].subgoal_ids:
            if sid in shown:
                return sid
    return None


def attendance_csv(tree: InspectionTree) -> bytes:
    """Counts per occurrence and method, never a name (UTF-8 with BOM, ``;`` for Excel)."""
    methods = ["self_qr", "door_manual", "card_scan", "headcount", "paper"]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(
        [
            "termin_id",
            "datum",
            "beginn",
            "ende",
            "angebot",
            "status",
            "teilnahmen",
            "karten_verschieden",
            *methods,
            "kategorien",
            "nachweise",
        ]
    )
    for o in tree.occurrences.values():
        act = tree.activities[o.activity_id]
        status = (
            "abgesagt" if o.status == "cancelled" else ("durchgefuehrt" if o.held else "geplant")
        )
        w.writerow(
            [
                o.id,
                berlin(o.starts_at).strftime("%Y-%m-%d"),
                berlin(o.starts_at).strftime("%H:%M"),
                berlin(o.ends_at).strftime("%H:%M"),
                _cell(act.title),
                status,
                o.participants,
                o.distinct_cards,
            ]
            + [o.by_method.get(m, 0) for m in methods]
            + [
                _cell(", ".join(f"{c}: {n}" for c, n in sorted(o.by_category.items()))),
                len(o.evidence_ids),
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode()


def subgoal_summaries(
    tree: InspectionTree, paths: dict[int, str], sealed: dict[int, int]
) -> list[tuple[str, bytes]]:
    """Per sub-goal a CSV tying its figure (target, actual) to the held occurrences behind
    it and, per occurrence, the participant list (sealed version) and scans in the bag."""
    out = []
    for i, g in enumerate(tree.subgoals, 1):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        w.writerow(
            [
                "teilziel_id", "teilziel", "indikator", "zielwert", "istwert", "termin_id",
                "datum", "angebot", "teilnahmen", "teilnehmerliste", "fassung", "scans",
            ]
        )  # fmt: skip
        head = [g.id, _cell(g.title), g.indicator, f"{g.target:g}", f"{g.actual:g}"]
        acts = {a.id for a in tree.activities.values() if g.id in a.subgoal_ids}
        total = 0
        for o in tree.occurrences.values():
            if o.activity_id not in acts or not o.held:
                continue
            items = [tree.evidence[e] for e in o.evidence_ids]
            lists = [
                e
                for e in items
                if e.kind == "participant_list"
                and e.superseded_by_id is None
                and e.media_type == "application/pdf"
            ] or [e for e in items if e.kind == "participant_list" and e.superseded_by_id is None]
            scans = [e for e in items if e.kind == "signed_list_scan"]
            total += o.participants
            w.writerow(
                [
                    *head,
                    o.id,
                    berlin(o.starts_at).strftime("%Y-%m-%d"),
                    _cell(tree.activities[o.activity_id].title),
                    o.participants,
                    " | ".join(f"data/{paths[e.id]}" for e in lists if e.id in paths),
                    " | ".join(str(sealed.get(e.id, "")) for e in lists),
                    " | ".join(f"data/{paths[e.id]}" for e in scans if e.id in paths),
                ]
            )
        w.writerow([*head, "Summe", "", "", total, "", "", ""])
        name = f"04_Teilnahme/Zusammenfassung_Teilziel_{i:02d}_{_part(g.title)}.csv"
        out.append((name, ("\ufeff" + buf.getvalue()).encode()))
    return out


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in text cells."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass
class _Gathered:
    """Step 1: everything the bundle holds, read in one transaction."""

    tree: InspectionTree
    report_eid: int | None
    blobs: dict[int, tuple[str, str, bytes, str | None]]
    events: list[dict[str, Any]]
    sealed: dict[int, int]
    checkpoint: Path


@dataclass
class _Layout:
    """Step 2: where each file goes in the bag, and the files we generate."""

    bag_name: str
    paths: dict[int, str]
    index_paths: dict[int, str]
    diffs: list[str]
    generated: list[tuple[str, bytes]]
    checkpoint: bag.Checkpoint
    items: list[EvidenceNode]


@dataclass
class _Written:
    """Step 3: the finished ZIP."""

    digest: str
    size: int
    files: int
    payload_bytes: int
    tagmanifest: bytes


@service(Permission.bundle_export, Reach.agency)
def export_bundle(
    inst: Installation,
    actor: Actor,
    agency_slug: str,
    year: int,
    out: Path,
    *,
    subgoal_id: int | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> BundleResult:
    """Write the signed bag as ZIP to ``out`` (atomically) and audit the export:
    gather → lay out → write → record."""
    now = (now or utcnow()).replace(microsecond=0)
    report = progress or (lambda _f, _t: None)
    report(0.0, "Daten werden zusammengestellt …")
    gathered = _gather(inst, actor, agency_slug, year, subgoal_id, now)
    layout = _lay_out(gathered, year, subgoal_id)
    out = Path(out)
    written = _write(inst, gathered, layout, out, now, report)
    try:
        _record(inst, actor, gathered, written, year, subgoal_id)
    except BaseException:
        # An export nobody can account for must not stay behind (it holds personal data).
        out.unlink(missing_ok=True)
        raise
    report(1.0, "Fertig.")
    return BundleResult(
        out,
        written.digest,
        written.size,
        written.files,
        written.payload_bytes,
        layout.bag_name,
        len(gathered.tree.findings),
    )


def _gather(
    inst: Installation,
    actor: Actor,
    agency_slug: str,
    year: int,
    subgoal_id: int | None,
    now: datetime,
) -> _Gathered:
    with inst.db.read() as s:
        tree = inspect(s, actor, agency_slug, year, subgoal_id, now, grace_of(inst.settings))
        report_eid = tree.report["evidence_id"] if tree.report else None
        blob_ids = [e.blob_id for e in tree.evidence.values() if e.blob_id is not None]
        blobs = (
            {
                b.id: (b.name, b.kek_id, b.wrapped_key or b"", b.version_id)
                for b in s.scalars(select(Blob).where(Blob.id.in_(blob_ids)))
            }
            if blob_ids
            else {}
        )
        events = _audit_extract(s, tree)
        sealed = _sealed_versions(s, list(tree.evidence))
        checkpoint = audit.checkpoint(s, inst.keys, inst.settings.checkpoints_dir, now)
    for e in tree.evidence.values():
        if e.blob_id not in blobs:
            raise Conflict("bundle_blob_missing", evidence=e.id)
    return _Gathered(tree, report_eid, blobs, events, sealed, checkpoint)


def _lay_out(g: _Gathered, year: int, subgoal_id: int | None) -> _Layout:
    tree = g.tree
    report_eid = g.report_eid if g.report_eid in tree.evidence else None
    paths = evidence_paths(tree, report_eid)
    if report_eid is not None:
        e = tree.evidence[report_eid]
        paths[report_eid] = f"02_Sachbericht/Sachbericht_{year}_eingereicht_{_part(e.filename, 80)}"
    diffs = differences(tree)
    generated: list[tuple[str, bytes]] = []
    if tree.approved is not None:
        generated.append(
            (
                f"01_Aufgabenplanung/freigegebene_Fassung_v{tree.approved['version']}.json",
                _json(tree.approved),
            )
        )
    generated.append(("Abweichungen_zum_heutigen_Stand.txt", bag.differences_text(tree, diffs)))
    generated.append(("04_Teilnahme/Teilnahmen_je_Termin.csv", attendance_csv(tree)))
    generated.extend(subgoal_summaries(tree, paths, g.sealed))
    generated.append(("05_Audit/Audit-Auszug.jsonl", b"".join(_json_line(e) for e in g.events)))
    checkpoint = bag.Checkpoint(g.checkpoint.name, g.checkpoint.read_bytes())
    generated.extend(checkpoint.files())
    bag_name = f"Pruefpaket_{_part(tree.agency_slug)}_{year}" + (
        f"_Teilziel_{subgoal_id}" if subgoal_id else ""
    )
    return _Layout(
        bag_name=bag_name,
        paths=paths,
        index_paths={k: f"data/{v}" for k, v in paths.items()},
        diffs=diffs,
        generated=generated,
        checkpoint=checkpoint,
        items=list(tree.evidence.values()),
    )


def _write(
    inst: Installation,
    g: _Gathered,
    lay: _Layout,
    out: Path,
    now: datetime,
    report: Progress,
) -> _Written:
    """Stream generated files, evidence, index, tag files and signature into one ZIP,
    written to a temp file and renamed: a crash never leaves a half-written bundle."""
    items, paths, bag_name = lay.items, lay.paths, lay.bag_name
    total = sum(e.size for e in items) or 1
    offsets = [sum(e.size for e in items[:i]) for i in range(len(items))]
    manifest: list[tuple[str, str]] = []
    payload_bytes = 0
    fingerprint = inst.keys.fingerprint()
    sink = ZipSink(out, berlin(now).timetuple()[:6])
    try:
        for name, data in lay.generated:
            sink.put(f"{bag_name}/data/{name}", data, deflate=True)
            manifest.append((hashlib.sha256(data).hexdigest(), f"data/{name}"))
            payload_bytes += len(data)
        current = [0]

        def step(i: int) -> None:
            current[0] = i
            report(0.05 + 0.85 * offsets[i] / total, f"Nachweis {items[i].id}: {items[i].filename}")

        try:
            sink.stream(
                [
                    (f"{bag_name}/data/{paths[e.id]}", e.size, _reader(inst, e, g.blobs))
                    for e in items
                ],
                before_each=step,
            )
        except ArchiveUnavailable as exc:  # the store did not answer: nothing is missing
            raise Conflict("archive_unavailable", store=inst.blobs.describe()) from exc
        except BlobError as exc:
            raise Conflict("bundle_blob_missing", evidence=items[current[0]].id) from exc
        for e in items:
            manifest.append((e.sha256, f"data/{paths[e.id]}"))
            payload_bytes += e.size
        # The index is rendered only now, while workers fsync and hash the payload just
        # written: rendering is pure Python and holds the GIL, which would stall the
        # copying above at every switch (measured 2-3x slower), but not those workers.
        sink.settle()
        report(0.9, "Inhaltsverzeichnis (PDF) wird erstellt …")
        pdf = render_index(g.tree, lay.index_paths, fingerprint, lay.diffs)
        sink.put(f"{bag_name}/data/00_Inhaltsverzeichnis.pdf", pdf, deflate=False)
        manifest.insert(0, (hashlib.sha256(pdf).hexdigest(), "data/00_Inhaltsverzeichnis.pdf"))
        payload_bytes += len(pdf)
        report(0.95, "Prüfsummen und Signatur …")
        tags = bag.tag_files(
            tree=g.tree,
            bag_name=bag_name,
            now=now,
            manifest=manifest,
            payload_bytes=payload_bytes,
            public_pem=inst.keys.public_pem(),
            fingerprint=fingerprint,
            checkpoint=lay.checkpoint,
        )
        for name, data in tags:
            sink.put(f"{bag_name}/{name}", data)
        tagmanifest = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in tags
        ).encode()
        sink.put(f"{bag_name}/{TAGMANIFEST}", tagmanifest)
        sink.put(bag.signature_name(bag_name), inst.keys.sign(tagmanifest), deflate=False)
        digest, size = sink.commit()
    except BaseException:
        sink.abort()
        raise
    return _Written(digest, size, len(manifest), payload_bytes, tagmanifest)


def _record(
    inst: Installation,
    actor: Actor,
    g: _Gathered,
    w: _Written,
    year: int,
    subgoal_id: int | None,
) -> None:
    with inst.db.write() as s:
        audit.record(
            s,
            actor.name,
            Action.bundle_export,
            "bundle",
            w.digest[:16],
            agency_id=g.tree.agency_id,
            year=year,
            subgoal=subgoal_id,
            sha256=w.digest,
            tagmanifest_sha256=hashlib.sha256(w.tagmanifest).hexdigest(),
            files=w.files,
            evidence=sorted(g.tree.evidence),
            checkpoint=g.checkpoint.name,
        )


def _reader(
    inst: Installation, e: EvidenceNode, blobs: dict[int, tuple[str, str, bytes, str | None]]
) -> Callable[[], Iterable[bytes]]:
    """Plaintext chunks of one evidence file, authenticated and checked against its SHA-256
    (of the recorded object version on S3)."""
    # Only items with a blob reach the bundle (tombstones are listed, never read).
    name, kek, wrapped, version = blobs[e.blob_id]  # type: ignore[index]

    def chunks() -> Iterable[bytes]:
        return inst.blobs.iter_plaintext(name, kek, wrapped, e.sha256, version)

    return chunks


def _sealed_versions(s: Any, evidence_ids: list[int]) -> dict[int, int]:
    """Evidence id -> version, for the sealed lists (PDF and CSV) among the items."""
    out: dict[int, int] = {}
    for chunk in range(0, len(evidence_ids), 500):
        part = evidence_ids[chunk : chunk + 500]
        for pdf, table, version in s.execute(
            select(ListSeal.evidence_id, ListSeal.csv_evidence_id, ListSeal.version).where(
                ListSeal.evidence_id.in_(part) | ListSeal.csv_evidence_id.in_(part)
            )
        ):
            out[pdf] = version
            if table is not None:
                out[table] = version
    return out


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, default=str).encode()


def _json_line(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).encode() + b"\n"


def _audit_extract(s: Any, tree: InspectionTree) -> list[dict[str, Any]]:
    """Every audit event about the exported objects, with its chain hashes."""
    wanted = {
        "task_plan": {tree.plan["id"]} if tree.plan else set(),
        "subgoal": {g.id for g in tree.subgoals},
        "activity": set(tree.activities),
        "occurrence": set(tree.occurrences),
        "evidence": set(tree.evidence),
        "activity_report": {tree.report["id"]} if tree.report else set(),
    }
    rows = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.agency_id == tree.agency_id, AuditEvent.object_type.in_(AUDITED_TYPES))
        .order_by(AuditEvent.seq)
    )
    out = []
    for ev in rows:
        try:
            oid = int(ev.object_id) if ev.object_id is not None else None
        except ValueError:
            continue
        if oid in wanted.get(ev.object_type, set()):
            out.append(
                {
                    "seq": ev.seq,
                    "at": ev.at.replace(microsecond=0).isoformat(),
                    "actor": ev.actor,
                    "action": ev.action,
                    "object_type": ev.object_type,
                    "object_id": ev.object_id,
                    "agency_id": ev.agency_id,
                    "details": ev.details,
                    "prev_hash": ev.prev_hash,
                    "hash": ev.hash,
                }
            )
    return out


EXPORT_TTL_SECONDS = 3600  # plaintext copies of evidence: kept only briefly


@service(Permission.bundle_export, Reach.agency)
def export_for_download(
    inst: Installation,
    actor: Actor,
    agency_slug: str,
    year: int,
    *,
    subgoal_id: int | None = None,
    progress: Progress | None = None,
) -> BundleResult:
    """Export into ``<data>/exports`` for the app's download button; old exports are removed."""
    root = inst.settings.data_dir / "exports"
    root.mkdir(parents=True, exist_ok=True)
    clear_stale_exports(inst)
    name = f"Pruefpaket_{_part(agency_slug)}_{year}" + (
        f"_Teilziel_{subgoal_id}" if subgoal_id else ""
    )
    out = root / os.urandom(8).hex() / f"{name}.zip"
    try:
        return export_bundle(
            inst, actor, agency_slug, year, out, subgoal_id=subgoal_id, progress=progress
        )
    except BaseException:
        with contextlib.suppress(OSError):
            out.parent.rmdir()  # export_bundle removed its file; leave no empty folder
        raise


def clear_stale_exports(inst: Installation, max_age: float = EXPORT_TTL_SECONDS) -> int:
    """Remove downloaded-or-abandoned bundles: they are plaintext copies of evidence,
    so they must not outlive the download. Also run at server start."""
    import time

    removed = 0
    for old in (inst.settings.data_dir / "exports").glob("*/*"):
        if time.time() - old.stat().st_mtime > max_age:
            old.unlink(missing_ok=True)
            removed += 1
    for folder in (inst.settings.data_dir / "exports").glob("*"):
        with contextlib.suppress(OSError):
            if time.time() - folder.stat().st_mtime > max_age:
                folder.rmdir()  # only if empty (and old: an export may be starting in it)
    return removed


def open_export(inst: Installation, path: str | Path) -> BinaryIO:
    """Open a file written by ``export_for_download`` (and nothing else) for reading."""
    root = (inst.settings.data_dir / "exports").resolve()
    target = Path(path).resolve()
    if root not in target.parents or target.suffix != ".zip" or not target.is_file():
        from ia_events.core.errors import NotFound

        raise NotFound(what="Das Prüfpaket")
    return open(target, "rb")  # the caller (the download) closes it


@service(Permission.agency_read, Reach.installation, "checks a file, reads no data")
def verify_upload(inst: Installation, actor: Actor, upload: BinaryIO) -> BundleCheck:
    """Check an uploaded bundle against this installation's signing key."""
    from ia_events.core.access import Permission, require

    require(actor, Permission.agency_read)
    return verify_bundle(upload, inst.keys.public_key)


__all__ = [
    "BundleCheck",
    "BundleResult",
    "export_bundle",
    "export_for_download",
    "load_public_key",
    "open_export",
    "verify_bundle",
    "verify_upload",
]
