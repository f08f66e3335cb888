"""Task plans, sub-goals, activities and their occurrences.

The structure inspectors check hangs here: an agency's task plan for a
funding year (topic, goal, methods) has measurable sub-goals; activities
serve sub-goals; occurrences are the dated instances of an activity. Progress
against targets is computed in ``reports``.

Every function takes a session and the acting user and enforces permission
and tenant scope itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.messages import berlin
from ia_events.core.models import (
    Activity,
    Agency,
    AttendanceMode,
    FieldOfAction,
    Indicator,
    Occurrence,
    OccurrenceStatus,
    PlanStatus,
    SubGoal,
    TaskPlan,
    TaskPlanVersion,
)
from ia_events.core.textcheck import bad_character
from storage.db import utcnow

if TYPE_CHECKING:
    from ia_events.core.installation import Installation

ACTIVITY_TYPES = [
    "Nähcafé",
    "Fahrradwerkstatt",
    "Infoveranstaltung",
    "Fest/Begegnung",
    "Workshop",
    "Gruppenangebot",
]


@dataclass(frozen=True)
class OccurrenceView:
    id: int
    agency_slug: str
    agency_name: str
    activity_id: int
    activity_title: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    attendance_mode: str
    status: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "agency": self.agency_slug,
            "activity": self.activity_id,
            "title": self.title,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "attendance_mode": self.attendance_mode,
        }


def agency_id_for(session: Session, actor: Actor, slug: str, permission: Permission) -> int:
    agency_id = session.scalar(select(Agency.id).where(Agency.slug == slug))
    if agency_id is None:
        raise NotFound(what=f"Die Integrationsagentur „{slug}“")
    require(actor, permission, agency_id)
    return agency_id


def _text(value: str, field: str, *, required: bool = True, limit: int = 5000) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(field=field, reason="Bitte ausfüllen.")
    if len(value) > limit:
        raise InvalidInput(field=field, reason=f"Höchstens {limit} Zeichen.")
    if bad_character(value, multiline=True) is not None:
        # NUL and terminal escapes break exports, PDFs and log lines; bidi overrides
        # make a text read differently from what it holds (core.textcheck)
        raise InvalidInput(field=field, reason="Bitte keine Steuerzeichen verwenden.")
    return value


def _year(year: int) -> int:
    if not 2000 <= int(year) <= 2100:
        raise InvalidInput(field="Förderjahr", reason="Bitte ein Jahr zwischen 2000 und 2100.")
    return int(year)


# -- task plans --------------------------------------------------------------------------------


def snapshot(plan: TaskPlan) -> dict[str, object]:
    return {
        "topic": plan.topic,
        "reason": plan.reason,
        "goal": plan.goal,
        "methods": plan.methods,
        "status": plan.status,
        "subgoals": [
            {
                "id": g.id,
                "title": g.title,
                "field": g.field,
                "indicator": g.indicator,
                "target": g.target,
            }
            for g in plan.subgoals
        ],
    }


def create_task_plan(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    funding_year: int,
    topic: str,
    goal: str,
    reason: str = "",
    methods: str = "",
    now: datetime | None = None,
) -> TaskPlan:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.plan_edit)
    year = _year(funding_year)
    if session.scalar(
        select(TaskPlan.id).where(TaskPlan.agency_id == agency_id, TaskPlan.funding_year == year)
    ):
        from ia_events.core.errors import Conflict

        raise Conflict(reason=f"Für {year} gibt es schon eine Aufgabenplanung.")
    plan = TaskPlan(
        agency_id=agency_id,
        funding_year=year,
        topic=_text(topic, "Thema"),
        goal=_text(goal, "Ziel"),
        reason=_text(reason, "Begründung", required=False),
        methods=_text(methods, "Methoden", required=False),
    )
    session.add(plan)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.plan_add,
        "task_plan",
        plan.id,
        agency_id=agency_id,
        year=year,
        now=now,
    )
    return plan


def _goal_fields(field: str, indicator: str, target: float | str) -> float:
    try:
        FieldOfAction(field)
    except ValueError as exc:
        raise InvalidInput(field="Handlungsfeld", reason="BE, IKÖ, SRO oder ADA.") from exc
    try:
        Indicator(indicator)
    except ValueError as exc:
        raise InvalidInput(field="Messgröße", reason=f"„{indicator}“ ist unbekannt.") from exc
    return _number(target, "Zielwert")


def _number(value: float | str, field: str) -> float:
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError as exc:
        raise InvalidInput(field=field, reason="Bitte eine Zahl eingeben.") from exc
    if not math.isfinite(number) or number < 0 or number > 10_000_000:
        raise InvalidInput(field=field, reason="Bitte eine Zahl ab 0 eingeben.")
    return number


def _plan_for_edit(session: Session, actor: Actor, plan_id: int) -> TaskPlan:
    plan = session.get(TaskPlan, plan_id)
    if plan is None:
        raise NotFound(what="Die Aufgabenplanung")
    require(actor, Permission.plan_edit, plan.agency_id)
    return plan


def _was_submitted(plan: TaskPlan) -> bool:
    return plan.submitted_at is not None or plan.status != PlanStatus.draft


def _why(plan: TaskPlan, why: str) -> str:
    """Once a plan was submitted, every change needs a reason (it becomes a new version)."""
    why = (why or "").strip()
    if _was_submitted(plan) and not why:
        raise InvalidInput(
            field="Grund der Anpassung",
            reason="Die Planung wurde schon eingereicht: Bitte begründen Sie die Änderung.",
        )
    return why[:2000]


def _after_change(
    session: Session, actor: Actor, plan: TaskPlan, why: str, now: datetime | None
) -> None:
    """A submitted or approved plan gets a new version and goes (back) to the coordinator."""
    if not _was_submitted(plan):
        return
    plan.version += 1
    if plan.status == PlanStatus.approved:
        plan.status = PlanStatus.submitted
        plan.submitted_at = now or utcnow()
    record_version(session, actor, plan, why, now)


def add_subgoal(
    session: Session,
    actor: Actor,
    plan_id: int,
    *,
    title: str,
    field: str,
    indicator: str,
    target: float | str,
    methods: str = "",
    why: str = "",
    now: datetime | None = None,
) -> SubGoal:
    plan = _plan_for_edit(session, actor, plan_id)
    target_value = _goal_fields(field, indicator, target)
    why = _why(plan, why)
    goal = SubGoal(
        task_plan_id=plan.id,
        agency_id=plan.agency_id,
        funding_year=plan.funding_year,
        position=len(plan.subgoals),
        title=_text(title, "Teilziel", limit=500),
        field=field,
        indicator=indicator,
        target=target_value,
        methods=_text(methods, "Methoden", required=False),
    )
    session.add(goal)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.subgoal_add,
        "subgoal",
        goal.id,
        agency_id=plan.agency_id,
        plan=plan.id,
    )
    _after_change(session, actor, plan, why, now)
    return goal


def record_version(
    session: Session, actor: Actor, plan: TaskPlan, reason: str, now: datetime | None = None
) -> TaskPlanVersion:
    session.flush()
    session.refresh(plan)
    version = TaskPlanVersion(
        task_plan_id=plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
        snapshot=snapshot(plan),
        changed_by=actor.name,
        changed_at=now or utcnow(),
        reason=reason,
    )
    session.add(version)
    session.flush()
    return version


# -- activities and occurrences ---------------------------------------------------------------


def create_activity(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str,
    funding_year: int,
    title: str,
    type: str,
    field: str,
    attendance_mode: str = "named",
    place: str = "",
    partners: list[str] | None = None,
    subgoal_ids: list[int] | None = None,
    photographed: bool = False,
    count_categories: list[str] | None = None,
    recurrence: dict[str, object] | None = None,
) -> Activity:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.occurrence_edit)
    try:
        AttendanceMode(attendance_mode)
    except ValueError as exc:
        raise InvalidInput(field="Erfassungsart", reason="named, anonymous oder card.") from exc
    try:
        FieldOfAction(field)
    except ValueError as exc:
        raise InvalidInput(field="Handlungsfeld", reason="BE, IKÖ, SRO oder ADA.") from exc
    activity = Activity(
        agency_id=agency_id,
        funding_year=_year(funding_year),
        title=_text(title, "Titel", limit=200),
        type=_text(type, "Art", limit=80),
        field=field,
        attendance_mode=attendance_mode,
        place=place,
        partners=[p.strip() for p in partners or [] if p.strip()],
        photographed=photographed,
        count_categories=count_categories or [],
        recurrence=dict(recurrence or {}),
    )
    if subgoal_ids:
        goals = list(session.scalars(select(SubGoal).where(SubGoal.id.in_(subgoal_ids))))
        if len(goals) != len(set(subgoal_ids)) or any(g.agency_id != agency_id for g in goals):
            raise NotFound(what="Ein Teilziel")
        if any(g.funding_year != activity.funding_year for g in goals):
            raise InvalidInput(
                field="Teilziele", reason="Teilziele müssen zum Förderjahr des Angebots gehören."
            )
        activity.subgoals = goals
    session.add(activity)
    session.flush()
    audit.record(
        session, actor.name, Action.activity_add, "activity", activity.id, agency_id=agency_id
    )
    return activity


def add_occurrence(
    session: Session,
    actor: Actor,
    activity_id: int,
    starts_at: datetime,
    ends_at: datetime,
    place: str | None = None,
) -> Occurrence:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what="Das Angebot")
    require(actor, Permission.occurrence_edit, activity.agency_id)
    if ends_at <= starts_at:
        raise InvalidInput(field="Ende", reason="Das Ende muss nach dem Beginn liegen.")
    occ = Occurrence(
        activity_id=activity.id,
        agency_id=activity.agency_id,
        funding_year=berlin(starts_at).year,
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
    )
    session.add(occ)
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.occurrence_add,
        "occurrence",
        occ.id,
        agency_id=activity.agency_id,
    )
    return occ


def list_occurrences(
    session: Session,
    actor: Actor,
    *,
    agency_slug: str | None = None,
    year: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    include_cancelled: bool = True,
    limit: int | None = None,
) -> list[OccurrenceView]:
    require(actor, Permission.agency_read)
    q = (
        select(
            Occurrence,
            Activity.title,
            Activity.attendance_mode,
            Activity.place,
            Agency.slug,
            Agency.name,
        )
        .join(Activity, Activity.id == Occurrence.activity_id)
        .join(Agency, Agency.id == Occurrence.agency_id)
        .where(scope_filter(actor, Occurrence.agency_id))
        .order_by(Occurrence.starts_at, Occurrence.id)
    )
    if agency_slug:
        agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
        q = q.where(Occurrence.agency_id == agency_id)
    if year:
        q = q.where(Occurrence.funding_year == year)
    if start:
        q = q.where(Occurrence.ends_at >= start)
    if end:
        q = q.where(Occurrence.starts_at < end)
    if not include_cancelled:
        q = q.where(Occurrence.status == OccurrenceStatus.scheduled)
    if limit:
        q = q.limit(limit)
    return [
        OccurrenceView(
            o.id,
            slug,
            name,
            o.activity_id,
            title,
            title,
            o.starts_at,
            o.ends_at,
            o.place or place or "",
            mode,
            o.status,
        )
        for o, title, mode, place, slug, name in session.execute(q).all()
    ]


def get_occurrence(session: Session, actor: Actor, occurrence_id: int) -> OccurrenceView:
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise NotFound(what=f"Der Termin {occurrence_id}")
    require(actor, Permission.agency_read, occ.agency_id)
    agency = session.get(Agency, occ.agency_id)
    assert agency is not None
    a = occ.activity
    return OccurrenceView(
        occ.id,
        agency.slug,
        agency.name,
        a.id,
        a.title,
        a.title,
        occ.starts_at,
        occ.ends_at,
        occ.place or a.place or "",
        a.attendance_mode,
        occ.status,
    )


# -- task plan lifecycle: change, submit, approve, return, history ---------------------------


def update_plan(
    session: Session,
    actor: Actor,
    plan_id: int,
    *,
    topic: str,
    goal: str,
    reason: str = "",
    methods: str = "",
    why: str = "",
    now: datetime | None = None,
) -> TaskPlan:
    plan = _plan_for_edit(session, actor, plan_id)
    why = _why(plan, why)
    values = {
        "topic": _text(topic, "Thema"),
        "goal": _text(goal, "Ziel"),
        "reason": _text(reason, "Begründung", required=False),
        "methods": _text(methods, "Methoden", required=False),
    }
    _apply_change(session, actor, plan, plan, values, Action.plan_change, "task_plan", why, now)
    return plan


def change_subgoal(
    session: Session,
    actor: Actor,
    subgoal_id: int,
    *,
    title: str,
    field: str,
    indicator: str,
    target: float | str,
    methods: str = "",
    why: str = "",
    now: datetime | None = None,
) -> SubGoal:
    goal = session.get(SubGoal, subgoal_id)
    if goal is None:
        raise NotFound(what="Das Teilziel")
    plan = _plan_for_edit(session, actor, goal.task_plan_id)
    target_value = _goal_fields(field, indicator, target)
    why = _why(plan, why)
    values = {
        "title": _text(title, "Teilziel", limit=500),
        "field": field,
        "indicator": indicator,
        "target": target_value,
        "methods": _text(methods, "Methoden", required=False),
    }
    _apply_change(session, actor, plan, goal, values, Action.subgoal_change, "subgoal", why, now)
    return goal


def _apply_change(
    session: Session,
    actor: Actor,
    plan: TaskPlan,
    target: TaskPlan | SubGoal,
    values: dict[str, object],
    action: Action,
    object_type: str,
    why: str,
    now: datetime | None,
) -> None:
    """Set what differs, audit which fields changed, and version the plan (no-op if equal)."""
    changed = sorted(k for k, v in values.items() if getattr(target, k) != v)
    if not changed:
        return
    for key, value in values.items():
        setattr(target, key, value)
    audit.record(
        session,
        actor.name,
        action,
        object_type,
        target.id,
        agency_id=target.agency_id,
        fields=changed,
    )
    _after_change(session, actor, plan, why, now)


def set_manual_actual(
    session: Session, actor: Actor, subgoal_id: int, value: float | str
) -> SubGoal:
    """The figure an agency reports by hand for a ``manual`` sub-goal (not a plan change)."""
    goal = session.get(SubGoal, subgoal_id)
    if goal is None:
        raise NotFound(what="Das Teilziel")
    require(actor, Permission.plan_edit, goal.agency_id)
    if goal.indicator != Indicator.manual:
        raise Conflict(reason="Dieser Wert wird aus den erfassten Daten berechnet.")
    goal.manual_actual = _number(value, "Erreichter Wert")
    audit.record(
        session,
        actor.name,
        Action.subgoal_change,
        "subgoal",
        goal.id,
        agency_id=goal.agency_id,
        fields=["manual_actual"],
    )
    return goal


def submit_plan(
    session: Session, actor: Actor, plan_id: int, now: datetime | None = None
) -> TaskPlan:
    """Draft → submitted (to the coordinator). Needs at least one sub-goal."""
    plan = _plan_for_edit(session, actor, plan_id)
    if plan.status != PlanStatus.draft:
        raise Conflict(reason="Die Planung ist schon eingereicht.")
    if not plan.subgoals:
        raise Conflict(reason="Bitte legen Sie zuerst mindestens ein Teilziel an.")
    now = now or utcnow()
    plan.status = PlanStatus.submitted
    plan.submitted_at = now
    has_version = session.scalar(
        select(TaskPlanVersion.id).where(
            TaskPlanVersion.task_plan_id == plan.id, TaskPlanVersion.version == plan.version
        )
    )
    if has_version is None:
        record_version(session, actor, plan, "Eingereicht", now)
    audit.record(
        session,
        actor.name,
        Action.plan_submit,
        "task_plan",
        plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
    )
    return plan


def _plan_for_review(session: Session, actor: Actor, plan_id: int) -> TaskPlan:
    plan = session.get(TaskPlan, plan_id)
    if plan is None:
        raise NotFound(what="Die Aufgabenplanung")
    require(actor, Permission.plan_approve, plan.agency_id)
    if plan.status != PlanStatus.submitted:
        raise Conflict(reason="Nur eingereichte Planungen können geprüft werden.")
    return plan


def approve_plan(
    session: Session, actor: Actor, plan_id: int, now: datetime | None = None
) -> TaskPlan:
    """The coordinator's Freigabe of the current version."""
    plan = _plan_for_review(session, actor, plan_id)
    plan.status = PlanStatus.approved
    plan.approved_at = now or utcnow()
    plan.approved_by = actor.name
    plan.approved_version = plan.version
    plan.review_note = ""
    audit.record(
        session,
        actor.name,
        Action.plan_approve,
        "task_plan",
        plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
    )
    return plan


