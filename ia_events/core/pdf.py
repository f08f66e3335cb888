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

import copy
import functools
import io
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf import output as _fpdf_output
from fpdf.enums import TextMode
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.syntax import Name, PDFContentStream
from fpdf.util import escape_parens

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


# Code points Noto Sans Arabic (the fallback font) prints: Arabic, its supplements and
# presentation forms.
ARABIC_RANGES = ((0x600, 0x700), (0x750, 0x780), (0x8A0, 0x900), (0xFB50, 0xFE00), (0xFE70, 0xFF00))


RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def covers_latin_or_arabic(text: str) -> bool:
    """True if the reduced fonts with the Arabic fallback print every character of ``text``."""
    ranges = LATIN_RANGES + ARABIC_RANGES
    return all(any(lo <= ord(ch) < hi for lo, hi in ranges) for ch in text if ch >= " ")


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


@functools.lru_cache(maxsize=16)
def _font_bytes(path: Path) -> bytes:
    return path.read_bytes()


@functools.lru_cache(maxsize=16)
def _prototype(path: Path, fontkey: str, style: str) -> TTFFont:
    """A font parsed once per process (cmap, widths, descriptor): fpdf2 parses the file
    again for every document, ~10-20 ms a font, most of a short list's time."""
    return TTFFont(FPDF(), path, fontkey, style)


def _fresh_font(pdf: FPDF, path: Path, family: str, style: str) -> TTFFont:
    """A per-document copy of the prototype: its own subset map, descriptor and a lazily
    loaded ``TTFont`` (fpdf2 subsets that one in place when writing the file)."""
    fontkey = f"{family.lower()}{style}"
    font = copy.copy(_prototype(path, fontkey, style))
    font.i = len(pdf.fonts) + 1
    font.ttfont = TTFont(io.BytesIO(_font_bytes(path)), recalcTimestamp=False, lazy=True)
    font._hbfont = None
    font.desc = copy.copy(font.desc)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    return font


# A bulk document's font is embedded with whole blocks of this many code points (the
# blocks its text uses; see ``Document.render``).
BLOCK_BITS = 5


class _Presubset(TTFont):
    """A font already subset and serialised: fpdf2's subsetting skips it, ``save`` writes
    the kept bytes (shared by every document using the same glyphs; read-only)."""

    data = b""

    def save(self, file: io.BytesIO, reorderTables: bool = True) -> None:
        file.write(self.data)


# Layout tables that the subset drops anyway (fpdf2's options and ours). Deleting them
# before subsetting keeps fontTools from decompiling them first: ~130 ms -> ~18 ms a font,
# the same bytes (HarfBuzz shapes from the font file, not from these objects).
_DROPPED_LAYOUT = ("GSUB", "GPOS", "GDEF")


def _drop_layout(font: TTFont) -> None:
    for tag in _DROPPED_LAYOUT:
        if tag in font:
            del font[tag]


class _Subsetter(ftsubset.Subsetter):
    def subset(self, font: TTFont) -> None:
        if not isinstance(font, _Presubset):
            _drop_layout(font)
            super().subset(font)


_fpdf_output.ftsubset = SimpleNamespace(Options=ftsubset.Options, Subsetter=_Subsetter)


@functools.lru_cache(maxsize=64)
def _deflated(data: bytes) -> bytes:
    return zlib.compress(data, level=PDFContentStream._COMPRESSION_LEVEL)


class _FontStream(_fpdf_output.PDFFontStream):
    """fpdf2's embedded font file, compressed once per process for each subset: bulk
    documents embed the same few subsets again and again (~1 ms a font and file)."""

    def __init__(self, contents: bytes) -> None:
        PDFContentStream.__init__(self, contents=b"")
        self._contents = _deflated(bytes(contents))
        self.filter = Name("FlateDecode")
        self.length = len(self._contents)
        self.length1 = len(contents)


_fpdf_output.PDFFontStream = _FontStream  # type: ignore[misc]  # fpdf2 looks it up here


@functools.lru_cache(maxsize=256)
def _presubset(path: Path, glyphs: frozenset[str]) -> _Presubset:
    """``path`` subset to ``glyphs`` exactly as fpdf2 does it when writing a file."""
    font = _Presubset(io.BytesIO(_font_bytes(path)), recalcTimestamp=False)
    _drop_layout(font)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += [
        "FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC",
        "EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR",
    ]  # fmt: skip
    sub = ftsubset.Subsetter(options)
    sub.populate(glyphs=sorted(glyphs))
    sub.subset(font)
    buf = io.BytesIO()
    TTFont.save(font, buf)
    font.data = buf.getvalue()
    return font


