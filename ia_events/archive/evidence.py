"""Evidence items (Nachweise): adding, superseding, listing and reading archived files.

An item links a stored blob to agency, funding year, occurrence/activity and
sub-goals, with a retention end from ``retention.retention_for``. Files are
validated by content (``filetypes``) in the same pass that encrypts them.

Adding follows the upload journal protocol (docs/design.md section 4): stage the
encrypted temp file, commit a journal entry, move the blob into place, then
commit blob row, evidence row, audit event and journal completion in one
transaction. ``add_many`` runs each step once for a whole batch (one journal
commit, one folder sync, one record transaction). A crash at any point leaves
either complete records or journal entries that ``integrity.recover_uploads``
clears. The same content twice within one agency is one blob with two items;
never shared across agencies.

Items are never edited in place: ``supersede`` archives a corrected file as a
new version; ``change_metadata`` keeps the previous metadata as a revision.
Every read of an item's content is audited. Browsing lives in ``evidence_query``.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ia_events.archive import filetypes, journal, objectlock
from ia_events.archive.retention import refresh_hold_flags, retention_for
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Agency,
    Blob,
    Evidence,
    EvidenceKind,
    EvidenceRevision,
    LegalHold,
    Occurrence,
    SubGoal,
    UploadJournal,
)
from ia_events.core.permissions import Reach, service
from storage.archive_store import (
    ArchiveUnavailable,
    BlobCorrupt,
    BlobMissing,
    PendingBlob,
    StorageFull,
)
from storage.db import utcnow

KIND_LABELS = {
    EvidenceKind.participant_list: "Teilnehmerliste",
    EvidenceKind.signed_list_scan: "Unterschriebene Liste (Scan)",
    EvidenceKind.press_release: "Pressemeldung",
    EvidenceKind.press_clipping: "Presseartikel",
    EvidenceKind.photo: "Foto",
    EvidenceKind.flyer: "Flyer",
    EvidenceKind.social_media: "Social Media",
    EvidenceKind.report: "Bericht",
    EvidenceKind.other: "Sonstiges",
    EvidenceKind.minutes: "Protokoll",
}
GATHERING = "Versammlung, keine Einwilligung nötig (§ 23 Abs. 1 Nr. 3 KUG)"


@dataclass(frozen=True)
class EvidenceView:
    id: int
    agency_slug: str
    kind: str
    title: str
    filename: str
    sha256: str
    size: int
    funding_year: int
    retention_until: date
    legal_hold: bool
    deleted: bool
    occurrence_id: int | None
    media_type: str = "application/octet-stream"
    doc_date: date | None = None
    source: str = ""
    subgoal_ids: tuple[int, ...] = ()
    consent_ref: str | None = None
    retention_rule: str = ""
    supersedes_id: int | None = None
    superseded_by_id: int | None = None
    created_by: str = ""
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    flags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)
    activity_id: int | None = None
    revision: int = 1
    sealed: bool = False  # a sealed participant list (or its CSV), attendance/sealing.py
    version: int = 1  # 1 + the number of versions it supersedes

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "sha256": self.sha256,
            "funding_year": self.funding_year,
            "retention_until": self.retention_until.isoformat(),
            "legal_hold": self.legal_hold,
            "deleted": self.deleted,
            "occurrence_ids": [self.occurrence_id] if self.occurrence_id is not None else [],
            "subgoal_ids": list(self.subgoal_ids),
            "sealed": self.sealed,
            "version": self.version,
        }


def annotate(session: Session, views: list[EvidenceView]) -> list[EvidenceView]:
    """Add ``sealed`` and ``version`` (one query for the seals, one per chain level)."""
    if not views:
        return views
    from dataclasses import replace

    from ia_events.core.models import ListSeal

    ids = [v.id for v in views]
    sealed: dict[int, int] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        for pdf, table, version in session.execute(
            select(ListSeal.evidence_id, ListSeal.csv_evidence_id, ListSeal.version).where(
                ListSeal.evidence_id.in_(part) | ListSeal.csv_evidence_id.in_(part)
            )
        ):
            sealed[pdf] = version
            if table is not None:
                sealed[table] = version
    depth = {v.id: 1 for v in views}
    parent = {v.id: v.supersedes_id for v in views if v.supersedes_id is not None}
    while parent:
        for child in parent:
            depth[child] += 1
        ups = dict(
            session.execute(
                select(Evidence.id, Evidence.supersedes_id).where(
                    Evidence.id.in_(set(parent.values()))
                )
            ).all()
        )
        parent = {c: up for c, p in parent.items() if (up := ups.get(p)) is not None}
    return [replace(v, sealed=v.id in sealed, version=sealed.get(v.id, depth[v.id])) for v in views]


def default_retention(funding_year: int) -> date:
    """31 December of (funding year + 10)."""
    return date(funding_year + 10, 12, 31)


def safe_filename(name: str) -> str:
    """A file name that is safe on every system and still readable."""
    return filetypes.safe_filename(name)


def _view(e: Evidence, slug: str, warnings: tuple[str, ...] = ()) -> EvidenceView:
    return EvidenceView(
        id=e.id,
        agency_slug=slug,
        kind=e.kind,
        title=e.title,
        filename=e.filename,
        sha256=e.sha256,
        size=e.size,
        funding_year=e.funding_year,
        retention_until=e.retention_until,
        legal_hold=e.legal_hold,
        deleted=e.deleted_at is not None,
        occurrence_id=e.occurrence_id,
        media_type=e.media_type,
        doc_date=e.doc_date,
        source=e.source,
        subgoal_ids=tuple(sorted(g.id for g in e.subgoals)),
        consent_ref=e.consent_ref,
        retention_rule=e.retention_rule,
        supersedes_id=e.supersedes_id,
        superseded_by_id=e.superseded_by_id,
        created_by=e.created_by,
        created_at=e.created_at,
        deleted_at=e.deleted_at,
        flags=tuple(e.flags or ()),
        warnings=warnings,
        activity_id=e.activity_id,
        revision=e.revision,
    )


def _kind(kind: str) -> str:
    try:
        return EvidenceKind(kind).value
    except ValueError as exc:
        raise InvalidInput("evidence_kind_unknown", kind=kind) from exc


def _seekable(content: bytes | BinaryIO | Iterable[bytes]) -> bytes | BinaryIO:
    """Bytes or a seekable file; anything else is spooled (for the ZIP directory check)."""
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    if filetypes.is_seekable(content):
        return content  # type: ignore[return-value]  # is_seekable: a seekable file
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned
    source = content.read if hasattr(content, "read") else None
    if source is not None:
        while block := source(1024 * 1024):
            spool.write(block)
    else:
        for block in content:
            spool.write(block)
    spool.seek(0)
    return spool  # type: ignore[return-value]  # SpooledTemporaryFile is a binary file


@dataclass(frozen=True)
class _Target:
    """Where new items go and what they share, checked once per call (not once per file)."""

    agency_id: int
    agency_slug: str
    funding_year: int
    kind: str
    occurrence_id: int | None
    activity_id: int | None
    subgoal_ids: tuple[int, ...]
    doc_date: date | None
    source: str
    consent_ref: str | None
    supersedes_id: int | None
    retention_until: date
    retention_rule: str
    warnings: tuple[str, ...]


_Staged = tuple[PendingBlob, filetypes.Checked]


def _target(
    inst: Installation,
    actor: Actor,
    *,
    agency_slug: str,
    funding_year: int,
    kind: str,
    occurrence_id: int | None = None,
    activity_id: int | None = None,
    subgoal_ids: list[int] | None = None,
    doc_date: date | None = None,
    source: str = "",
    consent_ref: str | None = None,
    supersedes_id: int | None = None,
    today: date | None = None,
) -> _Target:
    """Kind, year, permission and links (the agency's own, else ``NotFound``)."""
    kind = _kind(kind)
    today = today or utcnow().date()
    if not 2000 <= int(funding_year) <= today.year + 2:
        raise InvalidInput(field="Förderjahr", reason=f"{funding_year} ist kein gültiges Jahr.")
    with inst.db.read() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.slug == agency_slug))
        if agency_id is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        require(actor, Permission.evidence_add, agency_id)
        activity_id = _check_links(
            s, agency_id, funding_year, occurrence_id, activity_id, subgoal_ids or []
        )
    until, rule = retention_for(kind, funding_year)
    warnings: tuple[str, ...] = ()
    if until < today:
        warnings = (
            f"Die Aufbewahrungsfrist für das Förderjahr {funding_year} ist am "
            f"{until.strftime('%d.%m.%Y')} abgelaufen; der Nachweis wird beim nächsten "
            "Aufbewahrungslauf zur Löschung vorgeschlagen (nachträglich erfasst).",
        )
    return _Target(
        agency_id=agency_id,
        agency_slug=agency_slug,
        funding_year=funding_year,
        kind=kind,
        occurrence_id=occurrence_id,
        activity_id=activity_id,
        subgoal_ids=tuple(subgoal_ids or ()),
        doc_date=doc_date,
        source=(source or "").strip()[:500],
        consent_ref=(consent_ref or "").strip() or None,
        supersedes_id=supersedes_id,
        retention_until=until,
        retention_rule=rule,
        warnings=warnings,
    )


