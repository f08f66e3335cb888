"""Sealing: the attendance of an ended occurrence becomes its participant list (evidence).

Rules (issue 16, DESIGN.md section 4):

- **Due** is an occurrence that ended more than the grace time ago
  (``Settings.seal_grace_hours``, env ``IA_EVENTS_SEAL_GRACE_HOURS``, default 2 h),
  is not cancelled and has at least one valid attendance. Cancelled occurrences
  and those without attendance get no list (and completeness asks for none).
- **Sealed** means two evidence items of kind ``participant_list``, linked to the
  occurrence, its activity and all its sub-goals of the same funding year, kept
  until 31.12. of funding year + 10 (``retention.retention_for``): a PDF/A in the
  printable list's layout ("digital erfasst", one row per attendance with time and
  method, undone rows struck through with their reason, headcount categories,
  sealing time) and a CSV of the same rows. Both are archived by
  ``evidence.add_linked`` (encrypted, SHA-256, audited) in the same transaction as
  the ``ListSeal`` row, so a crash never leaves a list without its seal or the reverse.
  Occurrences counted anonymously get a headcount sheet without names.
- **Idempotent**: sealing again changes nothing while the attendance is unchanged
  (same number of rows, same number undone). A late correction (a forgotten
  participant, an undo -- each with its reason) makes the occurrence due again; the
  new version supersedes the previous items (``superseded_by_id``), both stay.
- **Privacy**: names are decrypted only here, for the sealed PDF (it is the proof the
  retention duty keeps, so restricted persons (Art. 18) are sealed, marked as
  restricted); screens keep showing the marker. Audit events carry ids and counts.

Limits: no scheduling of its own beyond ``start_background`` (a daemon thread the
server starts once); scanned paper lists are filed by ``archive.scans``.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ia_events.archive.evidence import EvidenceView, LinkedGroup, add_linked, add_linked_many
from ia_events.attendance.lists import _notice, header_block
from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import berlin, fmt_date, fmt_datetime, fmt_time
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    AttendanceMode,
    Evidence,
    EvidenceKind,
    ListSeal,
    Occurrence,
    OccurrenceStatus,
    ParticipantCard,
)
from ia_events.core.pdf import FAMILY, Document, covers_latin, covers_latin_or_arabic
from ia_events.core.permissions import Reach, service
from ia_events.privacy.personal import data_key
from storage.db import utcnow
from storage.keys import open_sealed

log = logging.getLogger(__name__)

METHOD_LONG = {
    "self_qr": "QR-Selbst-Check-in",
    "door_manual": "an der Tür",
    "card_scan": "Karte",
    "paper": "von Papierliste übertragen",
    "headcount": "Zählung",
}
RESTRICTED_MARK = " (eingeschränkt, Art. 18 DSGVO)"
BATCH = 100


@dataclass(frozen=True)
class SealRow:
    attendance_id: int
    method: str
    recorded_at: datetime
    count: int
    category: str | None
    name: str  # "" for anonymous entries, a card code or the decrypted name
    restricted: bool
    undone_at: datetime | None
    undo_reason: str | None


@dataclass
class _ListData:
    occ: Occurrence
    activity: Activity
    agency: Agency
    subgoal_ids: list[int]
    rows: list[SealRow] = field(default_factory=list)
    previous: ListSeal | None = None

    @property
    def anonymous(self) -> bool:
        return self.activity.attendance_mode == AttendanceMode.anonymous

    @property
    def valid(self) -> list[SealRow]:
        return [r for r in self.rows if r.undone_at is None]


@dataclass(frozen=True)
class SealResult:
    """What one sealing did: ``state`` is sealed | resealed | unchanged."""

    occurrence_id: int
    state: str
    version: int
    evidence_id: int
    csv_evidence_id: int | None
    supersedes_id: int | None
    participants: int
    anonymous: bool

    def as_json(self) -> dict[str, object]:
        return {
            "occurrence_id": self.occurrence_id,
            "state": self.state,
            "version": self.version,
            "evidence_id": self.evidence_id,
            "csv_evidence_id": self.csv_evidence_id,
            "supersedes_id": self.supersedes_id,
            "participants": self.participants,
            "anonymous": self.anonymous,
        }


@dataclass(frozen=True)
class SealState:
    """The sealed state of one occurrence, for the door screen and the occurrence."""

    occurrence_id: int
    version: int
    sealed_at: datetime
    sealed_by: str
    evidence_id: int
    csv_evidence_id: int | None
    participants: int
    reason: str
    stale: bool  # attendance changed since: the next run seals a new version
    added: int  # entries added compared with the previous version
    removed: int  # entries undone compared with the previous version
    versions: list[int]  # evidence ids of every version, oldest first


# -- what is due ----------------------------------------------------------------------------------


def _grace(inst: Installation) -> timedelta:
    return timedelta(hours=inst.settings.seal_grace_hours)


def _latest_seals():
    """(occurrence_id, version) of each occurrence's newest seal, as a subquery."""
    return (
        select(ListSeal.occurrence_id, func.max(ListSeal.version).label("version"))
        .group_by(ListSeal.occurrence_id)
        .subquery()
    )


