"""What an uploaded file really is: validation by content, never by name.

Allowed are PDF, JPEG, PNG, HEIC/HEIF (iPhone photos), WebP, TIFF, DOCX,
XLSX, ODT (ZIP containers with the right inner markers), plain text (valid
UTF-8 without NUL bytes) and e-mails (``.eml``, RFC 5322 headers). Anything
else, an empty file or one above ``Settings.max_upload_bytes`` is refused
with a stable error code before anything is stored.

Checks happen in two steps so a file is read only once: ``sniff`` looks at
the first 64 KiB (and, for ZIP containers, the central directory through a
seekable handle) and names the type; a ``ContentScanner`` then sees every
block while the blob store encrypts it and checks what needs the whole file
(UTF-8 validity, NUL bytes, active content in PDFs). A PDF is a PDF by its
structure: ``%PDF-`` later than the first byte counts only when pdfium can
open the document (else an HTML page with ``%PDF-`` in a comment would pass
as a PDF). A PDF with active content — JavaScript, launch actions, embedded
files, XFA, additional actions, found by parsing it (``pdfcheck``) — is
accepted but *flagged* (``pdf_javascript``) — agencies get flyers from
printers that contain form scripts — and never opened in the app.

Limits: this is a gate against mistakes and obvious abuse, not a malware
scanner.
"""

from __future__ import annotations

import codecs
import io
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from ia_events.archive import pdfcheck
from ia_events.core.errors import InvalidInput
from ia_events.core.messages import fmt_number
from ia_events.core.pdfium_lock import pdfium_exclusive

HEAD = 64 * 1024
# A ZIP container may expand at most this much in total and per entry.
ZIP_MAX_TOTAL = 1024 * 1024 * 1024
ZIP_MAX_RATIO = 200
ZIP_MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class FileType:
    key: str
    media_type: str
    label: str
    extensions: tuple[str, ...]


TYPES = {
    t.key: t
    for t in (
        FileType("pdf", "application/pdf", "PDF", (".pdf",)),
        FileType("jpeg", "image/jpeg", "JPEG-Bild", (".jpg", ".jpeg")),
        FileType("png", "image/png", "PNG-Bild", (".png",)),
        FileType("heic", "image/heic", "HEIC/HEIF-Bild", (".heic", ".heif")),
        FileType("webp", "image/webp", "WebP-Bild", (".webp",)),
        FileType("tiff", "image/tiff", "TIFF-Bild", (".tif", ".tiff")),
        FileType(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word-Dokument (DOCX)",
            (".docx",),
        ),
        FileType(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Excel-Tabelle (XLSX)",
            (".xlsx",),
        ),
        FileType("odt", "application/vnd.oasis.opendocument.text", "ODT-Dokument", (".odt",)),
        FileType("text", "text/plain", "Text", (".txt", ".text", ".md", ".csv")),
        FileType("eml", "message/rfc822", "E-Mail", (".eml",)),
    )
}
IMAGE_KEYS = frozenset({"jpeg", "png", "heic", "webp", "tiff"})
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
HEIF_BRANDS |= {b"msf1"}
ALLOWED_LABELS = "PDF, JPEG, PNG, HEIC, WebP, TIFF, DOCX, XLSX, ODT, Text (UTF-8), E-Mail (.eml)"

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10))}
_WINDOWS_RESERVED |= {f"lpt{i}" for i in range(1, 10)}
_EMAIL_HEADER = re.compile(rb"^([A-Za-z0-9-]{1,76}):[ \t]?", re.M)


@dataclass
class Checked:
    """The verdict on one file: its real type, a safe name and any flags."""

    type: FileType
    filename: str
    size: int
    flags: list[str] = field(default_factory=list)
    pdf: pdfcheck.PdfFacts | None = None  # set by ContentScanner.finish for a PDF

    @property
    def media_type(self) -> str:
        return self.type.media_type

    @property
    def is_image(self) -> bool:
        return self.type.key in IMAGE_KEYS