@service(Permission.evidence_add, Reach.agency)
def add_evidence(
    inst: Installation,
    actor: Actor,
    *,
    agency_slug: str,
    funding_year: int,
    kind: str,
    filename: str,
    content: bytes | BinaryIO | Iterable[bytes],
    title: str | None = None,
    occurrence_id: int | None = None,
    activity_id: int | None = None,
    subgoal_ids: list[int] | None = None,
    doc_date: date | None = None,
    source: str = "",
    consent_ref: str | None = None,
    media_type: str | None = None,
    supersedes_id: int | None = None,
    today: date | None = None,
) -> EvidenceView:
    """Validate, encrypt and archive one file; returns the new item (with any warnings).

    ``media_type`` given by a browser is ignored: the type comes from the content.
    """
    target = _target(
        inst, actor, agency_slug=agency_slug, funding_year=funding_year, kind=kind,
        occurrence_id=occurrence_id, activity_id=activity_id, subgoal_ids=subgoal_ids,
        doc_date=doc_date, source=source, consent_ref=consent_ref,
        supersedes_id=supersedes_id, today=today,
    )  # fmt: skip
    with inst.blobs.uploading():  # recovery waits for us (storage/blobs.py)
        staged = [stage_file(inst, target.agency_id, filename, content)]
        return _archive(inst, actor, target, staged, [title])[0]


