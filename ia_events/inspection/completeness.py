"""Prüfung: what an inspector sees for one agency and funding year (optionally one sub-goal).

``inspect`` gathers the tree task plan → sub-goals (target vs. actual) →
activities → occurrences (attendance figures) → evidence, and collects the
completeness findings the coordinator must see *before* exporting: held
occurrences with attendance but without a participant list (sealed) or signed
scan, paper entries without the signed scan, sub-goals without
evidence, targets not met, evidence past or near its retention end, items on
legal hold, no approved plan, no submitted Sachbericht.

Like ``integrity.verify`` it only *collects* findings; pages and the bundle
render them. Figures are aggregated in SQL (a handful of grouped queries,
whatever the data size). The bundle itself is written by ``ia_events.inspection.bundle``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.errors import NotFound
from ia_events.core.installation import Settings
from ia_events.core.messages import berlin, fmt_date, fmt_number
from ia_events.core.models import (
    Activity,
    ActivityReport,
    Agency,
    Attendance,
    Evidence,
    EvidenceKind,
    Occurrence,
    OccurrenceStatus,
    TaskPlan,
    TaskPlanVersion,
    activity_subgoals,
    evidence_subgoals,
)
from ia_events.core.permissions import Reach, service
from ia_events.network.meetings import (
    REQUIRED_KIND,
    REQUIRED_WORKING_GROUPS,
    KindCount,
    held_counts,
)
from ia_events.reporting.progress import SubGoalProgress, progress_for_agency
from storage.db import utcnow

LIST_KINDS = (EvidenceKind.participant_list, EvidenceKind.signed_list_scan)
# A date owes its list once it has ended plus the sealing grace time (the same default as
# ``Settings.seal_grace_hours``; callers with an installation pass its setting).
DEFAULT_GRACE = timedelta(hours=2)


def grace_of(settings: Settings) -> timedelta:
    """The installation's sealing grace time (``IA_EVENTS_SEAL_GRACE_HOURS``)."""
    return timedelta(hours=settings.seal_grace_hours)


PRESS_KINDS = (EvidenceKind.press_release, EvidenceKind.press_clipping)
RETENTION_NEAR_DAYS = 365


@dataclass(frozen=True)
class EvidenceNode:
    id: int
    kind: str
    title: str
    filename: str
    media_type: str
    sha256: str
    size: int
    doc_date: date | None
    occurrence_id: int | None
    activity_id: int | None
    subgoal_ids: tuple[int, ...]
    retention_until: date
    legal_hold: bool
    superseded_by_id: int | None
    blob_id: int | None


@dataclass
class OccurrenceNode:
    id: int
    activity_id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    held: bool
    participants: int = 0
    by_method: dict[str, int] = dataclasses.field(default_factory=dict)
    by_category: dict[str, int] = dataclasses.field(default_factory=dict)
    distinct_cards: int = 0
    evidence_ids: list[int] = dataclasses.field(default_factory=list)


