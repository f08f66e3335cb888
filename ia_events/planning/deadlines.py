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

*Eigene Fristen* (``DeadlineKind.custom``): the district coordination sets its own
internal dates before the state's (e.g. "Entwurf Sachbericht an die Koordination:
15.01."), for every agency or selected ones (``add_custom``, ``withdraw_custom``);
each agency marks one done, optionally with a document archived as evidence
(``complete_custom``). They are rows (``CustomDeadline``), shown through the same
``DeadlineView`` by ``for_year`` and ``upcoming``; the status is a ``DeadlineStatus``
row with kind ``custom:<id>``.

*Bald fällig*: an open deadline due within ``DUE_SOON_DAYS`` (today included); the
CLI's status word stays ``open`` (its JSON adds ``due_soon``).
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
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import BERLIN, berlin
from ia_events.core.models import (
    Agency,
    CustomDeadline,
    CustomDeadlineAgency,
    DeadlineStatus,
    NeedsAnalysis,
)
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import checked_text
from ia_events.planning.plans import agency_id_for
from storage.db import utcnow

PHASE_START_PARITY = 0  # phases begin in even years (2022/23, 2024/25, 2026/27)
DUE_SOON_DAYS = 14  # an open deadline due within this many days is "bald fällig"
CUSTOM_PREFIX = "custom:"  # DeadlineStatus.kind of an Eigene Frist: "custom:<id>"


class DeadlineKind(enum.StrEnum):
    sozialraumanalyse = "sozialraumanalyse"
    aufgabenplanung = "aufgabenplanung"
    antrag = "antrag"
    mittel_controlling = "mittel_controlling"
    online_controlling = "online_controlling"
    sachbericht = "sachbericht"
    zwischenverwendungsnachweis = "zwischenverwendungsnachweis"
    verwendungsnachweis = "verwendungsnachweis"
    custom = "custom"  # an Eigene Frist of the district coordination (a row, not a rule)


LABELS = {
    DeadlineKind.sozialraumanalyse: "Sozialraum-/Bedarfsanalyse",
    DeadlineKind.aufgabenplanung: "Aufgabenplanung",
    DeadlineKind.antrag: "Antrag",
    DeadlineKind.mittel_controlling: "Mittel-Controlling Mehr-/Minderbedarf",
    DeadlineKind.online_controlling: "Online-Controlling",
    DeadlineKind.sachbericht: "Sachbericht",
    DeadlineKind.zwischenverwendungsnachweis: "Zwischenverwendungsnachweis",
    DeadlineKind.verwendungsnachweis: "Verwendungsnachweis",
    DeadlineKind.custom: "Eigene Frist",
}


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    funding_year: int
    district_due: date  # to the district federation
    state_due: date | None  # to the state authority (None: district only)
    # An Eigene Frist: its row id, the coordinator's title and note, and the agencies
    # it applies to (None: every agency).
    custom_id: int | None = None
    custom_title: str = ""
    custom_note: str = ""
    agency_ids: frozenset[int] | None = None

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def is_custom(self) -> bool:
        return self.kind == DeadlineKind.custom

    @property
    def status_kind(self) -> str:
        """The ``DeadlineStatus.kind`` that records an agency's status for it."""
        return f"{CUSTOM_PREFIX}{self.custom_id}" if self.is_custom else self.kind.value

    @property
    def key(self) -> str:
        """Names the deadline within its funding year (the pages' widget keys)."""
        return self.status_kind

    def applies_to(self, agency_id: int) -> bool:
        return self.agency_ids is None or agency_id in self.agency_ids

    @property
    def title(self) -> str:
        if self.is_custom:
            return self.custom_title
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

    def due_soon(self, today: date) -> bool:
        """Open and due within ``DUE_SOON_DAYS`` days (today included): "bald fällig"."""
        return (
            not self.submitted and 0 <= (self.deadline.district_due - today).days <= DUE_SOON_DAYS
        )

    def state(self, today: date) -> str:
        """``submitted`` (``done`` for an Eigene Frist), ``overdue``, ``due_soon`` or
        ``open``: the four states the pages show (German via ``status_label``)."""
        if self.submitted:
            return "done" if self.deadline.is_custom else "submitted"
        if self.overdue(today):
            return "overdue"
        return "due_soon" if self.due_soon(today) else "open"

    def state_label(self, today: date) -> str:
        return {
            "submitted": "eingereicht",
            "done": "erledigt",
            "overdue": "überfällig",
            "due_soon": "bald fällig",
        }.get(self.state(today), "offen")

    def status(self, today: date) -> str:
        """``submitted``, ``overdue`` or ``open`` (the CLI's stable words)."""
        if self.submitted:
            return "submitted"
        return "overdue" if self.overdue(today) else "open"

    def as_json(self, today: date) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.deadline.kind.value,
            "title": self.deadline.title,
            "due": self.deadline.district_due.isoformat(),
            "status": self.status(today),
            "document_id": self.evidence_id,
            "due_soon": self.due_soon(today),
        }
        if self.deadline.is_custom:
            out["custom_id"] = self.deadline.custom_id
            out["note"] = self.deadline.custom_note
        return out


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
            if not d.applies_to(agency_id):
                continue
            row = status.get((agency_id, d.funding_year, d.status_kind))
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
    """One year's deadlines with status, per agency the actor reaches (or the one named):
    the funding cycle's and the district's own (Eigene Fristen), by district date."""
    rows = deadlines_for_year(year) + custom_deadlines(session, year=year)
    rows.sort(key=lambda d: (d.district_due, d.kind.value, d.custom_id or 0))
    return _views(session, _agencies(session, actor, agency_slug), rows)


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
    start, end = today - timedelta(days=overdue_days), today + timedelta(days=days)
    window = deadlines_between(start, end) + custom_deadlines(session, start=start, end=end)
    window.sort(key=lambda d: (d.district_due, d.kind.value, d.funding_year, d.custom_id or 0))
    views = _views(session, _agencies(session, actor, agency_slug), window)
    return [v for v in views if (v.deadline.district_due >= today) or (not v.submitted)]


