"""Templates and logos (Vorlagen), versioned by the date they are valid from.

Handbook 3.5 (1) a: only the current Raster, the current forms for the
Aufgabenplanung and the current logos (funding ministry, AWO-Gliederung,
Integrationsagenturen NRW) may be used; "Dokumente, die auf alten Vorlagen
beruhen ..., werden vom Fördergeber nicht akzeptiert." The admin uploads each
new version with its valid-from date; a document uses, per kind, the version
valid on the document's date (``for_document``) and carries a warning when
there is none or when a newer version applies today. Versions are never
edited or deleted: a new one supersedes by date. Files are small (logos,
forms) and kept in the database row.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput
from ia_events.core.messages import fmt_date
from ia_events.core.models import DocumentTemplate
from ia_events.core.permissions import Reach, service
from storage.db import utcnow

KINDS = {
    "logo_ministry": "Logo des fördernden Ministeriums",
    "logo_awo": "Logo der AWO-Gliederung",
    "logo_ia": "Logo der Integrationsagenturen NRW",
    "letterhead": "Briefkopf",
    "raster_sra": "Raster Sozialraumanalyse",
    "form_plan": "Vordruck Aufgabenplanung",
}
LOGOS = ("logo_ministry", "logo_awo", "logo_ia")
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class TemplateView:
    id: int
    kind: str
    title: str
    valid_from: date
    filename: str
    media_type: str
    sha256: str
    uploaded_by: str
    uploaded_at: datetime

    @property
    def label(self) -> str:
        return KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Chosen:
    """The templates a document of a given date uses, and what to warn about."""

    used: list[TemplateView] = dc_field(default_factory=list)
    images: list[_Image] = dc_field(default_factory=list)
    warnings: list[str] = dc_field(default_factory=list)

    def used_line(self) -> str:
        return "; ".join(
            f"{t.label} „{t.title}“ gültig ab {fmt_date(t.valid_from)}" for t in self.used
        )


@dataclass(frozen=True)
class _Image:
    kind: str
    content: bytes


def _view(t: DocumentTemplate) -> TemplateView:
    return TemplateView(
        t.id, t.kind, t.title, t.valid_from, t.filename, t.media_type, t.sha256,
        t.uploaded_by, t.uploaded_at,
    )  # fmt: skip


@service(Permission.users_manage, Reach.installation)
def add_template(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    title: str,
    valid_from: date,
    filename: str,
    content: bytes,
    media_type: str = "application/octet-stream",
    now: datetime | None = None,
) -> TemplateView:
    """A new version of a template or logo (admin)."""
    require(actor, Permission.users_manage)
    if kind not in KINDS:
        raise InvalidInput(field="Art", reason=f"„{kind}“ ist unbekannt.")
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise InvalidInput(field="Bezeichnung", reason="Bitte ausfüllen (höchstens 200 Zeichen).")
    if not content or len(content) > MAX_BYTES:
        raise InvalidInput(field="Datei", reason="Bitte eine Datei bis 5 MB hochladen.")
    if kind in LOGOS:
        media_type = _image_type(content)
    row = DocumentTemplate(
        kind=kind,
        title=title,
        valid_from=valid_from,
        filename=(filename or "vorlage")[:200],
        media_type=media_type[:100],
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=actor.name,
        uploaded_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.template_add,
        "template",
        row.id,
        kind=kind,
        valid_from=valid_from.isoformat(),
        sha256=row.sha256,
    )
    return _view(row)


def _image_type(content: bytes) -> str:
    """Logos must be PNG or JPEG that a PDF and a Word file can embed."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InvalidInput(field="Datei", reason="Logos bitte als PNG oder JPEG.") from exc
    if fmt not in ("PNG", "JPEG"):
        raise InvalidInput(field="Datei", reason="Logos bitte als PNG oder JPEG.")
    return "image/png" if fmt == "PNG" else "image/jpeg"


@service(Permission.agency_read, Reach.installation, "no agency data: versions")
def list_templates(session: Session, actor: Actor) -> list[TemplateView]:
    """Every version, newest valid-from first per kind."""
    require(actor, Permission.agency_read)
    rows = session.scalars(
        select(DocumentTemplate).order_by(
            DocumentTemplate.kind, DocumentTemplate.valid_from.desc(), DocumentTemplate.id.desc()
        )
    )
    return [_view(t) for t in rows]


def _valid_on(session: Session, kind: str, on: date) -> DocumentTemplate | None:
    return session.scalar(
        select(DocumentTemplate)
        .where(DocumentTemplate.kind == kind, DocumentTemplate.valid_from <= on)
        .order_by(DocumentTemplate.valid_from.desc(), DocumentTemplate.id.desc())
        .limit(1)
    )


def for_document(
    session: Session, *, on: date, today: date, kinds: tuple[str, ...] = (*LOGOS, "form_plan")
) -> Chosen:
    """Per kind, the version valid on ``on``; warnings for missing or outdated ones."""
    used: list[TemplateView] = []
    images: list[_Image] = []
    warnings: list[str] = []
    for kind in kinds:
        row = _valid_on(session, kind, on)
        current = _valid_on(session, kind, today)
        if row is None:
            warnings.append(
                f"{KINDS[kind]}: keine gültige Fassung hinterlegt (Stand {fmt_date(on)})."
            )
            continue
        used.append(_view(row))
        if kind in LOGOS:
            images.append(_Image(kind, row.content))
        if current is not None and current.id != row.id:
            warnings.append(
                f"{KINDS[kind]}: Das Dokument vom {fmt_date(on)} beruht auf der Fassung gültig "
                f"ab {fmt_date(row.valid_from)}; seit {fmt_date(current.valid_from)} gilt eine "
                "neuere. "
                "Der Fördergeber akzeptiert nur Dokumente mit aktuellen Vorlagen."
            )
    return Chosen(used, images, warnings)
