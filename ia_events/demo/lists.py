"""Demo participant lists: sealed lists for last year, a paper day and the scan inbox.

Called by ``demo.load`` after the demo evidence. For the agencies in ``SEALED_NOW``
(Essen, whose year a new user and the tests inspect first) every ended occurrence
of last year with attendance is sealed right away through ``attendance.sealing``
-- so its completeness is mostly green. The
realistic gaps that stay: one Nähcafé whose attendance was typed in from the paper
list but whose signed scan is missing (``paper_list_unsigned``), and one phone
photo of a paper list whose code cannot be read, waiting in Essen's inbox of
unassigned scans. Everything else due is sealed by the server's background job on
its first round (or ``ia-events seal-lists``): sealing is a few lists per second on
a small machine, too slow to hold up the demo for all 1,800 past dates.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update

from ia_events.archive import scans
from ia_events.attendance import lists as printable
from ia_events.attendance import sealing
from ia_events.attendance.tokens import occurrence_from_code
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Agency, Attendance, Occurrence
from ia_events.core.permissions import Reach, service

SEALED_NOW = ("essen",)


def _nth_naehcafe(s, agency_id: int, year: int, n: int) -> int | None:
    rows = s.scalars(
        select(Occurrence.id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(
            Occurrence.agency_id == agency_id,
            Occurrence.funding_year == year,
            Activity.type == "Nähcafé",
        )
        .order_by(Occurrence.starts_at)
        .limit(n + 1)
    ).all()
    return rows[n] if len(rows) > n else None


def _unreadable_photo(inst: Installation, actor: Actor, occurrence_id: int) -> bytes:
    """The printed list of a date, photographed far too small and blurred: no code."""
    import pypdfium2 as pdfium
    from PIL import ImageFilter

    with inst.db.read() as s:
        pdf = printable.participant_list(s, inst.keys, actor, occurrence_id, "https://demo")
    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[0].render(scale=40 / 72).to_pil().convert("RGB")
    finally:
        doc.close()
    image = image.rotate(7, expand=True, fillcolor=(90, 90, 90)).filter(ImageFilter.GaussianBlur(2))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=60)
    return buf.getvalue()


@service(None, Reach.setup)
def load(
    inst: Installation,
    actor: Actor,
    year: int,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Seal last year's lists of ``SEALED_NOW``, make the gaps; returns lists sealed."""
    with inst.db.write() as s:
        agencies = dict(s.execute(select(Agency.slug, Agency.id)).all())
        essen = agencies.get("essen")
        paper_day = _nth_naehcafe(s, essen, year, 1) if essen else None
        if paper_day is not None:  # typed in from the signed paper list; the scan is missing
            s.execute(
                update(Attendance)
                .where(Attendance.occurrence_id == paper_day)
                .values(method="paper")
            )
        wanted = s.scalars(
            select(Occurrence.id).where(
                Occurrence.agency_id.in_([agencies[a] for a in SEALED_NOW if a in agencies]),
                Occurrence.funding_year == year,
            )
        ).all()
    run = sealing.seal_due(inst, actor, now=now, only=wanted, progress=progress)
    if essen is not None:
        photo_of = _nth_naehcafe_id(inst, essen, year, 2)
        if photo_of is not None:
            scans.file_scans(
                inst,
                actor,
                [("IMG_2417.jpg", _unreadable_photo(inst, actor, photo_of))],
                agency_slug="essen",
                year=year,
                read_code=functools.partial(occurrence_from_code, inst.keys),
                title="Foto der Papierliste (Code nicht lesbar)",
            )
    return run.sealed


def _nth_naehcafe_id(inst: Installation, agency_id: int, year: int, n: int) -> int | None:
    with inst.db.read() as s:
        return _nth_naehcafe(s, agency_id, year, n)