@dataclass
class ActivityNode:
    id: int
    title: str
    field: str
    attendance_mode: str
    subgoal_ids: list[int]
    occurrence_ids: list[int] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One completeness flag: a stable ``code``, how serious, what it concerns."""

    code: str
    severity: str  # "warning" | "info"
    object_type: str
    object_id: int | None
    text: str

    def as_json(self) -> dict[str, object]:
        """The CLI contract (``ia-events inspect --json``): code, severity, subject, id, message."""
        return {
            "code": self.code,
            "severity": self.severity,
            "subject": self.object_type,
            "id": self.object_id,
            "message": self.text,
        }


@dataclass
class InspectionTree:
    agency_id: int
    agency_slug: str
    agency_name: str
    carrier: str
    year: int
    subgoal_id: int | None
    plan: dict[str, Any] | None
    approved: dict[str, Any] | None  # the approved TaskPlanVersion (frozen copy)
    report: dict[str, Any] | None  # status, submitted_at, evidence id, figures at submission
    subgoals: list[SubGoalProgress]
    activities: dict[int, ActivityNode]
    occurrences: dict[int, OccurrenceNode]
    evidence: dict[int, EvidenceNode]
    findings: list[Finding]
    generated_at: datetime
    # The sealing grace time: a held date owes its list from its end plus this on.
    grace: timedelta = DEFAULT_GRACE

    def list_due(self, occ: OccurrenceNode, now: datetime | None = None) -> bool:
        """Held and ended plus the grace time (as of ``now``, default: when gathered): only
        then is a missing list a gap -- a running or just-ended date has its list sealed
        by the background job after the grace time."""
        return occ.held and occ.ends_at + self.grace <= (now or self.generated_at)

    # Facharbeitskreise of the year (network.meetings): held so far and still planned.
    working_groups_held: int = 0
    working_groups_planned: int = 0

    def evidence_for_subgoal(self, subgoal_id: int) -> list[EvidenceNode]:
        acts = {a.id for a in self.activities.values() if subgoal_id in a.subgoal_ids}
        occs = {o.id for o in self.occurrences.values() if o.activity_id in acts}
        return [
            e
            for e in self.evidence.values()
            if subgoal_id in e.subgoal_ids or e.occurrence_id in occs or e.activity_id in acts
        ]

    @property
    def totals(self) -> dict[str, int]:
        held = [o for o in self.occurrences.values() if o.held]
        return {
            "activities": len(self.activities),
            "occurrences_held": len(held),
            "participants": sum(o.participants for o in held),
            "evidence": len(self.evidence),
            "evidence_bytes": sum(e.size for e in self.evidence.values()),
        }


@service(Permission.bundle_export, Reach.agency)
def inspect(
    session: Session,
    actor: Actor,
    agency_slug: str,
    year: int,
    subgoal_id: int | None = None,
    now: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> InspectionTree:
    """The tree and its findings; another agency's slug or sub-goal reads as unknown.
    ``grace``: the installation's sealing grace time (``Settings.seal_grace_hours``)."""
    now = now or utcnow()
    agency = session.scalar(select(Agency).where(Agency.slug == agency_slug))
    if agency is None:
        raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
    require(actor, Permission.bundle_export, agency.id)
    progress = progress_for_agency(session, agency.id, year, now)
    if subgoal_id is not None:
        progress = [p for p in progress if p.id == subgoal_id]
        if not progress:
            raise NotFound(what=f"Das Teilziel {subgoal_id}")
    plan_row = session.scalar(
        select(TaskPlan).where(TaskPlan.agency_id == agency.id, TaskPlan.funding_year == year)
    )
    tree = InspectionTree(
        agency_id=agency.id,
        agency_slug=agency.slug,
        agency_name=agency.name,
        carrier=agency.carrier,
        year=year,
        subgoal_id=subgoal_id,
        plan=_plan(plan_row),
        approved=_approved(session, plan_row),
        report=_report(session, agency.id, year),
        subgoals=progress,
        activities=_activities(session, agency.id, year, subgoal_id),
        occurrences={},
        evidence={},
        findings=[],
        generated_at=now,
        grace=grace,
    )
    tree.occurrences = _occurrences(session, agency.id, year, list(tree.activities), now)
    for occ in tree.occurrences.values():
        tree.activities[occ.activity_id].occurrence_ids.append(occ.id)
    tree.evidence = _evidence(session, tree)
    for e in tree.evidence.values():
        if e.occurrence_id in tree.occurrences:
            tree.occurrences[e.occurrence_id].evidence_ids.append(e.id)
    if subgoal_id is None:
        count = held_counts(session, [agency.id], year, now).get(agency.id, {})
        wg = count.get(REQUIRED_KIND, KindCount())
        tree.working_groups_held, tree.working_groups_planned = wg.held, wg.planned
    tree.findings = findings(tree, now)
    return tree


def _plan(plan: TaskPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "id": plan.id,
        "topic": plan.topic,
        "reason": plan.reason,
        "goal": plan.goal,
        "methods": plan.methods,
        "status": plan.status,
        "version": plan.version,
        "approved_version": plan.approved_version,
        "approved_by": plan.approved_by,
        "approved_at": plan.approved_at,
    }


