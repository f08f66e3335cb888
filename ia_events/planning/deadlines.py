"""Deadlines (Fristen) of the funding cycle and each agency's status for them.

The dates are rules, not rows: the table of docs/design.md section 2 as we read it
for funding year Y (phases of two years begin in even years -- the handbook
names 30.10.2021 as the next application deadline, i.e. for 2022/23):

- Aufgabenplanung: 15.11. of Y-1 (district and state), every year;
- Sozialraum-/Bedarfsanalyse: only every two years ("alle zwei Jahre ... dem
  Förderantrag beizufügen"), i.e. 15.11. of the year before a phase, and it
  belongs to the phase's first year; the second year owes none;
- Antrag (only for the first year of a phase): 30.10. / 30.11. of Y-1;
- Mittel-Controlling Mehr-/Minderbedarf: 30.09. of Y (district only);
- Online-Controlling and Sachbericht: 30.04. / 30.06. of Y+1;
- Zwischenverwendungsnachweis (first year of a phase) and
  Verwendungsnachweis (second year): 30.04. / 30.06. of Y+1.

An agency's status per (funding year, kind) is a ``DeadlineStatus`` row:
absent means open; submitted means the document went out -- the document
itself is archived as evidence (``evidence.add_evidence``) and linked. A
Sozialraum-/Bedarfsanalyse entered as its own record (``planning.analyses``)
and submitted counts as submitted for its phase too.
Limits: dates that fall on a weekend are not moved; a submission can be
replaced by a newer document, never withdrawn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput
from ia_events.core.installation import Installation
from ia_events.core.messages import BERLIN, berlin
from ia_events.core.models import Agency, DeadlineStatus, NeedsAnalysis
from ia_events.core.permissions import Reach, service
from ia_events.planning.plans import agency_id_for
from storage.db import utcnow

PHASE_START_PARITY = 0  # phases begin in even years (2022/23, 2024/25, 2026/27)


class DeadlineKind(enum.StrEnum):
    sozialraumanalyse = "sozialraumanalyse"
    aufgabenplanung = "aufgabenplanung"
    antrag = "antrag"
    mittel_controlling = "mittel_controlling"
    online_controlling = "online_controlling"
    sachbericht = "sachbericht"
    zwischenverwendungsnachweis = "zwischenverwendungsnachweis"
    verwendungsnachweis = "verwendungsnachweis"


LABELS = {
    DeadlineKind.sozialraumanalyse: "Sozialraum-/Bedarfsanalyse",
    DeadlineKind.aufgabenplanung: "Aufgabenplanung",
    DeadlineKind.antrag: "Antrag",
    DeadlineKind.mittel_controlling: "Mittel-Controlling Mehr-/Minderbedarf",
    DeadlineKind.online_controlling: "Online-Controlling",
    DeadlineKind.sachbericht: "Sachbericht",
    DeadlineKind.zwischenverwendungsnachweis: "Zwischenverwendungsnachweis",
    DeadlineKind.verwendungsnachweis: "Verwendungsnachweis",
}


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    funding_year: int
    district_due: date  # to the district federation
    state_due: date | None  # to the state authority (None: district only)

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def title(self) -> str:
        if self.kind in (DeadlineKind.antrag, DeadlineKind.sozialraumanalyse):
            start, end = phase_of(self.funding_year)
            return f"{self.label} Förderphase {start}/{end}"
        return f"{self.label} {self.funding_year}"


def phase_of(year: int) -> tuple[int, int]:
    """(first, second) funding year of the phase ``year`` belongs to."""
    first = year if year % 2 == PHASE_START_PARITY else year - 1
    return first, first + 1


def deadlines_for_year(year: int) -> list[Deadline]:
    """Every deadline belonging to funding year ``year``, by district date."""
    first, _ = phase_of(year)
    k = DeadlineKind
    rows = [
        Deadline(k.aufgabenplanung, year, date(year - 1, 11, 15), date(year - 1, 11, 15)),
        Deadline(k.mittel_controlling, year, date(year, 9, 30), None),
        Deadline(k.online_controlling, year, date(year + 1, 4, 30), date(year + 1, 6, 30)),
        Deadline(k.sachbericht, year, date(year + 1, 4, 30), date(year + 1, 6, 30)),
    ]
    if year == first:
        rows.append(Deadline(k.antrag, year, date(year - 1, 10, 30), date(year - 1, 11, 30)))
        rows.append(
            Deadline(k.sozialraumanalyse, year, date(year - 1, 11, 15), date(year - 1, 11, 15))
        )
        rows.append(
            Deadline(
                k.zwischenverwendungsnachweis, year, date(year + 1, 4, 30), date(year + 1, 6, 30)
            )
        )
    else:
        rows.append(
            Deadline(k.verwendungsnachweis, year, date(year + 1, 4, 30), date(year + 1, 6, 30))
        )
    return sorted(rows, key=lambda d: (d.district_due, d.kind.value))


def deadlines_between(start: date, end: date) -> list[Deadline]:
    """Deadlines whose district (or state) date falls in ``[start, end]``."""
    out = []
    for year in range(start.year - 1, end.year + 2):
        for d in deadlines_for_year(year):
            if start <= d.district_due <= end or (d.state_due and start <= d.state_due <= end):
                out.append(d)
    return sorted(out, key=lambda d: (d.district_due, d.kind.value, d.funding_year))


def find(year: int, kind: str) -> Deadline:
    for d in deadlines_for_year(year):
        if d.kind == kind:
            return d
    raise InvalidInput(field="Frist", reason=f"„{kind}“ gibt es für das Förderjahr {year} nicht.")


# -- status per agency ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineView:
    deadline: Deadline
    agency_slug: str
    agency_name: str
    submitted_at: datetime | None
    submitted_by: str | None
    evidence_id: int | None
    note: str

    @property
    def submitted(self) -> bool:
        return self.submitted_at is not None

    def overdue(self, today: date) -> bool:
        return not self.submitted and self.deadline.district_due < today

    def state_label(self, today: date) -> str:
        if self.submitted:
            return "eingereicht"
        return "überfällig" if self.overdue(today) else "offen"

    def status(self, today: date) -> str:
        """``submitted``, ``overdue`` or ``open`` (the CLI's stable words)."""
        if self.submitted:
            return "submitted"
        return "overdue" if self.overdue(today) else "open"

    def as_json(self, today: date) -> dict[str, object]:
        return {
            "kind": self.deadline.kind.value,
            "title": self.deadline.title,
            "due": self.deadline.district_due.isoformat(),
            "status": self.status(today),
            "document_id": self.evidence_id,
        }


def _statuses(
    session: Session, agency_ids: list[int], years: set[int]
) -> dict[tuple[int, int, str], DeadlineStatus]:
    if not agency_ids or not years:
        return {}
    rows = session.scalars(
        select(DeadlineStatus).where(
            DeadlineStatus.agency_id.in_(agency_ids), DeadlineStatus.funding_year.in_(years)
        )
    )
    return {(r.agency_id, r.funding_year, r.kind): r for r in rows}


def _analyses(
    session: Session, agency_ids: list[int], years: set[int]
) -> dict[tuple[int, int], NeedsAnalysis]:
    """Submitted analyses by (agency, phase start): they meet the analysis deadline."""
    if not agency_ids or not years:
        return {}
    rows = session.scalars(
        select(NeedsAnalysis).where(
            NeedsAnalysis.agency_id.in_(agency_ids),
            NeedsAnalysis.phase_start.in_(years),
            NeedsAnalysis.submitted_at.is_not(None),
        )
    )
    return {(r.agency_id, r.phase_start): r for r in rows}


def _views(
    session: Session, agencies: list[tuple[int, str, str]], deadlines: list[Deadline]
) -> list[DeadlineView]:
    status = _statuses(session, [a[0] for a in agencies], {d.funding_year for d in deadlines})
    analyses = _analyses(session, [a[0] for a in agencies], {d.funding_year for d in deadlines})
    out = []
    for d in deadlines:
        for agency_id, slug, name in agencies:
            row = status.get((agency_id, d.funding_year, d.kind.value))
            analysis = analyses.get((agency_id, d.funding_year))
            if row is None and d.kind == DeadlineKind.sozialraumanalyse and analysis:
                out.append(
                    DeadlineView(
                        d,
                        slug,
                        name,
                        analysis.submitted_at,
                        None,
                        analysis.evidence_ids[0] if analysis.evidence_ids else None,
                        "Als Analyse-Datensatz eingereicht",
                    )
                )
                continue
            out.append(
                DeadlineView(
                    d,
                    slug,
                    name,
                    row.submitted_at if row else None,
                    row.submitted_by if row else None,
                    row.evidence_id if row else None,
                    row.note if row else "",
                )
            )
    return out


def _agencies(session: Session, actor: Actor, slug: str | None) -> list[tuple[int, str, str]]:
    require(actor, Permission.agency_read)
    q = select(Agency.id, Agency.slug, Agency.name).where(
        scope_filter(actor, Agency.id), Agency.active.is_(True)
    )
    if slug:
        agency_id_for(session, actor, slug, Permission.agency_read)
        q = q.where(Agency.slug == slug)
    return [(r.id, r.slug, r.name) for r in session.execute(q.order_by(Agency.name))]


@service(Permission.agency_read, Reach.listing)
def for_year(
    session: Session, actor: Actor, year: int, agency_slug: str | None = None
) -> list[DeadlineView]:
    """One year's deadlines with status, per agency the actor reaches (or the one named)."""
    return _views(session, _agencies(session, actor, agency_slug), deadlines_for_year(year))


@service(Permission.agency_read, Reach.listing)
def upcoming(
    session: Session,
    actor: Actor,
    agency_slug: str | None = None,
    *,
    today: date | None = None,
    days: int = 90,
    overdue_days: int = 365,
) -> list[DeadlineView]:
    """Open deadlines due within ``days``, and open ones overdue for up to ``overdue_days``."""
    today = today or berlin(utcnow()).date()
    window = deadlines_between(today - timedelta(days=overdue_days), today + timedelta(days=days))
    views = _views(session, _agencies(session, actor, agency_slug), window)
    return [v for v in views if (v.deadline.district_due >= today) or (not v.submitted)]


@service(Permission.plan_edit, Reach.agency)
def submit(
    inst: Installation,
    actor: Actor,
    *,
    agency_slug: str,
    funding_year: int,
    kind: str,
    filename: str,
    content: bytes | BinaryIO,
    media_type: str = "application/octet-stream",
    note: str = "",
    now: datetime | None = None,
) -> DeadlineView:
    """Mark a deadline submitted; the document is archived as evidence and attached."""
    from ia_events.archive import evidence

    deadline = find(int(funding_year), kind)
    with inst.db.read() as s:
        agency_id = agency_id_for(s, actor, agency_slug, Permission.plan_edit)
    if not filename:
        raise InvalidInput(field="Dokument", reason="Bitte das eingereichte Dokument anhängen.")
    item = evidence.add_evidence(
        inst,
        actor,
        agency_slug=agency_slug,
        funding_year=deadline.funding_year,
        kind="report",
        filename=filename,
        content=content,
        title=f"{deadline.title} (eingereicht)",
        media_type=media_type,
        source="Frist",
    )
    now = now or utcnow()
    with inst.db.write() as s:
        row = s.scalar(
            select(DeadlineStatus).where(
                DeadlineStatus.agency_id == agency_id,
                DeadlineStatus.funding_year == deadline.funding_year,
                DeadlineStatus.kind == deadline.kind.value,
            )
        )
        previous = row.evidence_id if row else None
        if row is None:
            row = DeadlineStatus(
                agency_id=agency_id, funding_year=deadline.funding_year, kind=deadline.kind.value
            )
            s.add(row)
        row.submitted_at = now
        row.submitted_by = actor.name
        row.evidence_id = item.id
        row.note = (note or "").strip()[:2000]
        s.flush()
        audit.record(
            s,
            actor.name,
            Action.deadline_submit,
            "deadline",
            row.id,
            agency_id=agency_id,
            kind=deadline.kind.value,
            year=deadline.funding_year,
            evidence=item.id,
            sha256=item.sha256,
            replaces=previous,
            now=now,
        )
        name = s.scalar(select(Agency.name).where(Agency.id == agency_id)) or agency_slug
    return DeadlineView(deadline, agency_slug, name, now, actor.name, item.id, row.note)


@service(Permission.plan_edit, Reach.agency)
def mark_submitted_without_document(
    session: Session,
    actor: Actor,
    agency_id: int,
    funding_year: int,
    kind: str,
    submitted_at: datetime,
    note: str,
) -> DeadlineStatus:
    """For back-filling past years (demo, migration of old records); audited like a submission."""
    deadline = find(funding_year, kind)
    require(actor, Permission.plan_edit, agency_id)
    row = DeadlineStatus(
        agency_id=agency_id,
        funding_year=funding_year,
        kind=deadline.kind.value,
        submitted_at=submitted_at,
        submitted_by=actor.name,
        note=note,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.deadline_submit,
        "deadline",
        row.id,
        agency_id=agency_id,
        kind=deadline.kind.value,
        year=funding_year,
        evidence=None,
    )
    return row


OVERDUE_DEMO_AGENCY = 8  # the one agency (by id order) that still owes its latest document


@service(None, Reach.setup)
def load_demo(inst: Installation, actor: Actor, today: date) -> int:
    """Demo: every agency submitted its past deadlines on time with a document (some a
    week or two early), except one agency that still owes its most recent one: exactly
    one overdue item. Deadlines still ahead stay open (due soon, not overdue) -- also
    next funding year's ones that already fell due (Aufgabenplanung on 15.11.)."""
    from fpdf import FPDF

    with inst.db.read() as s:
        agencies = [
            tuple(r) for r in s.execute(select(Agency.slug, Agency.name).order_by(Agency.id))
        ]
    due = sorted(
        (
            d
            for year in (today.year - 2, today.year - 1, today.year, today.year + 1)
            for d in deadlines_for_year(year)
            if d.district_due < today
            and (year >= today.year - 1 or d.district_due >= today - timedelta(days=400))
        ),
        key=lambda d: (d.district_due, d.kind.value),
    )
    count = 0
    for index, (slug, name) in enumerate(agencies):
        todo = due[:-1] if index == OVERDUE_DEMO_AGENCY and due else due
        for n, d in enumerate(todo):
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("helvetica", size=12)
            pdf.multi_cell(0, 8, f"{d.title}\n{name}\n(Demodokument, fiktiv)")
            submitted = datetime.combine(d.district_due, datetime.min.time(), tzinfo=BERLIN)
            early = 1 + (index * 3 + n * 5) % 14  # one day to two weeks before the date
            submit(
                inst,
                actor,
                agency_slug=slug,
                funding_year=d.funding_year,
                kind=d.kind.value,
                filename=f"{d.kind.value}-{d.funding_year}.pdf",
                content=bytes(pdf.output()),
                media_type="application/pdf",
                note="Fristgerecht eingereicht (Demo).",
                now=submitted - timedelta(days=early),
            )
            count += 1
    return count
