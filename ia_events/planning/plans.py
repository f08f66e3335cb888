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
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.messages import berlin, fmt_number
from ia_events.core.models import (
    Activity,
    Agency,
    AnalysisNeed,
    AttendanceMode,
    FieldOfAction,
    Indicator,
    Occurrence,
    OccurrenceStatus,
    PlanNotice,
    PlanStatus,
    ReviewEvent,
    SubGoal,
    TaskPlan,
    TaskPlanVersion,
)
from ia_events.core.outbox import plan_event
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import checked_text
from ia_events.planning.activities import ActivitySpec
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


@service(None, Reach.internal, "checks the permission it is given")
def agency_id_for(session: Session, actor: Actor, slug: str, permission: Permission) -> int:
    agency_id = session.scalar(select(Agency.id).where(Agency.slug == slug))
    if agency_id is None:
        raise NotFound(what=f"Die Integrationsagentur „{slug}“")
    require(actor, permission, agency_id)
    return agency_id


def _text(value: str, field: str, *, required: bool = True, limit: int = 5000) -> str:
    return checked_text(value, field, limit=limit, required=required)


def _year(year: int) -> int:
    if not 2000 <= int(year) <= 2100:
        raise InvalidInput(field="Förderjahr", reason="Bitte ein Jahr zwischen 2000 und 2100.")
    return int(year)


# -- task plans --------------------------------------------------------------------------------


PROJECT_FIELDS = ("target_group", "timeline", "evaluation", "partners_text", "financing")


def snapshot(plan: TaskPlan) -> dict[str, object]:
    return {
        "topic": plan.topic,
        "reason": plan.reason,
        "goal": plan.goal,
        "methods": plan.methods,
        "status": plan.status,
        "spans_phase": plan.spans_phase,
        "fields": list(plan.fields or []),
        **{key: getattr(plan, key) for key in PROJECT_FIELDS},
        "needs": [n.id for n in plan.needs],
        "subgoals": [
            {
                "id": g.id,
                "title": g.title,
                "field": g.field,
                "indicator": g.indicator,
                "target": g.target,
                "methods": g.methods,
                "funding_year": g.funding_year,
            }
            for g in plan.subgoals
        ],
    }


def _fields(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for f in values or []:
        try:
            FieldOfAction(f)
        except ValueError as exc:
            raise InvalidInput(field="Handlungsfeld", reason="BE, IKÖ, SRO oder ADA.") from exc
        if f not in out:
            out.append(f)
    return out


def _needs(session: Session, agency_id: int, need_ids: list[int] | None) -> list[AnalysisNeed]:
    """The analysis needs a plan answers; another agency's need reads as unknown."""
    ids = sorted(set(need_ids or []))
    if not ids:
        return []
    needs = list(session.scalars(select(AnalysisNeed).where(AnalysisNeed.id.in_(ids))))
    if len(needs) != len(ids) or any(n.agency_id != agency_id for n in needs):
        raise NotFound(what="Ein Bedarf aus der Sozialraumanalyse")
    return needs


def _off_field(agency: Agency, field: str, reason: str) -> str:
    """A field outside the agency's Arbeitsschwerpunkte needs a reason (then flagged)."""
    reason = _text(reason, "Begründung Handlungsfeld", required=False, limit=2000)
    if agency.fields and field not in agency.fields:
        if not reason:
            raise InvalidInput(
                field="Begründung Handlungsfeld",
                reason=f"{field} gehört nicht zu den Arbeitsschwerpunkten der Agentur "
                f"({', '.join(agency.fields)}): Bitte begründen Sie die Abweichung.",
            )
        return reason
    return ""


def text_field(value: str, field: str, *, required: bool = True, limit: int = 5000) -> str:
    """A typed text, trimmed and checked (``field`` names it in the German message)."""
    return _text(value, field, required=required, limit=limit)


def off_field_reason(session: Session, agency_id: int, field: str, reason: str) -> str:
    """The stored reason for a field outside the agency's Arbeitsschwerpunkte ("" inside)."""
    agency = session.get(Agency, agency_id)
    assert agency is not None
    return _off_field(agency, field, reason)


@service(Permission.plan_edit, Reach.agency)
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
    spans_phase: bool = False,
    fields: list[str] | None = None,
    need_ids: list[int] | None = None,
    target_group: str = "",
    timeline: str = "",
    evaluation: str = "",
    partners_text: str = "",
    financing: str = "",
    now: datetime | None = None,
) -> TaskPlan:
    """One Aufgabe; an agency plans several per year. ``spans_phase`` makes it cover both
    years of the Förderphase (it must then start in the phase's first year)."""
    agency_id = agency_id_for(session, actor, agency_slug, Permission.plan_edit)
    year = _year(funding_year)
    if spans_phase and year % 2 != 0:
        raise InvalidInput(
            field="Förderphase",
            reason=f"Eine Förderphase beginnt in einem geraden Jahr ({year - 1}/{year}).",
        )
    needs = _needs(session, agency_id, need_ids)
    plan = TaskPlan(
        agency_id=agency_id,
        funding_year=year,
        topic=_text(topic, "Thema"),
        goal=_text(goal, "Ziel"),
        reason=_text(reason, "Begründung", required=False),
        methods=_text(methods, "Methoden", required=False),
        spans_phase=bool(spans_phase),
        fields=_fields(fields),
        **{
            key: _text(value, key, required=False)
            for key, value in zip(
                PROJECT_FIELDS,
                (target_group, timeline, evaluation, partners_text, financing),
                strict=True,
            )
        },
        analysis_id=needs[0].analysis_id if needs else None,
    )
    plan.needs = needs
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