def return_plan(session: Session, actor: Actor, plan_id: int, note: str) -> TaskPlan:
    """Back to the agency as a draft, with the coordinator's note saying what to change."""
    plan = _plan_for_review(session, actor, plan_id)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(field="Hinweis", reason="Bitte schreiben Sie, was zu ändern ist.")
    plan.status = PlanStatus.draft
    plan.review_note = note[:4000]
    audit.record(
        session,
        actor.name,
        Action.plan_return,
        "task_plan",
        plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
    )
    return plan


def attach_analysis(
    inst: Installation,
    actor: Actor,
    plan_id: int,
    *,
    filename: str,
    content: bytes,
    media_type: str = "application/octet-stream",
) -> int:
    """Archive the social-space analysis as evidence and refer the plan's reason to it."""
    from ia_events.archive import evidence

    with inst.db.read() as s:
        plan = _plan_for_edit(s, actor, plan_id)
        slug, year = plan.agency.slug, plan.funding_year
    item = evidence.add_evidence(
        inst,
        actor,
        agency_slug=slug,
        funding_year=year,
        kind="report",
        filename=filename,
        content=content,
        title=f"Sozialraumanalyse {year}",
        media_type=media_type,
        source="Aufgabenplanung",
    )
    with inst.db.write() as s:
        plan = _plan_for_edit(s, actor, plan_id)
        plan.analysis_evidence_id = item.id
        audit.record(
            s,
            actor.name,
            Action.plan_change,
            "task_plan",
            plan.id,
            agency_id=plan.agency_id,
            fields=["analysis"],
            evidence=item.id,
            sha256=item.sha256,
        )
    return item.id


