"""Small, valid PDFs built byte by byte for the active-content and size tests:
names written with ``#xx`` escapes, objects inside a compressed object stream
(PDF 1.5 object stream + cross-reference stream), huge pages."""

from __future__ import annotations

import struct
import zlib


def build_pdf(
    extra_catalog: bytes = b"",
    hidden: list[bytes] | None = None,
    *,
    page_size: tuple[int, int] = (595, 842),
) -> bytes:
    """Catalog (1), Pages (2), Page (3), then the ``hidden`` objects (4, 5, …) inside a
    Flate-compressed object stream, and a cross-reference stream."""
    hidden = hidden or []
    plain = {
        1: b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b" >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>" % page_size,
    }
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, tuple[int, int, int]] = {0: (0, 0, 65535)}
    for num, body in plain.items():
        offsets[num] = (1, len(out), 0)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    next_num = 4
    if hidden:
        stm_num = next_num + len(hidden)
        header, bodies = [], b""
        for i, body in enumerate(hidden):
            header.append(b"%d %d" % (next_num + i, len(bodies)))
            offsets[next_num + i] = (2, stm_num, i)
            bodies += body + b"\n"
        head = b" ".join(header) + b"\n"
        data = zlib.compress(head + bodies)
        offsets[stm_num] = (1, len(out), 0)
        out += (
            b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\n"
            % (stm_num, len(hidden), len(head), len(data))
            + b"stream\n"
            + data
            + b"\nendstream\nendobj\n"
        )
        next_num = stm_num + 1
    xref_num = next_num
    offsets[xref_num] = (1, len(out), 0)
    rows = b"".join(struct.pack(">BIH", *offsets[n]) for n in range(xref_num + 1))
    packed = zlib.compress(rows)
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
        b"/Length %d >>\nstream\n"
        % (xref_num, xref_num + 1, len(packed))
        + packed
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[xref_num][1]
    )
    return bytes(out)


# JavaScript as a document-level named action, every name escaped, inside the object stream.
JS_IN_OBJECT_STREAM = build_pdf(
    b"/Names << /J#61vaScript 4 0 R >>",
    [b"<< /Names [(start) 5 0 R] >>", b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"],
)
# The same, but the names in plain objects (no object stream), only escaped.
ESCAPED_JS = build_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>")
ESCAPED_LAUNCH = build_pdf(b"/OpenAction << /S /L#61unch /F (calc.exe) >>")
PLAIN = build_pdf()
HUGE_PAGE = build_pdf(page_size=(14400, 14400))
EMBEDDED_FILE = build_pdf(
    b"/Names << /Embedded#46iles 4 0 R >>",
    [
        b"<< /Names [(a.exe) 5 0 R] >>",
        b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>",
    ],
)