def _approved(session: Session, plan: TaskPlan | None) -> dict[str, Any] | None:
    if plan is None or plan.approved_version is None:
        return None
    row = session.scalar(
        select(TaskPlanVersion).where(
            TaskPlanVersion.task_plan_id == plan.id,
            TaskPlanVersion.version == plan.approved_version,
        )
    )
    if row is None:
        return None
    return {
        "version": row.version,
        "snapshot": dict(row.snapshot or {}),
        "changed_by": row.changed_by,
        "changed_at": row.changed_at,
        "approved_by": plan.approved_by,
        "approved_at": plan.approved_at,
    }


def _report(session: Session, agency_id: int, year: int) -> dict[str, Any] | None:
    row = session.scalar(
        select(ActivityReport).where(
            ActivityReport.agency_id == agency_id, ActivityReport.funding_year == year
        )
    )
    if row is None:
        return None
    sections = dict(row.sections or {})
    return {
        "id": row.id,
        "status": row.status,
        "submitted_at": row.submitted_at,
        "evidence_id": row.submitted_evidence_id,
        "figures": sections.get("_figures") or {},
        "fingerprint": sections.get("_fingerprint"),
    }


def _activities(
    session: Session, agency_id: int, year: int, subgoal_id: int | None
) -> dict[int, ActivityNode]:
    links: dict[int, list[int]] = defaultdict(list)
    for aid, sid in session.execute(
        select(activity_subgoals.c.activity_id, activity_subgoals.c.subgoal_id)
        .join(Activity, Activity.id == activity_subgoals.c.activity_id)
        .where(Activity.agency_id == agency_id, Activity.funding_year == year)
        .order_by(activity_subgoals.c.subgoal_id)
    ):
        links[aid].append(sid)
    rows = session.execute(
        select(Activity.id, Activity.title, Activity.field, Activity.attendance_mode)
        .where(Activity.agency_id == agency_id, Activity.funding_year == year)
        .order_by(Activity.title, Activity.id)
    ).all()
    return {
        aid: ActivityNode(aid, title, fld, mode, links.get(aid, []))
        for aid, title, fld, mode in rows
        if subgoal_id is None or subgoal_id in links.get(aid, [])
    }


def _occurrences(
    session: Session, agency_id: int, year: int, activity_ids: list[int], now: datetime
) -> dict[int, OccurrenceNode]:
    if not activity_ids:
        return {}
    rows = session.execute(
        select(
            Occurrence.id,
            Occurrence.activity_id,
            Occurrence.starts_at,
            Occurrence.ends_at,
            Occurrence.status,
        )
        .where(
            Occurrence.agency_id == agency_id,
            Occurrence.funding_year == year,
            Occurrence.activity_id.in_(activity_ids),
        )
        .order_by(Occurrence.starts_at, Occurrence.id)
    ).all()
    out = {
        oid: OccurrenceNode(
            oid, aid, start, end, status, status == OccurrenceStatus.scheduled and start <= now
        )
        for oid, aid, start, end, status in rows
    }
    base = (
        select(Attendance.occurrence_id)
        .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
        .where(
            Attendance.agency_id == agency_id,
            Attendance.funding_year == year,
            Attendance.undone_at.is_(None),
            Occurrence.activity_id.in_(activity_ids),
        )
        .group_by(Attendance.occurrence_id)
    )
    for oid, method, total in session.execute(
        base.add_columns(Attendance.method, func.sum(Attendance.count)).group_by(Attendance.method)
    ):
        if oid in out:
            out[oid].by_method[method] = int(total or 0)
            out[oid].participants += int(total or 0)
    for oid, category, total in session.execute(
        base.add_columns(Attendance.category, func.sum(Attendance.count))
        .where(Attendance.category.is_not(None))
        .group_by(Attendance.category)
    ):
        if oid in out:
            out[oid].by_category[category] = int(total or 0)
    for oid, cards in session.execute(
        base.add_columns(func.count(distinct(Attendance.card_id))).where(
            Attendance.card_id.is_not(None)
        )
    ):
        if oid in out:
            out[oid].distinct_cards = int(cards or 0)
    return out