@dataclass(frozen=True)
class SubGoalView:
    id: int
    title: str
    field: str
    indicator: str
    target: float
    manual_actual: float | None
    methods: str


@dataclass(frozen=True)
class PlanView:
    id: int
    agency_slug: str
    agency_name: str
    funding_year: int
    topic: str
    reason: str
    goal: str
    methods: str
    status: str
    version: int
    submitted_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    approved_version: int | None
    review_note: str
    analysis_evidence_id: int | None
    subgoals: list[SubGoalView]

    @property
    def changed_since_approval(self) -> bool:
        return self.approved_version is not None and self.approved_version != self.version


def _plan_view(plan: TaskPlan) -> PlanView:
    return PlanView(
        plan.id,
        plan.agency.slug,
        plan.agency.name,
        plan.funding_year,
        plan.topic,
        plan.reason,
        plan.goal,
        plan.methods,
        plan.status,
        plan.version,
        plan.submitted_at,
        plan.approved_at,
        plan.approved_by,
        plan.approved_version,
        plan.review_note,
        plan.analysis_evidence_id,
        [
            SubGoalView(g.id, g.title, g.field, g.indicator, g.target, g.manual_actual, g.methods)
            for g in plan.subgoals
        ],
    )


def get_plan(session: Session, actor: Actor, agency_slug: str, year: int) -> PlanView | None:
    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    plan = session.scalar(
        select(TaskPlan).where(TaskPlan.agency_id == agency_id, TaskPlan.funding_year == year)
    )
    return _plan_view(plan) if plan else None


