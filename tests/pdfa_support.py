"""What we check of a PDF/A-2B claim, for want of a validator installable here.

veraPDF (the reference PDF/A validator) is a Java program that is not on PyPI, Debian or
npm, so the tests check instead (docs/pdfa.md): ``qpdf --check`` finds no damage or
warning; the file is not encrypted and has a trailer /ID; the header is followed by a
binary comment; the XMP metadata claims pdfaid:part 2 and conformance B and its dc:title
matches the document info; an OutputIntent GTS_PDFA1 with an embedded ICC profile; every
font on every page (descendants of composite fonts included) is embedded; no JavaScript
and no launch actions.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pikepdf

from tests.conftest import skip_or_fail

EMBEDDED = ("/FontFile", "/FontFile2", "/FontFile3")


def _fonts(resources: pikepdf.Dictionary, seen: set[tuple[int, int]]):  # type: ignore[no-untyped-def]
    fonts = resources.get("/Font") or {}
    for _name, font in dict(fonts).items():
        key = font.objgen
        if key in seen and key != (0, 0):
            continue
        seen.add(key)
        yield font
        yield from font.get("/DescendantFonts") or []
    for _name, xobj in dict(resources.get("/XObject") or {}).items():
        if xobj.get("/Subtype") == "/Form" and "/Resources" in xobj:
            yield from _fonts(xobj.Resources, seen)


def pdfa_problems(data: bytes) -> list[str]:
    """Every way ``data`` falls short of what we check for PDF/A-2B (empty: all passed)."""
    problems: list[str] = []
    if not re.match(rb"%PDF-1\.[4-7]\r?\n%[\x80-\xff]{4}", data):
        problems.append("header: %PDF-1.x followed by a binary comment line expected")
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        skip_or_fail("QPDF", "qpdf not installed (apt-get install qpdf)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        done = subprocess.run([str(qpdf), "--check", str(path)], capture_output=True, text=True)
        if done.returncode != 0 or "WARNING" in done.stdout + done.stderr:
            problems.append(f"qpdf --check: {done.stdout.strip()} {done.stderr.strip()}")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if pdf.is_encrypted:
            problems.append("encrypted")
        if "/ID" not in pdf.trailer:
            problems.append("no trailer /ID")
        meta = pdf.open_metadata()
        if meta.get("pdfaid:part") != "2" or meta.get("pdfaid:conformance") != "B":
            problems.append(
                f"XMP claims part {meta.get('pdfaid:part')!r}, "
                f"conformance {meta.get('pdfaid:conformance')!r} (want 2, B)"
            )
        info_title = str(pdf.docinfo.get("/Title", ""))
        if info_title and meta.get("dc:title") != info_title:
            problems.append(f"dc:title {meta.get('dc:title')!r} differs from /Title")
        intents = pdf.Root.get("/OutputIntents") or []
        if not any(i.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents):
            problems.append("no OutputIntent GTS_PDFA1 with an ICC profile")
        for bad in ("/OpenAction", "/AA"):
            action = pdf.Root.get(bad)
            if action is not None and "/JS" in str(action):
                problems.append(f"JavaScript in {bad}")
        names = pdf.Root.get("/Names")
        if names is not None and "/JavaScript" in names:
            problems.append("document JavaScript")
        seen: set[tuple[int, int]] = set()
        for n, page in enumerate(pdf.pages, 1):
            for font in _fonts(page.Resources, seen):
                if font.get("/Subtype") in ("/Type0", "/Type3"):
                    continue  # composite: its descendant carries the font file
                desc = font.get("/FontDescriptor")
                if desc is None or not any(k in desc for k in EMBEDDED):
                    problems.append(f"page {n}: font {font.get('/BaseFont')} not embedded")
    return problems