@service(Permission.evidence_add, Reach.agency)
def add_many(
    inst: Installation,
    actor: Actor,
    files: list[tuple[str, bytes | BinaryIO]],
    *,
    kind: str,
    require_consent: bool = False,
    **meta: object,
) -> list[EvidenceView]:
    """Archive several files with the same metadata, all or none.

    Every file's content is checked first, and a bad file found while encrypting
    refuses the batch as well: the caller gets that file's German message and nothing
    of the batch is stored (a full disk too). Each file still gets its own item and its
    own audit event, exactly as ``add_evidence`` would write them.

    The upload journal protocol (docs/design.md section 4) runs once per batch instead of
    once per file: stage and fsync every file, commit the journal entries of all new
    blobs, rename them into place and fsync their folders once, then commit every
    row in one transaction. A crash in between leaves only journaled blobs, which
    ``integrity.recover_uploads`` removes (tests/integration/test_batch_crash_safety.py).
    """
    kind = _kind(kind)
    if not files:
        raise InvalidInput(field="Dateien", reason="Bitte mindestens eine Datei auswählen.")
    if require_consent and kind == EvidenceKind.photo and not str(meta.get("consent_ref") or ""):
        raise InvalidInput("photo_consent_missing")
    contents = []
    for name, content in files:
        data = _seekable(content)
        filetypes.check(data, name, inst.settings.max_upload_bytes)
        contents.append((name, data))
    title = str(meta.pop("title", "") or "").strip()
    titles = [
        title if len(files) == 1 else (f"{title} ({i + 1})" if title else None)
        for i in range(len(files))
    ]
    # ``meta`` holds _target's keyword arguments, checked there (typed as object here).
    target = _target(inst, actor, kind=kind, **meta)  # type: ignore[arg-type]  # checked there
    with inst.blobs.uploading():  # recovery waits for us (storage/blobs.py)
        staged = _stage_all(inst, target.agency_id, contents)
        return _archive(inst, actor, target, staged, titles)


def _archive(
    inst: Installation,
    actor: Actor,
    target: _Target,
    staged: list[_Staged],
    titles: list[str | None],
    supersedes: list[int | None] | None = None,
    within: Callable[[Session, list[Evidence]], None] | None = None,
) -> list[EvidenceView]:
    """Journal, put in place, record, lock: the upload journal protocol for staged files.

    Local folder: under ``publishing`` (flock) so two uploads of the same content never
    place the same name at once. Shared store (S3): no host lock; each upload writes its
    own object version and the first record wins, a later one links to it and deletes
    its own version (``journal.settle``)."""
    store = inst.blobs
    try:
        with store.publishing():
            entries = journal.open_entries(inst, target.agency_id, _firsts(staged))
            fresh = [p for p in _firsts(staged) if p.name in entries]
            ids = list(entries.values())
            try:
                versions = store.publish(fresh, heartbeat=lambda: journal.renew(inst, ids))
            except ArchiveUnavailable as exc:
                journal.abandon(inst, entries)
                raise Conflict("archive_unavailable", store=store.describe()) from exc
            except BlobCorrupt as exc:
                journal.abandon(inst, entries)
                raise Conflict(reason="Die Datei hat sich beim Archivieren verändert.") from exc
            except StorageFull as exc:
                raise Conflict("storage_full") from exc
            journal.note_versions(inst, entries, versions)
            views, blob_ids, lost = _record_retrying(
                inst, actor, target, staged, entries, titles, versions, supersedes, within
            )
        journal.settle(inst, lost, versions)
    finally:
        for pending, _ in staged:  # duplicates and anything not placed (no-op otherwise)
            store.discard(pending)
    if store.enforces_lock:
        objectlock.try_apply(inst, blob_ids)  # a miss is caught up by verify / the next run
    return views


