"""Task plans, sub-goals, activities and their occurrences.

The structure inspectors check hangs here: an agency's task plan for a
funding year (topic, goal, methods) has measurable sub-goals; activities
serve sub-goals; occurrences are the dated instances of an activity. Progress
against targets is computed in ``reports``.

Every function takes a session and the acting user and enforces permission
and tenant scope itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events import audit
from ia_events.access import Actor, Permission, require, scope_filter
from ia_events.audit import Action
from ia_events.errors import InvalidInput, NotFound
from ia_events.messages import berlin
from ia_events.models import (
    Activity,
    Agency,
    AttendanceMode,
    FieldOfAction,
    Indicator,
    Occurrence,
    OccurrenceStatus,
    SubGoal,
    TaskPlan,
    TaskPlanVersion,
)
from storage.db import utcnow

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
        from ia_events.errors import Conflict

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
) -> SubGoal:
    plan = session.get(TaskPlan, plan_id)
    if plan is None:
        raise NotFound(what="Die Aufgabenplanung")
    require(actor, Permission.plan_edit, plan.agency_id)
    try:
        FieldOfAction(field)
    except ValueError as exc:
        raise InvalidInput(field="Handlungsfeld", reason="BE, IKÖ, SRO oder ADA.") from exc
    try:
        Indicator(indicator)
    except ValueError as exc:
        raise InvalidInput(field="Messgröße", reason=f"„{indicator}“ ist unbekannt.") from exc
    try:
        target_value = float(str(target).replace(",", "."))
    except ValueError as exc:
        raise InvalidInput(field="Zielwert", reason="Bitte eine Zahl eingeben.") from exc
    if target_value < 0 or target_value > 10_000_000:
        raise InvalidInput(field="Zielwert", reason="Bitte eine Zahl ab 0 eingeben.")
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