def due(session: Session, now: datetime, grace: timedelta) -> list[int]:
    """Occurrence ids to seal: never sealed (ended + grace, not cancelled, with attendance)
    and sealed ones whose attendance changed since their last seal, oldest first."""
    cutoff = now - grace
    fresh = session.scalars(
        select(Occurrence.id)
        .where(
            Occurrence.ends_at <= cutoff,
            Occurrence.status != OccurrenceStatus.cancelled,
            exists().where(
                Attendance.occurrence_id == Occurrence.id, Attendance.undone_at.is_(None)
            ),
            ~exists().where(ListSeal.occurrence_id == Occurrence.id),
        )
        .order_by(Occurrence.ends_at, Occurrence.id)
    ).all()
    known = set(fresh)
    return list(fresh) + [oid for oid in stale(session, now, grace) if oid not in known]


def stale(session: Session, now: datetime, grace: timedelta) -> list[int]:
    """Sealed occurrences whose attendance rows changed since the latest seal."""
    latest = _latest_seals()
    counts = (
        select(
            Attendance.occurrence_id.label("occurrence_id"),
            func.count().label("n"),
            func.count(Attendance.undone_at).label("u"),
        )
        .where(
            Attendance.occurrence_id.in_(select(latest.c.occurrence_id)),
        )
        .group_by(Attendance.occurrence_id)
        .subquery()
    )
    rows = session.execute(
        select(ListSeal.occurrence_id)
        .join(
            latest,
            (latest.c.occurrence_id == ListSeal.occurrence_id)
            & (latest.c.version == ListSeal.version),
        )
        .join(counts, counts.c.occurrence_id == ListSeal.occurrence_id)
        .join(Occurrence, Occurrence.id == ListSeal.occurrence_id)
        .where(
            (counts.c.n != ListSeal.entries) | (counts.c.u != ListSeal.undone),
            Occurrence.ends_at <= now - grace,
        )
        .order_by(ListSeal.occurrence_id)
    ).all()
    return [r[0] for r in rows]


# -- gathering -------------------------------------------------------------------------------


def _load(
    inst: Installation, session: Session, occurrence_ids: list[int], names: bool = True
) -> dict[int, _ListData]:
    """Everything the lists of these occurrences need, in a handful of queries
    (``names=False``: without decrypting names, for lists a worker rendered)."""
    occs = session.scalars(select(Occurrence).where(Occurrence.id.in_(occurrence_ids))).all()
    out: dict[int, _ListData] = {}
    agencies = {
        a.id: a
        for a in session.scalars(select(Agency).where(Agency.id.in_({o.agency_id for o in occs})))
    }
    for o in occs:
        act = o.activity
        goals = [g.id for g in act.subgoals if g.funding_year == o.funding_year]
        out[o.id] = _ListData(o, act, agencies[o.agency_id], goals)
    latest = _latest_seals()
    for seal in session.scalars(
        select(ListSeal)
        .join(
            latest,
            (latest.c.occurrence_id == ListSeal.occurrence_id)
            & (latest.c.version == ListSeal.version),
        )
        .where(ListSeal.occurrence_id.in_(list(out)))
    ):
        out[seal.occurrence_id].previous = seal
    q = (
        select(Attendance, ParticipantCard.code)
        .outerjoin(ParticipantCard, ParticipantCard.id == Attendance.card_id)
        .where(Attendance.occurrence_id.in_(list(out)))
        .order_by(Attendance.occurrence_id, Attendance.recorded_at, Attendance.id)
    )
    keys: dict[int, bytes] = {}
    for att, code in session.execute(q).all():
        data = out[att.occurrence_id]
        if code:
            name = f"Karte {code}"
        elif data.anonymous or att.method == "headcount" or (att.name_enc and not names):
            name = ""
        elif att.name_enc:
            if att.agency_id not in keys:  # one key read per agency, not per row
                keys[att.agency_id] = data_key(session, inst.keys, att.agency_id)
            name = open_sealed(
                keys[att.agency_id], att.name_enc, f"attendance:{att.agency_id}".encode()
            ).decode()
        elif att.anonymised_at is not None:
            name = "(anonymisiert)"
        else:
            name = "(ohne Namen)"
        data.rows.append(
            SealRow(
                att.id,
                att.method,
                att.recorded_at,
                att.count,
                att.category,
                name,
                att.restricted_at is not None,
                att.undone_at,
                att.undo_reason,
            )
        )
    return out


