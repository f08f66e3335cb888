"""Scanned paper lists filed by their QR code, and the inbox of unassigned scans.

The printable participant list (``attendance.lists``) carries the occurrence's
check-in link as a QR code at least 40 mm wide. A scan uploaded *without* an
occurrence -- a multi-page PDF from an office scanner, or phone photos (JPEG,
PNG, HEIC where pillow-heif is installed) -- is filed page by page:

- every page is rasterised (PDF: pypdfium2 at 200 dpi) and its QR codes are
  decoded with zxing-cpp (QR only); a code is accepted only if it is one of our
  signed occurrence tokens (``tokens.occurrence_from_code``, passed in by the
  caller) for an occurrence of the uploading agency -- another agency's code
  reads like no code;
- consecutive pages of one occurrence become one ``signed_list_scan`` item (a PDF
  of those pages; a photo stays as it is), linked to that occurrence, its activity
  and its sub-goals, in the occurrence's funding year;
- pages whose code cannot be read go, as their own items without an occurrence,
  to the **inbox of unassigned scans** (``inbox``), where ``assign`` links them to
  an occurrence with one click (audited, the previous links kept as a revision).

Limits: decoding only; archiving is ``evidence.add_many``. A page with codes of
two different occurrences goes to the first readable one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.archive.evidence import EvidenceView, _view, add_many, annotate, snapshot
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    Evidence,
    EvidenceKind,
    EvidenceRevision,
    Occurrence,
    SubGoal,
)
from ia_events.core.pdfium_lock import pdfium_exclusive
from ia_events.core.permissions import Reach, service

PDF_DPI = 200
UNASSIGNED = "unassigned"
ReadCode = Callable[[str], int | None]

try:  # HEIC photos (iPhone) where the optional decoder is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - then HEIC pages simply read as unreadable
    pass


@dataclass(frozen=True)
class Page:
    """One page of an uploaded file: its image and what its code says."""

    filename: str
    number: int  # 1-based within the file
    occurrence_id: int | None


@dataclass(frozen=True)
class FiledPage:
    filename: str
    page: int
    occurrence_id: int | None
    evidence: EvidenceView

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.filename,
            "page": self.page,
            "occurrence": self.occurrence_id if self.occurrence_id is not None else UNASSIGNED,
            "evidence_id": self.evidence.id,
            **self.evidence.as_json(),
        }


# -- decoding ---------------------------------------------------------------------------------


@pdfium_exclusive
def page_images(filename: str, content: bytes) -> list:  # list[PIL.Image.Image]
    """The pages of a PDF (rasterised) or the one image of a photo; [] if unreadable."""
    from PIL import Image, ImageOps

    if content[:5] == b"%PDF-":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError:
            return []
        try:
            return [pdf[i].render(scale=PDF_DPI / 72).to_pil() for i in range(len(pdf))]
        finally:
            pdf.close()
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
    except Exception:  # not an image we can open: the page is unreadable, not an error
        return []
    return [ImageOps.exif_transpose(image) or image]


def _codes(image) -> list[str]:
    import zxingcpp

    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    if not found:  # a dim photo: try once more on a contrast-stretched grey copy
        from PIL import ImageOps

        found = zxingcpp.read_barcodes(
            ImageOps.autocontrast(image.convert("L")),
            formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        )
    return [b.text for b in found if b.text]


def read_pages(filename: str, content: bytes, read_code: ReadCode) -> list[Page]:
    """Each page with the occurrence its code names (None where nothing readable).

    ``read_code`` turns a decoded text into an occurrence id or None; the caller passes
    ``attendance.tokens.occurrence_from_code`` bound to the installation's keys (so
    that this package does not import the attendance package)."""
    images = page_images(filename, content)
    out = []
    for n, image in enumerate(images or [None], 1):
        occ = None
        if image is not None:
            for text in _codes(image):
                occ = read_code(text)
                if occ is not None:
                    break
        out.append(Page(filename, n, occ))
    return out


# -- filing -----------------------------------------------------------------------------------


@pdfium_exclusive
def _pdf_pages(content: bytes, numbers: list[int]) -> bytes:
    """A new PDF holding only these (1-based) pages of ``content``."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(content)
    out = pdfium.PdfDocument.new()
    try:
        out.import_pages(src, [n - 1 for n in numbers])
        buf = io.BytesIO()
        out.save(buf)
        return buf.getvalue()
    finally:
        out.close()
        src.close()


def _groups(pages: list[Page]) -> list[tuple[int | None, list[int]]]:
    """Consecutive pages of the same occurrence (or unreadable) together."""
    groups: list[tuple[int | None, list[int]]] = []
    for p in pages:
        if groups and groups[-1][0] == p.occurrence_id and p.occurrence_id is not None:
            groups[-1][1].append(p.number)
        else:
            groups.append((p.occurrence_id, [p.number]))
    return groups


def _target(session: Session, agency_id: int, occurrence_id: int) -> tuple[int, list[int]] | None:
    """(funding year, sub-goal ids) of the agency's own occurrence, else None."""
    occ = session.get(Occurrence, occurrence_id)
    if occ is None or occ.agency_id != agency_id:
        return None
    goals = [g.id for g in occ.activity.subgoals if g.funding_year == occ.funding_year]
    return occ.funding_year, goals