def _evidence(session: Session, tree: InspectionTree) -> dict[int, EvidenceNode]:
    links: dict[int, list[int]] = defaultdict(list)
    for eid, sid in session.execute(
        select(evidence_subgoals.c.evidence_id, evidence_subgoals.c.subgoal_id)
        .join(Evidence, Evidence.id == evidence_subgoals.c.evidence_id)
        .where(Evidence.agency_id == tree.agency_id, Evidence.funding_year == tree.year)
        .order_by(evidence_subgoals.c.subgoal_id)
    ):
        links[eid].append(sid)
    rows = session.scalars(
        select(Evidence)
        .where(
            Evidence.agency_id == tree.agency_id,
            Evidence.funding_year == tree.year,
            Evidence.deleted_at.is_(None),
        )
        .order_by(Evidence.id)
    ).all()
    out: dict[int, EvidenceNode] = {}
    for e in rows:
        node = EvidenceNode(
            e.id,
            e.kind,
            e.title,
            e.filename,
            e.media_type,
            e.sha256,
            e.size,
            e.doc_date,
            e.occurrence_id,
            e.activity_id,
            tuple(links.get(e.id, [])),
            e.retention_until,
            e.legal_hold,
            e.superseded_by_id,
            e.blob_id,
        )
        if tree.subgoal_id is not None and not (
            tree.subgoal_id in node.subgoal_ids
            or node.occurrence_id in tree.occurrences
            or node.activity_id in tree.activities
        ):
            continue
        out[e.id] = node
    return out


def findings(tree: InspectionTree, now: datetime) -> list[Finding]:
    """Completeness flags, most important first: plan and report, sub-goals, dates
    without their list, then retention and holds of the evidence."""
    return [
        *_plan_findings(tree),
        *_network_findings(tree, berlin(now).date()),
        *_subgoal_findings(tree),
        *_occurrence_findings(tree, now),
        *_retention_findings(tree, berlin(now).date()),
    ]


def _plan_findings(tree: InspectionTree) -> list[Finding]:
    out: list[Finding] = []
    if tree.plan is None:
        out.append(Finding("plan_missing", "warning", "task_plan", None, "Keine Aufgabenplanung."))
    elif tree.approved is None:
        out.append(
            Finding(
                "plan_not_approved",
                "warning",
                "task_plan",
                tree.plan["id"],
                "Die Aufgabenplanung ist nicht von der Koordination freigegeben.",
            )
        )
    if tree.report is None or tree.report["status"] != "submitted":
        out.append(
            Finding(
                "report_not_submitted",
                "info",
                "activity_report",
                tree.report["id"] if tree.report else None,
                f"Der Sachbericht {tree.year} ist noch nicht eingereicht.",
            )
        )
    return out


def _network_findings(tree: InspectionTree, today: date) -> list[Finding]:
    """Fewer Facharbeitskreise than the district requires (``network.meetings``): a warning
    once the year is over or even the planned ones fall short, else a note."""
    if tree.subgoal_id is not None:
        return []
    held, planned = tree.working_groups_held, tree.working_groups_planned
    if held >= REQUIRED_WORKING_GROUPS:
        return []
    over = today.year > tree.year
    short = over or held + planned < REQUIRED_WORKING_GROUPS
    text = (
        f"{held} von mindestens {REQUIRED_WORKING_GROUPS} Facharbeitskreisen im Jahr "
        f"{tree.year} durchgeführt" + ("." if over else f", {planned} weitere geplant.")
    )
    return [
        Finding(
            "working_groups_short",
            "warning" if short else "info",
            "agency",
            tree.agency_id,
            text,
        )
    ]


def _subgoal_findings(tree: InspectionTree) -> list[Finding]:
    out: list[Finding] = []
    for g in tree.subgoals:
        if g.actual < g.target:
            out.append(
                Finding(
                    "target_not_met",
                    "warning",
                    "subgoal",
                    g.id,
                    f"Teilziel „{g.title}“: {fmt_number(g.actual)} von "
                    f"{fmt_number(g.target)} erreicht.",
                )
            )
        items = tree.evidence_for_subgoal(g.id)
        if not items:
            out.append(
                Finding(
                    "subgoal_without_evidence",
                    "warning",
                    "subgoal",
                    g.id,
                    f"Teilziel „{g.title}“ hat keinen Nachweis.",
                )
            )
        if not any(e.kind in PRESS_KINDS for e in items):
            # Not every sub-goal owes press work, hence a hint, not a warning: the same
            # count as the overview's "missing press items".
            out.append(
                Finding(
                    "subgoal_without_press",
                    "info",
                    "subgoal",
                    g.id,
                    f"Teilziel „{g.title}“ hat keine Pressemeldung und keinen Presseartikel.",
                )
            )
    return out