# -- rendering ------------------------------------------------------------------------------------


def _texts(data: _ListData, reason: str) -> list[str]:
    """Every text the sealed list prints (to choose the fonts)."""
    occ, act, agency = data.occ, data.activity, data.agency
    return [
        agency.name, agency.carrier, agency.privacy_contact or "", act.title, act.place or "",
        occ.place or "", reason, *(g.title for g in act.subgoals),
        *(r.name for r in data.rows), *(r.undo_reason or "" for r in data.rows),
        *(r.category or "" for r in data.rows),
    ]  # fmt: skip


def _categories(rows: list[SealRow]) -> dict[str, int]:
    parts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.undone_at is None and (r.method == "headcount" or r.category):
            parts[r.category or "gesamt"] += r.count
    return dict(parts)


def render_pdf(
    data: _ListData, version: int, sealed_at: datetime, reason: str, notice: str
) -> bytes:
    """The sealed list: the printable list's layout, filled from the records."""
    occ, act, agency = data.occ, data.activity, data.agency
    title = (
        "Zählblatt (anonym) – digital erfasst"
        if data.anonymous
        else "Teilnehmerliste – digital erfasst"
    )
    texts = _texts(data, reason)
    latin = all(covers_latin(t) for t in texts)
    # Arabic names: the reduced fonts with the Arabic fallback (much faster than the full
    # fonts); other scripts: the full fonts.
    reduced = latin or all(covers_latin_or_arabic(t) for t in texts)
    doc = Document(
        title,
        subtitle=f"{agency.name} · Träger: {agency.carrier}",
        arabic=not latin,
        latin_only=reduced,
        shared_subsets=True,
        shape_on_demand=reduced,
    )
    header_block(doc, occ, agency, act, None)
    valid = data.valid
    total = sum(r.count for r in valid)
    by_method: dict[str, int] = defaultdict(int)
    for r in valid:
        by_method[METHOD_LONG.get(r.method, r.method)] += r.count
    doc.body(9, bold=True)
    doc.lines(
        0,
        5,
        f"Versiegelt am {fmt_datetime(sealed_at)} Uhr · Fassung {version} · {total} Teilnahme(n)",
    )
    doc.body(9)
    lines = [
        "Digital erfasst: jede Zeile ist ein Eintrag der Anwesenheitserfassung mit Zeit und "
        "Art (QR-Selbst-Check-in, an der Tür, Karte, von Papierliste übertragen, Zählung). "
        "Rückgängig gemachte Einträge sind durchgestrichen und nennen ihren Grund.",
        "Nach Art: " + (", ".join(f"{k} {v}" for k, v in sorted(by_method.items())) or "–"),
    ]
    cats = _categories(data.rows)
    if cats:
        lines.append("Zählung nach Kategorien: " + ", ".join(f"{k} {v}" for k, v in cats.items()))
    if data.previous is not None:
        lines.append(
            f"Neue Fassung {version}; ersetzt Fassung {data.previous.version} "
            f"(Nachweis {data.previous.evidence_id}). Grund: {reason or '–'}"
        )
    for line in lines:
        if line.startswith("Digital erfasst"):  # the same text in every list
            _paragraph(doc, line, 4.6, latin)
        else:
            doc.lines(0, 4.6, line)
    doc.ln(2)
    _rows(doc, data)
    doc.ln(3)
    doc.body(7.5)
    _paragraph(doc, notice, 3.6, latin)
    doc.ln(1)
    doc.lines(
        0,
        3.6,
        f"Termin am {fmt_date(occ.starts_at)} · versiegelt am {fmt_datetime(sealed_at)} Uhr "
        f"durch ia-events · Fassung {version} · die CSV-Datei gleichen Inhalts liegt im Archiv "
        "beim selben Termin.",
    )
    return doc.render()


