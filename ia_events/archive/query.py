"""Finding evidence: lists for the CLI, filtered pages for the archive screen, details.

Read-only: nothing here changes data or reads file content (that is
``evidence.read_content``, which is audited). Filtering and counting happen in
SQL, a page at a time, so the screen stays fast with many thousand items.
Tombstones (deleted items) are included where asked, with their metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.errors import NotFound
from ia_events.core.models import (
    Activity,
    Agency,
    Evidence,
    EvidenceRevision,
    Occurrence,
    SubGoal,
    evidence_subgoals,
)
from ia_events.core.permissions import Reach, service


def _views(session: Session, q) -> list:
    from ia_events.archive.evidence import _view, annotate

    rows = session.execute(q.options(selectinload(Evidence.subgoals))).all()
    return annotate(session, [_view(e, slug) for e, slug in rows])


@service(Permission.evidence_read, Reach.listing)
def list_evidence(
    session: Session,
    actor: Actor,
    agency_slug: str | None = None,
    year: int | None = None,
    limit: int | None = None,
    occurrence_id: int | None = None,
) -> list:  # list[EvidenceView]
    """Every item the actor reaches, tombstones included (CLI ``list evidence``).

    With ``occurrence_id``: that occurrence's items; another agency's occurrence
    answers ``NotFound`` like an unknown one."""
    require(actor, Permission.evidence_read)
    q = (
        select(Evidence, Agency.slug)
        .join(Agency, Agency.id == Evidence.agency_id)
        .where(scope_filter(actor, Evidence.agency_id))
        .order_by(Evidence.id)
    )
    if agency_slug:
        q = q.where(Agency.slug == agency_slug)
    if year:
        q = q.where(Evidence.funding_year == year)
    if occurrence_id is not None:
        owner = session.scalar(select(Occurrence.agency_id).where(Occurrence.id == occurrence_id))
        if owner is None:
            raise NotFound(what=f"Der Termin {occurrence_id}")
        require(actor, Permission.evidence_read, owner)
        q = q.where(Evidence.occurrence_id == occurrence_id)
    if limit:
        q = q.limit(limit)
    return _views(session, q)


@dataclass(frozen=True)
class EvidenceFilter:
    agency_slug: str | None = None
    year: int | None = None
    subgoal_id: int | None = None
    occurrence_id: int | None = None
    kind: str | None = None
    text: str = ""
    include_deleted: bool = False
    include_superseded: bool = True


@dataclass
class EvidencePage:
    items: list  # list[EvidenceView]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@service(Permission.evidence_read, Reach.listing)
def search_evidence(
    session: Session, actor: Actor, flt: EvidenceFilter, page: int = 1, page_size: int = 25
) -> EvidencePage:
    """One page of items matching the filter, newest first, with the total count."""
    require(actor, Permission.evidence_read)
    conds = [scope_filter(actor, Evidence.agency_id)]
    if flt.agency_slug:
        conds.append(Agency.slug == flt.agency_slug)
    if flt.year:
        conds.append(Evidence.funding_year == flt.year)
    if flt.kind:
        conds.append(Evidence.kind == flt.kind)
    if flt.occurrence_id:
        conds.append(Evidence.occurrence_id == flt.occurrence_id)
    if flt.subgoal_id:
        conds.append(
            Evidence.id.in_(
                select(evidence_subgoals.c.evidence_id).where(
                    evidence_subgoals.c.subgoal_id == flt.subgoal_id
                )
            )
        )
    if flt.text.strip():
        # What the user typed is text, not a pattern: % and _ match themselves.
        typed = flt.text.strip().lower()
        conds.append(
            or_(
                func.lower(Evidence.title).contains(typed, autoescape=True),
                func.lower(Evidence.filename).contains(typed, autoescape=True),
                func.lower(Evidence.source).contains(typed, autoescape=True),
                Evidence.sha256.contains(typed, autoescape=True),
            )
        )
    if not flt.include_deleted:
        conds.append(Evidence.deleted_at.is_(None))
    if not flt.include_superseded:
        conds.append(Evidence.superseded_by_id.is_(None))
    base = select(Evidence, Agency.slug).join(Agency, Agency.id == Evidence.agency_id).where(*conds)
    total = session.scalar(
        select(func.count())
        .select_from(Evidence)
        .join(Agency, Agency.id == Evidence.agency_id)
        .where(*conds)
    )
    page_size = min(max(page_size, 1), 200)
    page = max(page, 1)
    q = base.order_by(Evidence.id.desc()).offset((page - 1) * page_size).limit(page_size)
    return EvidencePage(_views(session, q), int(total or 0), page, page_size)


@dataclass
class EvidenceDetail:
    view: object  # EvidenceView
    agency_name: str
    occurrence_label: str | None
    activity_title: str | None
    subgoals: list[tuple[int, str]]
    revisions: list[tuple[int, str, datetime, str]] = field(default_factory=list)
    holds: list = field(default_factory=list)  # list[HoldView]
    versions: list[int] = field(default_factory=list)  # older ids this one supersedes


@service(Permission.evidence_read, Reach.agency)
def get_detail(session: Session, actor: Actor, evidence_id: int) -> EvidenceDetail:
    from ia_events.archive.evidence import _view
    from ia_events.archive.retention import list_holds
    from ia_events.core.messages import fmt_datetime

    require(actor, Permission.evidence_read)
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise NotFound(what=f"Der Nachweis {evidence_id}")
    require(actor, Permission.evidence_read, item.agency_id)
    agency = session.get(Agency, item.agency_id)
    assert agency is not None
    occ_label = None
    if item.occurrence_id:
        occ = session.get(Occurrence, item.occurrence_id)
        if occ is not None:
            occ_label = f"{occ.activity.title}, {fmt_datetime(occ.starts_at)}"
    act_title = None
    if item.activity_id:
        act_title = session.scalar(select(Activity.title).where(Activity.id == item.activity_id))
    revisions = [
        (r.revision, r.changed_by, r.changed_at, r.reason)
        for r in session.scalars(
            select(EvidenceRevision)
            .where(EvidenceRevision.evidence_id == item.id)
            .order_by(EvidenceRevision.revision)
        )
    ]
    versions: list[int] = []
    prev = item.supersedes_id
    while prev is not None and len(versions) < 50:
        versions.append(prev)
        prev = session.scalar(select(Evidence.supersedes_id).where(Evidence.id == prev))
    return EvidenceDetail(
        view=_view(item, agency.slug),
        agency_name=agency.name,
        occurrence_label=occ_label,
        activity_title=act_title,
        subgoals=[(g.id, g.title) for g in item.subgoals],
        revisions=revisions,
        holds=list_holds(session, actor, evidence_id=item.id),
        versions=versions,
    )


@dataclass
class LinkOptions:
    """What an upload form may link to, for one agency and funding year.

    ``occurrences``: the dates already held first, the latest of them on top (a list
    is filed after the date), then the coming ones, the next first; cancelled dates
    last. ``occurrence_subgoals``: each date's activity's sub-goals of the year (an
    upload for a date is filed under them unless the user changes it)."""

    agency_id: int
    occurrences: list[tuple[int, str]]
    subgoals: list[tuple[int, str]]
    occurrence_subgoals: dict[int, list[int]] = field(default_factory=dict)


@service(Permission.evidence_read, Reach.agency)
def link_options(
    session: Session, actor: Actor, agency_slug: str, year: int, now: datetime | None = None
) -> LinkOptions:
    from ia_events.core.messages import fmt_datetime
    from ia_events.core.models import OccurrenceStatus, activity_subgoals
    from storage.db import utcnow

    require(actor, Permission.evidence_read)
    agency_id = session.scalar(select(Agency.id).where(Agency.slug == agency_slug))
    if agency_id is None:
        raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
    require(actor, Permission.evidence_read, agency_id)
    occs = session.execute(
        select(
            Occurrence.id,
            Occurrence.starts_at,
            Occurrence.status,
            Occurrence.activity_id,
            Activity.title,
        )
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(Occurrence.agency_id == agency_id, Occurrence.funding_year == year)
    ).all()
    now = now or utcnow()

    def order(row: Any) -> tuple[int, float]:
        at = row.starts_at.timestamp()
        if row.status == OccurrenceStatus.cancelled:
            return (2, -at)
        return (0, -at) if row.starts_at <= now else (1, at)

    occs = sorted(occs, key=lambda r: (*order(r), r.id))
    goals = session.execute(
        select(SubGoal.id, SubGoal.title)
        .where(SubGoal.agency_id == agency_id, SubGoal.funding_year == year)
        .order_by(SubGoal.position, SubGoal.id)
    ).all()
    year_goals = {i for i, _ in goals}
    by_activity: dict[int, list[int]] = {}
    for activity_id, goal_id in session.execute(
        select(activity_subgoals.c.activity_id, activity_subgoals.c.subgoal_id)
        .join(Activity, Activity.id == activity_subgoals.c.activity_id)
        .where(Activity.agency_id == agency_id)
        .order_by(activity_subgoals.c.activity_id, activity_subgoals.c.subgoal_id)
    ):
        if goal_id in year_goals:
            by_activity.setdefault(activity_id, []).append(goal_id)
    return LinkOptions(
        agency_id,
        [
            (
                r.id,
                f"{r.title} – {fmt_datetime(r.starts_at)}"
                + (" (abgesagt)" if r.status == OccurrenceStatus.cancelled else ""),
            )
            for r in occs
        ],
        [(i, t) for i, t in goals],
        {r.id: by_activity.get(r.activity_id, []) for r in occs},
    )


@service(Permission.evidence_read, Reach.agency)
def occurrence_context(session: Session, actor: Actor, occurrence_id: int) -> tuple[str, int]:
    """(agency slug, funding year) of an occurrence the actor reaches (for preselection)."""
    require(actor, Permission.evidence_read)
    row = session.execute(
        select(Agency.slug, Occurrence.funding_year, Occurrence.agency_id)
        .join(Agency, Agency.id == Occurrence.agency_id)
        .where(Occurrence.id == occurrence_id)
    ).first()
    if row is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.evidence_read, row[2])
    return row[0], row[1]
