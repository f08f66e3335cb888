"""Previews of archived evidence for the screen: PDF pages and images as PNG, text as text.

PDF pages are rendered to images on the server (pypdfium2), so the browser
needs no PDF plug-in and no iframe, and nothing in the PDF runs. A PDF flagged
with JavaScript is not rendered at all. HEIC photos have no preview (Pillow
cannot decode them without extra codecs); they can be downloaded. Every
preview is a read of the content and therefore audited (``read_content``).

Sizes are checked before anything is decoded or rendered: an image's pixel
count from its header (Pillow reads only the header on ``open``), a PDF
page's size from pdfium (``get_size`` reads the page box). A page or image is
rendered at most ``MAX_EDGE`` pixels on its longer side; an image above
``MAX_PIXELS`` (or a page above the PDF limit of 14,400 pt a side) gets no
preview but a German note — a 330-byte PDF with a 200-inch page or a small
PNG of 13,000 × 13,000 pixels would otherwise take gigabytes of memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from ia_events.archive.evidence import read_content
from ia_events.core.access import Actor, Permission
from ia_events.core.installation import Installation
from ia_events.core.pdfium_lock import pdfium_exclusive
from ia_events.core.permissions import Reach, service

MAX_PAGES = 3
MAX_EDGE = 1600  # pixels on the longer side of a rendered preview
MAX_PIXELS = 40_000_000  # pixels of an image we are willing to decode at all
MAX_PAGE_PT = 14_400  # the PDF spec's largest page side (200 inches)
PDF_SCALE = 1.3  # the usual preview scale of an A4 page (about 1075 px high)

TOO_LARGE = (
    "Für diese Datei gibt es keine Vorschau: Sie ist zu groß zum Anzeigen "
    "({detail}). Bitte laden Sie sie herunter."
)


def limit_pillow() -> None:
    """Pillow refuses images above our limit (DecompressionBombError) everywhere."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass
class Preview:
    kind: str  # "images" | "text" | "none"
    images: list[bytes] = field(default_factory=list)
    text: str = ""
    note: str = ""


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pdfium_exclusive
def _pdf_preview(data: bytes) -> Preview:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except Exception:
        return Preview("none", note="Die PDF-Datei lässt sich nicht darstellen.")
    try:
        pages: list[bytes] = []
        for i in range(min(len(doc), MAX_PAGES)):
            page = doc[i]
            try:
                width, height = page.get_size()  # points; reads the box, renders nothing
                if max(width, height) > MAX_PAGE_PT or min(width, height) <= 0:
                    return Preview(
                        "none",
                        note=TOO_LARGE.format(
                            detail=f"Seite {i + 1}: {width:.0f} × {height:.0f} pt"
                        ),
                    )
                scale = min(PDF_SCALE, MAX_EDGE / max(width, height))
                pages.append(_png(page.render(scale=scale).to_pil()))
            finally:
                page.close()
        more = len(doc) - len(pages)
    finally:
        doc.close()
    note = f"… und {more} weitere Seite(n) – bitte herunterladen." if more > 0 else ""
    return Preview("images", pages, note=note)


def _image_preview(data: bytes) -> Preview:
    """A bounded PNG of the image; refused above ``MAX_PIXELS`` before decoding."""
    from PIL import Image

    limit_pillow()
    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            width, height = img.size
            if width * height > MAX_PIXELS:
                return Preview("none", note=TOO_LARGE.format(detail=f"{width} × {height} Pixel"))
            img.draft("RGB", (MAX_EDGE, MAX_EDGE))  # JPEG: decode at a smaller scale
            img.thumbnail((MAX_EDGE, MAX_EDGE))
            return Preview("images", [_png(img.convert("RGB"))])
    except Image.DecompressionBombError:
        return Preview("none", note=TOO_LARGE.format(detail="zu viele Pixel"))
    except Exception:
        return Preview("none", note="Das Bild lässt sich nicht darstellen; bitte herunterladen.")


@service(Permission.evidence_read, Reach.agency)
def preview(
    inst: Installation, actor: Actor, evidence_id: int, flags: tuple[str, ...] = ()
) -> Preview:
    if "pdf_javascript" in flags:
        return Preview(
            "none", note="Diese PDF-Datei enthält aktive Inhalte und wird nicht angezeigt."
        )
    _name, media, data = read_content(inst, actor, evidence_id)
    if media == "application/pdf":
        return _pdf_preview(data)
    if media in ("image/png", "image/jpeg", "image/webp", "image/tiff"):
        return _image_preview(data)
    if media in ("text/plain", "message/rfc822"):
        return Preview("text", text=data[:20000].decode("utf-8", "replace"))
    return Preview("none", note="Für dieses Format gibt es keine Vorschau; bitte herunterladen.")