def list_plans(session: Session, actor: Actor, year: int) -> list[PlanView]:
    """Every plan of the year the actor reaches (the coordinator's Freigabe list)."""
    require(actor, Permission.agency_read)
    plans = session.scalars(
        select(TaskPlan)
        .join(Agency, Agency.id == TaskPlan.agency_id)
        .where(scope_filter(actor, TaskPlan.agency_id), TaskPlan.funding_year == year)
        .order_by(Agency.name)
    ).unique()
    return [_plan_view(p) for p in plans]


@dataclass(frozen=True)
class VersionView:
    version: int
    changed_by: str
    changed_at: datetime
    reason: str
    changes: list[str]  # German, against the version before


def plan_history(session: Session, actor: Actor, plan_id: int) -> list[VersionView]:
    """Every version with who/when/why and what changed, newest first."""
    plan = session.get(TaskPlan, plan_id)
    if plan is None:
        raise NotFound(what="Die Aufgabenplanung")
    require(actor, Permission.agency_read, plan.agency_id)
    versions = session.scalars(
        select(TaskPlanVersion)
        .where(TaskPlanVersion.task_plan_id == plan_id)
        .order_by(TaskPlanVersion.version)
    ).all()
    out: list[VersionView] = []
    previous: dict[str, object] | None = None
    for v in versions:
        changes = describe_changes(previous, v.snapshot) if previous else ["Erste Fassung"]
        out.append(VersionView(v.version, v.changed_by, v.changed_at, v.reason, changes))
        previous = v.snapshot
    return list(reversed(out))