def safe_filename(name: str, ftype: FileType | None = None) -> str:
    """A file name safe on every system, still readable, with an extension that fits."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[<>:\"|?*\u202a-\u202e\u2066-\u2069\u200e\u200f]", "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.casefold() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    name = f"{stem}.{ext}" if dot else stem
    name = name or "datei"
    if ftype is not None and not name.casefold().endswith(ftype.extensions):
        name = f"{name}{ftype.extensions[0]}"
    if len(name) > 200:
        base, _, ext = name.rpartition(".")
        name = f"{base[: 190 - len(ext)]}.{ext}" if base else name[:200]
    return name


def _reject(code: str, filename: str, **params: object) -> InvalidInput:
    return InvalidInput(code, name=filename, allowed=ALLOWED_LABELS, **params)


def _zip_kind(handle: BinaryIO, filename: str, max_bytes: int) -> str:
    try:
        with zipfile.ZipFile(handle) as zf:
            infos = zf.infolist()
            if len(infos) > ZIP_MAX_ENTRIES:
                raise _reject("file_zip_bomb", filename)
            total = 0
            for info in infos:
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > 1024 * 1024 and ratio > ZIP_MAX_RATIO:
                    raise _reject("file_zip_bomb", filename)
            if total > max(ZIP_MAX_TOTAL, 20 * max_bytes):
                raise _reject("file_zip_bomb", filename)
            names = {i.filename for i in infos}
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return "docx"
            if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
                return "xlsx"
            if infos and infos[0].filename == "mimetype" and infos[0].file_size < 200:
                mime = zf.read(infos[0]).strip()
                if mime == b"application/vnd.oasis.opendocument.text":
                    return "odt"
    except zipfile.BadZipFile as exc:
        raise _reject("file_type_unsupported", filename) from exc
    raise _reject("file_type_unsupported", filename)


def _looks_like_email(head: bytes) -> bool:
    block = head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if not block or block[:1].isspace():
        return False
    names = {m.group(1).lower() for m in _EMAIL_HEADER.finditer(block)}
    for line in block.splitlines():
        if line and not line[:1].isspace() and not _EMAIL_HEADER.match(line):
            return False  # a line that is neither a header nor a continuation
    return b"from" in names and bool(names & {b"date", b"subject", b"message-id", b"to"})


@pdfium_exclusive
def _parses_as_pdf(handle: BinaryIO | None) -> bool:
    if handle is None:
        return False
    import pypdfium2 as pdfium

    pos = handle.tell()
    try:
        pdfium.PdfDocument(handle.read()).close()
        return True
    except Exception:
        return False
    finally:
        handle.seek(pos)


def sniff(head: bytes, handle: BinaryIO | None, filename: str, max_bytes: int) -> FileType:
    """Name the type from the first bytes (and the ZIP directory via ``handle``)."""
    if head.startswith(b"%PDF-"):
        return TYPES["pdf"]
    # Readers accept a header within the first KiB; then the structure must be a PDF's.
    if b"%PDF-" in head[:1024] and _parses_as_pdf(handle):
        return TYPES["pdf"]
    if head.startswith(b"\xff\xd8\xff"):
        return TYPES["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return TYPES["png"]
    if head[4:8] == b"ftyp" and (
        head[8:12] in HEIF_BRANDS or any(head[i : i + 4] in HEIF_BRANDS for i in range(16, 40, 4))
    ):
        return TYPES["heic"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return TYPES["webp"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TYPES["tiff"]
    if head.startswith(b"PK\x03\x04"):
        if handle is None:
            raise _reject("file_type_unsupported", filename)
        pos = handle.tell()
        try:
            return TYPES[_zip_kind(handle, filename, max_bytes)]
        finally:
            handle.seek(pos)
    if b"\x00" in head:
        raise _reject("file_type_unsupported", filename)
    if _looks_like_email(head):
        return TYPES["eml"]
    return TYPES["text"]


class ContentScanner:
    """Sees every block once (while the blob store encrypts it); raises on a bad file.

    A PDF is judged whole in ``finish`` (``pdfcheck.inspect``): from ``source``
    when the caller still has it (bytes or a seekable file), else from a spool
    of the blocks seen.
    """

    def __init__(self, checked: Checked, source: bytes | BinaryIO | None = None) -> None:
        self.checked = checked
        self.key = checked.type.key
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._source = source
        self._start = 0 if source is None or isinstance(source, bytes) else source.tell()
        self._spool: IO[bytes] | None = None
        if self.key == "pdf" and source is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed in finish

    def feed(self, block: bytes) -> None:
        if self.key == "text":
            if b"\x00" in block:
                raise _reject("file_type_unsupported", self.checked.filename)
            try:
                self._decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise _reject("file_text_encoding", self.checked.filename) from exc
        elif self._spool is not None:
            self._spool.write(block)

    def finish(self) -> None:
        if self.key == "pdf":
            source = self._source if self._source is not None else self._spool
            try:
                start = self._start if self._source is not None else 0
                facts = pdfcheck.inspect(source, start)  # type: ignore[arg-type]  # one of the two is set
            finally:
                if self._spool is not None:
                    self._spool.close()
            self.checked.pdf = facts
            if facts.active and "pdf_javascript" not in self.checked.flags:
                self.checked.flags.append("pdf_javascript")
        if self.key == "text":
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise _reject("file_text_encoding", self.checked.filename) from exc


def _size_of(handle: BinaryIO) -> int:
    pos = handle.tell()
    end = handle.seek(0, io.SEEK_END)
    handle.seek(pos)
    return end - pos


def check(source: bytes | BinaryIO, filename: str, max_bytes: int) -> Checked:
    """Size and type of ``source`` (bytes or a seekable binary file); position unchanged.

    Raises ``InvalidInput`` with code ``file_empty``, ``file_too_large``,
    ``file_type_unsupported``, ``file_zip_bomb``.
    """
    shown = safe_filename(filename)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        size, head = len(data), data[:HEAD]
        handle: BinaryIO = io.BytesIO(data)
    else:
        handle = source
        size = _size_of(handle)
        pos = handle.tell()
        head = handle.read(HEAD)
        handle.seek(pos)
    if size == 0:
        raise _reject("file_empty", shown)
    if size > max_bytes:
        raise _reject(
            "file_too_large",
            shown,
            size_mb=fmt_number(size / 1048576, 1),
            limit_mb=max_bytes // 1048576,
        )
    ftype = sniff(head, handle, shown, max_bytes)
    return Checked(ftype, safe_filename(filename, ftype), size)


def is_seekable(source: object) -> bool:
    try:
        return bool(source.seekable())  # type: ignore[attr-defined]  # duck-typed on purpose
    except (AttributeError, OSError, ValueError):
        return False
