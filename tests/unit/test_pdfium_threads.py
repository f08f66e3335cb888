"""PDFium is not thread-safe: checks of uploaded PDFs from several threads at once (the
Streamlit server's sessions, bulk sealing's parallel staging) must neither fail nor
leave PDFium unable to open the next valid file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ia_events.archive import pdfcheck, previews
from ia_events.core.pdf import Document


def _pdf(n: int) -> bytes:
    doc = Document(f"Teilnehmerliste {n}")
    doc.body(10)
    for i in range(40):
        doc.cell(0, 6, f"Zeile {i} – Teilnehmende Person {n}", new_x="LMARGIN", new_y="NEXT")
    return doc.render()


def test_pdfs_checked_from_many_threads_at_once_all_stay_readable() -> None:
    files = [_pdf(n) for n in range(6)]

    def check(i: int) -> bool:
        data = files[i % len(files)]
        facts = pdfcheck.inspect(data)
        shown = previews._pdf_preview(data)
        return facts.readable and facts.pages >= 1 and shown.kind != "none"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, range(240)))
    assert all(results), results.count(False)
    assert pdfcheck.inspect(files[0]).readable  # and PDFium still opens the next file


def test_a_file_without_any_pdf_object_is_judged_by_its_names_without_pdfium() -> None:
    """A "PDF" with no indirect object (a damaged upload, random bytes after the header)
    cannot be opened; PDFium would first scan all of it under the lock. The outcome is
    the same either way: not readable, active content from its names."""
    import os

    # No "obj" and no "/" (random bytes hold "/JS" about once in eight 2 MB files).
    junk = b"%PDF-1.7\n" + os.urandom(2_000_000).replace(b"obj", b"xxx").replace(b"/", b"_")
    facts = pdfcheck.inspect(junk)
    assert not facts.readable and facts.pages == 0 and facts.active == set()
    named = pdfcheck.inspect(junk + b"\n/JavaScript (app.alert(1))\n")
    assert not named.readable and named.active == {"javascript"}
    assert not pdfcheck._may_hold_objects(junk)
    # Anything that could be an object goes to PDFium: a real file, odd spacing, comments.
    assert pdfcheck.inspect(_pdf(1)).readable
    assert pdfcheck._may_hold_objects(b"%PDF-1.4\n12 0\r\n obj <<>> endobj")
    assert pdfcheck._may_hold_objects(b"%PDF-1.4\n1 0 % note\nobj")