def _record_retrying(
    inst: Installation,
    actor: Actor,
    target: _Target,
    staged: list[_Staged],
    entries: dict[str, int],
    titles: list[str | None],
    versions: dict[str, str | None],
    supersedes: list[int | None] | None = None,
    within: Callable[[Session, list[Evidence]], None] | None = None,
) -> tuple[list[EvidenceView], list[int], dict[str, int]]:
    """``_record``; on a shared store a concurrent upload of the same content may insert
    the blob row first (unique name): then once more, linking to its row."""

    def record() -> tuple[list[EvidenceView], list[int], dict[str, int]]:
        return _record(inst, actor, target, staged, entries, titles, supersedes, within, versions)

    try:
        return record()
    except IntegrityError:
        if not inst.blobs.shared:
            raise
        return record()


@service(Permission.evidence_add, Reach.agency)
def add_linked(
    inst: Installation,
    actor: Actor,
    files: list[tuple[str, bytes, str | None, int | None]],
    *,
    kind: str,
    within: Callable[[Session, list[Evidence]], None] | None = None,
    **meta: object,
) -> list[EvidenceView]:
    """Archive files that belong together (a sealed list and its CSV) in one record
    transaction: ``(filename, content, title, supersedes_id)`` each, the same links for
    all. ``within`` runs inside that transaction, so a caller's own row (the seal) exists
    exactly when the items do. Same journal protocol as ``add_many``."""
    kind = _kind(kind)
    target = _target(inst, actor, kind=kind, **meta)  # type: ignore[arg-type]  # checked there
    with inst.blobs.uploading():
        staged = [stage_file(inst, target.agency_id, n, c) for n, c, _t, _s in files]
        return _archive(
            inst,
            actor,
            target,
            staged,
            [t for _n, _c, t, _s in files],
            supersedes=[o for _n, _c, _t, o in files],
            within=within,
        )


@dataclass
class LinkedGroup:
    """One ``add_linked`` call of ``add_linked_many``: its files, kind, links and hook."""

    files: list[tuple[str, bytes, str | None, int | None]]
    kind: str
    meta: dict[str, object]
    within: Callable[[Session, list[Evidence]], None] | None = None


@service(Permission.evidence_add, Reach.agency, "per group, as add_linked")
def add_linked_many(
    inst: Installation, actor: Actor, groups: list[LinkedGroup]
) -> list[list[EvidenceView] | Exception]:
    """``add_linked`` for many groups at once (bulk sealing): the same journal protocol,
    but the files are staged a few at a time in parallel, one journal commit per agency,
    one folder sync for all placed files and one record transaction for all groups.
    If that transaction fails, each group is recorded in its own, so a bad group fails
    alone. Returns per group its views or the exception that stopped it."""
    out: list[list[EvidenceView] | Exception | None] = [None] * len(groups)
    targets: dict[int, _Target] = {}
    for i, g in enumerate(groups):
        try:
            targets[i] = _target(inst, actor, kind=_kind(g.kind), **g.meta)  # type: ignore[arg-type]  # checked there
        except Exception as exc:
            out[i] = exc
    store = inst.blobs
    staged: dict[int, list[_Staged]] = {}
    with store.uploading():
        pool = ThreadPoolExecutor(max_workers=3)
        try:
            futures = {
                i: [
                    pool.submit(stage_file, inst, targets[i].agency_id, n, c)
                    for n, c, _t, _s in groups[i].files
                ]
                for i in targets
            }
        finally:
            pool.shutdown(wait=True)
        for i, fs in futures.items():
            done, failures = [], []
            for f in fs:
                try:
                    done.append(f.result())
                except Exception as exc:
                    failures.append(exc)
            if failures:
                for pending, _ in done:
                    store.discard(pending)
                out[i] = failures[0]
            else:
                staged[i] = done
        try:
            _archive_many(inst, actor, groups, targets, staged, out)
        finally:
            for files in staged.values():
                for pending, _ in files:
                    store.discard(pending)
    return [r if r is not None else Conflict("archive_unavailable") for r in out]


