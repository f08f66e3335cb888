"""The bundle's index PDF as a PDF reader sees it (PDFium): every evidence row with its
path in the bag and its SHA-256, byte counts right-aligned in German format, the table
header again on each page, cut paths keeping the file name, an Arabic title; and the
file still passes our PDF/A-2B checks (its table rows are written as raw operators)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium

from ia_events.inspection.completeness import (
    ActivityNode,
    EvidenceNode,
    InspectionTree,
    OccurrenceNode,
)
from ia_events.inspection.index import render_index
from tests.pdfa_support import pdfa_problems

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ARABIC_TITLE = "دورة خياطة"


def _tree(items: int) -> InspectionTree:
    acts = {
        1: ActivityNode(1, "Nähcafé", "BE", "named", [1]),
        2: ActivityNode(2, ARABIC_TITLE, "BE", "named", [1]),
    }
    occs = {}
    for i in range(1, 11):
        start = NOW - timedelta(days=7 * i)
        occs[i] = OccurrenceNode(
            i, 1 + i % 2, start, start + timedelta(hours=2), "scheduled", True, 12, {"self_qr": 12}
        )
        acts[1 + i % 2].occurrence_ids.append(i)
    evidence = {
        i: EvidenceNode(
            i,
            "participant_list",
            f"Teilnehmerliste {i}",
            f"liste-{i}.pdf",
            "application/pdf",
            f"{i:064x}",
            2_345_678,
            date(2025, 5, 1),
            1 + i % 10,
            1 + (1 + i % 10) % 2,
            (1,),
            date(2035, 12, 31),
            False,
            None,
            i,
        )
        for i in range(1, items + 1)
    }
    return InspectionTree(
        1, "essen", "IA Essen", "AWO", 2025, None, None, None, None,
        [], acts, occs, evidence, [], NOW,
    )  # fmt: skip


def _pages(pdf: bytes) -> list[pdfium.PdfPage]:
    return list(pdfium.PdfDocument(pdf))


def test_every_evidence_row_is_readable_with_path_and_checksum() -> None:
    tree = _tree(120)  # more rows than one landscape page holds
    long_path = "Angebot_Naehcafe/" + "Unterordner_" * 12 + "liste-7.pdf"
    paths = {i: f"data/Angebot_Naehcafe/liste-{i}.pdf" for i in tree.evidence}
    paths[7] = long_path
    pdf = render_index(tree, paths, "ab" * 32, [])
    assert pdfa_problems(pdf) == []
    pages = _pages(pdf)
    texts = [p.get_textpage().get_text_range() for p in pages]
    text = "\n".join(texts)
    for i in tree.evidence:
        assert f"{i:064x}" in text, f"checksum of item {i} missing"
        if i != 7:
            assert f"data/Angebot_Naehcafe/liste-{i}.pdf" in text
    # A path too long for its column is cut in the middle: the file name stays.
    assert long_path not in text and "liste-7.pdf" in text and "…" in text
    # Byte counts in German format; the table header on every page with evidence rows.
    assert text.count("2.345.678") == 120
    evidence_pages = [t for t in texts if f"{120:064x}" in t or f"{60:064x}" in t]
    assert evidence_pages and all("Datei im Paket" in t for t in evidence_pages)
    assert ARABIC_TITLE.split()[0] in text or "خياطة" in text


def test_byte_counts_end_at_the_right_edge_of_their_column() -> None:
    pdf = render_index(_tree(3), {}, "ab" * 32, [])
    rights = []
    for page in _pages(pdf):
        textpage = page.get_textpage()
        search = textpage.search("2.345.678")
        while (found := search.get_next()) is not None:
            start, count = found
            rights.append(textpage.get_charbox(start + count - 1)[2])
    assert len(rights) == 3
    # Same right edge for all three, inside the "Bytes" column (15 + 13 + 26 + 18 + 96
    # = 168 mm to 186 mm from the left edge): right-aligned, not left.
    mm = [r * 25.4 / 72 for r in rights]
    assert max(mm) - min(mm) < 0.2
    assert 183 < mm[0] < 186