def plan_years(plan: TaskPlan) -> list[int]:
    return [plan.funding_year, plan.funding_year + 1] if plan.spans_phase else [plan.funding_year]


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


NOTICE_DAYS = 14  # our reading of "mitteilen": promptly, within two weeks of the change


def _after_change(
    session: Session,
    actor: Actor,
    plan: TaskPlan,
    why: str,
    now: datetime | None,
    fundamental: bool = False,
) -> None:
    """A submitted or approved plan gets a new version and goes (back) to the coordinator.

    A change marked *grundsätzlich* must also be told to the Bewilligungsbehörde
    (handbook 3.5 (2) a): it creates a dated notice to-do (``PlanNotice``).
    """
    if not _was_submitted(plan):
        return
    plan.version += 1
    if plan.status == PlanStatus.approved:
        plan.status = PlanStatus.submitted
        plan.submitted_at = now or utcnow()
        plan_event(session, "plan_submitted", plan_id=plan.id, agency_id=plan.agency_id, now=now)
    record_version(
        session, actor, plan, ("Grundsätzliche Änderung: " if fundamental else "") + why, now
    )
    if fundamental:
        today = berlin(now or utcnow()).date()
        notice = PlanNotice(
            agency_id=plan.agency_id,
            task_plan_id=plan.id,
            plan_version=plan.version,
            reason=why,
            created_by=actor.name,
            created_at=now or utcnow(),
            due_on=today + timedelta(days=NOTICE_DAYS),
        )
        session.add(notice)
        session.flush()
        audit.record(
            session,
            actor.name,
            Action.plan_notice,
            "plan_notice",
            notice.id,
            agency_id=plan.agency_id,
            plan=plan.id,
            version=plan.version,
        )


@service(Permission.plan_edit, Reach.agency)
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
    off_field_reason: str = "",
    funding_year: int | None = None,
    now: datetime | None = None,
) -> SubGoal:
    plan = _plan_for_edit(session, actor, plan_id)
    target_value = _goal_fields(field, indicator, target)
    off_reason = _off_field(plan.agency, field, off_field_reason)
    why = _why(plan, why)
    year = plan.funding_year if funding_year is None else int(funding_year)
    if year not in plan_years(plan):
        raise InvalidInput(
            field="Förderjahr", reason="Das Teilziel muss in einem Jahr der Planung liegen."
        )
    goal = SubGoal(
        task_plan_id=plan.id,
        agency_id=plan.agency_id,
        funding_year=year,
        position=len(plan.subgoals),
        title=_text(title, "Teilziel", limit=500),
        field=field,
        indicator=indicator,
        target=target_value,
        methods=_text(methods, "Methoden", required=False),
        off_field_reason=off_reason,
    )
    plan.subgoals.append(goal)  # keeps the loaded collection current in this session
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