PLAN_FIELD_LABELS = {
    "topic": "Thema",
    "reason": "Begründung",
    "goal": "Ziel",
    "methods": "Methoden",
}
GOAL_FIELD_LABELS = {
    "title": "Titel",
    "field": "Handlungsfeld",
    "indicator": "Messgröße",
    "target": "Zielwert",
}


def describe_changes(old: dict[str, object], new: dict[str, object]) -> list[str]:
    """What differs between two plan snapshots, in German (pure)."""
    out = [
        f"{label} geändert"
        for key, label in PLAN_FIELD_LABELS.items()
        if old.get(key) != new.get(key)
    ]
    old_goals = {g["id"]: g for g in old.get("subgoals", [])}  # type: ignore[attr-defined]
    new_goals = {g["id"]: g for g in new.get("subgoals", [])}  # type: ignore[attr-defined]
    for gid, g in new_goals.items():
        before = old_goals.get(gid)
        if before is None:
            out.append(f"Teilziel „{g['title']}“ hinzugefügt")
            continue
        for key, label in GOAL_FIELD_LABELS.items():
            if before.get(key) != g.get(key):
                if key == "target":
                    out.append(
                        f"Teilziel „{g['title']}“: Zielwert {before.get(key):g} → {g.get(key):g}"
                    )
                else:
                    out.append(f"Teilziel „{g['title']}“: {label} geändert")
    for gid, g in old_goals.items():
        if gid not in new_goals:
            out.append(f"Teilziel „{g['title']}“ entfernt")
    return out or ["Keine inhaltliche Änderung"]