def _status_row(
    s: Session, agency_id: int, funding_year: int, kind: str
) -> tuple[DeadlineStatus, int | None]:
    """The agency's status row of one deadline (added if absent) and the document it
    named before (``None`` for a new row)."""
    row = s.scalar(
        select(DeadlineStatus).where(
            DeadlineStatus.agency_id == agency_id,
            DeadlineStatus.funding_year == funding_year,
            DeadlineStatus.kind == kind,
        )
    )
    if row is None:
        row = DeadlineStatus(agency_id=agency_id, funding_year=funding_year, kind=kind)
        s.add(row)
        return row, None
    return row, row.evidence_id


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
        row, previous = _status_row(s, agency_id, deadline.funding_year, deadline.kind.value)
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


# -- Eigene Fristen -------------------------------------------------------------------------------


def _as_deadline(row: CustomDeadline, agency_ids: frozenset[int] | None) -> Deadline:
    return Deadline(
        DeadlineKind.custom,
        row.funding_year,
        row.due_on,
        None,
        custom_id=row.id,
        custom_title=row.title,
        custom_note=row.note,
        agency_ids=None if row.all_agencies else (agency_ids or frozenset()),
    )


def custom_deadlines(
    session: Session,
    *,
    year: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Deadline]:
    """The Eigene Fristen in force (not withdrawn) of funding year ``year`` and/or due
    within ``[start, end]``. A building block: whom they concern is decided by
    ``for_year``/``upcoming`` through the agencies the actor reaches."""
    q = select(CustomDeadline).where(CustomDeadline.withdrawn_at.is_(None))
    if year is not None:
        q = q.where(CustomDeadline.funding_year == year)
    if start is not None:
        q = q.where(CustomDeadline.due_on >= start)
    if end is not None:
        q = q.where(CustomDeadline.due_on <= end)
    rows = list(session.scalars(q.order_by(CustomDeadline.due_on, CustomDeadline.id)))
    chosen: dict[int, set[int]] = {}
    picked = [r.id for r in rows if not r.all_agencies]
    if picked:
        for link in session.scalars(
            select(CustomDeadlineAgency).where(CustomDeadlineAgency.deadline_id.in_(picked))
        ):
            chosen.setdefault(link.deadline_id, set()).add(link.agency_id)
    return [_as_deadline(r, frozenset(chosen.get(r.id, ()))) for r in rows]


