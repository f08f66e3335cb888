"""The volunteer import refuses a huge sheet while reading it, not after (docs/security.md)."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from ia_events.core.errors import InvalidInput
from ia_events.volunteers.transfer import MAX_ROWS, parse

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
    '"xl/workbook.xml"/></Relationships>'
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="Liste" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
    '"worksheets/sheet1.xml"/></Relationships>'
)


def _xlsx(rows: int, dimension: str | None) -> bytes:
    """A compressed workbook of ``rows`` names (built as XML: fast, small on disk)."""
    body = io.StringIO()
    body.write('<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>')
    for n in range(2, rows + 2):
        body.write(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>P {n}</t></is></c></row>')
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.'
        f'org/spreadsheetml/2006/main">{dim}<sheetData>{body.getvalue()}</sheetData></worksheet>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


@pytest.mark.parametrize("dimension", [None, "A1:A5"], ids=["no-size", "lying-size"])
def test_a_sheet_of_300000_rows_is_refused_at_once(dimension: str | None) -> None:
    data = _xlsx(300_000, dimension)
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as refused:
        parse("liste.xlsx", data)
    assert refused.value.code == "import_too_large"
    assert time.perf_counter() - started < 3  # reading all of it took about 20 s


def test_the_limit_itself_still_imports() -> None:
    assert len(parse("liste.xlsx", _xlsx(MAX_ROWS, None))) == MAX_ROWS


def test_a_huge_csv_is_refused_while_reading() -> None:
    data = ("Name\n" + "".join(f"P {i}\n" for i in range(200_000))).encode()
    with pytest.raises(InvalidInput) as refused:
        parse("liste.csv", data)
    assert refused.value.code == "import_too_large"