_LINES: dict[tuple[str, float, bool], list[str]] = {}


def _paragraph(doc: Document, text: str, height: float, latin: bool) -> None:
    """A wrapped paragraph; its line breaks are computed once per text and font size
    (fpdf2's line breaking of the long data-protection notice costs ~30 ms a time)."""
    key = (text, doc.font_size_pt, latin)
    lines = _LINES.get(key)
    if lines is None:
        lines = cast(
            "list[str]", doc.multi_cell(doc.epw, height, text, dry_run=True, output="LINES")
        )
        if len(_LINES) > 500:
            _LINES.clear()
        _LINES[key] = lines
    for line in lines:
        doc.text_line(doc.epw, height, line)


def _fit(doc: Document, text: str, width: float) -> str:
    """``text`` shortened with "…" to fit one cell (the CSV keeps it whole)."""
    if doc.text_width(text) <= width - 2:
        return text
    while text and doc.text_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"


def _rows(doc: Document, data: _ListData) -> None:
    """One ruled line per attendance (plain cells: several times faster than a table);
    undone entries struck through, their reason on a line of its own below."""
    if data.anonymous:
        widths: tuple[float, ...] = (12, 30, 60, 48, 30)
        head: tuple[str, ...] = ("Nr.", "Zeit", "Art", "Kategorie", "Anzahl")
    else:
        widths = (12, 88, 20, 60)
        head = ("Nr.", "Name", "Zeit", "Art")
    line = 6.0
    doc.body(8.5, bold=True)
    doc.table_row(widths, line, head)
    doc.ln(line)
    for n, r in enumerate(data.rows, 1):
        method = METHOD_LONG.get(r.method, r.method)
        if data.anonymous:
            cells: tuple[str, ...] = (
                str(n),
                fmt_time(r.recorded_at),
                method,
                r.category or "–",
                str(r.count),
            )
        else:
            who = r.name or (f"{r.category or 'gezählt'}: {r.count}" if r.count else "")
            if r.restricted:
                who += RESTRICTED_MARK
            cells = (str(n), who, fmt_time(r.recorded_at), method)
        if doc.will_page_break(line * 2):
            doc.add_page()
        doc.set_font(FAMILY, "S" if r.undone_at is not None else "", 8.5)
        doc.table_row(widths, line, [_fit(doc, t, w) for w, t in zip(widths, cells, strict=True)])
        doc.ln(line)
        if r.undone_at is not None:
            doc.body(8)
            doc.set_x(doc.l_margin + widths[0])
            doc.multi_cell(
                sum(widths[1:]),
                4.5,
                f"↳ rückgängig gemacht um {fmt_time(r.undone_at)} Uhr, Grund: "
                f"{r.undo_reason or '–'}",
                border=1,
                new_x="LMARGIN",
                new_y="NEXT",
            )
    doc.body(9)


