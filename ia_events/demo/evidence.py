"""Demo evidence: a few small files per agency, one legal hold, one deleted item.

Per agency: a signed participant list (a generated PDF) linked to a past
Nähcafé and its sub-goals, a festival photo (PNG, "gathering, no consent
needed") and a press release (text) covering last year's sub-goals -- but for
Essen and about a third of the agencies its last sub-goal, a realistic gap that
completeness shows (``subgoal_without_press``). Essen additionally gets a legal hold on
last year's festival and a back-filled item from an expired year that a
retention run has already deleted (tombstone plus deletion record).
"""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Sequence
from datetime import date
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select

from ia_events.archive import retention
from ia_events.archive.evidence import GATHERING, add_evidence
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import fmt_datetime
from ia_events.core.models import Activity, Agency, Occurrence, Role, SubGoal
from ia_events.core.pdf import Document
from ia_events.core.permissions import Reach, service


def press_gap(slug: str) -> bool:
    """Last year: Essen and about a third of the agencies have one sub-goal that no press
    item covers (the gap completeness shows); the others covered every sub-goal."""
    return slug == "essen" or zlib.crc32(slug.encode()) % 3 == 0


def press_covered(slug: str, goals: list[int]) -> list[int]:
    return goals[:-1] if press_gap(slug) else goals


@functools.cache
def _list_pdf(title: str, when: str) -> bytes:
    # One rendering per date (text shaping is slow); agencies never share blobs anyway.
    doc = Document(f"Teilnehmerliste – {title}", subtitle=when, pdfa=False)
    doc.body(10)
    doc.cell(0, 6, "Unterschriebene Liste (Scan, Demo – alle Namen erfunden)")
    doc.ln(8)
    for i in range(1, 11):
        doc.cell(10, 7, str(i), border=1)
        doc.cell(90, 7, "", border=1)
        doc.cell(80, 7, "(Unterschrift)", border=1, new_x="LMARGIN", new_y="NEXT")
    return doc.render()


def _photo_png(label: str) -> bytes:
    img = Image.new("RGB", (320, 200), (246, 196, 83))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 120, 300, 180), fill=(60, 120, 190))
    draw.ellipse((120, 30, 200, 110), fill=(230, 90, 70))
    draw.text((24, 10), label[:40], fill=(20, 20, 20))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _first_occurrence(s, agency_id: int, year: int, activity_type: str):
    return s.execute(
        select(Occurrence.id, Occurrence.starts_at, Activity.title)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(
            Occurrence.agency_id == agency_id,
            Occurrence.funding_year == year,
            Activity.type == activity_type,
        )
        .order_by(Occurrence.starts_at)
        .limit(1)
    ).first()


def _current_year(inst: Installation, actor: Actor, today: date, agencies: Sequence[Any]) -> int:
    """This year so far: agencies differ -- a press release covering none, some or all
    sub-goals, a flyer for some; so the coordinator's completeness overview varies."""
    year = today.year
    with inst.db.read() as s:
        plan = []
        for agency_id, slug, name in agencies:
            goals = s.scalars(
                select(SubGoal.id)
                .where(SubGoal.agency_id == agency_id, SubGoal.funding_year == year)
                .order_by(SubGoal.position)
            ).all()
            plan.append((slug, name, list(goals), _first_occurrence(s, agency_id, year, "Nähcafé")))
    added = 0
    for slug, name, goals, naeh in plan:
        spread = zlib.crc32(slug.encode())
        covered = goals[: spread % (len(goals) + 1)]
        if covered and today > date(year, 2, 1):
            add_evidence(
                inst,
                actor,
                agency_slug=slug,
                funding_year=year,
                kind="press_release",
                filename="pressemeldung-fruehjahr.txt",
                content=(
                    f"Pressemeldung – {name}\n\nNeues aus dem Stadtteil: Nähcafé, "
                    f"Fahrradwerkstatt und Infoabende im Jahr {year}.\n"
                ).encode(),
                title=f"Pressemeldung {year}",
                subgoal_ids=covered,
                source="Eigene Pressemeldung",
                doc_date=min(today, date(year, 3, 1)),
            )
            added += 1
        if naeh is not None and spread % 3:
            add_evidence(
                inst,
                actor,
                agency_slug=slug,
                funding_year=year,
                kind="flyer",
                filename="flyer-naehcafe.png",
                content=_photo_png(f"Flyer Nähcafé {year} – {slug}"),
                title=f"Flyer Nähcafé {year}",
                occurrence_id=naeh.id,
                subgoal_ids=goals[: 1 + spread % 3],
                doc_date=naeh.starts_at.date(),
            )
            added += 1
    return added


