"""The large demo: ten funding years for the whole district, for scale tests.

``ia-events demo --size large`` first loads the small demo (current and
previous year, with every feature), then adds the eight years before with
bulk inserts: weekly groups, info evenings and festivals with hundreds of
headcounts, volunteers with years of shifts and a small evidence file for
most occurrences. Target shape (issue 8): >= 1,000,000 attendance records,
>= 50,000 occurrences, >= 20,000 evidence items, in minutes on two cores.

Speed comes from Core ``insert`` in batches, ids fetched with
``RETURNING``, and one sealed name per fictional person (re-used for each of
their attendances) instead of one encryption per row.
"""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ia_events.archive.evidence import default_retention
from ia_events.core import audit
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.messages import BERLIN, fmt_count, fmt_number
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    Blob,
    Evidence,
    Occurrence,
    ParticipantCard,
    Shift,
    ShiftAssignment,
    SubGoal,
    TaskPlan,
    Volunteer,
    activity_subgoals,
    evidence_subgoals,
)
from ia_events.core.permissions import Reach, service
from ia_events.demo import loader
from ia_events.privacy.personal import blind_index, seal_text
from storage.db import utcnow

YEARS_BACK = 8  # on top of the small demo's two years: ten funding years in all
BATCH = 5000

# (title, type, field, mode, weekday, start, end, low, high)
WEEKLY = [
    ("Nähcafé", "Nähcafé", "BE", "named", 1, (9, 30), (12, 0), 20, 30),
    ("Fahrradwerkstatt", "Fahrradwerkstatt", "SRO", "card", 3, (15, 0), (18, 0), 10, 20),
    ("Sprachcafé", "Gruppenangebot", "IKÖ", "named", 2, (10, 0), (12, 0), 20, 30),
    ("Kindergruppe", "Gruppenangebot", "SRO", "anonymous", 4, (15, 0), (17, 0), 8, 22),
    ("Frauenfrühstück", "Gruppenangebot", "BE", "named", 5, (9, 0), (11, 0), 20, 30),
    ("Hausaufgabenhilfe", "Gruppenangebot", "BE", "card", 0, (14, 0), (16, 0), 10, 20),
    ("Elterncafé", "Gruppenangebot", "SRO", "named", 3, (9, 0), (11, 0), 20, 30),
    ("Computerkurs für Frauen", "Workshop", "IKÖ", "card", 0, (17, 0), (19, 0), 10, 18),
    ("Offener Treff", "Gruppenangebot", "SRO", "named", 2, (16, 0), (18, 0), 20, 30),
    ("Männercafé", "Gruppenangebot", "SRO", "named", 4, (18, 0), (20, 0), 20, 30),
]


@dataclass
class LargeSummary:
    occurrences: int = 0
    attendance: int = 0
    evidence: int = 0
    volunteers: int = 0
    shift_assignments: int = 0
    seconds: float = 0.0
    totals: dict[str, int] | None = None

    def describe(self) -> str:
        t = self.totals or {}
        return (
            f"Große Demo geladen in {fmt_number(self.seconds, 0)} s. Insgesamt: "
            f"{fmt_count(t.get('occurrences', 0), 'Termin')}, "
            f"{fmt_count(t.get('attendance', 0), 'Teilnahme-Eintrag')}, "
            f"{fmt_count(t.get('evidence', 0), 'Nachweis')}, "
            f"{fmt_count(t.get('volunteers', 0), 'Ehrenamtliche')}, "
            f"{fmt_count(t.get('assignments', 0), 'Einsatz')}. "
            "Die Teilnehmerlisten der vergangenen Termine versiegelt der Server im Hintergrund; "
            "auf einmal (mit Fortschritt, ein einmaliger, langer Lauf): ia-events seal-lists"
        )


def _at(day: date, hm: tuple[int, int]) -> datetime:
    return datetime.combine(day, time(*hm), tzinfo=BERLIN)


