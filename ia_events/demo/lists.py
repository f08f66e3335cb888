"""Demo participant lists: sealed lists for every past date, paper days and the scan inbox.

Called by ``demo.load`` after the demo evidence. Every ended occurrence with
attendance, of every agency and year, is sealed right away through
``attendance.sealing`` (rendered in one process per CPU) -- so last year's
completeness is mostly green for every agency. The realistic gaps that stay: in each
agency one Nähcafé whose attendance was typed in from the paper list but whose
signed scan is missing (``paper_list_unsigned``), the sub-goals no press item or list
covers (``subgoal_without_evidence``), in Essen and about a third of the agencies one
sub-goal without a press item (``subgoal_without_press``, ``demo.evidence``), and one
phone photo of a paper list whose code
cannot be read, waiting in Essen's inbox of unassigned scans. Dates that end after
the demo was loaded are sealed by the server's background job (or ``ia-events
seal-lists``).
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
from ia_events.core.pdfium_lock import pdfium_exclusive
from ia_events.core.permissions import Reach, service


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


@pdfium_exclusive
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
    workers: int | None = None,
) -> int:
    """Make the paper days, seal every due list, file the unreadable photo; returns the
    number of lists sealed. ``year`` is last year (the paper days and the photo)."""
    import os

    with inst.db.write() as s:
        agencies = dict(s.execute(select(Agency.slug, Agency.id)).all())
        for agency_id in agencies.values():
            paper_day = _nth_naehcafe(s, agency_id, year, 1)
            if paper_day is not None:  # typed in from the signed paper list; scan missing
                s.execute(
                    update(Attendance)
                    .where(Attendance.occurrence_id == paper_day)
                    .values(method="paper")
                )
    run = sealing.seal_due(
        inst, actor, now=now, progress=progress, workers=workers or os.cpu_count() or 1
    )
    essen = agencies.get("essen")
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
