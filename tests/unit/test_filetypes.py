"""Files are judged by their content: the right type, a safe name, clear refusals."""

from __future__ import annotations

import io
import zipfile

import pytest

from ia_events.archive.filetypes import ContentScanner, check, safe_filename
from ia_events.core.errors import InvalidInput

MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 20
WEBP = b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 20
TIFF = b"II*\x00" + b"\x00" * 40


def _zip(entries: dict[str, bytes], first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        if first:
            zf.writestr(first, entries.pop(first), compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()


def _scan(data: bytes, name: str) -> list[str]:
    checked = check(data, name, 50 * MB)
    scanner = ContentScanner(checked)
    for i in range(0, len(data), 7):  # tiny blocks: patterns across block borders
        scanner.feed(data[i : i + 7])
    scanner.finish()
    return checked.flags


@pytest.mark.parametrize(
    ("data", "name", "media"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF", "liste.pdf", "application/pdf"),
        (PNG, "foto.png", "image/png"),
        (JPEG, "foto.jpg", "image/jpeg"),
        (HEIC, "IMG_0001.HEIC", "image/heic"),
        (WEBP, "bild.webp", "image/webp"),
        (TIFF, "scan.tif", "image/tiff"),
        ("Pressemeldung: Nähcafé feiert".encode(), "presse.txt", "text/plain"),
    ],
)
def test_recognises_allowed_types_by_content(data: bytes, name: str, media: str) -> None:
    assert check(data, name, 50 * MB).media_type == media


def test_office_containers_need_their_inner_markers() -> None:
    docx = _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"})
    xlsx = _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<w/>"})
    odt = _zip(
        {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<c/>"},
        first="mimetype",
    )
    assert check(docx, "a.docx", 50 * MB).type.key == "docx"
    assert check(xlsx, "a.xlsx", 50 * MB).type.key == "xlsx"
    assert check(odt, "a.odt", 50 * MB).type.key == "odt"
    with pytest.raises(InvalidInput) as err:
        check(_zip({"readme.txt": b"hi"}), "tarnung.docx", 50 * MB)
    assert err.value.code == "file_type_unsupported"


def test_zip_bomb_is_refused() -> None:
    bomb = _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"\0" * (40 * MB)})
    assert len(bomb) < MB
    with pytest.raises(InvalidInput) as err:
        check(bomb, "bericht.docx", 50 * MB)
    assert err.value.code == "file_zip_bomb"


def test_email_is_recognised_from_its_headers() -> None:
    mail = b"From: presse@example.org\r\nTo: ia@example.org\r\nSubject: Termin\r\n\r\nHallo"
    assert check(mail, "mail.eml", 50 * MB).media_type == "message/rfc822"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "file_type_unsupported"),  # a Windows program
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 20, "file_type_unsupported"),
        (b"", "file_empty"),
    ],
)
def test_refuses_programs_binaries_and_empty_files(data: bytes, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check(data, "rechnung.pdf", 50 * MB)
    assert err.value.code == code


def test_name_does_not_decide_and_gets_the_right_extension() -> None:
    checked = check(PNG, "scan.pdf", 50 * MB)
    assert checked.media_type == "image/png"
    assert checked.filename == "scan.pdf.png"


def test_size_limit_is_configurable() -> None:
    with pytest.raises(InvalidInput) as err:
        check(b"a" * (2 * MB + 1), "gross.txt", 2 * MB)
    assert err.value.code == "file_too_large"
    assert "2 MB" in err.value.message()
    assert check(io.BytesIO(b"a" * (2 * MB)), "genau.txt", 2 * MB).size == 2 * MB


def test_text_must_be_utf8_without_nul() -> None:
    with pytest.raises(InvalidInput) as err:
        _scan("Grüße".encode("latin-1") + b" aus Essen", "brief.txt")
    assert err.value.code == "file_text_encoding"
    with pytest.raises(InvalidInput) as err:
        _scan(b"abc" * 30000 + b"\x00", "brief.txt")
    assert err.value.code == "file_type_unsupported"


def test_pdf_with_javascript_is_flagged_even_across_block_borders() -> None:
    pdf = b"%PDF-1.4\n1 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\n%%EOF"
    assert _scan(pdf, "flyer.pdf") == ["pdf_javascript"]
    assert _scan(b"%PDF-1.4\n1 0 obj<</JSX 1>>endobj", "ok.pdf") == []


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\fk\\Liste März.pdf", "Liste März.pdf"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("CON.txt", "_CON.txt"),
        ("  .versteckt.  ", "versteckt"),
        ("", "datei"),
    ],
)
def test_sanitised_names(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


@pytest.mark.parametrize(
    "name", ["JS_IN_OBJECT_STREAM", "ESCAPED_JS", "ESCAPED_LAUNCH", "EMBEDDED_FILE"]
)
def test_active_content_is_found_by_parsing_not_by_spelling(name: str) -> None:
    """``#xx``-escaped names and JavaScript inside a compressed object stream."""
    from tests import pdf_samples

    assert _scan(getattr(pdf_samples, name), "flyer.pdf") == ["pdf_javascript"]


def test_a_plain_pdf_is_not_flagged_and_its_page_size_is_known() -> None:
    from tests.pdf_samples import HUGE_PAGE, PLAIN

    assert _scan(PLAIN, "liste.pdf") == []
    checked = check(HUGE_PAGE, "gross.pdf", 50 * MB)
    scanner = ContentScanner(checked, source=HUGE_PAGE)
    scanner.finish()
    assert checked.pdf is not None and checked.pdf.largest_page == (14400.0, 14400.0)


def test_html_with_a_pdf_marker_in_its_first_kilobyte_is_not_a_pdf() -> None:
    html = b"<html><!-- %PDF-1.4 --><body><script>alert(1)</script></body></html>"
    checked = check(html, "rechnung.pdf", 50 * MB)
    assert checked.media_type == "text/plain"
    assert not checked.filename.endswith(".pdf") or checked.filename.endswith(".pdf.txt")
    # A real PDF behind a few bytes of junk is still a PDF (readers accept that).
    from tests.pdf_samples import PLAIN

    assert check(b"junk\n" + PLAIN, "liste.pdf", 50 * MB).media_type == "application/pdf"