@service(None, Reach.internal, "called after _plan_for_edit")
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


@service(Permission.occurrence_edit, Reach.agency)
def create_activity(session: Session, actor: Actor, spec: ActivitySpec) -> Activity:
    """The activity alone (``schedule.create_series`` adds its dates)."""
    agency_id = agency_id_for(session, actor, spec.agency_slug, Permission.occurrence_edit)
    check_mode_and_field(spec.attendance_mode, spec.field)
    agency = session.get(Agency, agency_id)
    assert agency is not None
    off_reason = _off_field(agency, spec.field, spec.off_field_reason)
    activity = Activity(
        agency_id=agency_id,
        funding_year=_year(spec.funding_year),
        title=_text(spec.title, "Titel", limit=200),
        type=_text(spec.type, "Art", limit=80),
        field=spec.field,
        attendance_mode=spec.attendance_mode,
        place=spec.place,
        partners=spec.partner_names,
        photographed=spec.photographed,
        count_categories=spec.categories,
        recurrence=spec.recurrence,
        off_field_reason=off_reason,
    )
    if spec.subgoal_ids:
        activity.subgoals = subgoals_for(
            session, agency_id, activity.funding_year, spec.subgoal_ids
        )
    session.add(activity)
    session.flush()
    audit.record(
        session, actor.name, Action.activity_add, "activity", activity.id, agency_id=agency_id
    )
    return activity


def check_mode_and_field(attendance_mode: str, field: str) -> None:
    try:
        AttendanceMode(attendance_mode)
    except ValueError as exc:
        raise InvalidInput(field="Erfassungsart", reason="named, anonymous oder card.") from exc
    try:
        FieldOfAction(field)
    except ValueError as exc:
        raise InvalidInput(field="Handlungsfeld", reason="BE, IKÖ, SRO oder ADA.") from exc


def subgoals_for(
    session: Session, agency_id: int, funding_year: int, subgoal_ids: list[int]
) -> list[SubGoal]:
    """The agency's sub-goals of the year; another agency's id reads as unknown."""
    goals = list(session.scalars(select(SubGoal).where(SubGoal.id.in_(subgoal_ids))))
    if len(goals) != len(set(subgoal_ids)) or any(g.agency_id != agency_id for g in goals):
        raise NotFound(what="Ein Teilziel")
    if any(g.funding_year != funding_year for g in goals):
        raise InvalidInput(
            field="Teilziele", reason="Teilziele müssen zum Förderjahr des Angebots gehören."
        )
    return goals


@service(Permission.occurrence_edit, Reach.agency)
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


@service(Permission.agency_read, Reach.listing)
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


@service(Permission.agency_read, Reach.agency)
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


@service(Permission.plan_edit, Reach.agency)
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
    fundamental: bool = False,
    project: dict[str, str] | None = None,
    fields: list[str] | None = None,
    need_ids: list[int] | None = None,
    now: datetime | None = None,
) -> TaskPlan:
    """Change the plan's text; ``project`` (Projektplan fields), ``fields`` and ``need_ids``
    are kept when ``None``. ``fundamental`` marks a grundsätzliche change (see above)."""
    plan = _plan_for_edit(session, actor, plan_id)
    why = _why(plan, why)
    if fundamental and not _was_submitted(plan):
        fundamental = False  # a draft was never reported: nothing to tell the authority
    values: dict[str, object] = {
        "topic": _text(topic, "Thema"),
        "goal": _text(goal, "Ziel"),
        "reason": _text(reason, "Begründung", required=False),
        "methods": _text(methods, "Methoden", required=False),
    }
    for key, value in (project or {}).items():
        if key not in PROJECT_FIELDS:
            raise InvalidInput(field=key, reason="unbekanntes Feld")
        values[key] = _text(value, key, required=False)
    if fields is not None:
        values["fields"] = _fields(fields)
    if need_ids is not None:
        needs = _needs(session, plan.agency_id, need_ids)
        if {n.id for n in needs} != {n.id for n in plan.needs}:
            plan.needs = needs
            plan.analysis_id = needs[0].analysis_id if needs else plan.analysis_id
            values["needs"] = needs
    _apply_change(
        session,
        actor,
        plan,
        plan,
        values,
        Action.plan_change,
        "task_plan",
        why,
        now,
        fundamental=fundamental,
    )
    return plan