def render_csv(data: _ListData, version: int, sealed_at: datetime) -> bytes:
    """The same rows, machine-readable (UTF-8 with BOM, ``;`` for Excel)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(
        [
            "nr",
            "termin_id",
            "fassung",
            "versiegelt_am",
            "erfasst_am",
            "art",
            "name",
            "kategorie",
            "anzahl",
            "rueckgaengig_am",
            "grund",
        ]
    )
    for n, r in enumerate(data.rows, 1):
        w.writerow(
            [
                n,
                data.occ.id,
                version,
                berlin(sealed_at).isoformat(timespec="seconds"),
                berlin(r.recorded_at).isoformat(timespec="seconds"),
                r.method,
                _cell(r.name + (RESTRICTED_MARK if r.restricted and r.name else "")),
                _cell(r.category or ""),
                r.count,
                berlin(r.undone_at).isoformat(timespec="seconds") if r.undone_at else "",
                _cell(r.undo_reason or ""),
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode()


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in text cells."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# -- sealing ---------------------------------------------------------------------------------


def _auto_reason(data: _ListData) -> str:
    prev = data.previous
    assert prev is not None
    old_valid, old_undone = set(prev.valid_ids or []), set(prev.undone_ids or [])
    added = [r for r in data.valid if r.attendance_id not in old_valid]
    undone = [r for r in data.rows if r.undone_at is not None and r.attendance_id not in old_undone]
    parts = []
    if added:
        parts.append(f"{len(added)} Eintrag/Einträge nachgetragen")
    if undone:
        why = "; ".join(sorted({r.undo_reason or "–" for r in undone}))
        parts.append(f"{len(undone)} rückgängig gemacht ({why})")
    return "Nachträgliche Korrektur: " + (", ".join(parts) or "Einträge geändert")


@dataclass
class _Prepared:
    """A rendered list, ready to archive (``_archive_group``) -- or ``done`` if unchanged."""

    data: _ListData
    done: SealResult | None = None
    version: int = 0
    reason: str = ""
    sealed_at: datetime | None = None
    pdf: bytes = b""
    table: bytes = b""
    old_pdf: int | None = None
    old_csv: int | None = None


def _plan(data: _ListData, reason: str) -> tuple[int, str] | None:
    """The version to seal and its reason; None while the attendance is unchanged."""
    prev = data.previous
    entries = len(data.rows)
    undone = sum(1 for r in data.rows if r.undone_at is not None)
    if prev is not None and prev.entries == entries and prev.undone == undone:
        return None
    if prev is None and not data.valid:
        raise Conflict("list_nothing_to_seal")
    version = (prev.version + 1) if prev else 1
    return version, reason.strip() or (_auto_reason(data) if prev else "")


Rendered = tuple[bytes, bytes, datetime]  # PDF, CSV, sealing time


def _prepare(
    inst: Installation,
    data: _ListData,
    reason: str,
    rendered: Rendered | None = None,
    notices: dict[int, str] | None = None,
) -> _Prepared:
    """Decide the version and render the list (unless a worker rendered it already)."""
    plan = _plan(data, reason)
    prev = data.previous
    if plan is None:
        assert prev is not None
        return _Prepared(
            data,
            SealResult(
                data.occ.id, "unchanged", prev.version, prev.evidence_id, prev.csv_evidence_id,
                None, prev.participants, prev.anonymous,
            ),
        )  # fmt: skip
    version, reason = plan
    if rendered is None:
        notices = {} if notices is None else notices
        if data.agency.id not in notices:
            with inst.db.read() as s:
                notices[data.agency.id] = _notice(s, data.agency)
        rendered = _render(data, version, reason, notices[data.agency.id])
    old_pdf, old_csv = _supersedable(inst, prev)
    pdf, table, sealed_at = rendered
    return _Prepared(data, None, version, reason, sealed_at, pdf, table, old_pdf, old_csv)


def _render(data: _ListData, version: int, reason: str, notice: str) -> Rendered:
    sealed_at = utcnow().replace(microsecond=0)
    return (
        render_pdf(data, version, sealed_at, reason, notice),
        render_csv(data, version, sealed_at),
        sealed_at,
    )


def _group(actor: Actor, p: _Prepared) -> LinkedGroup:
    """The evidence items of a prepared list, with the seal row in their transaction."""
    data, occ, version, sealed_at = p.data, p.data.occ, p.version, p.sealed_at
    assert sealed_at is not None
    entries = len(data.rows)
    undone = sum(1 for r in data.rows if r.undone_at is not None)
    participants = sum(r.count for r in data.valid)
    day = berlin(occ.starts_at).strftime("%Y-%m-%d")
    stem = f"Teilnehmerliste_T{occ.id}_{day}_v{version}"
    label = "Zählblatt" if data.anonymous else "Teilnehmerliste"
    title = (
        f"{label} (versiegelt, Fassung {version}) – {data.activity.title}, "
        f"{fmt_date(occ.starts_at)}"
    )
    valid_ids = [r.attendance_id for r in data.valid]
    undone_ids = [r.attendance_id for r in data.rows if r.undone_at is not None]

    def within(s: Session, items: list[Evidence]) -> None:
        seal = ListSeal(
            occurrence_id=occ.id,
            agency_id=occ.agency_id,
            version=version,
            evidence_id=items[0].id,
            csv_evidence_id=items[1].id,
            anonymous=data.anonymous,
            entries=entries,
            undone=undone,
            participants=participants,
            valid_ids=valid_ids,
            undone_ids=undone_ids,
            sealed_at=sealed_at,
            sealed_by=actor.name,
            reason=p.reason[:2000],
        )
        s.add(seal)
        s.flush()
        audit.record(
            s,
            actor.name,
            Action.list_seal,
            "occurrence",
            occ.id,
            agency_id=occ.agency_id,
            version=version,
            evidence=items[0].id,
            csv_evidence=items[1].id,
            supersedes=p.old_pdf,
            entries=entries,
            undone=undone,
            participants=participants,
        )

    return LinkedGroup(
        [
            (f"{stem}.pdf", p.pdf, title, p.old_pdf),
            (f"{stem}.csv", p.table, f"{title} (CSV)", p.old_csv),
        ],
        EvidenceKind.participant_list,
        {
            "agency_slug": data.agency.slug,
            "funding_year": occ.funding_year,
            "occurrence_id": occ.id,
            "activity_id": occ.activity_id,
            "subgoal_ids": data.subgoal_ids,
            "doc_date": berlin(occ.starts_at).date(),
            "source": "ia-events (digital erfasst)",
        },
        within,
    )


def _result(p: _Prepared, views: list[EvidenceView]) -> SealResult:
    data = p.data
    return SealResult(
        data.occ.id,
        "resealed" if data.previous else "sealed",
        p.version,
        views[0].id,
        views[1].id,
        p.old_pdf,
        sum(r.count for r in data.valid),
        data.anonymous,
    )


def _seal_one(
    inst: Installation,
    actor: Actor,
    data: _ListData,
    reason: str,
    now: datetime,
) -> SealResult:
    p = _prepare(inst, data, reason)
    if p.done is not None:
        return p.done
    g = _group(actor, p)
    views = add_linked(inst, actor, g.files, kind=g.kind, within=g.within, **g.meta)
    return _result(p, views)


def _supersedable(inst: Installation, prev: ListSeal | None) -> tuple[int | None, int | None]:
    """The previous version's items, where they can still be superseded (not deleted)."""
    if prev is None:
        return None, None
    ids = [i for i in (prev.evidence_id, prev.csv_evidence_id) if i is not None]
    with inst.db.read() as s:
        ok = set(
            s.scalars(
                select(Evidence.id).where(
                    Evidence.id.in_(ids),
                    Evidence.deleted_at.is_(None),
                    Evidence.superseded_by_id.is_(None),
                )
            )
        )
    return (
        prev.evidence_id if prev.evidence_id in ok else None,
        prev.csv_evidence_id if prev.csv_evidence_id in ok else None,
    )


