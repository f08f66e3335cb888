"""Previews of archived evidence for the screen: PDF pages and images as PNG, text as text.

PDF pages are rendered to images on the server (pypdfium2), so the browser
needs no PDF plug-in and no iframe, and nothing in the PDF runs. A PDF flagged
with JavaScript is not rendered at all. HEIC photos have no preview (Pillow
cannot decode them without extra codecs); they can be downloaded. Every
preview is a read of the content and therefore audited (``read_content``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from ia_events.archive.evidence import read_content
from ia_events.core.access import Actor, Permission
from ia_events.core.installation import Installation
from ia_events.core.permissions import Reach, service

MAX_PAGES = 3


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


@service(Permission.evidence_read, Reach.agency)
def preview(
    inst: Installation, actor: Actor, evidence_id: int, flags: tuple[str, ...] = ()
) -> Preview:
    if "pdf_javascript" in flags:
        return Preview("none", note="Diese PDF-Datei enthält JavaScript und wird nicht angezeigt.")
    _name, media, data = read_content(inst, actor, evidence_id)
    if media == "application/pdf":
        import pypdfium2 as pdfium

        try:
            doc = pdfium.PdfDocument(data)
        except Exception:
            return Preview("none", note="Die PDF-Datei lässt sich nicht darstellen.")
        try:
            pages = [
                _png(doc[i].render(scale=1.3).to_pil()) for i in range(min(len(doc), MAX_PAGES))
            ]
            more = len(doc) - len(pages)
        finally:
            doc.close()
        note = f"… und {more} weitere Seite(n) – bitte herunterladen." if more > 0 else ""
        return Preview("images", pages, note=note)
    if media in ("image/png", "image/jpeg", "image/webp"):
        return Preview("images", [data])
    if media == "image/tiff":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return Preview("images", [_png(img.convert("RGB"))])
    if media in ("text/plain", "message/rfc822"):
        return Preview("text", text=data[:20000].decode("utf-8", "replace"))
    return Preview("none", note="Für dieses Format gibt es keine Vorschau; bitte herunterladen.")