@service(None, Reach.setup)
def load(
    inst: Installation,
    actor: Actor,
    *,
    today: date | None = None,
    seed: int = 10,
    progress: Callable[[str], None] | None = None,
) -> LargeSummary:
    started = clock.monotonic()
    now = utcnow()
    today = today or now.astimezone(BERLIN).date()
    small = loader.load(inst, actor, today=today, now=now)
    summary = LargeSummary()
    if small.already_loaded:
        with inst.db.read() as s:
            oldest = s.scalar(select(TaskPlan.funding_year).order_by(TaskPlan.funding_year))
        if oldest is not None and oldest <= today.year - YEARS_BACK - 1:
            summary.seconds = clock.monotonic() - started
            summary.totals = _totals(inst)
            return summary
    rng = random.Random(seed)
    with inst.db.read() as s:
        agencies = s.execute(select(Agency.id, Agency.slug)).all()
    for agency_id, slug in agencies:
        with inst.db.write() as s:
            _agency(s, inst, agency_id, today, rng, summary)
        if progress:
            progress(
                f"{slug}: {fmt_count(summary.occurrences, 'Termin')}, "
                f"{fmt_count(summary.attendance, 'Teilnahme')}"
            )
    with inst.db.write() as s:
        audit.record(
            s,
            actor.name,
            audit.Action.demo_load,
            "installation",
            size="large",
            occurrences=summary.occurrences,
            attendance=summary.attendance,
            evidence=summary.evidence,
        )
    summary.seconds = clock.monotonic() - started
    summary.totals = _totals(inst)
    return summary


def _totals(inst: Installation) -> dict[str, int]:
    from sqlalchemy import func

    tables = {
        "occurrences": Occurrence,
        "attendance": Attendance,
        "evidence": Evidence,
        "volunteers": Volunteer,
        "assignments": ShiftAssignment,
    }
    with inst.db.read() as s:
        return {k: s.scalar(select(func.count()).select_from(t)) or 0 for k, t in tables.items()}


