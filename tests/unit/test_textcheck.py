"""Names and planning texts refuse control and display-changing characters (docs/security.md)."""

from __future__ import annotations

import pytest

from ia_events.attendance.checkin import clean_name
from ia_events.core.errors import InvalidInput
from ia_events.core.textcheck import bad_character


@pytest.mark.parametrize(
    "name",
    [
        "Anna\x7fMüller",  # DEL
        "Anna\x85Müller",  # NEL (C1), which \s would have turned into a space
        "Anna\u2028Müller",  # line separator
        "Anna\u2029Müller",  # paragraph separator
        "evil\u202egpj.exe",  # right-to-left override
        "Anna \u2066Müller\u2069",  # isolate
        "Anna\ufeffMüller",  # BOM / zero-width no-break space
        "Anna\u00adMüller",  # soft hyphen (invisible)
        "Anna\x1bMüller",  # terminal escape
    ],
)
def test_check_in_names_refuse_control_and_bidi_override_characters(name: str) -> None:
    with pytest.raises(InvalidInput):
        clean_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "فاطمة الزهراء",
        "زهرا\u200cاحمدی",  # ZWNJ inside a Farsi name
        "\u200fسمية الحسن",  # RLM
        "Ayşe  Yıldız\t",  # spaces and a tab collapse
        "Олена Коваленко",
    ],
)
def test_names_in_every_script_with_their_direction_marks_pass(name: str) -> None:
    assert clean_name(name)


def test_planning_texts_keep_line_breaks_but_refuse_the_rest() -> None:
    assert bad_character("Zeile 1\nZeile 2\r\n\tEingerückt", multiline=True) is None
    assert bad_character("Zeile 1\u2028Zeile 2", multiline=True) == "\u2028"
    assert bad_character("a\nb") == "\n"
