"""Which characters a typed text may hold: the one rule for names and planning texts.

Refused (docs/security.md): every control character (Unicode category Cc: C0,
DEL, C1 such as U+0085), line and paragraph separators (U+2028, U+2029) where a
text has one line, and format characters (Cf) that change how the text around
them is shown -- bidi embeddings, overrides and isolates (U+202A–U+202E,
U+2066–U+2069, the "evil.gpj.exe" trick), invisible joiners, BOMs and the like.
Kept, because names in Arabic, Farsi and Kurdish need them: the direction marks
LRM, RLM and ALM (U+200E, U+200F, U+061C) and ZWNJ/ZWJ (U+200C, U+200D).
"""

from __future__ import annotations

import unicodedata

KEPT_FORMAT = frozenset("\u200c\u200d\u200e\u200f\u061c")
LINE_BREAKS = frozenset("\n\r\t")


def bad_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character ``value`` may not hold, or None."""
    for ch in value:
        if multiline and ch in LINE_BREAKS:
            continue
        category = unicodedata.category(ch)
        if category == "Cc" or category in ("Zl", "Zp"):
            return ch
        if category == "Cf" and ch not in KEPT_FORMAT:
            return ch
    return None


def checked_text(
    value: str, field: str, *, limit: int, required: bool = True, multiline: bool = True
) -> str:
    """``value`` stripped, or ``InvalidInput`` naming ``field``: empty when required,
    longer than ``limit``, or holding a character ``bad_character`` refuses (NUL and
    terminal escapes break exports, PDFs and log lines; bidi overrides make a text read
    differently from what it holds)."""
    from ia_events.core.errors import InvalidInput

    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(field=field, reason="Bitte ausfüllen.")
    if len(value) > limit:
        raise InvalidInput(field=field, reason=f"Höchstens {limit} Zeichen.")
    if bad_character(value, multiline=multiline) is not None:
        raise InvalidInput(field=field, reason="Bitte keine Steuerzeichen verwenden.")
    return value
