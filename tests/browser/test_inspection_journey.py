"""The coordinator opens Prüfung, exports with one click and downloads a valid signed bag."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives import serialization

from tests.browser.conftest import ui_login, wait_ready

pytestmark = pytest.mark.browser


def test_coordinator_exports_and_downloads_a_bundle(page, shared_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ui_login(page, shared_server, "koordination")
    page.get_by_role("heading", name=re.compile("Übersicht")).wait_for()
    wait_ready(page)
    page.get_by_role("link", name="Prüfung").click()
    page.get_by_role("heading", name="Prüfung").wait_for()
    wait_ready(page)
    page.get_by_text("Vollständigkeit").first.wait_for()

    # The overview lists every agency; a click on a row (its selection box at the left)
    # opens that agency's findings, grouped by kind.
    overview = page.locator('[data-testid="stDataFrame"]').first
    overview.wait_for()
    box = overview.bounding_box()
    assert box is not None and box["height"] >= 35 * 14  # 13 rows and the header, no scrolling
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 * 1 + 17)  # the second row
    page.get_by_role("heading", name="Hinweise: Integrationsagentur DU-Meiderich").wait_for()
    wait_ready(page)
    page.get_by_text(
        re.compile(r"^(Zielwerte nicht erreicht|Teilziele ohne Pressenachweis) \(\d+\)$")
    ).first.wait_for()

    page.get_by_role("button", name="Prüfpaket erstellen").click()
    page.get_by_text("Prüfpaket erstellt").wait_for(timeout=60_000)
    wait_ready(page)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Prüfpaket herunterladen").click()
    download = info.value
    assert re.fullmatch(r"Pruefpaket_[a-z0-9-]+_\d{4}\.zip", download.suggested_filename)
    target = tmp_path / download.suggested_filename
    download.save_as(target)

    with zipfile.ZipFile(target) as zf:
        zf.extractall(tmp_path / "x")
        root = tmp_path / "x" / zf.namelist()[0].split("/")[0]
    bag = bagit.Bag(str(root))
    assert bag.validate()
    key = serialization.load_pem_public_key((root / "signing-key.pem").read_bytes())
    key.verify(  # type: ignore[union-attr]
        (root.parent / f"{root.name}.tagmanifest-sha256.txt.sig").read_bytes(),
        (root / "tagmanifest-sha256.txt").read_bytes(),
    )
    assert (root / "data" / "00_Inhaltsverzeichnis.pdf").read_bytes().startswith(b"%PDF")
