"""Our outputs read by software nobody here wrote: iCal feeds in Mozilla's ical.js
(Thunderbird, FullCalendar) and Python's vobject; the controlling CSV in a German
LibreOffice (``IA_EVENTS_REQUIRE_LIBREOFFICE=1`` forbids skipping when it is missing)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import vobject

from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Agency, Occurrence, Role
from ia_events.planning import calendar_feeds, schedule
from ia_events.planning.activities import ActivitySpec
from ia_events.planning.recurrence import SeriesRule
from tests.conftest import skip_or_fail
from tests.node_support import run_node

NOW = datetime(2026, 2, 1, 10, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

# Each VEVENT's start as the UTC instant ical.js computes from DTSTART;TZID + VTIMEZONE.
ICALJS_STARTS = """
const ICAL = require("ical.js");
let text = require("fs").readFileSync(0, "utf8");
const cal = new ICAL.Component(ICAL.parse(text));
for (const vtz of cal.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(vtz);
const out = cal.getAllSubcomponents("vevent").map((c) => {
  const ev = new ICAL.Event(c);
  return [ev.uid, ev.startDate.toJSDate().toISOString(), ev.endDate.toJSDate().toISOString()];
});
console.log(JSON.stringify(out));
"""


@pytest.fixture
def year_round_feed(inst: Installation) -> tuple[bytes, dict[str, tuple[datetime, datetime]]]:
    """A weekly Tuesday series 09:30-12:00 local over all of 2026; feed bytes and the truth."""
    with inst.db.write() as s:
        s.add(Agency(slug="essen", name="IA Essen", carrier="T", city="Essen"))
    with inst.db.write() as s:
        fk = Actor("fk-essen", Role.specialist, agency_id=s.query(Agency).one().id)
        res = schedule.create_series(
            s,
            fk,
            ActivitySpec(
                agency_slug="essen",
                funding_year=2026,
                rule=SeriesRule("weekly", time(9, 30), time(12), first_day=date(2026, 1, 6)),
                title="Nähcafé",
                type="Nähcafé",
                field="BE",
                place="Zentrum",
            ),
        )
        feed = calendar_feeds.create_feed(s, fk, "essen", "occurrences")
        truth = {
            f"occurrence-{o.id}@ia-events": (o.starts_at, o.ends_at)
            for o in s.query(Occurrence).filter(Occurrence.id.in_(res.occurrence_ids))
        }
    with inst.db.read() as s:
        body = calendar_feeds.render(s, feed.token, now=NOW)
    assert body is not None
    return body, truth


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_feed_times_resolve_right_in_mozilla_icaljs(year_round_feed) -> None:  # type: ignore[no-untyped-def]
    body, truth = year_round_feed
    starts = json.loads(run_node(ICALJS_STARTS, body, "ical.js"))
    assert len(starts) == len(truth) > 45  # every Tuesday of 2026 but holidays
    months = {datetime.fromisoformat(s[1]).month for s in starts}
    assert {1, 3, 4, 8, 9, 10, 11, 12} <= months  # both sides of both DST changes
    wrong = [
        (uid, start, _utc(truth[uid][0]))
        for uid, start, end in starts
        if start != _utc(truth[uid][0]) or end != _utc(truth[uid][1])
    ]
    assert wrong == []
    # The local wall clock stays 09:30 the whole year (07:30Z in summer, 08:30Z in winter).
    assert {datetime.fromisoformat(s[1]).astimezone(BERLIN).time() for s in starts} == {time(9, 30)}
    aug = [s[1] for s in starts if s[1].startswith("2026-08-11")]
    assert aug == ["2026-08-11T07:30:00.000Z"]


def test_feed_times_resolve_right_in_vobject(year_round_feed) -> None:  # type: ignore[no-untyped-def]
    body, truth = year_round_feed
    cal = vobject.readOne(io.StringIO(body.decode()))
    seen = {}
    for ev in cal.vevent_list:
        seen[ev.uid.value] = (ev.dtstart.value.astimezone(UTC), ev.dtend.value.astimezone(UTC))
    assert seen == {uid: (a.astimezone(UTC), b.astimezone(UTC)) for uid, (a, b) in truth.items()}
    # The zone is written as calendar servers do: STANDARD/DAYLIGHT with a yearly RRULE.
    text = body.decode()
    assert text.count("BEGIN:VTIMEZONE") == 1
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RDATE" not in text


# -- the controlling CSV in a German LibreOffice -------------------------------------------------


def _libreoffice_to_xlsx(csv_path: Path, out_dir: Path) -> Path:
    """Open the CSV as a German LibreOffice does (``;``, UTF-8, language de-DE) and save as XLSX."""
    soffice = shutil.which("soffice")
    if soffice is None:
        skip_or_fail("LIBREOFFICE", "LibreOffice (soffice) not installed")
    done = subprocess.run(
        [
            str(soffice),
            f"-env:UserInstallation=file://{out_dir / 'profile'}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--infilter=CSV:59,34,76,1,,1031",  # separator ;, quote ", UTF-8, from line 1, de-DE
            "--outdir",
            str(out_dir),
            str(csv_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    target = out_dir / (csv_path.stem + ".xlsx")
    assert target.exists(), done.stdout + done.stderr
    return target


def test_controlling_csv_reads_as_numbers_in_a_german_libreoffice(tmp_path: Path) -> None:
    import openpyxl

    from ia_events.reporting import controlling
    from ia_events.reporting.controlling import AgencyFigures, Figures

    rows = [
        Figures(
            "Gesamt",
            "",
            "Gesamt",
            1234,
            412,
            40,
            7,
            34.3333,
            "",
            None,
            None,
            multipliers=3,
            funding_cents={"Eigenanteil des Trägers": 98765},  # 987,65 €
        ),
        Figures("Handlungsfeld", "BE", "Bürgerschaftliches Engagement", 8, 5, 2, 1, 8.7),
        Figures("Teilziel", "17", "-1 Nähcafé; „Treff“", 40, 3, 1, 0, 40.0, "participants", 30, 40),
    ]
    data = [AgencyFigures("essen", "IA Essen", 2026, rows)]
    csv_path = tmp_path / "Controlling.csv"
    csv_path.write_bytes(controlling.to_csv(data))
    text = csv_path.read_bytes().decode("utf-8-sig")
    assert "34,33" in text and "8,7" in text and "34.33" not in text and "1.234" not in text

    calc = openpyxl.load_workbook(_libreoffice_to_xlsx(csv_path, tmp_path / "lo")).active
    ours = openpyxl.load_workbook(io.BytesIO(controlling.to_xlsx(data)))["essen"]
    got = [[c.value for c in r] for r in calc.iter_rows(min_row=2)]
    for r in got:  # the key column: a sub-goal id reads as a number, which is fine
        r[3] = None if r[3] is None else str(r[3])
    want = [
        ["essen", 2026, *[None if c.value == "" else c.value for c in r]]
        for r in ours.iter_rows(min_row=3)
    ]
    assert got == want  # same text, and every number a number of the same value
    numeric = [v for r in got for v in r if isinstance(v, int | float)]
    assert 34.33 in numeric and 8.7 in numeric and 1234 in numeric
    assert 987.65 in numeric  # the euros of the funding columns (issue 19) are numbers too
    assert got[2][4] == "'-1 Nähcafé; „Treff“"  # formula neutralised, ; inside quotes