@service(Permission.checkin_door, Reach.agency, "and evidence.add")
def seal_occurrence(
    inst: Installation,
    actor: Actor,
    occurrence_id: int,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> SealResult:
    """Seal one occurrence now (the door's "Liste abschließen", also before the grace time).

    Unchanged attendance returns the current seal (``unchanged``). A new version of an
    already sealed list needs a reason from a person (``list_reason_needed``)."""
    now = now or utcnow()
    with inst.db.read() as s:
        occ = s.get(Occurrence, occurrence_id)
        if occ is None:
            raise NotFound(what=f"Der Termin {occurrence_id}")
        require(actor, Permission.checkin_door, occ.agency_id)
        require(actor, Permission.evidence_add, occ.agency_id)
        if occ.status == OccurrenceStatus.cancelled:
            raise Conflict("list_cancelled")
        data = _load(inst, s, [occurrence_id])[occurrence_id]
    prev = data.previous
    changed = prev is None or (
        prev.entries != len(data.rows)
        or prev.undone != sum(1 for r in data.rows if r.undone_at is not None)
    )
    if prev is not None and changed and len(reason.strip()) < 3 and not actor.system:
        raise InvalidInput("list_reason_needed")
    return _seal_one(inst, actor, data, reason, now)


@dataclass
class SealRun:
    results: list[SealResult] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def sealed(self) -> int:
        return sum(1 for r in self.results if r.state != "unchanged")


@service(Permission.system_run, Reach.installation, "cron and the server's own job")
def seal_due(
    inst: Installation,
    actor: Actor,
    *,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    limit: int | None = None,
    only: Collection[int] | None = None,
    workers: int = 1,
    batch: int = BATCH,
) -> SealRun:
    """Seal every due occurrence (cron, the server's background job, the demo).

    Lists are archived ``batch`` at a time (one record transaction; if it fails, each
    list in its own): a failure (a full disk, a deleted blob) is reported and the run
    goes on; the next run retries what is still due. ``workers`` > 1 renders the lists
    in that many processes (each reads the database itself); the archive writes stay in
    this process, so the result is the same as a serial run's."""
    require(actor, Permission.system_run)
    now = now or utcnow()
    with inst.db.read() as s:
        ids = due(s, now, _grace(inst))
    if only is not None:  # e.g. the demo: one agency's year now, the rest in the background
        wanted = set(only)
        ids = [i for i in ids if i in wanted]
    if limit is not None:
        ids = ids[:limit]
    run = SealRun()
    chunks = [ids[start : start + batch] for start in range(0, len(ids), batch)]
    workers = max(1, min(workers, len(chunks)))
    pool = _pool(inst, workers) if workers > 1 else None
    pending: dict[int, Future[dict[int, Rendered]]] = {}
    done = 0
    try:
        for n, chunk in enumerate(chunks):
            if pool is not None:
                try:
                    for ahead in range(n, min(n + 2 * workers, len(chunks))):
                        if ahead not in pending:
                            pending[ahead] = pool.submit(_worker_render, chunks[ahead])
                except Exception:  # a broken pool: the rest is rendered here
                    log.warning("sealing workers unavailable; rendering here", exc_info=True)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool, pending = None, {}
            rendered = _collect(pending.pop(n)) if n in pending else {}
            _seal_chunk(inst, actor, chunk, rendered, run)
            done += len(chunk)
            if progress is not None:
                progress(done, len(ids))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return run


def _seal_chunk(
    inst: Installation,
    actor: Actor,
    chunk: list[int],
    rendered: dict[int, Rendered],
    run: SealRun,
) -> None:
    """Prepare (render where no worker did), then archive the chunk's lists together."""
    with inst.db.read() as s:
        batch = _load(inst, s, chunk, names=not rendered)
        missing = [oid for oid in chunk if oid not in rendered]
        if rendered and missing:  # not rendered by the worker: with names, to render here
            batch.update(_load(inst, s, missing))
    notices: dict[int, str] = {}
    prepared: list[_Prepared] = []
    for oid in chunk:
        data = batch.get(oid)
        if data is None:
            continue
        try:
            p = _prepare(inst, data, "", rendered.get(oid), notices)
        except Exception as exc:  # reported, retried by the next run
            log.warning("occurrence %s: sealing failed: %s", oid, exc)
            run.failed.append((oid, getattr(exc, "code", type(exc).__name__)))
            continue
        if p.done is not None:
            run.results.append(p.done)
        else:
            prepared.append(p)
    if not prepared:
        return
    outcomes = add_linked_many(inst, actor, [_group(actor, p) for p in prepared])
    for p, outcome in zip(prepared, outcomes, strict=True):
        oid = p.data.occ.id
        if isinstance(outcome, IntegrityError):  # another process sealed it meanwhile
            log.info("occurrence %s: sealed concurrently", oid)
        elif isinstance(outcome, Exception):
            log.warning("occurrence %s: sealing failed: %s", oid, outcome)
            run.failed.append((oid, getattr(outcome, "code", type(outcome).__name__)))
        else:
            run.results.append(_result(p, outcome))


# -- rendering in worker processes ----------------------------------------------------------------

_worker_inst: Installation | None = None


def _pool(inst: Installation, workers: int) -> ProcessPoolExecutor:
    """Processes that render lists; started fresh (spawn), each opening the database."""
    import multiprocessing

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(inst.settings,),
    )


