"""Rules behind sealed lists and scan filing that need no database: which printed codes
name an occurrence, which texts the reduced fonts print, and the printed code's size."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ia_events.attendance.cards import qr_image
from ia_events.attendance.lists import QR_MM
from ia_events.attendance.tokens import TokenInfo, link, make_token, occurrence_from_code
from ia_events.core.pdf import covers_latin
from storage.keys import KeyRing


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.create_or_load(tmp_path_factory.mktemp("keys") / "keys")


def test_a_printed_lists_code_names_its_occurrence_and_nothing_else_does(keys: KeyRing) -> None:
    token = make_token(keys, TokenInfo("participant", "occurrence", 4711, 3))
    assert occurrence_from_code(keys, link("https://ia.example.org", token)) == 4711
    assert occurrence_from_code(keys, token) == 4711
    series = make_token(keys, TokenInfo("participant", "series", 12, 1))
    assert occurrence_from_code(keys, link("https://x", series)) is None  # a poster
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBA")
    assert occurrence_from_code(keys, link("https://x", forged)) is None
    assert occurrence_from_code(keys, "K-ABCD-EFGH") is None  # a participant card
    assert occurrence_from_code(keys, "https://example.org/?t=") is None


def test_reduced_fonts_cover_german_turkish_and_cyrillic_names_but_not_arabic() -> None:
    assert covers_latin("Ayşe Öztürk – „Nähcafé“ 5 €")
    assert covers_latin("Олена Коваленко")
    assert not covers_latin("فاطمة حداد")


def test_the_printed_code_is_at_least_40_mm_and_a_72_dpi_rendering_decodes() -> None:
    import zxingcpp

    assert QR_MM >= 40
    url = "https://ia.example.org/checkin?t=" + "A" * 43
    px = round(QR_MM / 25.4 * 72)
    image = qr_image(url, box=6).resize((px, px), Image.NEAREST)
    page = Image.new("RGB", (px + 40, px + 40), "white")
    page.paste(image, (20, 20))
    buf = io.BytesIO()
    page.save(buf, "PNG")
    found = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [url]