def _archive_many(
    inst: Installation,
    actor: Actor,
    groups: list[LinkedGroup],
    targets: dict[int, _Target],
    staged: dict[int, list[_Staged]],
    out: list[list[EvidenceView] | Exception | None],
) -> None:
    """``_archive`` for the staged groups of ``add_linked_many`` (results into ``out``)."""
    if not staged:
        return
    store = inst.blobs
    blob_ids: list[int] = []
    lost: dict[str, int] = {}
    with store.publishing():
        entries: dict[str, int] = {}
        by_agency: dict[int, list[PendingBlob]] = {}
        for i, files in staged.items():
            by_agency.setdefault(targets[i].agency_id, []).extend(_firsts(files))
        for agency_id, firsts in by_agency.items():
            entries.update(journal.open_entries(inst, agency_id, _firsts_of(firsts)))
        fresh = [p for p in _firsts_of([p for f in staged.values() for p in _firsts(f)])]
        fresh = [p for p in fresh if p.name in entries]
        ids = list(entries.values())
        try:
            versions = store.publish(fresh, heartbeat=lambda: journal.renew(inst, ids))
        except (ArchiveUnavailable, BlobCorrupt, StorageFull) as exc:
            journal.abandon(inst, entries)
            code = "storage_full" if isinstance(exc, StorageFull) else "archive_unavailable"
            for i in staged:
                out[i] = Conflict(code)
            return
        journal.note_versions(inst, entries, versions)
        claimed: set[str] = set()
        own: dict[int, dict[str, int]] = {}
        for i, files in staged.items():  # a blob's entry goes to the first group holding it
            names = {p.name for p in _firsts(files)} - claimed
            claimed |= names
            own[i] = {n: entries[n] for n in names if n in entries}

        def record(s: Session, i: int) -> tuple[list[EvidenceView], list[int], dict[str, int]]:
            g = groups[i]
            return _record_in(
                s, actor, targets[i], staged[i], own[i], [t for _n, _c, t, _o in g.files],
                [o for _n, _c, _t, o in g.files], g.within, versions,
            )  # fmt: skip

        try:
            with inst.db.write() as s:
                results = {i: record(s, i) for i in staged}
        except Exception:  # one group at a time: a bad one fails alone
            results = {}
            for i in staged:
                try:
                    with inst.db.write() as s:
                        results[i] = record(s, i)
                except Exception as exc:
                    out[i] = exc
        for i, (views, ids_used, lost_i) in results.items():
            out[i] = views
            blob_ids.extend(ids_used)
            lost.update(lost_i)
    journal.settle(inst, lost, versions)
    if store.enforces_lock:
        objectlock.try_apply(inst, sorted(set(blob_ids)))


def _firsts_of(pendings: list[PendingBlob]) -> list[PendingBlob]:
    seen: dict[str, PendingBlob] = {}
    for p in pendings:
        seen.setdefault(p.name, p)
    return list(seen.values())


def _stage_all(
    inst: Installation, agency_id: int, files: list[tuple[str, bytes | BinaryIO]]
) -> list[_Staged]:
    """``stage_file`` every file, durably, a few at a time; on any failure remove every
    temp file of the batch and raise the first failure (in file order).

    SHA-256, AES-GCM and fsync release the GIL, so on two cores one file's fsync waits on
    the disk while the next is hashed on the other core.
    """
    pool = ThreadPoolExecutor(max_workers=3)
    try:
        futures = [pool.submit(stage_file, inst, agency_id, name, data) for name, data in files]
    finally:
        pool.shutdown(wait=True)  # every file finished (or failed): nothing left running
    staged: list[_Staged] = []
    failures: list[BaseException] = []
    for future in futures:
        try:
            staged.append(future.result())
        except Exception as exc:  # collected, so that no temp file is left behind
            failures.append(exc)
    if failures:
        for pending, _ in staged:
            inst.blobs.discard(pending)
        raise failures[0]
    return staged


def _firsts(staged: list[_Staged]) -> list[PendingBlob]:
    """The first staged copy of each blob name: the one placed and recorded (a second
    copy of the same content in one batch is discarded)."""
    seen: dict[str, PendingBlob] = {}
    for pending, _ in staged:
        seen.setdefault(pending.name, pending)
    return list(seen.values())


def _record(
    inst: Installation,
    actor: Actor,
    target: _Target,
    staged: list[_Staged],
    journal: dict[str, int],
    titles: list[str | None],
    supersedes: list[int | None] | None = None,
    within: Callable[[Session, list[Evidence]], None] | None = None,
    versions: dict[str, str | None] | None = None,
) -> tuple[list[EvidenceView], list[int], dict[str, int]]:
    """The upload journal's second commit: blob rows, items, one audit event per item and
    the journal entries' completion, all in one transaction. Returns the views, the
    blob ids used and the entries whose content another upload recorded first.

    ``supersedes`` names per item the version it replaces (default: the target's);
    ``within`` runs in the same transaction after the items exist (e.g. a seal row)."""
    with inst.db.write() as s:
        return _record_in(s, actor, target, staged, journal, titles, supersedes, within, versions)