def _occurrence_findings(tree: InspectionTree, now: datetime) -> list[Finding]:
    out: list[Finding] = []
    for occ in tree.occurrences.values():
        # Cancelled dates and dates without any attendance need no list (issue 16): a
        # sealed list (participant_list) or a signed scan satisfies "Teilnehmerliste".
        # A date that has not ended plus the grace time is no gap yet: its list is sealed
        # after the grace time.
        if not tree.list_due(occ, now) or occ.participants <= 0:
            continue
        kinds = {tree.evidence[i].kind for i in occ.evidence_ids}
        title = tree.activities[occ.activity_id].title
        if not kinds & set(LIST_KINDS):
            out.append(
                Finding(
                    "occurrence_without_list",
                    "warning",
                    "occurrence",
                    occ.id,
                    f"{title} am {fmt_date(occ.starts_at)}: keine Teilnehmerliste "
                    "und kein unterschriebener Scan.",
                )
            )
        elif occ.by_method.get("paper") and EvidenceKind.signed_list_scan not in kinds:
            out.append(
                Finding(
                    "paper_list_unsigned",
                    "warning",
                    "occurrence",
                    occ.id,
                    f"{title} am {fmt_date(occ.starts_at)}: {occ.by_method['paper']} "
                    "Teilnahme(n) von der Papierliste übertragen, aber kein Scan der "
                    "unterschriebenen Liste.",
                )
            )
    return out


def _retention_findings(tree: InspectionTree, today: date) -> list[Finding]:
    out: list[Finding] = []
    near = today + timedelta(days=RETENTION_NEAR_DAYS)
    for e in tree.evidence.values():
        if e.retention_until < today:
            out.append(
                Finding(
                    "retention_past",
                    "warning",
                    "evidence",
                    e.id,
                    f"Nachweis {e.id} „{e.title}“: Aufbewahrungsfrist endete am "
                    f"{fmt_date(e.retention_until)}.",
                )
            )
        elif e.retention_until <= near:
            out.append(
                Finding(
                    "retention_near",
                    "info",
                    "evidence",
                    e.id,
                    f"Nachweis {e.id} „{e.title}“: Aufbewahrungsfrist endet am "
                    f"{fmt_date(e.retention_until)}.",
                )
            )
        if e.legal_hold:
            out.append(
                Finding(
                    "legal_hold",
                    "info",
                    "evidence",
                    e.id,
                    f"Nachweis {e.id} „{e.title}“ ist gesperrt (Aufbewahrungssperre).",
                )
            )
    return out


# What each finding code is about, for the coordinator's drill-down (one group per kind).
FINDING_KINDS: dict[str, str] = {
    "plan_missing": "Aufgabenplanung",
    "plan_not_approved": "Aufgabenplanung",
    "report_not_submitted": "Sachbericht",
    "working_groups_short": "Facharbeitskreise",
    "target_not_met": "Zielwerte nicht erreicht",
    "subgoal_without_evidence": "Teilziele ohne Nachweis",
    "subgoal_without_press": "Teilziele ohne Pressenachweis",
    "occurrence_without_list": "Termine ohne Teilnehmerliste",
    "paper_list_unsigned": "Papierlisten ohne unterschriebenen Scan",
    "retention_past": "Aufbewahrungsfrist abgelaufen",
    "retention_near": "Aufbewahrungsfrist endet bald",
    "legal_hold": "Aufbewahrungssperren",
}


def finding_kind(code: str) -> str:
    return FINDING_KINDS.get(code, "Weitere Hinweise")


