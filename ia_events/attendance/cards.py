"""Personal QR cards for recurring groups, and QR images in general.

A card carries a random, pseudonymous code (``K-7QF3-M2XD``) and no name: a
weekly group's member shows it at the door and is counted as the same person
every week, so "distinct persons reached" needs no second list of names.
Cards belong to one agency; another agency's card is answered like an
unknown one. This module also renders QR codes (``qrcode``) and decodes
camera photos restricted to the QR format (``zxing-cpp``).

Limits: the door's check-in rules live in ``checkin.card_checkin``.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime

import qrcode
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput
from ia_events.core.models import Agency, ParticipantCard
from ia_events.core.permissions import Reach, service
from storage.db import utcnow

CARD_PREFIX = "IAK:"
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud without doubt
MAX_CARDS = 200


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"K-{raw[:4]}-{raw[4:]}"


def normalise_code(value: str) -> str:
    code = (value or "").strip()
    if code.upper().startswith(CARD_PREFIX):
        code = code[len(CARD_PREFIX) :]
    return code.strip().upper()[:40]


def card_payload(code: str) -> str:
    """What the card's QR code holds: a prefix (so a stray URL is not taken for a card)."""
    return CARD_PREFIX + code


def find_card(session: Session, agency_id: int, code: str) -> ParticipantCard | None:
    return session.scalars(
        select(ParticipantCard).where(
            ParticipantCard.code == normalise_code(code), ParticipantCard.agency_id == agency_id
        )
    ).first()


@dataclass(frozen=True)
class CardView:
    id: int
    code: str
    created_at: datetime
    revoked: bool


@service(Permission.checkin_door, Reach.agency)
def issue_cards(
    session: Session, actor: Actor, agency_id: int, count: int, now: datetime | None = None
) -> list[CardView]:
    """Create ``count`` new cards for the agency (audited as one event with their ids)."""
    require(actor, Permission.checkin_door, agency_id)
    if not 1 <= int(count) <= MAX_CARDS:
        raise InvalidInput(field="Anzahl", reason=f"Zwischen 1 und {MAX_CARDS} Karten.")
    now = now or utcnow()
    cards = [
        ParticipantCard(agency_id=agency_id, code=new_code(), created_at=now)
        for _ in range(int(count))
    ]
    session.add_all(cards)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.card_add,
        "participant_card",
        cards[0].id,
        agency_id=agency_id,
        ids=[c.id for c in cards],
        now=now,
    )
    return [CardView(c.id, c.code, c.created_at, False) for c in cards]


def qr_image(data: str, box: int = 10) -> Image.Image:
    """A black-on-white QR code (error correction M: survives a crumpled poster)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box, border=2)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def qr_png(data: str, box: int = 10) -> bytes:
    buf = io.BytesIO()
    qr_image(data, box).save(buf, format="PNG")
    return buf.getvalue()


def decode_qr(image_bytes: bytes) -> list[str]:
    """Texts of the QR codes in a photo (empty if none is readable)."""
    import zxingcpp

    from ia_events.archive.previews import MAX_PIXELS

    try:
        image = Image.open(io.BytesIO(image_bytes))
        if image.size[0] * image.size[1] > MAX_PIXELS:  # checked before decoding
            raise ValueError("too many pixels")
        image.load()
    except Exception as exc:  # not an image at all
        raise InvalidInput(field="Foto", reason="Das Bild ist nicht lesbar.") from exc
    readable = image if image.mode in ("L", "RGB") else image.convert("RGB")
    found = zxingcpp.read_barcodes(
        readable, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    return [b.text for b in found if b.valid and b.text]


@service(Permission.checkin_door, Reach.agency)
def cards_pdf(session: Session, actor: Actor, agency_id: int, cards: list[CardView]) -> bytes:
    """Printable cards, 8 per A4 page (cut along the lines), QR and code, no name."""
    from ia_events.core.pdf import Document

    require(actor, Permission.checkin_door, agency_id)
    agency = session.get(Agency, agency_id)
    assert agency is not None
    doc = Document(
        "Persönliche Teilnahmekarten", subtitle=f"{agency.name} – bitte ausschneiden", pdfa=True
    )
    w, h = 90.0, 60.0
    for i, card in enumerate(cards):
        slot = i % 8
        if i and slot == 0:
            doc.add_page()
        x = 15 + (slot % 2) * w
        y = 30 + (slot // 2) * h
        doc.set_draw_color(160, 160, 160)
        doc.rect(x, y, w, h)
        doc.image(qr_image(card_payload(card.code), box=8), x=x + 4, y=y + 6, w=46, h=46)
        doc.set_xy(x + 52, y + 10)
        doc.body(9, bold=True)
        doc.multi_cell(w - 55, 5, agency.name)
        doc.set_x(x + 52)
        doc.body(12, bold=True)
        doc.cell(w - 55, 8, card.code, new_x="LEFT", new_y="NEXT")
        doc.set_x(x + 52)
        doc.body(7.5)
        doc.multi_cell(
            w - 55,
            3.6,
            "Ihre persönliche Karte: an der Tür vorzeigen. Sie enthält keinen Namen.",
        )
    return doc.render()