def _record_in(
    s: Session,
    actor: Actor,
    target: _Target,
    staged: list[_Staged],
    journal: dict[str, int],
    titles: list[str | None],
    supersedes: list[int | None] | None = None,
    within: Callable[[Session, list[Evidence]], None] | None = None,
    versions: dict[str, str | None] | None = None,
) -> tuple[list[EvidenceView], list[int], dict[str, int]]:
    """``_record``'s work inside the caller's transaction."""
    olds = supersedes or [target.supersedes_id] * len(staged)
    versions = versions or {}
    blobs, lost = _blob_rows(s, target.agency_id, staged, journal, versions)
    goals = (
        list(s.scalars(select(SubGoal).where(SubGoal.id.in_(target.subgoal_ids))))
        if target.subgoal_ids
        else []
    )
    items = [
        _item(actor, target, pending, checked, blobs[pending.name].id, title, goals)
        for (pending, checked), title in zip(staged, titles, strict=True)
    ]
    for item, old_id in zip(items, olds, strict=True):
        item.supersedes_id = old_id
    s.add_all(items)
    s.flush()
    for old_id in set(olds):
        if old_id is not None:
            _mark_superseded(
                s, old_id, [i for i, o in zip(items, olds, strict=True) if o == old_id]
            )
    conn = s.connection()  # Core appends: the same events as audit.record, fewer flushes
    for item, (pending, checked), old_id in zip(items, staged, olds, strict=True):
        audit.append(
            conn,
            actor.name,
            Action.evidence_supersede if old_id else Action.evidence_add,
            "evidence",
            item.id,
            agency_id=target.agency_id,
            sha256=pending.sha256,
            blob=blobs[pending.name].id,
            kind=target.kind,
            media_type=checked.media_type,
            flags=list(checked.flags),
            supersedes=old_id,
        )
    if within is not None:
        within(s, items)
    done = [i for name, i in journal.items() if name not in lost]
    if done:
        s.execute(
            update(UploadJournal)
            .where(UploadJournal.id.in_(done))
            .values(finished_at=utcnow(), outcome="committed")
        )
    if _agency_has_active_hold(s, target.agency_id):
        items = _with_hold_flags(s, target.agency_id, [i.id for i in items])
    views = annotate(
        s, [_view(item, target.agency_slug, _warnings(target, item)) for item in items]
    )
    return views, sorted({b.id for b in blobs.values()}), lost


def _blob_rows(
    s: Session,
    agency_id: int,
    staged: list[_Staged],
    journal: dict[str, int],
    versions: dict[str, str | None],
) -> tuple[dict[str, Blob], dict[str, int]]:
    """Blob name -> row: the existing one for content the agency already holds, a new row
    for each blob this call placed (after a shred, the old row gives up its name and
    keeps its object's key in ``object_name``). Also the journal entries of blobs this
    call placed that a concurrent upload recorded first (their version is spare)."""
    firsts = _firsts(staged)
    rows = {
        b.name: b for b in s.scalars(select(Blob).where(Blob.name.in_([p.name for p in firsts])))
    }
    fresh = []
    lost: dict[str, int] = {}
    for p in firsts:
        row = rows.get(p.name)
        if row is not None and row.shredded_at is None:
            if p.name in journal:  # recorded meanwhile by a concurrent upload
                lost[p.name] = journal[p.name]
            continue
        if p.name not in journal:  # held at the journal step, shredded since: no file
            raise Conflict(reason="Eine gleiche Datei wurde eben gelöscht; bitte erneut hochladen.")
        if row is not None:  # same content after a shred: a fresh blob row
            row.object_name = row.object_name or row.name
            row.name = f"shredded-{row.id}"
            s.flush()
        rows[p.name] = Blob(
            agency_id=agency_id, name=p.name, sha256=p.sha256, size=p.size,
            kek_id=p.kek_id, wrapped_key=p.wrapped_key, version_id=versions.get(p.name),
        )  # fmt: skip
        fresh.append(rows[p.name])
    s.add_all(fresh)
    s.flush()
    return rows, lost


def _item(
    actor: Actor,
    target: _Target,
    pending: PendingBlob,
    checked: filetypes.Checked,
    blob_id: int,
    title: str | None,
    goals: list[SubGoal],
) -> Evidence:
    return Evidence(
        agency_id=target.agency_id,
        funding_year=target.funding_year,
        kind=target.kind,
        title=(title or checked.filename or "Nachweis").strip()[:500],
        doc_date=target.doc_date,
        source=target.source,
        filename=checked.filename,
        media_type=checked.media_type,
        blob_id=blob_id,
        sha256=pending.sha256,
        size=pending.size,
        occurrence_id=target.occurrence_id,
        activity_id=target.activity_id,
        consent_ref=target.consent_ref,
        retention_until=target.retention_until,
        retention_rule=target.retention_rule,
        created_by=actor.name,
        flags=list(checked.flags),
        supersedes_id=target.supersedes_id,
        subgoals=list(goals),
    )


def _mark_superseded(s: Session, old_id: int, items: list[Evidence]) -> None:
    """The old version points at its correction (only one correction per version)."""
    old = s.get(Evidence, old_id)
    assert old is not None
    for item in items:
        if old.superseded_by_id is not None:
            raise Conflict("evidence_superseded", id=old.id, by=old.superseded_by_id)
        old.superseded_by_id = item.id
    s.flush()