@service(Permission.evidence_add, Reach.agency, "filed only to the agency's own dates")
def file_scans(
    inst: Installation,
    actor: Actor,
    files: list[tuple[str, bytes]],
    *,
    agency_slug: str,
    year: int,
    read_code: ReadCode,
    title: str | None = None,
) -> list[FiledPage]:
    """File uploaded scans by the codes on their pages; unreadable pages to the inbox."""
    with inst.db.read() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.slug == agency_slug))
        if agency_id is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        require(actor, Permission.evidence_add, agency_id)
    out: list[FiledPage] = []
    for filename, content in files:
        pages = read_pages(filename, content, read_code)
        is_pdf = content[:5] == b"%PDF-"
        groups = _groups(pages)
        for occ_id, numbers in groups:
            with inst.db.read() as s:
                target = _target(s, agency_id, occ_id) if occ_id is not None else None
            if target is None:
                occ_id = None
            whole = len(groups) == 1 or not is_pdf
            data = content if whole else _pdf_pages(content, numbers)
            stem = filename.rsplit(".", 1)[0]
            name = filename if whole else f"{stem}_Seiten_{numbers[0]}-{numbers[-1]}.pdf"
            label = (
                f"Unterschriebene Liste (Scan), Termin {occ_id}"
                if occ_id is not None
                else "Scan ohne lesbaren Code (nicht zugeordnet)"
            )
            [view] = add_many(
                inst,
                actor,
                [(name, data)],
                kind=EvidenceKind.signed_list_scan,
                agency_slug=agency_slug,
                funding_year=target[0] if target else year,
                title=title or f"{label}: {name}",
                occurrence_id=occ_id,
                subgoal_ids=target[1] if target else [],
                source="Scan der Papierliste",
            )
            out.extend(FiledPage(filename, n, occ_id, view) for n in numbers)
    return out


# -- the inbox --------------------------------------------------------------------------------


@service(Permission.evidence_read, Reach.listing)
def inbox(
    session: Session, actor: Actor, agency_slug: str | None = None, limit: int = 200
) -> list[EvidenceView]:
    """Scans of signed lists without an occurrence (not deleted, not superseded)."""
    require(actor, Permission.evidence_read)
    q = (
        select(Evidence, Agency.slug)
        .join(Agency, Agency.id == Evidence.agency_id)
        .where(
            scope_filter(actor, Evidence.agency_id),
            Evidence.kind == EvidenceKind.signed_list_scan,
            Evidence.occurrence_id.is_(None),
            Evidence.deleted_at.is_(None),
            Evidence.superseded_by_id.is_(None),
        )
        .order_by(Evidence.id.desc())
        .limit(limit)
    )
    if agency_slug:
        q = q.where(Agency.slug == agency_slug)
    return annotate(session, [_view(e, slug) for e, slug in session.execute(q).all()])


@service(Permission.evidence_add, Reach.agency)
def assign(session: Session, actor: Actor, evidence_id: int, occurrence_id: int) -> EvidenceView:
    """Link an unassigned scan to its occurrence (and that occurrence's activity and
    sub-goals); the previous links stay as a revision, the change is audited."""
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise NotFound(what=f"Der Nachweis {evidence_id}")
    require(actor, Permission.evidence_add, item.agency_id)
    if item.kind != EvidenceKind.signed_list_scan or item.occurrence_id is not None:
        raise InvalidInput("scan_not_list", id=evidence_id)
    occ = session.get(Occurrence, occurrence_id)
    if occ is None or occ.agency_id != item.agency_id:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    if occ.funding_year != item.funding_year:
        raise InvalidInput(
            field="Termin",
            reason=f"Der Termin gehört zum Förderjahr {occ.funding_year}, der Scan zu "
            f"{item.funding_year}.",
        )
    session.add(
        EvidenceRevision(
            evidence_id=item.id,
            agency_id=item.agency_id,
            revision=item.revision,
            snapshot=snapshot(item),
            changed_by=actor.name,
            reason="Scan einem Termin zugeordnet",
        )
    )
    activity = session.get(Activity, occ.activity_id)
    assert activity is not None
    item.occurrence_id = occ.id
    item.activity_id = occ.activity_id
    goal_ids = [g.id for g in activity.subgoals if g.funding_year == occ.funding_year]
    if goal_ids:
        item.subgoals = list(session.scalars(select(SubGoal).where(SubGoal.id.in_(goal_ids))))
    item.revision += 1
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.scan_assign,
        "evidence",
        item.id,
        agency_id=item.agency_id,
        occurrence=occ.id,
        revision=item.revision,
    )
    slug = session.scalar(select(Agency.slug).where(Agency.id == item.agency_id)) or ""
    return annotate(session, [_view(item, slug)])[0]


__all__ = ["UNASSIGNED", "FiledPage", "Page", "assign", "file_scans", "inbox", "read_pages"]