def _custom_row(session: Session, deadline_id: int) -> CustomDeadline:
    row = session.get(CustomDeadline, int(deadline_id))
    if row is None or row.withdrawn_at is not None:
        raise NotFound(what="Die Frist")
    return row


@service(Permission.deadline_set, Reach.installation, "the district coordination")
def add_custom(
    session: Session,
    actor: Actor,
    *,
    title: str,
    due_on: date,
    funding_year: int,
    note: str = "",
    agency_slugs: list[str] | None = None,
    now: datetime | None = None,
) -> Deadline:
    """Set an Eigene Frist for every agency (``agency_slugs`` None or empty) or the ones
    named; audited with ids only."""
    require(actor, Permission.deadline_set)
    title = checked_text(title, "Titel", limit=200, multiline=False)
    note = checked_text(note, "Bemerkung", limit=2000, required=False)
    if not isinstance(due_on, date):
        raise InvalidInput(field="Fällig am", reason="Bitte ein Datum angeben.")
    year = int(funding_year)
    if not 2000 <= year <= 2100 or abs(due_on.year - year) > 2:
        raise InvalidInput(
            field="Förderjahr", reason="Das Förderjahr passt nicht zum Fälligkeitsdatum."
        )
    agency_ids: list[int] = []
    for slug in dict.fromkeys(agency_slugs or []):
        agency_id = session.scalar(
            select(Agency.id).where(Agency.slug == slug, Agency.active.is_(True))
        )
        if agency_id is None:
            raise NotFound(what=f"Die Integrationsagentur „{slug}“")
        agency_ids.append(agency_id)
    now = now or utcnow()
    row = CustomDeadline(
        title=title,
        due_on=due_on,
        funding_year=year,
        note=note,
        all_agencies=not agency_ids,
        created_by=actor.name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    for agency_id in agency_ids:
        session.add(CustomDeadlineAgency(deadline_id=row.id, agency_id=agency_id))
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.deadline_add,
        "deadline",
        row.id,
        kind=DeadlineKind.custom.value,
        year=year,
        due=due_on.isoformat(),
        agencies=agency_ids or "all",
        now=now,
    )
    return _as_deadline(row, frozenset(agency_ids))


@service(Permission.deadline_set, Reach.installation, "the district coordination")
def withdraw_custom(
    session: Session, actor: Actor, deadline_id: int, *, now: datetime | None = None
) -> None:
    """Take an Eigene Frist back (it disappears from every list; its record and the
    agencies' status rows stay); audited."""
    require(actor, Permission.deadline_set)
    row = _custom_row(session, deadline_id)
    now = now or utcnow()
    row.withdrawn_at = now
    audit.record(
        session,
        actor.name,
        Action.deadline_withdraw,
        "deadline",
        row.id,
        kind=DeadlineKind.custom.value,
        year=row.funding_year,
        now=now,
    )


@service(Permission.agency_read, Reach.listing)
def custom_overview(
    session: Session, actor: Actor, year: int, *, today: date | None = None
) -> list[tuple[Deadline, int, int]]:
    """The Eigene Fristen of ``year`` with (done, concerned) counts over the agencies
    the actor reaches: the coordinator's list."""
    today = today or berlin(utcnow()).date()
    views = _views(session, _agencies(session, actor, None), custom_deadlines(session, year=year))
    out: dict[int, tuple[Deadline, int, int]] = {}
    for v in views:
        d, done, total = out.get(v.deadline.custom_id or 0, (v.deadline, 0, 0))
        out[v.deadline.custom_id or 0] = (d, done + v.submitted, total + 1)
    return sorted(out.values(), key=lambda x: (x[0].district_due, x[0].custom_id or 0))


