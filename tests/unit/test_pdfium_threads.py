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
