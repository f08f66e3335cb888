"""Rules of the bundle and the exports: portable names without collisions, no formula injection."""

from __future__ import annotations

import pytest

from ia_events.inspection.bag import _decode, _encode
from ia_events.inspection.bundle import _Names, _part
from ia_events.reporting.controlling import safe_cell


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Liste: 04.03. (Scan).pdf", "Liste__04.03._(Scan).pdf"),
        ("../../etc/passwd", "etc_passwd"),
        ("Nähcafé  Dienstag\n", "Nähcafé_Dienstag"),
        ("100% dabei", "100__dabei"),
        ("\u202egnp.exe", "gnp.exe"),  # no right-to-left override tricks
        ("", "ohne_Titel"),
        ("...", "ohne_Titel"),
    ],
)
def test_path_parts_are_portable_and_readable(raw: str, expected: str) -> None:
    assert _part(raw) == expected
    assert "/" not in _part(raw) and "\\" not in _part(raw)


def test_names_never_collide_even_by_case() -> None:
    names = _Names()
    taken = [names.take(p) for p in ("a/Foto.jpg", "a/foto.jpg", "a/Foto.jpg", "a/Liste")]
    assert taken == ["a/Foto.jpg", "a/foto_2.jpg", "a/Foto_3.jpg", "a/Liste"]
    assert names.take("a/Liste") == "a/Liste_2"


def test_manifest_paths_are_percent_encoded_per_rfc_8493() -> None:
    raw = "data/50%\r\nx"
    assert _encode(raw) == "data/50%25%0D%0Ax"
    assert _decode(_encode(raw)) == raw


@pytest.mark.parametrize("value", ["=1+1", "+49 201", "-3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_gets_an_apostrophe(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Nähcafé", "", 12, -3, 1.5, None])
def test_other_cells_stay_as_they_are(value: object) -> None:
    assert safe_cell(value) == value