def _with_hold_flags(s: Session, agency_id: int, ids: list[int]) -> list[Evidence]:
    """New items start unheld; a hold on their scope (occurrence, sub-goal, year) may hold them."""
    for evidence_id in ids:
        refresh_hold_flags(s, agency_id, evidence_id)
    by_id = {e.id: e for e in s.scalars(select(Evidence).where(Evidence.id.in_(ids)))}
    return [by_id[i] for i in ids]


def _warnings(target: _Target, item: Evidence) -> tuple[str, ...]:
    if "pdf_javascript" not in (item.flags or ()):
        return target.warnings
    return (
        *target.warnings,
        "Die PDF-Datei enthält aktive Inhalte (JavaScript, Startaktionen, eingebettete "
        "Dateien oder XFA-Formulare); sie ist markiert und wird in der App nicht geöffnet.",
    )


def _agency_has_active_hold(session: Session, agency_id: int) -> bool:
    return (
        session.scalar(
            select(LegalHold.id)
            .where(LegalHold.agency_id == agency_id, LegalHold.released_at.is_(None))
            .limit(1)
        )
        is not None
    )


def stage_file(
    inst: Installation,
    agency_id: int,
    filename: str,
    content: bytes | BinaryIO | Iterable[bytes],
    durable: bool = True,
) -> tuple[PendingBlob, filetypes.Checked]:
    """Check the content and encrypt it into a temp file in one pass (nothing recorded)."""
    data = _seekable(content)
    checked = filetypes.check(data, filename, inst.settings.max_upload_bytes)
    scanner = filetypes.ContentScanner(checked, source=data)
    try:
        pending = inst.blobs.stage(
            data, namespace=f"agency:{agency_id}", observe=scanner.feed, durable=durable
        )
    except StorageFull as exc:
        raise Conflict("storage_full") from exc
    try:
        scanner.finish()
    except BaseException:
        inst.blobs.discard(pending)
        raise
    return pending, checked


def _check_links(
    s: Session,
    agency_id: int,
    year: int,
    occurrence_id: int | None,
    activity_id: int | None,
    subgoal_ids: list[int],
) -> int | None:
    """Links must be the agency's own (else ``NotFound``); returns the activity id."""
    if occurrence_id is not None:
        row = s.execute(
            select(Occurrence.agency_id, Occurrence.activity_id).where(
                Occurrence.id == occurrence_id
            )
        ).first()
        if row is None or row[0] != agency_id:
            raise NotFound(what=f"Der Termin {occurrence_id}")
        activity_id = activity_id or row[1]
    if activity_id is not None:
        from ia_events.core.models import Activity

        owner = s.scalar(select(Activity.agency_id).where(Activity.id == activity_id))
        if owner != agency_id:
            raise NotFound(what=f"Das Angebot {activity_id}")
    for sid in subgoal_ids:
        row = s.execute(
            select(SubGoal.agency_id, SubGoal.funding_year).where(SubGoal.id == sid)
        ).first()
        if row is None or row[0] != agency_id:
            raise NotFound(what=f"Das Teilziel {sid}")
        if row[1] != year:
            raise InvalidInput(
                field="Teilziel", reason=f"Teilziel {sid} gehört zum Förderjahr {row[1]}."
            )
    return activity_id


@service(Permission.evidence_add, Reach.agency)
def supersede(
    inst: Installation,
    actor: Actor,
    evidence_id: int,
    *,
    filename: str,
    content: bytes | BinaryIO,
    reason: str = "",
    title: str | None = None,
) -> EvidenceView:
    """Archive a corrected file as a new version; the old one stays, marked superseded."""
    with inst.db.read() as s:
        old = s.get(Evidence, evidence_id)
        if old is None:
            raise NotFound(what=f"Der Nachweis {evidence_id}")
        require(actor, Permission.evidence_add, old.agency_id)
        if old.deleted_at is not None:
            raise Conflict("evidence_deleted", id=evidence_id)
        if old.superseded_by_id is not None:
            raise Conflict("evidence_superseded", id=evidence_id, by=old.superseded_by_id)
        slug = s.scalar(select(Agency.slug).where(Agency.id == old.agency_id))
        meta = {
            "agency_slug": slug or "",
            "funding_year": old.funding_year,
            "kind": old.kind,
            "title": title or old.title,
            "occurrence_id": old.occurrence_id,
            "activity_id": old.activity_id,
            "subgoal_ids": [g.id for g in old.subgoals],
            "doc_date": old.doc_date,
            "source": old.source,
            "consent_ref": old.consent_ref,
        }
    return add_evidence(
        inst,
        actor,
        filename=filename,
        content=content,
        supersedes_id=evidence_id,
        **meta,  # type: ignore[arg-type]  # add_evidence's keyword arguments, checked there
    )


