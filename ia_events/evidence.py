"""Evidence items (Nachweise): adding, listing and reading archived files.

An item links a stored blob to agency, funding year, occurrence/activity and
sub-goals, with a retention end. Adding follows the upload journal protocol
(DESIGN.md section 4): stage the encrypted temp file, commit a journal entry,
move the blob into place, then commit blob row, evidence row, audit event and
journal completion in one transaction. A crash at any point leaves either a
complete record or a journal entry that ``integrity.recover_uploads`` clears.

Every read of an item's content is audited.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events import audit
from ia_events.access import Actor, Permission, require, scope_filter
from ia_events.audit import Action
from ia_events.errors import InvalidInput, NotFound
from ia_events.installation import Installation
from ia_events.models import (
    Agency,
    Blob,
    Evidence,
    EvidenceKind,
    Occurrence,
    SubGoal,
    UploadJournal,
)
from storage.blobs import BlobCorrupt, BlobMissing
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
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[<>:\"|?*\u202a-\u202e\u2066-\u2069]", "_", name).strip(" .")
    return (name or "datei")[:200]


def _view(e: Evidence, slug: str) -> EvidenceView:
    return EvidenceView(
        e.id,
        slug,
        e.kind,
        e.title,
        e.filename,
        e.sha256,
        e.size,
        e.funding_year,
        e.retention_until,
        e.legal_hold,
        e.deleted_at is not None,
        e.occurrence_id,
    )


def add_evidence(
    inst: Installation,
    actor: Actor,
    *,
    agency_slug: str,
    funding_year: int,
    kind: str,
    filename: str,
    content: bytes | BinaryIO,
    title: str | None = None,
    occurrence_id: int | None = None,
    subgoal_ids: list[int] | None = None,
    doc_date: date | None = None,
    source: str = "",
    consent_ref: str | None = None,
    media_type: str = "application/octet-stream",
) -> EvidenceView:
    try:
        EvidenceKind(kind)
    except ValueError as exc:
        raise InvalidInput(field="Art", reason=f"„{kind}“ ist keine bekannte Nachweisart.") from exc
    with inst.db.read() as s:
        agency = s.scalar(select(Agency).where(Agency.slug == agency_slug))
        if agency is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        require(actor, Permission.evidence_add, agency.id)
        agency_id = agency.id
        _check_links(s, agency_id, funding_year, occurrence_id, subgoal_ids or [])

    pending = inst.blobs.stage(content, namespace=f"agency:{agency_id}")
    if pending.size > inst.settings.max_upload_bytes:
        inst.blobs.discard(pending)
        raise InvalidInput(field="Datei", reason="Die Datei ist größer als erlaubt.")
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
                title=(title or filename or "Nachweis").strip()[:500],
                doc_date=doc_date,
                source=source,
                filename=safe_filename(filename),
                media_type=media_type,
                blob_id=blob.id,
                sha256=pending.sha256,
                size=pending.size,
                occurrence_id=occurrence_id,
                consent_ref=consent_ref,
                retention_until=default_retention(funding_year),
                retention_rule="default:funding_year+10",
                created_by=actor.name,
            )
            if subgoal_ids:
                item.subgoals = list(s.scalars(select(SubGoal).where(SubGoal.id.in_(subgoal_ids))))
            s.add(item)
            s.flush()
            audit.record(
                s,
                actor.name,
                Action.evidence_add,
                "evidence",
                item.id,
                agency_id=agency_id,
                sha256=pending.sha256,
                blob=blob.id,
                kind=kind,
            )
            if journal_id is not None:
                entry = s.get(UploadJournal, journal_id)
                assert entry is not None
                entry.finished_at = utcnow()
                entry.outcome = "committed"
            return _view(item, agency_slug)
    except BaseException:
        inst.blobs.discard(pending)
        raise


def _check_links(
    s: Session, agency_id: int, year: int, occurrence_id: int | None, subgoal_ids: list[int]
) -> None:
    if occurrence_id is not None:
        occ_agency = s.scalar(select(Occurrence.agency_id).where(Occurrence.id == occurrence_id))
        if occ_agency != agency_id:
            raise NotFound(what=f"Der Termin {occurrence_id}")
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


def list_evidence(
    session: Session,
    actor: Actor,
    agency_slug: str | None = None,
    year: int | None = None,
    limit: int | None = None,
) -> list[EvidenceView]:
    require(actor, Permission.evidence_read)
    q = (
        select(Evidence, Agency.slug)
        .join(Agency, Agency.id == Evidence.agency_id)
        .where(scope_filter(actor, Evidence.agency_id))
        .order_by(Evidence.id)
    )
    if agency_slug:
        q = q.where(Agency.slug == agency_slug)
    if year:
        q = q.where(Evidence.funding_year == year)
    if limit:
        q = q.limit(limit)
    return [_view(e, slug) for e, slug in session.execute(q).all()]


def read_content(inst: Installation, actor: Actor, evidence_id: int) -> tuple[str, str, bytes]:
    """(file name, media type, bytes) after every integrity check; audited."""
    with inst.db.read() as s:
        item = s.get(Evidence, evidence_id)
        if item is None:
            raise NotFound(what=f"Der Nachweis {evidence_id}")
        require(actor, Permission.evidence_read, item.agency_id)
        if item.deleted_at is not None or item.blob_id is None:
            raise NotFound(what=f"Der Nachweis {evidence_id}")
        blob = s.get(Blob, item.blob_id)
        assert blob is not None
        name, kek, wrapped, sha = blob.name, blob.kek_id, blob.wrapped_key or b"", blob.sha256
        filename, media, agency_id = item.filename, item.media_type, item.agency_id
    try:
        data = inst.blobs.read_bytes(name, kek, wrapped, sha)
    except (BlobCorrupt, BlobMissing) as exc:
        from ia_events.errors import Conflict

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