@service(Permission.plan_edit, Reach.agency)
def change_subgoal(
    session: Session,
    actor: Actor,
    subgoal_id: int,
    *,
    title: str,
    field: str,
    indicator: str,
    target: float | str,
    methods: str | None = None,
    why: str = "",
    off_field_reason: str | None = None,
    now: datetime | None = None,
) -> SubGoal:
    """Change a sub-goal; ``methods`` and ``off_field_reason`` are kept when ``None``."""
    goal = session.get(SubGoal, subgoal_id)
    if goal is None:
        raise NotFound(what="Das Teilziel")
    plan = _plan_for_edit(session, actor, goal.task_plan_id)
    target_value = _goal_fields(field, indicator, target)
    off_reason = _off_field(
        plan.agency, field, goal.off_field_reason if off_field_reason is None else off_field_reason
    )
    why = _why(plan, why)
    values = {
        "title": _text(title, "Teilziel", limit=500),
        "field": field,
        "indicator": indicator,
        "target": target_value,
        "methods": goal.methods if methods is None else _text(methods, "Methoden", required=False),
        "off_field_reason": off_reason,
    }
    _apply_change(session, actor, plan, goal, values, Action.subgoal_change, "subgoal", why, now)
    return goal


def _apply_change(
    session: Session,
    actor: Actor,
    plan: TaskPlan,
    target: TaskPlan | SubGoal,
    values: Mapping[str, object],
    action: Action,
    object_type: str,
    why: str,
    now: datetime | None,
    fundamental: bool = False,
) -> None:
    """Set what differs, audit which fields changed, and version the plan (no-op if equal)."""
    changed = sorted(k for k, v in values.items() if k == "needs" or getattr(target, k) != v)
    if not changed:
        return
    for key, value in values.items():
        if key != "needs":
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
    _after_change(session, actor, plan, why, now, fundamental=fundamental)


@service(Permission.plan_edit, Reach.agency)
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


@service(Permission.plan_edit, Reach.agency)
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
    review_step(session, actor, plan.agency_id, "plan", plan.id, plan.version, "submit", "", now)
    audit.record(
        session,
        actor.name,
        Action.plan_submit,
        "task_plan",
        plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
    )
    plan_event(session, "plan_submitted", plan_id=plan.id, agency_id=plan.agency_id, now=now)
    return plan


@service(None, Reach.internal, "records a step its caller checked")
def review_step(
    session: Session,
    actor: Actor,
    agency_id: int,
    doc_type: str,
    doc_id: int,
    version: int,
    action: str,
    note: str,
    now: datetime | None = None,
) -> None:
    """One step of the Freigabe (submit/approve/return) of an analysis, plan or report."""
    session.add(
        ReviewEvent(
            agency_id=agency_id,
            doc_type=doc_type,
            doc_id=doc_id,
            version=version,
            action=action,
            actor=actor.name,
            at=now or utcnow(),
            note=note,
        )
    )


def _plan_for_review(session: Session, actor: Actor, plan_id: int) -> TaskPlan:
    plan = session.get(TaskPlan, plan_id)
    if plan is None:
        raise NotFound(what="Die Aufgabenplanung")
    require(actor, Permission.plan_approve, plan.agency_id)
    if plan.status != PlanStatus.submitted:
        raise Conflict(reason="Nur eingereichte Planungen können geprüft werden.")
    return plan


@service(Permission.plan_approve, Reach.agency)
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
    review_step(session, actor, plan.agency_id, "plan", plan.id, plan.version, "approve", "", now)
    audit.record(
        session,
        actor.name,
        Action.plan_approve,
        "task_plan",
        plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
    )
    plan_event(session, "plan_approved", plan_id=plan.id, agency_id=plan.agency_id, now=now)
    return plan


