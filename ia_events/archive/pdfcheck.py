"""What a PDF contains that should not run, and how big its pages are: by parsing it.

A regular expression over the raw bytes misses names written with ``#xx``
escapes (``/J#61vaScript``) and anything inside a compressed object stream.
So the document is opened with pdfium (the same engine the previews use) and
asked: document JavaScript actions, embedded files, XFA forms, links that
launch programs, and the size of every page (``FPDF_GetPageSizeByIndexF``
reads the page box without rendering). pdfium has no accessor for the
catalog's ``/OpenAction`` or for additional actions (``/AA``), so the names of
the file are read as well, after undoing ``#xx`` escapes and inflating the
Flate-compressed streams (object streams included), with a bound on the total
inflated size so a compression bomb costs nothing.

Limits: a gate against active content, not a malware scanner. A PDF pdfium
cannot open (``readable`` False) is judged by its names alone.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from ia_events.core.pdfium_lock import pdfium_exclusive

# Names that make a PDF do something when opened or clicked, by the reason we give.
ACTIVE_NAMES = {
    b"JavaScript": "javascript",
    b"JS": "javascript",
    b"Launch": "launch",
    b"EmbeddedFile": "embedded_file",
    b"EmbeddedFiles": "embedded_file",
    b"XFA": "xfa",
    b"AA": "additional_actions",
    b"RichMedia": "rich_media",
}
INFLATE_TOTAL = 64 * 1024 * 1024  # inflated bytes looked at, per document
INFLATE_STREAM = 16 * 1024 * 1024  # per stream
MAX_LINK_PAGES = 200  # pages whose link annotations are asked for a launch action

_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+*-]|#[0-9A-Fa-f]{2})+)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
_WHITESPACE = b"\x00\t\n\x0c\r "
_FORMTYPE_XFA = (2, 3)  # FORMTYPE_XFA_FULL, FORMTYPE_XFA_FOREGROUND
_PDFACTION_LAUNCH = 3


@dataclass
class PdfFacts:
    readable: bool = False
    pages: int = 0
    active: set[str] = field(default_factory=set)
    # The largest page (points, 1/72 inch), as width x height of its biggest area.
    largest_page: tuple[float, float] = (0.0, 0.0)


def _names(raw: bytes) -> set[bytes]:
    return {
        _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), m.group(1)) for m in _NAME.finditer(raw)
    }


def _inflated_streams(raw: bytes) -> list[bytes]:
    """The contents of the Flate streams, inflated up to the bounds (damaged ones skipped)."""
    out: list[bytes] = []
    budget = INFLATE_TOTAL
    for m in _STREAM.finditer(raw):
        if budget <= 0:
            break
        inflater = zlib.decompressobj()
        try:
            chunk = inflater.decompress(
                raw[m.end() : m.end() + INFLATE_STREAM], min(budget, INFLATE_STREAM)
            )
        except zlib.error:
            continue
        if chunk:
            out.append(chunk)
            budget -= len(chunk)
    return out


def _read_all(source: bytes | BinaryIO, start: int = 0) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    pos = source.tell()
    try:
        source.seek(start)
        return source.read()
    finally:
        source.seek(pos)


def active_names(raw: bytes) -> set[str]:
    """Reasons found among the names of the raw file and of its inflated streams."""
    found: set[str] = set()
    for part in (raw, *_inflated_streams(raw)):
        found |= {ACTIVE_NAMES[n] for n in _names(part) if n in ACTIVE_NAMES}
    return found


def inspect(source: bytes | BinaryIO, start: int = 0) -> PdfFacts:
    """Open the PDF (from ``start`` of a file) and collect its active content and
    page sizes (never renders). Reading the file and its names runs outside the
    PDFium lock, so parallel uploads wait for each other only inside PDFium."""
    raw = _read_all(source, start)
    facts = PdfFacts(active=active_names(raw))
    if _may_hold_objects(raw):
        _pdfium_facts(raw, facts)
    # else: not one indirect object ("1 0 obj"), so no catalog, nothing PDFium could
    # open -- but it would first scan the whole file to rebuild a cross-reference table
    # (~0.1 s per 5 MiB, under the process-wide lock). Judged by its names, as any
    # file PDFium cannot read.
    return facts


def _may_hold_objects(raw: bytes) -> bool:
    """Could the file contain an indirect object (``12 0 obj``)? False only when no
    ``obj`` keyword in it follows a number (after whitespace, or where a comment could
    hide what is between): such a file has no catalog at all."""
    at = raw.find(b"obj")
    while at != -1:
        before = raw[max(0, at - 64) : at]
        if b"%" in before or before.rstrip(_WHITESPACE)[-1:].isdigit():
            return True
        at = raw.find(b"obj", at + 3)
    return False


@pdfium_exclusive
def _pdfium_facts(raw: bytes, facts: PdfFacts) -> None:
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        doc = pdfium.PdfDocument(raw)
    except Exception:  # not a PDF pdfium can read: the names above are all we know
        return
    try:
        facts.readable = True
        handle = doc.raw
        facts.pages = pdfium_c.FPDF_GetPageCount(handle)
        if pdfium_c.FPDFDoc_GetJavaScriptActionCount(handle) > 0:
            facts.active.add("javascript")
        if pdfium_c.FPDFDoc_GetAttachmentCount(handle) > 0:
            facts.active.add("embedded_file")
        if pdfium_c.FPDF_GetFormType(handle) in _FORMTYPE_XFA:
            facts.active.add("xfa")
        size = pdfium_c.FS_SIZEF()
        best = 0.0
        for i in range(facts.pages):
            found = pdfium_c.FPDF_GetPageSizeByIndexF(handle, i, ctypes.byref(size))
            if found and size.width * size.height > best:
                best = size.width * size.height
                facts.largest_page = (float(size.width), float(size.height))
        for i in range(min(facts.pages, MAX_LINK_PAGES)):
            if "launch" in facts.active:
                break
            page = doc[i]
            try:
                if _launches(pdfium_c, page.raw):
                    facts.active.add("launch")
            finally:
                page.close()
    finally:
        doc.close()


def _launches(pdfium_c, page) -> bool:
    """Does a link annotation of the page launch a program?"""
    for index in range(int(pdfium_c.FPDFPage_GetAnnotCount(page))):
        annot = pdfium_c.FPDFPage_GetAnnot(page, index)
        if not annot:
            continue
        try:
            link = pdfium_c.FPDFAnnot_GetLink(annot)
            action = pdfium_c.FPDFLink_GetAction(link) if link else None
            if action and pdfium_c.FPDFAction_GetType(action) == _PDFACTION_LAUNCH:
                return True
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return False


__all__ = ["PdfFacts", "active_names", "inspect"]