def _worker_init(settings: object) -> None:
    global _worker_inst
    from ia_events.core.installation import Settings

    assert isinstance(settings, Settings)
    _worker_inst = Installation.open(settings)


def _worker_render(chunk: list[int]) -> dict[int, Rendered]:
    """Render the due lists of ``chunk`` (no writes); a list that fails here is rendered
    again by the parent, which reports the failure."""
    inst = _worker_inst
    assert inst is not None
    out: dict[int, Rendered] = {}
    notices: dict[int, str] = {}
    with inst.db.read() as s:
        batch = _load(inst, s, chunk)
        for oid, data in batch.items():
            try:
                plan = _plan(data, "")
                if plan is None:
                    continue
                if data.agency.id not in notices:
                    notices[data.agency.id] = _notice(s, data.agency)
                out[oid] = _render(data, plan[0], plan[1], notices[data.agency.id])
            except Exception:  # the parent tries again and reports
                log.debug("occurrence %s: rendering in a worker failed", oid, exc_info=True)
    return out


def _collect(future: Future[dict[int, Rendered]]) -> dict[int, Rendered]:
    try:
        return future.result()
    except Exception:  # a dead worker: the parent renders this chunk itself
        log.warning("sealing worker failed; rendering in the main process", exc_info=True)
        return {}