@service(Permission.plan_approve, Reach.agency)
def return_plan(
    session: Session, actor: Actor, plan_id: int, note: str, now: datetime | None = None
) -> TaskPlan:
    """Back to the agency as a draft, with the coordinator's note saying what to change."""
    plan = _plan_for_review(session, actor, plan_id)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(field="Hinweis", reason="Bitte schreiben Sie, was zu ändern ist.")
    plan.status = PlanStatus.draft
    plan.review_note = note[:4000]
    review_step(
        session,
        actor,
        plan.agency_id,
        "plan",
        plan.id,
        plan.version,
        "return",
        plan.review_note,
        now,
    )
    audit.record(
        session,
        actor.name,
        Action.plan_return,
        "task_plan",
        plan.id,
        agency_id=plan.agency_id,
        version=plan.version,
    )
    plan_event(
        session,
        "plan_returned",
        plan_id=plan.id,
        agency_id=plan.agency_id,
        note=plan.review_note,
        now=now,
    )
    return plan


@service(Permission.plan_edit, Reach.agency)
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
    funding_year: int = 0
    off_field_reason: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "indicator": self.indicator,
            "target": self.target,
            "methods": self.methods,
        }


@dataclass(frozen=True)
class NeedRef:
    id: int
    title: str
    analysis_id: int
    phase_start: int


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
    spans_phase: bool = False
    plan_fields: list[str] = dc_field(default_factory=list)
    target_group: str = ""
    timeline: str = ""
    evaluation: str = ""
    partners_text: str = ""
    financing: str = ""
    analysis_id: int | None = None
    needs: list[NeedRef] = dc_field(default_factory=list)
    agency_fields: list[str] = dc_field(default_factory=list)
    open_notices: int = 0

    @property
    def changed_since_approval(self) -> bool:
        return self.approved_version is not None and self.approved_version != self.version

    @property
    def years(self) -> str:
        return (
            f"{self.funding_year}/{self.funding_year + 1}"
            if self.spans_phase
            else str(self.funding_year)
        )

    @property
    def fields(self) -> list[str]:
        """The plan's fields of action: as declared, else those of its sub-goals."""
        out = list(self.plan_fields)
        for g in self.subgoals:
            if g.field not in out:
                out.append(g.field)
        return out

    @property
    def off_field(self) -> list[str]:
        """Sub-goals outside the agency's Arbeitsschwerpunkte, with their reason (German)."""
        return [
            f"Teilziel „{g.title}“ ({g.field}): {g.off_field_reason or 'ohne Begründung'}"
            for g in self.subgoals
            if self.agency_fields and g.field not in self.agency_fields
        ]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "topic": self.topic,
            "status": self.status,
            "version": self.version,
            "fields": self.fields,
            "subgoals": [g.as_json() for g in self.subgoals],
        }


def _plan_view(plan: TaskPlan, open_notices: int = 0) -> PlanView:
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
            SubGoalView(
                g.id,
                g.title,
                g.field,
                g.indicator,
                g.target,
                g.manual_actual,
                g.methods,
                g.funding_year,
                g.off_field_reason,
            )
            for g in plan.subgoals
        ],
        plan.spans_phase,
        list(plan.fields or []),
        plan.target_group,
        plan.timeline,
        plan.evaluation,
        plan.partners_text,
        plan.financing,
        plan.analysis_id,
        [NeedRef(n.id, n.title, n.analysis_id, n.analysis.phase_start) for n in plan.needs],
        list(plan.agency.fields or []),
        open_notices,
    )


def _year_filter(year: int):
    """Plans of funding year ``year``: its own, and phase plans begun the year before."""
    from sqlalchemy import and_, or_

    return or_(
        TaskPlan.funding_year == year,
        and_(TaskPlan.spans_phase.is_(True), TaskPlan.funding_year == year - 1),
    )


def _open_notices(session: Session, plan_ids: list[int]) -> dict[int, int]:
    if not plan_ids:
        return {}
    from sqlalchemy import func

    rows = session.execute(
        select(PlanNotice.task_plan_id, func.count())
        .where(PlanNotice.task_plan_id.in_(plan_ids), PlanNotice.sent_on.is_(None))
        .group_by(PlanNotice.task_plan_id)
    ).all()
    return {pid: n for pid, n in rows}


