"""Evidence items (Nachweise): adding, superseding, listing and reading archived files.

An item links a stored blob to agency, funding year, occurrence/activity and
sub-goals, with a retention end from ``retention.retention_for``. Files are
validated by content (``filetypes``) in the same pass that encrypts them.

Adding follows the upload journal protocol (DESIGN.md section 4): stage the
encrypted temp file, commit a journal entry, move the blob into place, then
commit blob row, evidence row, audit event and journal completion in one
transaction. A crash at any point leaves either a complete record or a
journal entry that ``integrity.recover_uploads`` clears. The same content twice
within one agency is one blob with two items; never shared across agencies.

Items are never edited in place: ``supersede`` archives a corrected file as a
new version; ``change_metadata`` keeps the previous metadata as a revision.
Every read of an item's content is audited. Browsing lives in ``evidence_query``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events import audit, filetypes
from ia_events.access import Actor, Permission, require
from ia_events.audit import Action
from ia_events.errors import Conflict, InvalidInput, NotFound
from ia_events.installation import Installation
from ia_events.models import (
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
from ia_events.retention import refresh_hold_flags, retention_for
from storage.blobs import BlobCorrupt, BlobMissing, PendingBlob, StorageFull
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
        }


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
        return content  # type: ignore[return-value]
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned
    source = content.read if hasattr(content, "read") else None  # type: ignore[union-attr]
    if source is not None:
        while block := source(1024 * 1024):
            spool.write(block)
    else:
        for block in content:  # type: ignore[union-attr]
            spool.write(block)
    spool.seek(0)
    return spool  # type: ignore[return-value]


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
    staged: tuple[PendingBlob, filetypes.Checked] | None = None,
) -> EvidenceView:
    """Validate, encrypt and archive one file; returns the new item (with any warnings).

    ``media_type`` given by a browser is ignored: the type comes from the content.
    """
    kind = _kind(kind)
    today = today or utcnow().date()
    if not 2000 <= int(funding_year) <= today.year + 2:
        raise InvalidInput(field="Förderjahr", reason=f"{funding_year} ist kein gültiges Jahr.")
    with inst.db.read() as s:
        agency = s.scalar(select(Agency).where(Agency.slug == agency_slug))
        if agency is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        require(actor, Permission.evidence_add, agency.id)
        agency_id = agency.id
        activity_id = _check_links(
            s, agency_id, funding_year, occurrence_id, activity_id, subgoal_ids or []
        )

    if staged is None:
        pending, checked = stage_file(inst, agency_id, filename, content)
    else:  # staged (and made durable) by add_many
        pending, checked = staged
    until, rule = retention_for(kind, funding_year)
    warnings: list[str] = []
    if until < today:
        warnings.append(
            f"Die Aufbewahrungsfrist für das Förderjahr {funding_year} ist am "
            f"{until.strftime('%d.%m.%Y')} abgelaufen; der Nachweis wird beim nächsten "
            "Aufbewahrungslauf zur Löschung vorgeschlagen (nachträglich erfasst)."
        )
    if "pdf_javascript" in checked.flags:
        warnings.append(
            "Die PDF-Datei enthält JavaScript oder Startaktionen; sie ist markiert und "
            "wird in der App nicht geöffnet."
        )
    journal_id: int | None = None
    try:
        with inst.db.write() as s:
            existing = s.scalar(
                select(Blob).where(
                    Blob.agency_id == agency_id,
                    Blob.sha256 == pending.sha256,
                    Blob.shredded_at.is_(None),
                )
            )
            if existing is None:
                entry = UploadJournal(blob_name=pending.name)
                s.add(entry)
                s.flush()
                journal_id = entry.id
        if journal_id is not None:
            inst.blobs.commit(pending)
        else:
            inst.blobs.discard(pending)
        with inst.db.write() as s:
            blob = s.scalar(select(Blob).where(Blob.name == pending.name))
            if blob is None or blob.shredded_at is not None:
                if blob is not None:  # same content after a shred: a fresh blob row
                    blob.name = f"shredded-{blob.id}"
                    s.flush()
                blob = Blob(
                    agency_id=agency_id,
                    name=pending.name,
                    sha256=pending.sha256,
                    size=pending.size,
                    kek_id=pending.kek_id,
                    wrapped_key=pending.wrapped_key,
                )
                s.add(blob)
                s.flush()
            item = Evidence(
                agency_id=agency_id,
                funding_year=funding_year,
                kind=kind,
                title=(title or checked.filename or "Nachweis").strip()[:500],
                doc_date=doc_date,
                source=(source or "").strip()[:500],
                filename=checked.filename,
                media_type=checked.media_type,
                blob_id=blob.id,
                sha256=pending.sha256,
                size=pending.size,
                occurrence_id=occurrence_id,
                activity_id=activity_id,
                consent_ref=(consent_ref or "").strip() or None,
                retention_until=until,
                retention_rule=rule,
                created_by=actor.name,
                flags=list(checked.flags),
                supersedes_id=supersedes_id,
            )
            if subgoal_ids:
                item.subgoals = list(s.scalars(select(SubGoal).where(SubGoal.id.in_(subgoal_ids))))
            s.add(item)
            s.flush()
            if supersedes_id is not None:
                old = s.get(Evidence, supersedes_id)
                assert old is not None
                if old.superseded_by_id is not None:
                    raise Conflict("evidence_superseded", id=old.id, by=old.superseded_by_id)
                old.superseded_by_id = item.id
            audit.record(
                s,
                actor.name,
                Action.evidence_supersede if supersedes_id else Action.evidence_add,
                "evidence",
                item.id,
                agency_id=agency_id,
                sha256=pending.sha256,
                blob=blob.id,
                kind=kind,
                media_type=checked.media_type,
                flags=list(checked.flags),
                supersedes=supersedes_id,
            )
            if journal_id is not None:
                entry = s.get(UploadJournal, journal_id)
                assert entry is not None
                entry.finished_at = utcnow()
                entry.outcome = "committed"
            if _agency_has_active_hold(s, agency_id):
                # A new item starts unheld; only a hold on its scope can change that.
                refresh_hold_flags(s, agency_id, item.id)
                item = s.get(Evidence, item.id)
                assert item is not None
            return _view(item, agency_slug, tuple(warnings))
    except BaseException:
        inst.blobs.discard(pending)
        raise


def add_many(
    inst: Installation,
    actor: Actor,
    files: list[tuple[str, bytes | BinaryIO]],
    *,
    kind: str,
    require_consent: bool = False,
    **meta: object,
) -> list[EvidenceView]:
    """Archive several files with the same metadata.

    Every file's content is checked first: a bad file refuses the whole batch. A storage
    failure part-way (disk full) keeps the files already recorded, complete, and names it.
    """
    kind = _kind(kind)
    if not files:
        raise InvalidInput(field="Dateien", reason="Bitte mindestens eine Datei auswählen.")
    if require_consent and kind == EvidenceKind.photo and not str(meta.get("consent_ref") or ""):
        raise InvalidInput("photo_consent_missing")
    for name, content in files:
        data = _seekable(content)
        filetypes.check(data, name, inst.settings.max_upload_bytes)
    title = str(meta.pop("title", "") or "").strip()
    with inst.db.read() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.slug == meta.get("agency_slug")))
        if agency_id is None:
            raise NotFound(what=f"Die Integrationsagentur „{meta.get('agency_slug')}“")
        require(actor, Permission.evidence_add, agency_id)
    staged: list[tuple[PendingBlob, filetypes.Checked]] = []
    out: list[EvidenceView] = []
    try:
        # Each file is staged and fsynced on a worker: SHA-256, AES-GCM and fsync release
        # the GIL, so one file's fsync waits on the disk while the next is hashed on the
        # other core (benchmarks/archive.py, 100 x 5 MiB, loaded 2-core VM: 1.64 s -> 1.35 s).
        def stage_durably(
            item: tuple[str, bytes | BinaryIO],
        ) -> tuple[PendingBlob, filetypes.Checked]:
            st = stage_file(inst, agency_id, item[0], item[1], durable=False)
            try:
                inst.blobs.sync(st[0])
            except BaseException:
                inst.blobs.discard(st[0])
                raise
            return st

        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(stage_durably, item) for item in files]
            failures: list[BaseException] = []
            try:
                for i, future in enumerate(futures):
                    # Record each file as soon as it is durable, while the pool stages the
                    # next ones (the records' Python work and the hashing overlap on 2 cores).
                    try:
                        st = future.result()
                    except BaseException as exc:
                        failures.append(exc)  # keep collecting: no temp file is left behind
                        continue
                    staged.append(st)
                    if failures:
                        continue
                    name, content = files[i]
                    label = title if len(files) == 1 else (f"{title} ({i + 1})" if title else None)
                    out.append(
                        add_evidence(
                            inst,
                            actor,
                            kind=kind,
                            filename=name,
                            content=content,
                            title=label,
                            staged=st,
                            **meta,  # type: ignore[arg-type]
                        )
                    )
            except BaseException:
                for future in futures:  # staged but never recorded: discarded below
                    if not future.cancel():
                        with contextlib.suppress(BaseException):
                            st = future.result()
                            if st not in staged:
                                staged.append(st)
                raise
            if failures:
                raise failures[0]
    except StorageFull as exc:
        raise Conflict("storage_full") from exc
    finally:
        for pending, _ in staged[len(out) :]:
            inst.blobs.discard(pending)
    return out


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
    scanner = filetypes.ContentScanner(checked)
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
        from ia_events.models import Activity

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
        **meta,  # type: ignore[arg-type]
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
        filename, media, agency_id = item.filename, item.media_type, item.agency_id
    try:
        data = inst.blobs.read_bytes(name, kek, wrapped, sha)
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


def open_content(inst: Installation, actor: Actor, evidence_id: int) -> io.BytesIO:
    """``read_content`` as a file object (for deferred downloads)."""
    return io.BytesIO(read_content(inst, actor, evidence_id)[2])


# Browsing and listing live in evidence_query; re-exported for the CLI contract.
from ia_events.evidence_query import list_evidence  # noqa: E402

__all__ = [
    "GATHERING",
    "KIND_LABELS",
    "EvidenceView",
    "add_evidence",
    "add_many",
    "change_metadata",
    "list_evidence",
    "read_content",
    "supersede",
]