# -- reading the state ----------------------------------------------------------------------------


@service(Permission.agency_read, Reach.agency)
def seal_state(session: Session, actor: Actor, occurrence_id: int) -> SealState | None:
    """The latest seal of an occurrence (None: not sealed), with the difference to the
    previous version and whether a correction since makes a new version due."""
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.agency_read, occ.agency_id)
    seals = session.scalars(
        select(ListSeal).where(ListSeal.occurrence_id == occ.id).order_by(ListSeal.version)
    ).all()
    if not seals:
        return None
    last = seals[-1]
    n, u = session.execute(
        select(func.count(), func.count(Attendance.undone_at)).where(
            Attendance.occurrence_id == occ.id
        )
    ).one()
    added = removed = 0
    if len(seals) > 1:
        before = set(seals[-2].valid_ids or [])
        after = set(last.valid_ids or [])
        added, removed = len(after - before), len(before - after)
    return SealState(
        occ.id,
        last.version,
        last.sealed_at,
        last.sealed_by,
        last.evidence_id,
        last.csv_evidence_id,
        last.participants,
        last.reason,
        (int(n), int(u)) != (last.entries, last.undone),
        added,
        removed,
        [s.evidence_id for s in seals],
    )


def sealed_evidence(session: Session, evidence_ids: list[int]) -> dict[int, int]:
    """Evidence id -> seal version for those ids that are sealed lists (PDF or CSV)."""
    if not evidence_ids:
        return {}
    out: dict[int, int] = {}
    for pdf, table, version in session.execute(
        select(ListSeal.evidence_id, ListSeal.csv_evidence_id, ListSeal.version).where(
            (ListSeal.evidence_id.in_(evidence_ids)) | (ListSeal.csv_evidence_id.in_(evidence_ids))
        )
    ):
        out[pdf] = version
        if table is not None:
            out[table] = version
    return out


# -- in the server --------------------------------------------------------------------------------

SYSTEM_ACTOR = "system:sealing"


_started: dict[str, threading.Thread] = {}
_start_lock = threading.Lock()


def ensure_background(inst: Installation) -> threading.Thread | None:
    """Start the sealing thread once per process and database (idempotent).

    ``IA_EVENTS_SEAL_INTERVAL_MINUTES`` sets the pause between rounds (default 5;
    0 switches the thread off, e.g. when cron runs ``ia-events seal-lists``)."""
    import os

    try:
        minutes = float(os.environ.get("IA_EVENTS_SEAL_INTERVAL_MINUTES", "5") or 5)
    except ValueError:
        minutes = 5.0
    if minutes <= 0:
        return None
    with _start_lock:
        key = inst.settings.database_url
        thread = _started.get(key)
        if thread is None or not thread.is_alive():
            thread = _started[key] = start_background(inst, interval_seconds=minutes * 60)
        return thread


def start_background(
    inst: Installation, interval_seconds: float = 300.0, first_delay: float = 20.0
) -> threading.Thread:
    """A daemon thread sealing what is due every few minutes (start once per process).

    Several server processes may run it at once: a version is unique per occurrence, so
    a second sealer of the same list fails its transaction and skips it."""
    stop = threading.Event()

    def loop() -> None:
        if stop.wait(first_delay):
            return
        while True:
            try:
                run = seal_due(inst, Actor.cli(SYSTEM_ACTOR))
                if run.sealed or run.failed:
                    log.info("sealing: %s sealed, %s failed", run.sealed, len(run.failed))
            except Exception:  # the server must keep running; the next round retries
                log.exception("sealing round failed")
            if stop.wait(interval_seconds):
                return

    thread = threading.Thread(target=loop, name="ia-events-sealing", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]  # read back by the server's tests
    thread.start()
    return thread


__all__ = [
    "SealResult",
    "SealRun",
    "SealState",
    "due",
    "ensure_background",
    "seal_due",
    "seal_occurrence",
    "seal_state",
    "sealed_evidence",
    "start_background",
]