@service(Permission.agency_read, Reach.agency)
def plans_for(session: Session, actor: Actor, agency_slug: str, year: int) -> list[PlanView]:
    """Every Aufgabe of the agency for ``year`` (phase plans included), oldest first."""
    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    rows = session.scalars(
        select(TaskPlan)
        .where(TaskPlan.agency_id == agency_id, _year_filter(int(year)))
        .order_by(TaskPlan.funding_year, TaskPlan.id)
    ).all()
    notices = _open_notices(session, [p.id for p in rows])
    return [_plan_view(p, notices.get(p.id, 0)) for p in rows]


@service(Permission.agency_read, Reach.agency)
def plan_view(session: Session, actor: Actor, plan_id: int) -> PlanView:
    plan = session.get(TaskPlan, plan_id)
    if plan is None:
        raise NotFound(what="Die Aufgabenplanung")
    require(actor, Permission.agency_read, plan.agency_id)
    return _plan_view(plan, _open_notices(session, [plan.id]).get(plan.id, 0))


@service(Permission.agency_read, Reach.agency)
def get_plan(session: Session, actor: Actor, agency_slug: str, year: int) -> PlanView | None:
    """The agency's first Aufgabe of the year (see ``plans_for`` for all of them)."""
    found = plans_for(session, actor, agency_slug, year)
    return found[0] if found else None


@service(Permission.agency_read, Reach.listing)
def list_plans(session: Session, actor: Actor, year: int) -> list[PlanView]:
    """Every plan of the year the actor reaches (the coordinator's Freigabe list)."""
    require(actor, Permission.agency_read)
    plans = list(
        session.scalars(
            select(TaskPlan)
            .join(Agency, Agency.id == TaskPlan.agency_id)
            .where(scope_filter(actor, TaskPlan.agency_id), _year_filter(int(year)))
            .order_by(Agency.name, TaskPlan.id)
        ).unique()
    )
    notices = _open_notices(session, [p.id for p in plans])
    return [_plan_view(p, notices.get(p.id, 0)) for p in plans]


@dataclass(frozen=True)
class VersionView:
    version: int
    changed_by: str
    changed_at: datetime
    reason: str
    changes: list[str]  # German, against the version before


@service(Permission.agency_read, Reach.agency)
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
    "reason": "Anlass/Begründung",
    "goal": "Ziel",
    "methods": "Methoden",
    "spans_phase": "Laufzeit (Förderphase)",
    "fields": "Handlungsfelder",
    "target_group": "Zielgruppe",
    "timeline": "Zeitplan",
    "evaluation": "Evaluation",
    "partners_text": "Beteiligte/Partner",
    "financing": "Finanzierung",
    "needs": "Bezug zu Bedarfen",
}
GOAL_FIELD_LABELS = {
    "title": "Titel",
    "field": "Handlungsfeld",
    "indicator": "Messgröße",
    "target": "Zielwert",
    "methods": "Methoden",
}


def describe_changes(old: dict[str, object], new: dict[str, object]) -> list[str]:
    """What differs between two plan snapshots, in German (pure)."""
    out = [
        f"{label} geändert"
        for key, label in PLAN_FIELD_LABELS.items()
        if old.get(key) != new.get(key)
    ]
    # A snapshot's "subgoals" is a list of dicts (``snapshot``); the mapping is typed loosely.
    old_goals = {g["id"]: g for g in old.get("subgoals", [])}  # type: ignore[attr-defined]
    new_goals = {g["id"]: g for g in new.get("subgoals", [])}  # type: ignore[attr-defined]  # as above
    for gid, g in new_goals.items():
        before = old_goals.get(gid)
        if before is None:
            out.append(f"Teilziel „{g['title']}“ hinzugefügt")
            continue
        for key, label in GOAL_FIELD_LABELS.items():
            if before.get(key) != g.get(key):
                if key == "target":
                    out.append(
                        f"Teilziel „{g['title']}“: Zielwert {fmt_number(before.get(key))} → "
                        f"{fmt_number(g.get(key))}"
                    )
                else:
                    out.append(f"Teilziel „{g['title']}“: {label} geändert")
    for gid, g in old_goals.items():
        if gid not in new_goals:
            out.append(f"Teilziel „{g['title']}“ entfernt")
    return out or ["Keine inhaltliche Änderung"]