def _ids(s: Session, table, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    out: list[int] = []
    for i in range(0, len(rows), BATCH):
        result = s.execute(
            insert(table).returning(table.id, sort_by_parameter_order=True), rows[i : i + BATCH]
        )
        out.extend(result.scalars().all())
    return out


def _bulk(s: Session, table, rows: list[dict]) -> None:
    for i in range(0, len(rows), BATCH):
        s.execute(insert(table), rows[i : i + BATCH])


def _agency(
    s: Session,
    inst: Installation,
    agency_id: int,
    today: date,
    rng: random.Random,
    summary: LargeSummary,
) -> None:
    # Fictional people of this agency, sealed once each.
    people = [f"{rng.choice(loader.FIRST)} {rng.choice(loader.LAST)} {i}" for i in range(400)]
    sealed = [
        (seal_text(s, inst.keys, agency_id, p, "attendance"), blind_index(inst.keys, agency_id, p))
        for p in people
    ]
    card_ids = _ids(
        s,
        ParticipantCard,
        [{"agency_id": agency_id, "code": f"L-{agency_id:02d}-{i:05d}"} for i in range(200)],
    )
    vol_names = [
        f"{rng.choice(loader.FIRST)} {rng.choice(loader.LAST)} (EA {i})" for i in range(30)
    ]
    volunteer_ids = _ids(
        s,
        Volunteer,
        [
            {
                "agency_id": agency_id,
                "name_enc": seal_text(s, inst.keys, agency_id, n, "volunteer-name"),
                "name_index": blind_index(inst.keys, agency_id, n),
                "languages": rng.sample(["de", "tr", "ar", "uk", "ru", "fa"], 2),
                "skills": [],
                "consent_at": date(today.year - YEARS_BACK - 1, 1, 15),
                "consent_version": "2016-1",
            }
            for n in vol_names
        ],
    )
    summary.volunteers += len(volunteer_ids)
    for year in range(today.year - YEARS_BACK - 1, today.year - 1):
        _year(s, inst, agency_id, year, rng, sealed, card_ids, volunteer_ids, summary)


def _year(
    s: Session,
    inst: Installation,
    agency_id: int,
    year: int,
    rng: random.Random,
    sealed: list[tuple[bytes, str]],
    card_ids: list[int],
    volunteer_ids: list[int],
    summary: LargeSummary,
) -> None:
    plan_id = _ids(
        s,
        TaskPlan,
        [
            {
                "agency_id": agency_id,
                "funding_year": year,
                "status": "approved",
                "topic": "Begegnung und Teilhabe im Quartier",
                "goal": "Regelmäßige Teilhabe",
                "reason": "Sozialraumanalyse",
                "methods": "Gruppenangebote, Infoabende, Feste",
                "approved_by": "koordination",
                "approved_version": 1,
                "approved_at": datetime(year - 1, 12, 10, 10, tzinfo=BERLIN),
            }
        ],
    )[0]
    goal_rows = [
        ("Regelmäßige Teilnahme an Gruppenangeboten", "BE", "participants", 6000),
        ("Erreichte Personen", "SRO", "distinct_persons", 350),
        ("Infoabende mit Institutionen", "IKÖ", "occurrences", 12),
        ("Ehrenamtsstunden", "BE", "volunteer_hours", 1500),
    ]
    goal_ids = _ids(
        s,
        SubGoal,
        [
            {
                "task_plan_id": plan_id,
                "agency_id": agency_id,
                "funding_year": year,
                "position": i,
                "title": t,
                "field": f,
                "indicator": ind,
                "target": tgt,
            }
            for i, (t, f, ind, tgt) in enumerate(goal_rows)
        ],
    )
    specs = [(*w, "weekly") for w in WEEKLY] + [
        (
            "Institutionen stellen sich vor",
            "Infoveranstaltung",
            "IKÖ",
            "anonymous",
            None,
            (17, 0),
            (19, 0),
            15,
            45,
            "monthly",
        ),
        (
            "Stadtteilfest",
            "Fest/Begegnung",
            "SRO",
            "anonymous",
            None,
            (14, 0),
            (19, 0),
            150,
            450,
            "festival",
        ),
    ]
    activity_rows = [
        {
            "agency_id": agency_id,
            "funding_year": year,
            "title": title,
            "type": type_,
            "field": field,
            "attendance_mode": mode,
            "place": "Stadtteilzentrum",
            "partners": ["Stadtteilbibliothek", "Jobcenter", "Sportverein"][: rng.randint(1, 3)],
            "count_categories": ["Frauen", "Männer", "Kinder"] if mode == "anonymous" else [],
            "recurrence": {"kind": kind},
        }
        for title, type_, field, mode, _wd, _s, _e, _lo, _hi, kind in specs
    ]
    activity_ids = _ids(s, Activity, activity_rows)
    links = []
    for aid, spec in zip(activity_ids, specs, strict=True):
        links.append({"activity_id": aid, "subgoal_id": goal_ids[0]})
        links.append({"activity_id": aid, "subgoal_id": goal_ids[1]})
        links.append({"activity_id": aid, "subgoal_id": goal_ids[3]})
        if spec[-1] == "monthly":
            links.append({"activity_id": aid, "subgoal_id": goal_ids[2]})
    s.execute(insert(activity_subgoals), links)

    occ_rows: list[dict[str, Any]] = []
    occ_meta = []
    for aid, (_t, _ty, _f, mode, weekday, start, end, low, high, kind) in zip(
        activity_ids, specs, strict=True
    ):
        if kind == "weekly":
            assert weekday is not None  # weekly specs name their weekday
            day = date(year, 1, 8)
            day += timedelta(days=(weekday - day.weekday()) % 7)
            days = []
            while day <= date(year, 12, 18):
                if not (date(year, 7, 20) <= day <= date(year, 8, 7)):
                    days.append(day)
                day += timedelta(days=7)
        elif kind == "monthly":
            days = [date(year, m, 12) for m in range(1, 13)]
        else:
            days = [date(year, 6, 20), date(year, 9, 5), date(year, 12, 5)]
        for d in days:
            occ_rows.append(
                {
                    "activity_id": aid,
                    "agency_id": agency_id,
                    "funding_year": year,
                    "starts_at": _at(d, start),
                    "ends_at": _at(d, end),
                }
            )
            occ_meta.append((mode, low, high, kind))
    occ_ids = _ids(s, Occurrence, occ_rows)
    summary.occurrences += len(occ_ids)

    att: list[dict] = []
    ev_specs: list[tuple[int, str, datetime]] = []
    shifts: list[dict] = []
    for oid, row, (mode, low, high, kind) in zip(occ_ids, occ_rows, occ_meta, strict=True):
        base = {
            "occurrence_id": oid,
            "agency_id": agency_id,
            "funding_year": year,
            "recorded_at": row["starts_at"] + timedelta(minutes=10),
        }
        n = rng.randint(low, high)
        if mode == "named":
            for enc, idx in rng.sample(sealed, n):
                att.append(
                    {
                        **base,
                        "method": "self_qr" if rng.random() < 0.7 else "paper",
                        "count": 1,
                        "name_enc": enc,
                        "name_index": idx,
                    }
                )
            if oid % 2 == 0:
                ev_specs.append((oid, "participant_list", row["starts_at"]))
        elif mode == "card":
            for cid in rng.sample(card_ids, n):
                att.append({**base, "method": "card_scan", "count": 1, "card_id": cid})
            if oid % 2 == 0:
                ev_specs.append((oid, "participant_list", row["starts_at"]))
        else:
            for category in ("Frauen", "Männer", "Kinder"):
                att.append(
                    {
                        **base,
                        "method": "headcount",
                        "category": category,
                        "count": max(1, n // 3 + rng.randint(-3, 3)),
                    }
                )
            if kind == "festival":
                # Festivals: hundreds of headcount clicks, one row per counted group.
                for _ in range(150):
                    att.append(
                        {
                            **base,
                            "method": "headcount",
                            "category": "Erwachsene",
                            "count": rng.randint(1, 6),
                        }
                    )
                ev_specs.append((oid, "photo", row["starts_at"]))
                ev_specs.append((oid, "press_clipping", row["starts_at"]))
        shifts.append(
            {
                "occurrence_id": oid,
                "agency_id": agency_id,
                "role": "Anleitung",
                "needed": 2,
                "starts_at": row["starts_at"],
                "ends_at": row["ends_at"],
                "required_qualifications": [],
            }
        )
    _bulk(s, Attendance, att)
    summary.attendance += len(att)

    shift_ids = _ids(s, Shift, shifts)
    assignments = []
    for sid, sh in zip(shift_ids, shifts, strict=True):
        for vid in rng.sample(volunteer_ids, 2):
            assignments.append(
                {
                    "shift_id": sid,
                    "volunteer_id": vid,
                    "agency_id": agency_id,
                    "status": "assigned",
                    "checked_in_at": sh["starts_at"],
                    "checked_out_at": sh["ends_at"],
                }
            )
    _bulk(s, ShiftAssignment, assignments)
    summary.shift_assignments += len(assignments)

    _evidence(s, inst, agency_id, year, ev_specs, goal_ids[0], summary)


def _evidence(
    s: Session,
    inst: Installation,
    agency_id: int,
    year: int,
    specs: list[tuple[int, str, datetime]],
    subgoal_id: int,
    summary: LargeSummary,
) -> None:
    """A small, unique, encrypted file per item (written like any upload)."""
    blobs, pending = [], []
    for oid, kind, when in specs:
        content = (
            f"{kind} – Termin {oid} am {when.astimezone(BERLIN):%d.%m.%Y} – "
            f"Agentur {agency_id} (Demodaten, erfunden)\n"
        ).encode()
        p = inst.blobs.stage(content, namespace=f"agency:{agency_id}")
        version = inst.blobs.publish([p])[p.name]  # local folder or S3 alike
        pending.append((oid, kind, when, p))
        blobs.append(
            {
                "agency_id": agency_id,
                "name": p.name,
                "sha256": p.sha256,
                "size": p.size,
                "kek_id": p.kek_id,
                "wrapped_key": p.wrapped_key,
                "version_id": version,
            }
        )
    blob_ids = _ids(s, Blob, blobs)
    rows = []
    for bid, (oid, kind, when, p) in zip(blob_ids, pending, strict=True):
        rows.append(
            {
                "agency_id": agency_id,
                "funding_year": year,
                "kind": kind,
                "title": f"{kind} {when.astimezone(BERLIN):%d.%m.%Y}",
                "doc_date": when.astimezone(BERLIN).date(),
                "source": "",
                "filename": f"{kind}-{oid}.txt",
                "media_type": "text/plain",
                "blob_id": bid,
                "sha256": p.sha256,
                "size": p.size,
                "occurrence_id": oid,
                "retention_until": default_retention(year),
                "retention_rule": "default:funding_year+10",
                "created_by": "demo",
            }
        )
    ev_ids = _ids(s, Evidence, rows)
    _bulk(s, evidence_subgoals, [{"evidence_id": e, "subgoal_id": subgoal_id} for e in ev_ids])
    summary.evidence += len(ev_ids)