def _blocks(font: TTFFont) -> tuple[int, ...]:
    """The blocks (code point >> ``BLOCK_BITS``) the document's text uses in this font."""
    used: set[int] = set()
    for glyph, _ in font.subset.items():
        if glyph is not None:
            used.update((glyph.unicode,) if isinstance(glyph.unicode, int) else glyph.unicode)
    return tuple(sorted({cp >> BLOCK_BITS for cp in used}))


@functools.lru_cache(maxsize=256)
def _block_glyphs(path: Path, blocks: tuple[int, ...]) -> frozenset[str]:
    cmap = _prototype(path, "x", "").cmap
    size = 1 << BLOCK_BITS
    names = {cmap[cp] for b in blocks for cp in range(b * size, (b + 1) * size) if cp in cmap}
    return frozenset(names | {".notdef", cmap.get(0x20, ".notdef")})


# Widths of single characters by font file, style, size and unit (``Document.char_table``).
_CHAR_WIDTHS: dict[tuple[object, ...], dict[str, float]] = {}

# Texts already broken into lines, by width, font, size and shaping (``Document.lines``).
_WRAPPED: dict[tuple[object, ...], list[str]] = {}


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
        shared_subsets: bool = False,
        shape_on_demand: bool = False,
    ) -> None:
        super().__init__(
            orientation=orientation,
            unit="mm",
            format="A4",
            enforce_compliance="PDF/A-2B" if pdfa else None,
        )
        self.doc_title = title
        self.shared_subsets = shared_subsets
        self.doc_subtitle = subtitle
        regular, bold = (
            latin_fonts()
            if latin_only
            else (FONTS / "NotoSans-Regular.ttf", FONTS / "NotoSans-Bold.ttf")
        )
        self.add_cached_font(FAMILY, "", regular)
        self.add_cached_font(FAMILY, "B", bold)
        if arabic:  # subsetting a font costs ~10 ms: only where it may be needed
            self.add_cached_font(ARABIC, "", FONTS / "NotoSansArabic-Regular.ttf")
            self.add_cached_font(ARABIC, "B", FONTS / "NotoSansArabic-Bold.ttf")
            self.set_fallback_fonts([ARABIC], exact_match=False)
            self.set_text_shaping(True)
        # Shaping (HarfBuzz, bidi) only for the texts with Arabic or Hebrew letters: it
        # costs more than the rest of a list's layout (bulk documents with Arabic names).
        self.shape_on_demand = arabic and shape_on_demand
        if self.shape_on_demand:
            self.set_text_shaping(False)
        self.set_title(title)
        self.set_creator("ia-events")
        self.set_lang("de-DE")
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)
        self.alias_nb_pages()
        self.add_page()

    def add_cached_font(self, family: str, style: str, path: Path) -> None:
        """``add_font`` for a TrueType font without variations, parsed once per process."""
        font = _fresh_font(self, path, family, style)
        self.fonts[font.fontkey] = font

    def _shape_for(self, text: str) -> None:
        if self.shape_on_demand:
            want = RTL.search(text) is not None
            if want != bool(self.text_shaping):
                self.set_text_shaping(want)

    def cell(self, *args: Any, **kwargs: Any) -> bool:
        self._shape_for(str(kwargs.get("text", args[2] if len(args) > 2 else "")))
        return super().cell(*args, **kwargs)

    def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
        self._shape_for(str(kwargs.get("text", args[2] if len(args) > 2 else "")))
        return super().multi_cell(*args, **kwargs)

    def table_cell(self, w: float, h: float, text: str, align: str = "L") -> None:
        """``cell(w, h, text, border=1, align=align)`` for one-line table text, drawn as a
        rectangle and a text run when the current font has every character (no fallback
        font, no shaping): ~50 times faster than fpdf2's cell, the same look."""
        font = self.current_font
        cmap = getattr(font, "cmap", None)
        if not text or cmap is None or self.text_shaping or not all(ord(ch) in cmap for ch in text):
            self.cell(w, h, text, border=1, align=align)
            return
        x, y = self.get_x(), self.get_y()
        self.rect(x, y, w, h)
        if align == "R":
            tx = x + w - self.c_margin - self.get_string_width(text)
        else:
            tx = x + self.c_margin
        self.text(tx, y + 0.5 * h + 0.3 * self.font_size, text)
        self.set_x(x + w)

    def table_row(
        self,
        widths: Sequence[float],
        h: float,
        texts: Sequence[str],
        aligns: str = "",
        *,
        fill: bool = False,
    ) -> None:
        """One row of ``table_cell``s (``aligns``: one "L"/"R" per cell, default left),
        written as PDF operators in one go: the same rectangles and text runs that fpdf2's
        ``rect`` and ``text`` write, without their per-call checks (the index of a year's
        bundle has thousands of cells). ``fill``: the cells filled with the fill colour
        (a header row). Falls back to fpdf2's cells where fpdf2 has to do more (shaping,
        a fallback font, underline or strike-through)."""
        font = self.current_font
        cmap = getattr(font, "cmap", None)
        if (
            cmap is None
            or self.text_shaping
            or self.underline
            or self.strikethrough
            or self.text_mode != TextMode.FILL
            or self._record_text_quad_points
            or self.page == 0
            or not self._in_font(font, texts)
        ):
            for i, (w, text) in enumerate(zip(widths, texts, strict=True)):
                align = aligns[i] if aligns else "L"
                if fill:
                    self.cell(w, h, text, border=1, align=align, fill=True)
                else:
                    self.table_cell(w, h, text, align=align)
            return
        assert font is not None
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        encoded = self._encoded_chars(font)
        k, page_h, margin = self.k, self.h, self.c_margin
        # fpdf2's ``text`` sets the text colour inside q/Q when the fill colour differs.
        start, end = ("", "")
        if self.fill_color != self.text_color and self.text_color is not None:
            start, end = f"q {self.text_color.serialize().lower()} ", " Q"
        paint = "B" if fill else "S"  # fill and stroke, or stroke only
        x, y = self.get_x(), self.get_y()
        baseline = (page_h - (y + 0.5 * h + 0.3 * self.font_size)) * k
        top, height = (page_h - y) * k, -h * k
        ops = []
        for i, (w, text) in enumerate(zip(widths, texts, strict=True)):
            ops.append(f"{x * k:.2f} {top:.2f} {w * k:.2f} {height:.2f} re {paint}")
            if text:
                if aligns and aligns[i] == "R":
                    tx = x + w - margin - self.text_width(text)
                else:
                    tx = x + margin
                run = "".join(
                    [encoded.get(ch) or self._encode_char(font, encoded, ch) for ch in text]
                )
                ops.append(f"{start}BT {tx * k:.2f} {baseline:.2f} Td ({run}) Tj ET{end}")
            x += w
        self._out("\n".join(ops))
        self.set_x(x)

    def text_line(self, w: float, h: float, text: str, *, next_line: bool = True) -> None:
        """``cell(w, h, text)`` for one left-aligned line of plain text without a border,
        then to the next line's left margin (``next_line``) or right of the cell. Written
        as one text run where fpdf2 has nothing more to do (no shaping, no fallback font,
        no underline): a list's header and paragraphs are most of its layout time."""
        font = self.current_font
        if (
            not text
            or getattr(font, "cmap", None) is None
            or self.text_shaping
            or self.underline
            or self.strikethrough
            or self.text_mode != TextMode.FILL
            or self._record_text_quad_points
            or self.char_spacing
            or self.font_stretching != 100
            or self.page == 0
            or not self._in_font(font, (text,))
        ):
            if next_line:
                self.cell(w, h, text, new_x="LMARGIN", new_y="NEXT")
            else:
                self.cell(w, h, text)
            return
        assert font is not None
        self._perform_page_break_if_need_be(h)
        if w == 0:
            w = self.w - self.r_margin - self.x
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        encoded = self._encoded_chars(font)
        run = "".join([encoded.get(ch) or self._encode_char(font, encoded, ch) for ch in text])
        start, end = ("", "")
        if self.fill_color != self.text_color and self.text_color is not None:
            start, end = f"q {self.text_color.serialize().lower()} ", " Q"
        k = self.k
        x = (self.x + self.c_margin) * k
        y = (self.h - self.y - 0.5 * h - 0.3 * self.font_size) * k
        self._out(f"{start}BT {x:.2f} {y:.2f} Td ({run}) Tj ET{end}")
        if next_line:
            self.x = self.l_margin
            self.y += h
        else:
            self.x += w

    def _in_font(self, font: Any, texts: Sequence[str]) -> bool:
        """Whether ``font`` itself has every character of ``texts`` (no fallback)."""
        known: set[str] = self.__dict__.setdefault("_in_font_chars", {}).setdefault(
            font.fontkey, set()
        )
        new = set("".join(texts)) - known
        if any(ord(ch) not in font.cmap for ch in new):
            return False
        known |= new
        return True

    def _encoded_chars(self, font: Any) -> dict[str, str]:
        """This document's character → escaped glyph code table of ``font``."""
        tables: dict[str, dict[str, str]] = self.__dict__.setdefault("_encoded", {})
        return tables.setdefault(font.fontkey, {})

    @staticmethod
    def _encode_char(font: Any, table: dict[str, str], ch: str) -> str:
        """What fpdf2's ``TTFFont.encode_text`` writes for ``ch`` (and adds it to the
        document's subset), remembered in ``table``."""
        code = font.subset.pick(ord(ch))
        out = "" if code is None else escape_parens(chr(code).encode("utf-16-be").decode("latin-1"))
        table[ch] = out
        return out

    def char_table(self) -> dict[str, float]:
        """Widths in mm of single characters in the current font and size, filled as
        measured (``text_width``): without shaping a line is exactly the sum of its
        glyphs, so each character is measured once per process, not every string."""
        key = (
            getattr(self.current_font, "ttffile", self.font_family),
            self.font_style,
            self.font_size_pt,
            self.k,
        )
        table = _CHAR_WIDTHS.get(key)
        if table is None:
            table = _CHAR_WIDTHS[key] = {}
        return table

    def text_width(self, text: str) -> float:
        """``get_string_width``, for texts without Arabic or Hebrew letters from
        ``char_table`` (shaped text is measured as a whole, as fpdf2 does)."""
        if RTL.search(text):
            return float(self.get_string_width(text))
        table = self.char_table()
        total = 0.0
        for ch in text:
            w = table.get(ch)
            if w is None:
                w = table[ch] = self.get_string_width(ch)
            total += w
        return total

    def lines(self, w: float, h: float, text: str) -> None:
        """``multi_cell(w, h, text)`` for plain text, ending at the next line's left margin,
        wrapped at spaces by measuring words (fpdf2's line breaking measures the line
        again for every character: most of a short list's layout time). A word longer
        than a line, or a line break in the text, goes to ``multi_cell``."""
        width = w or (self.w - self.r_margin - self.get_x())
        if "\n" in text:
            self.multi_cell(w, h, text, new_x="LMARGIN", new_y="NEXT")
            return
        # Wrapped once per process: the page header repeats its subtitle on every page,
        # and every sealed list carries the same notice paragraphs.
        key = (
            width,
            self.c_margin,
            getattr(self.current_font, "ttffile", self.font_family),
            self.font_style,
            self.font_size_pt,
            bool(self.text_shaping),
            text,
        )
        out = _WRAPPED.get(key)
        if out is None:
            out = self._wrap(width - 2 * self.c_margin, text)
            if out is None:
                self.multi_cell(w, h, text, new_x="LMARGIN", new_y="NEXT")
                return
            if len(_WRAPPED) >= 4096:  # a long run's memory stays flat
                _WRAPPED.clear()
            _WRAPPED[key] = out
        x = self.get_x()
        for part in out:
            self.set_x(x)
            self.text_line(width, h, part)

    def _wrap(self, room: float, text: str) -> list[str] | None:
        """``text`` broken at spaces into lines of at most ``room`` mm; None when a word
        alone is longer."""
        out: list[str] = []
        line = ""
        for word in text.split(" "):
            candidate = f"{line} {word}" if line else word
            if self.get_string_width(candidate) <= room:
                line = candidate
            elif line and self.get_string_width(word) <= room:
                out.append(line)
                line = word
            else:
                return None
        out.append(line)
        return out

    def header(self) -> None:
        self.set_font(FAMILY, "B", 13)
        self._shape_for(self.doc_title)
        self.text_line(0, 7, self.doc_title)
        if self.doc_subtitle:
            self.set_font(FAMILY, "", 9)
            self.lines(0, 4.5, self.doc_subtitle)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 5, f"Seite {self.page_no()} von {{nb}}", align="R")

    def body(self, size: float = 10, bold: bool = False) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)

    def render(self) -> bytes:
        """The PDF file. With ``shared_subsets`` (bulk documents, e.g. sealed lists)
        each font is embedded with whole blocks of 32 code points (the
        ones its text uses), subset once per process for each set of blocks instead of
        once per file: a few KB more per file, ~10 ms less a font. A font whose shaped
        glyphs are not all in those blocks (Arabic forms, ligatures) is subset as usual."""
        try:
            if self.shared_subsets:
                for font in self.fonts.values():
                    if isinstance(font, TTFFont) and not font.color_font:
                        path = Path(font.ttffile)
                        names = _block_glyphs(path, _blocks(font))
                        if names.issuperset(font.subset.get_all_glyph_names()):
                            font.ttfont = _presubset(path, names)
            return bytes(self.output())
        finally:  # fpdf2 caches these per map for ever: keep the memory of a long run flat
            SubsetMap.pick.cache_clear()
            SubsetMap.get_glyph.cache_clear()