@service(Permission.plan_edit, Reach.agency)
def complete_custom(
    inst: Installation,
    actor: Actor,
    *,
    agency_slug: str,
    deadline_id: int,
    filename: str | None = None,
    content: bytes | BinaryIO | None = None,
    media_type: str = "application/octet-stream",
    note: str = "",
    now: datetime | None = None,
) -> DeadlineView:
    """An agency marks an Eigene Frist done; a document, if attached, is archived as
    evidence (like ``submit``). Marking it again replaces the document and note."""
    from ia_events.archive import evidence

    note = checked_text(note, "Bemerkung", limit=2000, required=False)
    with inst.db.read() as s:
        agency_id = agency_id_for(s, actor, agency_slug, Permission.plan_edit)
        row = _custom_row(s, deadline_id)
        chosen = frozenset(
            s.scalars(
                select(CustomDeadlineAgency.agency_id).where(
                    CustomDeadlineAgency.deadline_id == row.id
                )
            )
        )
        deadline = _as_deadline(row, chosen)
    if not deadline.applies_to(agency_id):
        raise NotFound(what="Die Frist")
    item = None
    if filename and content is not None:
        item = evidence.add_evidence(
            inst,
            actor,
            agency_slug=agency_slug,
            funding_year=deadline.funding_year,
            kind="report",
            filename=filename,
            content=content,
            title=f"{deadline.title} (erledigt)",
            media_type=media_type,
            source="Frist",
        )
    now = now or utcnow()
    with inst.db.write() as s:
        status, previous = _status_row(s, agency_id, deadline.funding_year, deadline.status_kind)
        status.submitted_at = now
        status.submitted_by = actor.name
        if item is not None:
            status.evidence_id = item.id
        status.note = note
        s.flush()
        audit.record(
            s,
            actor.name,
            Action.deadline_done,
            "deadline",
            deadline.custom_id,
            agency_id=agency_id,
            kind=deadline.status_kind,
            year=deadline.funding_year,
            evidence=item.id if item else None,
            sha256=item.sha256 if item else None,
            replaces=previous if item else None,
            now=now,
        )
        name = s.scalar(select(Agency.name).where(Agency.id == agency_id)) or agency_slug
        evidence_id = status.evidence_id
    return DeadlineView(deadline, agency_slug, name, now, actor.name, evidence_id, note)


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
    return count + _demo_custom(inst, actor, today, [slug for slug, _ in agencies])


DEMO_CUSTOM = (
    # (title, days from the demo's load date, note, agencies: None = all, else the first n)
    (
        "Teilnehmerlisten des Jahres vollständig",
        10,
        "Alle Listen des Förderjahres hochgeladen und versiegelt.",
        None,
    ),
    (
        "Fördermittelabruf 2. Halbjahr",
        17,
        "Abruf über die Koordination, bitte mit Ausgabenübersicht.",
        4,
    ),
    (
        "Entwurf Sachbericht an die Koordination",
        25,
        "Entwurf per Mail an die Koordination; Rückmeldung bis Ende Januar.",
        None,
    ),
)
DEMO_CUSTOM_OPEN = (2, 6, 11)  # agencies (by id order) that have not yet done the first one


def _demo_custom(inst: Installation, actor: Actor, today: date, slugs: list[str]) -> int:
    """Demo: three Eigene Fristen due in the next one to four weeks; most agencies
    already did the first (some with a document), the others' is "bald fällig"."""
    from fpdf import FPDF

    made = []
    with inst.db.write() as s:
        for title, days, note, first_n in DEMO_CUSTOM:
            made.append(
                add_custom(
                    s,
                    actor,
                    title=title,
                    due_on=today + timedelta(days=days),
                    funding_year=today.year,
                    note=note,
                    agency_slugs=slugs[:first_n] if first_n else None,
                    now=datetime.combine(
                        today - timedelta(days=30), datetime.min.time(), tzinfo=BERLIN
                    ),
                )
            )
    count = len(made)
    first = made[0]
    for index, slug in enumerate(slugs):
        if index in DEMO_CUSTOM_OPEN:
            continue
        content = None
        if index % 2 == 0:
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("helvetica", size=12)
            pdf.multi_cell(0, 8, "Teilnehmerlisten: Übersicht\n(Demodokument, fiktiv)")
            content = bytes(pdf.output())
        complete_custom(
            inst,
            actor,
            agency_slug=slug,
            deadline_id=first.custom_id or 0,
            filename="teilnehmerlisten-uebersicht.pdf" if content else None,
            content=content,
            media_type="application/pdf",
            note="Erledigt (Demo).",
            now=datetime.combine(today, datetime.min.time(), tzinfo=BERLIN)
            - timedelta(days=1 + index % 5),
        )
        count += 1
    return count