def grouped(found: list[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by kind (in the order of ``findings``: most important first)."""
    out: dict[str, list[Finding]] = {}
    for f in found:
        out.setdefault(finding_kind(f.code), []).append(f)
    return out


@dataclass(frozen=True)
class AgencyCompleteness:
    """One agency's year at a glance: the row of the coordinator's overview."""

    slug: str
    name: str
    held_with_list: int  # held dates with attendance that have their list
    held_needing_list: int  # ended (plus grace) dates with attendance: they need a list
    subgoals_with_evidence: int
    subgoals_total: int
    press_missing: int  # sub-goals without a press release or clipping
    warnings: int
    infos: int
    working_groups_held: int = 0  # Facharbeitskreise held in the year
    working_groups_required: int = REQUIRED_WORKING_GROUPS

    @property
    def working_groups_short(self) -> int:
        """How many Facharbeitskreise are missing to the district's minimum (0: none)."""
        return max(0, self.working_groups_required - self.working_groups_held)

    @property
    def list_share(self) -> float | None:
        """Share of held dates with a list; None when no held date needed one."""
        if not self.held_needing_list:
            return None
        return self.held_with_list / self.held_needing_list


def summarise(tree: InspectionTree) -> AgencyCompleteness:
    """The overview row of one tree, counted from the same findings the tree shows."""
    without_list = {f.object_id for f in tree.findings if f.code in ("occurrence_without_list",)}
    needing = [o for o in tree.occurrences.values() if tree.list_due(o) and o.participants > 0]
    with_evidence = sum(bool(tree.evidence_for_subgoal(g.id)) for g in tree.subgoals)
    press_missing = sum(f.code == "subgoal_without_press" for f in tree.findings)
    warnings = sum(f.severity == "warning" for f in tree.findings)
    return AgencyCompleteness(
        slug=tree.agency_slug,
        name=tree.agency_name,
        held_with_list=sum(o.id not in without_list for o in needing),
        held_needing_list=len(needing),
        subgoals_with_evidence=with_evidence,
        subgoals_total=len(tree.subgoals),
        press_missing=press_missing,
        warnings=warnings,
        infos=len(tree.findings) - warnings,
        working_groups_held=tree.working_groups_held,
    )


@service(Permission.bundle_export, Reach.listing)
def overview(
    session: Session,
    actor: Actor,
    year: int,
    now: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> list[AgencyCompleteness]:
    """Completeness of every agency the actor reaches for ``year`` (a specialist: her own),
    by agency name; each row from ``inspect``'s tree and findings."""
    require(actor, Permission.bundle_export)
    now = now or utcnow()
    slugs = session.scalars(
        select(Agency.slug)
        .where(scope_filter(actor, Agency.id), Agency.active.is_(True))
        .order_by(Agency.name)
    ).all()
    return [summarise(inspect(session, actor, slug, year, None, now, grace)) for slug in slugs]


def differences(tree: InspectionTree) -> list[str]:
    """What differs between the frozen copies (approved plan, submitted report) and today."""
    lines: list[str] = []
    live = {g.id: g for g in tree.subgoals}
    if tree.approved is not None:
        frozen = {int(g["id"]): g for g in tree.approved["snapshot"].get("subgoals", [])}
        for gid, g in frozen.items():
            now_g = live.get(gid)
            if now_g is None:
                if tree.subgoal_id is None:
                    lines.append(f"Teilziel {gid} „{g['title']}“ ist heute nicht mehr im Plan.")
                continue
            if now_g.title != g["title"]:
                lines.append(f"Teilziel {gid}: Titel heute „{now_g.title}“ statt „{g['title']}“.")
            if float(now_g.target) != float(g["target"]):
                lines.append(
                    f"Teilziel {gid}: Zielwert heute {fmt_number(now_g.target)} "
                    f"statt {fmt_number(float(g['target']))}."
                )
        for gid, now_g in live.items():
            if gid not in frozen:
                lines.append(f"Teilziel {gid} „{now_g.title}“ kam nach der Freigabe hinzu.")
    if tree.report is not None and tree.report.get("figures"):
        figures = tree.report["figures"]
        for gid, g in live.items():
            then = figures.get(str(gid))
            if then is not None and float(then) != float(g.actual):
                lines.append(
                    f"Teilziel {gid}: im Sachbericht {fmt_number(float(then))}, "
                    f"heute {fmt_number(g.actual)} "
                    f"({g.title})."
                )
    return lines