@service(None, Reach.setup)
def load_demo(inst: Installation, actor: Actor, today: date) -> int:
    """Add the demo evidence; returns the number of items added."""
    year = today.year - 1
    added = 0
    with inst.db.read() as s:
        agencies = s.execute(select(Agency.id, Agency.slug, Agency.name).order_by(Agency.id)).all()
        plan = []
        for agency_id, slug, name in agencies:
            goals = s.scalars(
                select(SubGoal.id)
                .where(SubGoal.agency_id == agency_id, SubGoal.funding_year == year)
                .order_by(SubGoal.position)
            ).all()
            naeh = _first_occurrence(s, agency_id, year, "Nähcafé")
            fest = _first_occurrence(s, agency_id, year, "Fest/Begegnung")
            plan.append((slug, name, list(goals), naeh, fest))
    fest_ids: dict[str, int] = {}
    for slug, name, goals, naeh, fest in plan:
        if naeh is not None:
            when = fmt_datetime(naeh.starts_at)
            add_evidence(
                inst,
                actor,
                agency_slug=slug,
                funding_year=year,
                kind="signed_list_scan",
                filename=f"Teilnehmerliste Nähcafé {naeh.starts_at.date().isoformat()}.pdf",
                content=_list_pdf(naeh.title, when),
                title=f"Unterschriebene Teilnehmerliste Nähcafé {when[:10]}",
                occurrence_id=naeh.id,
                subgoal_ids=goals[:2],
                doc_date=naeh.starts_at.date(),
            )
            added += 1
        if fest is not None:
            add_evidence(
                inst,
                actor,
                agency_slug=slug,
                funding_year=year,
                kind="photo",
                filename="stadtteilfest.png",
                content=_photo_png(f"Stadtteilfest {year} – {slug}"),
                title=f"Foto Interkulturelles Stadtteilfest {year}",
                occurrence_id=fest.id,
                subgoal_ids=goals[1:2] + goals[3:4],
                consent_ref=GATHERING,
                doc_date=fest.starts_at.date(),
            )
            fest_ids[slug] = fest.id
            added += 1
        add_evidence(
            inst,
            actor,
            agency_slug=slug,
            funding_year=year,
            kind="press_release",
            filename="pressemeldung-naehcafe.txt",
            content=(
                f"Pressemeldung – {name}\n\nDas Nähcafé im Stadtteil feiert sein "
                f"erfolgreiches Jahr {year}: jede Woche treffen sich Frauen aus vielen "
                "Ländern, nähen gemeinsam und lernen einander kennen.\n"
            ).encode(),
            title=f"Pressemeldung Nähcafé {year}",
            subgoal_ids=press_covered(slug, goals),
            source="Eigene Pressemeldung",
            doc_date=date(year, 10, 1),
        )
        added += 1
    added += _current_year(inst, actor, today, agencies)
    coordinator = Actor("koordination", Role.coordinator, display_name="Koordination")
    if "essen" in fest_ids:
        with inst.db.write() as s:
            retention.set_hold(
                s,
                coordinator,
                scope="occurrence",
                scope_id=fest_ids["essen"],
                reason="Prüfung vor Ort angekündigt: Stadtteilfest",
                case_ref="Prüfung 2026/07",
            )
    old = add_evidence(
        inst,
        actor,
        agency_slug="essen",
        funding_year=today.year - 12,
        kind="press_clipping",
        filename="zeitungsartikel-alt.txt",
        content=b"WAZ, Lokalteil: Nachbarschaftsfest im Stadtteil (nachtraeglich erfasst)\n",
        title="Zeitungsartikel (nachträglich erfasst)",
        source="WAZ",
    )
    retention.run_deletions(inst, actor, today, only_ids=[old.id])
    return added + 1
