"""Scanned paper lists filed by their QR code (SQLite and PostgreSQL): the printable
list rendered, rasterised like an office scanner at 150 dpi and like a tilted phone
photo, uploaded without an occurrence -> filed to the right occurrence; unreadable
pages land in the inbox and are assigned with one call; ``evidence add`` on the CLI."""

from __future__ import annotations

import functools
import io
import json
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFilter

from ia_events.archive import scans
from ia_events.attendance import lists
from ia_events.attendance.tokens import occurrence_from_code
from ia_events.core.errors import NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import Evidence
from ia_events.inspection.completeness import inspect
from tests.integration.sealing_support import Setup, make_setup, qr_checkin

BASE = "https://ia.example.org"


def _printed(inst: Installation, setup: Setup, occurrence_id: int | None = None) -> bytes:
    with inst.db.read() as s:
        return lists.participant_list(
            s, inst.keys, setup.door, occurrence_id or setup.occurrence_id, BASE
        )


def _raster(pdf_bytes: bytes, dpi: int) -> Image.Image:
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        return pdf[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        pdf.close()


def _scanner_pdf(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return buf.getvalue()


def _photo(page: Image.Image) -> bytes:
    """A phone photo: slightly tilted, grey background, a little soft, JPEG."""
    tilted = page.rotate(4, expand=True, fillcolor=(120, 120, 120), resample=Image.BICUBIC)
    soft = tilted.filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    soft.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _file(inst: Installation, setup: Setup, files: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    return scans.file_scans(
        inst, setup.door, files, agency_slug=setup.slug, year=setup.year,
        read_code=functools.partial(occurrence_from_code, inst.keys),
    )  # fmt: skip


def test_a_scanned_pdf_is_filed_page_by_page_to_its_occurrences(inst: Installation) -> None:
    first = make_setup(inst)
    second = make_setup(inst, slug=None)
    # the second occurrence must belong to the same agency: move it there
    with inst.db.write() as s:
        from ia_events.core.models import Activity, Occurrence

        occ = s.get(Occurrence, second.occurrence_id)
        act = s.get(Activity, second.activity_id)
        assert occ is not None and act is not None
        occ.agency_id = act.agency_id = first.agency_id
        act.subgoals = []
    qr_checkin(inst, first, "Amina Yilmaz")
    blank = Image.new("RGB", (1240, 1754), "white")
    pdf = _scanner_pdf(
        [
            _raster(_printed(inst, first), 150),
            _raster(_printed(inst, first), 150),
            _raster(_printed(inst, first, second.occurrence_id), 150),
            blank,
        ]
    )
    filed = _file(inst, first, [("scan.pdf", pdf)])
    assert [(p.page, p.occurrence_id) for p in filed] == [
        (1, first.occurrence_id),
        (2, first.occurrence_id),
        (3, second.occurrence_id),
        (4, None),
    ]
    assert filed[0].evidence.id == filed[1].evidence.id  # pages of one list: one item
    assert len({p.evidence.id for p in filed}) == 3
    one = filed[0].evidence
    assert one.kind == "signed_list_scan" and one.occurrence_id == first.occurrence_id
    assert list(one.subgoal_ids) == first.subgoal_ids
    with inst.db.read() as s:
        item = s.get(Evidence, one.id)
        assert item is not None and item.activity_id == first.activity_id
        inbox = scans.inbox(s, first.door, first.slug)
    assert [e.id for e in inbox] == [filed[3].evidence.id]


def test_a_tilted_phone_photo_is_filed_and_the_inbox_assigns_with_one_call(
    inst: Installation,
) -> None:
    setup = make_setup(inst)
    qr_checkin(inst, setup, "Olena Petrenko")
    photo = _photo(_raster(_printed(inst, setup), 110))
    blurred = io.BytesIO()
    _raster(_printed(inst, setup), 50).filter(ImageFilter.GaussianBlur(3)).save(blurred, "PNG")
    filed = _file(inst, setup, [("IMG_0001.jpg", photo), ("IMG_0002.png", blurred.getvalue())])
    assert [(p.filename, p.occurrence_id) for p in filed] == [
        ("IMG_0001.jpg", setup.occurrence_id),
        ("IMG_0002.png", None),
    ]
    assert filed[1].as_json()["occurrence"] == "unassigned"
    unassigned = filed[1].evidence.id

    other = make_setup(inst)
    with inst.db.write() as s, pytest.raises(NotFound):
        scans.assign(s, other.door, unassigned, other.occurrence_id)
    with inst.db.write() as s:
        view = scans.assign(s, setup.door, unassigned, setup.occurrence_id)
    assert view.occurrence_id == setup.occurrence_id
    assert list(view.subgoal_ids) == setup.subgoal_ids
    with inst.db.read() as s:
        assert scans.inbox(s, setup.door, setup.slug) == []
        tree = inspect(
            s, setup.coordinator, setup.slug, setup.year, now=setup.ends_at + timedelta(hours=1)
        )
    assert "occurrence_without_list" not in {f.code for f in tree.findings}


def test_another_agencys_list_is_not_filed_to_its_occurrence(inst: Installation) -> None:
    mine = make_setup(inst)
    theirs = make_setup(inst)
    pdf = _scanner_pdf([_raster(_printed(inst, theirs), 150)])
    [page] = _file(inst, mine, [("fremd.pdf", pdf)])
    assert page.occurrence_id is None
    assert page.evidence.funding_year == mine.year


def test_cli_evidence_add_without_occurrence_names_each_pages_occurrence(
    inst: Installation,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path,
) -> None:  # type: ignore[no-untyped-def]
    from ia_events.cli.main import run

    setup = make_setup(inst)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(
        _scanner_pdf([_raster(_printed(inst, setup), 150), Image.new("RGB", (600, 800), "white")])
    )
    monkeypatch.setenv("IA_EVENTS_DATA", str(inst.settings.data_dir))
    monkeypatch.setenv("IA_EVENTS_DATABASE_URL", inst.settings.database_url)
    capsys.readouterr()
    assert run([
        "evidence", "add", "--agency", setup.slug, "--year", str(setup.year),
        "--kind", "signed_list_scan", "--json", str(scan),
    ]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert [(r["page"], r["occurrence"]) for r in rows] == [
        (1, setup.occurrence_id),
        (2, "unassigned"),
    ]
    assert rows[0]["kind"] == "signed_list_scan"
    assert rows[0]["occurrence_ids"] == [setup.occurrence_id]


def test_an_iphone_heic_photo_is_filed(inst: Installation) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    setup = make_setup(inst)
    buf = io.BytesIO()
    page = _raster(_printed(inst, setup), 120)
    page.rotate(-3, expand=True, fillcolor=(200, 200, 200)).save(buf, "HEIF", quality=85)
    [filed] = _file(inst, setup, [("IMG_4711.HEIC", buf.getvalue())])
    assert filed.occurrence_id == setup.occurrence_id
    assert filed.evidence.media_type == "image/heic"
