"""PDF documents (fpdf2): shared page setup with Unicode fonts.

Core PDF fonts cannot print "€", „“, Turkish ş/ğ/İ, Cyrillic or Arabic, so
every document uses the bundled Noto Sans with Noto Sans Arabic as fallback,
and HarfBuzz text shaping (joined Arabic letters, right-to-left runs).
Documents are PDF/A-2B where fpdf2 allows it; a PDF/A file cannot be
encrypted, which is fine: the archive encrypts every file as a whole.
Bulk documents whose text is all Latin/Greek/Cyrillic may use reduced fonts
(``latin_only``), which are several times faster to embed.
"""

from __future__ import annotations

import functools
from pathlib import Path

from fpdf import FPDF

FONTS = Path(__file__).parents[1] / "assets" / "fonts"
FAMILY = "NotoSans"
ARABIC = "NotoSansArabic"


# Code points of the reduced "Latin" fonts for bulk documents (sealed lists): Latin with
# Turkish and Polish letters, combining marks, Greek, Cyrillic, general punctuation, €.
LATIN_RANGES = (
    (0x20, 0x250), (0x300, 0x370), (0x370, 0x530), (0x1E00, 0x1F00), (0x2000, 0x2070),
    (0x20AC, 0x20AD), (0x2116, 0x2117), (0x2122, 0x2123), (0x2190, 0x2194), (0x2212, 0x2213),
)  # fmt: skip


def covers_latin(text: str) -> bool:
    """True if every character of ``text`` is in the reduced fonts."""
    return all(any(lo <= ord(ch) < hi for lo, hi in LATIN_RANGES) for ch in text if ch >= " ")


@functools.cache
def latin_fonts() -> tuple[Path, Path]:
    """Noto Sans (regular, bold) reduced to ``LATIN_RANGES`` without layout tables.

    Parsing and subsetting the full fonts costs most of a short document's time
    (~100 ms); bulk documents without Arabic names use these (made once per machine,
    kept in the temp folder, written atomically)."""
    import hashlib
    import os
    import tempfile

    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    out = []
    for name in ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"):
        src = FONTS / name
        tag = hashlib.sha256(f"{src.stat().st_size}{LATIN_RANGES}".encode()).hexdigest()[:12]
        target = Path(tempfile.gettempdir()) / "ia-events-fonts" / f"{tag}-{name}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            font = TTFont(src)
            opts = ftsubset.Options()
            opts.layout_features = []
            opts.hinting = False
            opts.notdef_outline = True
            opts.name_IDs = ["*"]
            opts.drop_tables += ["GSUB", "GPOS", "GDEF"]
            sub = ftsubset.Subsetter(opts)
            sub.populate(unicodes=[c for lo, hi in LATIN_RANGES for c in range(lo, hi)])
            sub.subset(font)
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            font.save(tmp)
            os.replace(tmp, target)
        out.append(target)
    return out[0], out[1]


class Document(FPDF):
    """A4 portrait document with our fonts, a header line and page numbers."""

    def __init__(
        self,
        title: str,
        *,
        subtitle: str = "",
        orientation: str = "P",
        pdfa: bool = True,
        arabic: bool = True,
        latin_only: bool = False,
    ) -> None:
        super().__init__(
            orientation=orientation,
            unit="mm",
            format="A4",
            enforce_compliance="PDF/A-2B" if pdfa else None,
        )
        self.doc_title = title
        self.doc_subtitle = subtitle
        regular, bold = (
            latin_fonts()
            if latin_only
            else (FONTS / "NotoSans-Regular.ttf", FONTS / "NotoSans-Bold.ttf")
        )
        self.add_font(FAMILY, "", regular)
        self.add_font(FAMILY, "B", bold)
        if arabic:  # parsing and subsetting a font costs ~20 ms: only where it may be needed
            self.add_font(ARABIC, "", FONTS / "NotoSansArabic-Regular.ttf")
            self.add_font(ARABIC, "B", FONTS / "NotoSansArabic-Bold.ttf")
            self.set_fallback_fonts([ARABIC], exact_match=False)
            self.set_text_shaping(True)
        self.set_title(title)
        self.set_creator("ia-events")
        self.set_lang("de-DE")
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)
        self.alias_nb_pages()
        self.add_page()

    def header(self) -> None:
        self.set_font(FAMILY, "B", 13)
        self.cell(0, 7, self.doc_title, new_x="LMARGIN", new_y="NEXT")
        if self.doc_subtitle:
            self.set_font(FAMILY, "", 9)
            self.multi_cell(0, 4.5, self.doc_subtitle, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 5, f"Seite {self.page_no()} von {{nb}}", align="R")

    def body(self, size: float = 10, bold: bool = False) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)

    def render(self) -> bytes:
        return bytes(self.output())