def snapshot(e: Evidence) -> dict[str, object]:
    return {
        "revision": e.revision,
        "title": e.title,
        "doc_date": e.doc_date.isoformat() if e.doc_date else None,
        "source": e.source,
        "occurrence_id": e.occurrence_id,
        "activity_id": e.activity_id,
        "subgoal_ids": sorted(g.id for g in e.subgoals),
        "consent_ref": e.consent_ref,
    }


@service(Permission.evidence_add, Reach.agency)
def change_metadata(
    session: Session,
    actor: Actor,
    evidence_id: int,
    *,
    reason: str,
    title: str | None = None,
    doc_date: date | None = None,
    source: str | None = None,
    subgoal_ids: list[int] | None = None,
    consent_ref: str | None = None,
) -> EvidenceView:
    """Change descriptive metadata; the previous state is kept as a revision, audited."""
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise NotFound(what=f"Der Nachweis {evidence_id}")
    require(actor, Permission.evidence_add, item.agency_id)
    if item.deleted_at is not None:
        raise Conflict("evidence_deleted", id=evidence_id)
    if not (reason or "").strip():
        raise InvalidInput(field="Grund", reason="Bitte angeben, warum geändert wird.")
    if subgoal_ids is not None:
        _check_links(session, item.agency_id, item.funding_year, None, None, subgoal_ids)
    session.add(
        EvidenceRevision(
            evidence_id=item.id,
            agency_id=item.agency_id,
            revision=item.revision,
            snapshot=snapshot(item),
            changed_by=actor.name,
            reason=reason.strip()[:2000],
        )
    )
    new_values = {
        "title": title.strip()[:500] if title and title.strip() else None,
        "doc_date": doc_date,
        "source": source.strip()[:500] if source is not None else None,
        "consent_ref": (consent_ref.strip() or None) if consent_ref is not None else None,
    }
    changed = []
    for name, value in new_values.items():
        given = value is not None or (name == "consent_ref" and consent_ref is not None)
        if given and value != getattr(item, name):
            setattr(item, name, value)
            changed.append(name)
    if subgoal_ids is not None and set(subgoal_ids) != {g.id for g in item.subgoals}:
        item.subgoals = list(session.scalars(select(SubGoal).where(SubGoal.id.in_(subgoal_ids))))
        changed.append("subgoals")
    item.revision += 1
    session.flush()
    refresh_hold_flags(session, item.agency_id, item.id)
    audit.record(
        session,
        actor.name,
        Action.evidence_change,
        "evidence",
        item.id,
        agency_id=item.agency_id,
        revision=item.revision,
        fields=changed,
    )
    item = session.get(Evidence, evidence_id)
    assert item is not None
    slug = session.scalar(select(Agency.slug).where(Agency.id == item.agency_id)) or ""
    return _view(item, slug)


@service(Permission.evidence_read, Reach.agency, "every read is audited")
def read_content(inst: Installation, actor: Actor, evidence_id: int) -> tuple[str, str, bytes]:
    """(file name, media type, bytes) after every integrity check; audited."""
    with inst.db.read() as s:
        item = s.get(Evidence, evidence_id)
        if item is None:
            raise NotFound(what=f"Der Nachweis {evidence_id}")
        require(actor, Permission.evidence_read, item.agency_id)
        if item.deleted_at is not None or item.blob_id is None:
            raise Conflict("evidence_deleted", id=evidence_id)
        blob = s.get(Blob, item.blob_id)
        assert blob is not None
        name, kek, wrapped, sha = blob.name, blob.kek_id, blob.wrapped_key or b"", blob.sha256
        version = blob.version_id
        filename, media, agency_id = item.filename, item.media_type, item.agency_id
    try:
        data = inst.blobs.read_bytes(name, kek, wrapped, sha, version)
    except ArchiveUnavailable as exc:
        raise Conflict("archive_unavailable", store=inst.blobs.describe()) from exc
    except (BlobCorrupt, BlobMissing) as exc:
        raise Conflict(
            reason="Die Datei ist beschädigt oder fehlt; die Administration "
            "wurde über die Prüfung informiert."
        ) from exc
    with inst.db.write() as s:
        audit.record(
            s,
            actor.name,
            Action.evidence_read,
            "evidence",
            evidence_id,
            agency_id=agency_id,
            sha256=sha,
        )
    return filename, media, data


@service(Permission.evidence_read, Reach.agency)
def open_content(inst: Installation, actor: Actor, evidence_id: int) -> io.BytesIO:
    """``read_content`` as a file object (for deferred downloads)."""
    return io.BytesIO(read_content(inst, actor, evidence_id)[2])


# Browsing and listing live in evidence_query; re-exported for the CLI contract.
from ia_events.archive.query import list_evidence  # noqa: E402

__all__ = [
    "GATHERING",
    "KIND_LABELS",
    "EvidenceView",
    "LinkedGroup",
    "add_evidence",
    "add_linked",
    "add_linked_many",
    "add_many",
    "change_metadata",
    "list_evidence",
    "read_content",
    "supersede",
]
