"""PDF documents (fpdf2): shared page setup with Unicode fonts.

Core PDF fonts cannot print "€", „“, Turkish ş/ğ/İ, Cyrillic or Arabic, so
every document uses the bundled Noto Sans with Noto Sans Arabic as fallback,
and HarfBuzz text shaping (joined Arabic letters, right-to-left runs).
Documents are PDF/A-2B where fpdf2 allows it; a PDF/A file cannot be
encrypted, which is fine: the archive encrypts every file as a whole.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

FONTS = Path(__file__).parents[1] / "assets" / "fonts"
FAMILY = "NotoSans"
ARABIC = "NotoSansArabic"


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
    ) -> None:
        kwargs = {"enforce_compliance": "PDF/A-2B"} if pdfa else {}
        super().__init__(orientation=orientation, unit="mm", format="A4", **kwargs)
        self.doc_title = title
        self.doc_subtitle = subtitle
        self.add_font(FAMILY, "", FONTS / "NotoSans-Regular.ttf")
        self.add_font(FAMILY, "B", FONTS / "NotoSans-Bold.ttf")
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
