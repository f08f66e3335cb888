"""The domain's tables as typed SQLAlchemy 2 entities.

Every row that belongs to an agency carries ``agency_id`` directly (even where
it could be reached through a parent) so that tenant scoping is one ``WHERE``
and one index, on every table. Personal values (names, contacts) are stored
only encrypted (``*_enc``) plus, where matching is needed, a keyed blind index
(``*_index``) -- never in plaintext.

Times are UTC in the database (``UTCDateTime``); the UI shows Europe/Berlin.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.db import UTCDateTime, metadata, utcnow

intpk = Annotated[int, mapped_column(primary_key=True)]
str40 = Annotated[str, mapped_column(String(40))]
str200 = Annotated[str, mapped_column(String(200))]
sha256hex = Annotated[str, mapped_column(String(64))]


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[int]: JSON(),
        bytes: LargeBinary(),
    }


class Role(enum.StrEnum):
    specialist = "specialist"
    volunteer = "volunteer"
    coordinator = "coordinator"
    admin = "admin"


class FieldOfAction(enum.StrEnum):
    BE = "BE"
    IKOE = "IKÖ"
    SRO = "SRO"
    ADA = "ADA"


FIELD_LABELS = {
    FieldOfAction.BE: "Bürgerschaftliches Engagement",
    FieldOfAction.IKOE: "Interkulturelle Öffnung",
    FieldOfAction.SRO: "Sozialraumorientierte Arbeit",
    FieldOfAction.ADA: "Antidiskriminierungsarbeit",
}


class Indicator(enum.StrEnum):
    participants = "participants"
    distinct_persons = "distinct_persons"
    occurrences = "occurrences"
    volunteers = "volunteers"
    volunteer_hours = "volunteer_hours"
    partners = "partners"
    manual = "manual"
    multipliers = "multipliers"  # issue 19: volunteers and partner contacts marked as such
    # Network work (issue 19): held meetings, opening processes, counselling cases, lendings.
    meetings = "meetings"
    processes = "processes"
    counselling_cases = "counselling_cases"
    lendings = "lendings"


class AttendanceMode(enum.StrEnum):
    named = "named"
    anonymous = "anonymous"
    card = "card"


class AttendanceMethod(enum.StrEnum):
    self_qr = "self_qr"
    door_manual = "door_manual"
    card_scan = "card_scan"
    headcount = "headcount"
    paper = "paper"


class EvidenceKind(enum.StrEnum):
    participant_list = "participant_list"
    signed_list_scan = "signed_list_scan"
    press_release = "press_release"
    press_clipping = "press_clipping"
    photo = "photo"
    flyer = "flyer"
    social_media = "social_media"
    report = "report"
    other = "other"
    minutes = "minutes"  # Protokoll of a network meeting (issue 19)


class PlanStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"


class OccurrenceStatus(enum.StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


# -- installation ----------------------------------------------------------------------


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DataKey(Base):
    """A data key for personal fields, wrapped by the key ring (never stored plain).

    One per agency: shredding it makes that agency's personal fields unreadable.
    """

    __tablename__ = "data_keys"
    id: Mapped[intpk]
    scope: Mapped[str] = mapped_column(String(80), unique=True)
    kek_id: Mapped[str40]
    wrapped_key: Mapped[bytes]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    shredded_at: Mapped[datetime | None]


# -- agencies and people ---------------------------------------------------------------------


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str200]
    carrier: Mapped[str200]
    city: Mapped[str] = mapped_column(String(100), default="")
    fields: Mapped[list[str]] = mapped_column(default=list)
    # Legal basis printed on notices: "DSGVO", "KDG" (catholic) or "DSG-EKD" (protestant).
    privacy_law: Mapped[str] = mapped_column(String(20), default="DSGVO")
    privacy_contact: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('specialist','volunteer','coordinator','admin')", name="role_known"
        ),
    )
    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str200]
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency | None] = relationship(lazy="joined")


class UserSession(Base):
    """A login. The browser holds only a random token; we keep its hash."""

    __tablename__ = "user_sessions"
    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[sha256hex] = mapped_column(unique=True)
    # One-time code that lets the browser fetch an HttpOnly cookie for this session.
    handoff_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    handoff_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# -- planning ----------------------------------------------------------------------------


class NeedsAnalysis(Base):
    """The Sozialraum- or Bedarfsanalyse of one Förderphase (every two years).

    ``phase_start`` is the phase's first (even) funding year. The needs it finds
    (``AnalysisNeed``) are what task plans answer under "Anlass/Begründung".
    """

    __tablename__ = "needs_analyses"
    __table_args__ = (UniqueConstraint("agency_id", "phase_start"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    phase_start: Mapped[int]
    orientation: Mapped[str] = mapped_column(String(20), default="sozialraum")
    raster: Mapped[str] = mapped_column(String(200), default="")
    sources: Mapped[list[str]] = mapped_column(default=list)
    sources_note: Mapped[str] = mapped_column(Text, default="")
    continued: Mapped[bool] = mapped_column(default=False)  # fortgeschrieben (else new)
    summary: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[int]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default=PlanStatus.draft)
    version: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_version: Mapped[int | None]
    review_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")
    needs: Mapped[list[AnalysisNeed]] = relationship(
        back_populates="analysis", order_by="[AnalysisNeed.position, AnalysisNeed.id]"
    )


class AnalysisNeed(Base):
    """One Handlungs-/Integrationsbedarf an analysis found."""

    __tablename__ = "analysis_needs"
    id: Mapped[intpk]
    analysis_id: Mapped[int] = mapped_column(ForeignKey("needs_analyses.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    field: Mapped[str] = mapped_column(String(10), default="")

    analysis: Mapped[NeedsAnalysis] = relationship(back_populates="needs")


task_plan_needs = Table(
    "task_plan_needs",
    Base.metadata,
    Column("task_plan_id", ForeignKey("task_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("need_id", ForeignKey("analysis_needs.id", ondelete="CASCADE"), primary_key=True),
)


class TaskPlan(Base):
    """One Aufgabe of an agency (several per year); ``spans_phase`` covers both years."""

    __tablename__ = "task_plans"
    __table_args__ = (Index("ix_task_plans_agency_year", "agency_id", "funding_year"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    funding_year: Mapped[int]
    topic: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[str] = mapped_column(Text)
    methods: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=PlanStatus.draft)
    version: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_version: Mapped[int | None]
    # The coordinator's note when returning a plan for changes (shown to the agency).
    review_note: Mapped[str] = mapped_column(Text, default="")
    # The uploaded social-space analysis the reason refers to (an evidence item).
    analysis_evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Both funding years of the Förderphase that begins with ``funding_year``.
    spans_phase: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[list[str]] = mapped_column(default=list)
    # Projektplan: Zielgruppe, Zeitplan, Evaluation, Beteiligte, Finanzierung.
    target_group: Mapped[str] = mapped_column(Text, default="")
    timeline: Mapped[str] = mapped_column(Text, default="")
    evaluation: Mapped[str] = mapped_column(Text, default="")
    partners_text: Mapped[str] = mapped_column(Text, default="")
    financing: Mapped[str] = mapped_column(Text, default="")
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("needs_analyses.id"))

    agency: Mapped[Agency] = relationship(lazy="joined")
    subgoals: Mapped[list[SubGoal]] = relationship(
        back_populates="task_plan", order_by="[SubGoal.position, SubGoal.id]"
    )
    needs: Mapped[list[AnalysisNeed]] = relationship(
        secondary=task_plan_needs, order_by="[AnalysisNeed.position, AnalysisNeed.id]"
    )


class TaskPlanVersion(Base):
    """A frozen copy of a plan and its sub-goals: who changed it, when and why."""

    __tablename__ = "task_plan_versions"
    __table_args__ = (UniqueConstraint("task_plan_id", "version"),)
    id: Mapped[intpk]
    task_plan_id: Mapped[int] = mapped_column(ForeignKey("task_plans.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    version: Mapped[int]
    snapshot: Mapped[dict[str, Any]]
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


activity_subgoals = Table(
    "activity_subgoals",
    Base.metadata,
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    Column("subgoal_id", ForeignKey("subgoals.id", ondelete="CASCADE"), primary_key=True),
)

evidence_subgoals = Table(
    "evidence_subgoals",
    Base.metadata,
    Column("evidence_id", ForeignKey("evidence.id", ondelete="CASCADE"), primary_key=True),
    Column("subgoal_id", ForeignKey("subgoals.id", ondelete="CASCADE"), primary_key=True),
)


class SubGoal(Base):
    __tablename__ = "subgoals"
    __table_args__ = (
        CheckConstraint(
            "indicator IN ('participants','distinct_persons','occurrences','volunteers',"
            "'volunteer_hours','partners','manual','multipliers','meetings','processes',"
            "'counselling_cases','lendings')",
            name="indicator_known",
        ),
    )
    id: Mapped[intpk]
    task_plan_id: Mapped[int] = mapped_column(ForeignKey("task_plans.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    funding_year: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(10))
    indicator: Mapped[str] = mapped_column(String(30))
    target: Mapped[float]
    manual_actual: Mapped[float | None]
    methods: Mapped[str] = mapped_column(Text, default="")
    # Why a sub-goal outside the agency's Arbeitsschwerpunkte (flagged to the coordinator).
    off_field_reason: Mapped[str] = mapped_column(Text, default="")

    task_plan: Mapped[TaskPlan] = relationship(back_populates="subgoals")


class Activity(Base):
    __tablename__ = "activities"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    funding_year: Mapped[int]
    title: Mapped[str200]
    type: Mapped[str] = mapped_column(String(80))
    field: Mapped[str] = mapped_column(String(10))
    place: Mapped[str] = mapped_column(Text, default="")
    partners: Mapped[list[str]] = mapped_column(default=list)
    attendance_mode: Mapped[str] = mapped_column(String(20), default=AttendanceMode.named)
    count_categories: Mapped[list[str]] = mapped_column(default=list)
    photographed: Mapped[bool] = mapped_column(default=False)
    asks_age_band: Mapped[bool] = mapped_column(default=False)
    # Bumped to revoke the series poster's check-in link (resolves to the day's occurrence).
    checkin_generation: Mapped[int] = mapped_column(default=1)
    # The series rule as entered (kind, interval, weekday, times, until, dates).
    recurrence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    off_field_reason: Mapped[str] = mapped_column(Text, default="")

    # In plan order on both databases (a join without ORDER BY has none on PostgreSQL).
    subgoals: Mapped[list[SubGoal]] = relationship(
        secondary=activity_subgoals, order_by="[SubGoal.position, SubGoal.id]"
    )
    agency: Mapped[Agency] = relationship(lazy="joined")


class PartnerType(enum.StrEnum):
    """Kinds of partner organisations; the value is the German label (shown and exported)."""

    integration_centre = "Kommunales Integrationszentrum"
    immigration_office = "Ausländerbehörde"
    jobcenter = "Jobcenter"
    school = "Schule/Kita"
    association = "Verein"
    migrant_organisation = "Migrantenselbstorganisation"
    religious_community = "Religionsgemeinschaft"
    welfare_association = "Wohlfahrtsverband"
    counselling = "Beratungsdienst/Migrationsfachdienst"
    company = "Unternehmen"
    administration = "Politik/Verwaltung"  # was "Kommune/Verwaltung" (j1_partner_contacts)
    media = "Medien"
    other = "Sonstige"


partner_activities = Table(
    "partner_activities",
    Base.metadata,
    Column("partner_id", ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "activity_id", ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Partner(Base):
    """A cooperation partner (an organisation) of one agency.

    The organisation's name is not personal data and stays plain; its contact persons
    are ``PartnerContact`` rows, their personal values sealed.
    """

    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint(
            "type IN (" + ",".join("'" + t.value + "'" for t in PartnerType) + ")",
            name="type_known",
        ),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str200]
    type: Mapped[str] = mapped_column(String(60))
    place: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]


class PartnerContact(Base):
    """A contact person of a partner (several per partner), with the least personal data
    needed: the name, phone and e-mail are sealed under the agency's data key; the
    function ("Leitung", "Integrationsbeauftragte") is a role, not a person, and stays
    plain. A function mailbox or a central number needs no name. Removing the contact
    deletes the row and its sealed values."""

    __tablename__ = "partner_contacts"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(100), default="")
    name_enc: Mapped[bytes | None]
    phone_enc: Mapped[bytes | None]
    email_enc: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClosurePeriod(Base):
    """An agency's own closing days (summer break, Christmas); series skip them."""

    __tablename__ = "closure_periods"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    label: Mapped[str] = mapped_column(String(200), default="")


class Occurrence(Base):
    __tablename__ = "occurrences"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_occurrences_agency_starts", "agency_id", "starts_at"),
        # Year-bound figures (progress, controlling, reports): one agency's year, not
        # the district's year (funding_year alone) or the agency's ten years.
        Index("ix_occurrences_agency_year", "agency_id", "funding_year", "starts_at"),
    )
    id: Mapped[intpk]
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int] = mapped_column(index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    place: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OccurrenceStatus.scheduled)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Edited on its own: "edit all future" leaves it alone.
    detached: Mapped[bool] = mapped_column(default=False)
    # Bumped to revoke every check-in link issued so far.
    token_generation: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(Text, default="")

    activity: Mapped[Activity] = relationship(lazy="joined")


class CalendarFeed(Base):
    __tablename__ = "calendar_feeds"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    kind: Mapped[str] = mapped_column(String(20), default="occurrences")
    token_hash: Mapped[sha256hex] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[datetime | None]


class DeadlineStatus(Base):
    """An agency's status for one computed deadline (the dates themselves are rules)."""

    __tablename__ = "deadline_status"
    __table_args__ = (UniqueConstraint("agency_id", "funding_year", "kind"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    funding_year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(60))
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[str | None] = mapped_column(String(80))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class CustomDeadline(Base):
    """An *Eigene Frist*: a date the district coordination sets itself (e.g. "Entwurf
    Sachbericht an die Koordination: 15.01."), for every agency or the ones listed in
    ``custom_deadline_agencies``. Each agency's status is a ``DeadlineStatus`` row with
    ``kind = "custom:<id>"``."""

    __tablename__ = "custom_deadlines"
    id: Mapped[intpk]
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date]
    funding_year: Mapped[int] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    all_agencies: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]


class CustomDeadlineAgency(Base):
    """The agencies an *Eigene Frist* applies to when it is not for all of them."""

    __tablename__ = "custom_deadline_agencies"
    deadline_id: Mapped[int] = mapped_column(
        ForeignKey("custom_deadlines.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)


# -- attendance ----------------------------------------------------------------------------


class ParticipantCard(Base):
    """A pseudonymous personal QR card for a recurring group; carries no name."""

    __tablename__ = "participant_cards"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        CheckConstraint("count >= 1", name="count_positive"),
        Index("ix_attendance_occurrence_valid", "occurrence_id", "undone_at"),
        # The same-name check of a named check-in: one lookup, not every valid row.
        Index("ix_attendance_occurrence_name", "occurrence_id", "name_index"),
        Index("ix_attendance_agency_year", "agency_id", "funding_year"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]
    method: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=1)
    category: Mapped[str | None] = mapped_column(String(80))
    name_enc: Mapped[bytes | None]
    name_index: Mapped[str | None] = mapped_column(String(64), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("participant_cards.id"), index=True)
    age_band: Mapped[str | None] = mapped_column(String(20))
    photo_consent: Mapped[bool | None]
    recorded_by: Mapped[str | None] = mapped_column(String(80))
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(80))
    undo_reason: Mapped[str | None] = mapped_column(Text)
    anonymised_at: Mapped[datetime | None]
    # Art. 18 restriction after an erasure request that a retention duty still blocks.
    restricted_at: Mapped[datetime | None]


class Scan(Base):
    """Every check-in attempt, successful or denied, with a stable reason code."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_occurrence", "occurrence_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("occurrences.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str | None] = mapped_column(String(64), unique=True)
    successful: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(40))
    scanned_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendance.id"))


# -- volunteers ----------------------------------------------------------------------------


class Volunteer(Base):
    __tablename__ = "volunteers"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name_enc: Mapped[bytes]
    name_index: Mapped[str] = mapped_column(String(64), index=True)
    contact_enc: Mapped[bytes | None]
    languages: Mapped[list[str]] = mapped_column(default=list)
    skills: Mapped[list[str]] = mapped_column(default=list)
    availability: Mapped[str] = mapped_column(Text, default="")
    consent_at: Mapped[date | None]
    consent_version: Mapped[str | None] = mapped_column(String(40))
    agreement_at: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    anonymised_at: Mapped[datetime | None]
    restricted_at: Mapped[datetime | None]
    # Keyed hash of name + contact, the same in every agency: finds the same person's
    # overlapping shifts elsewhere without revealing anything about the other agency.
    person_index: Mapped[str | None] = mapped_column(String(64), index=True)
    deactivated_at: Mapped[datetime | None]


class Qualification(Base):
    """That a document was *inspected* (by whom, when, valid until) -- never the document."""

    __tablename__ = "qualifications"
    id: Mapped[intpk]
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    checked_on: Mapped[date]
    checked_by: Mapped[str] = mapped_column(String(80))
    valid_until: Mapped[date | None]
    note: Mapped[str] = mapped_column(Text, default="")


class Shift(Base):
    __tablename__ = "shifts"
    id: Mapped[intpk]
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    role: Mapped[str] = mapped_column(String(100))
    needed: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    required_qualifications: Mapped[list[str]] = mapped_column(default=list)


class ShiftAssignment(Base):
    __tablename__ = "shift_assignments"
    __table_args__ = (UniqueConstraint("shift_id", "volunteer_id"),)
    id: Mapped[intpk]
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="signed_up")
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    hours_override: Mapped[float | None]
    override_by: Mapped[str | None] = mapped_column(String(80))
    assigned_by: Mapped[str | None] = mapped_column(String(80))  # None: signed up themselves
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkLog(Base):
    __tablename__ = "worklogs"
    id: Mapped[intpk]
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    day: Mapped[date]
    hours: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- evidence archive ----------------------------------------------------------------------


class Blob(Base):
    """An encrypted file in the archive, unique per agency and content."""

    __tablename__ = "blobs"
    __table_args__ = (UniqueConstraint("agency_id", "sha256"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    name: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[sha256hex]
    size: Mapped[int] = mapped_column(BigInteger)
    kek_id: Mapped[str40]
    wrapped_key: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    shredded_at: Mapped[datetime | None]
    # Object store (S3): the version this record means (reads always name it), the
    # lock applied to it, whether its legal hold is on, when the object was removed.
    version_id: Mapped[str | None] = mapped_column(String(255))
    locked_until: Mapped[datetime | None]
    object_hold: Mapped[bool | None]
    removed_at: Mapped[datetime | None]
    # A shredded row gives up ``name`` to a new upload of the same content; the key of
    # its object (still locked, removed later) is kept here.
    object_name: Mapped[str | None] = mapped_column(String(64))


class UploadJournal(Base):
    """Written before a blob is moved into place; cleared when its record exists.

    On a shared store (S3) ``lease_until`` says how long the upload may still be
    running: recovery on any host treats an open entry as crashed only after it."""

    __tablename__ = "upload_journal"
    id: Mapped[intpk]
    blob_name: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    lease_until: Mapped[datetime | None]
    version_id: Mapped[str | None] = mapped_column(String(255))


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_agency_year", "agency_id", "funding_year"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(Text)
    doc_date: Mapped[date | None]
    source: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"), index=True)
    sha256: Mapped[sha256hex]
    size: Mapped[int] = mapped_column(BigInteger)
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("occurrences.id"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"), index=True)
    consent_ref: Mapped[str | None] = mapped_column(Text)
    retention_until: Mapped[date]
    retention_rule: Mapped[str] = mapped_column(String(80))
    legal_hold: Mapped[bool] = mapped_column(default=False)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    # Content findings of the upload check, e.g. "pdf_javascript".
    flags: Mapped[list[str]] = mapped_column(default=list)
    # Bumped by every audited metadata change (see EvidenceRevision).
    revision: Mapped[int] = mapped_column(default=1)

    subgoals: Mapped[list[SubGoal]] = relationship(
        secondary=evidence_subgoals, order_by="[SubGoal.position, SubGoal.id]"
    )


class ListSeal(Base):
    """One sealed version of an occurrence's participant list (attendance/sealing.py).

    ``entries``/``undone`` count the attendance rows at sealing time: when they
    differ from today's, a late correction happened and the next run seals a
    new version that supersedes the previous evidence. ``valid_ids`` and
    ``undone_ids`` let the screens show the difference between versions."""

    __tablename__ = "list_seals"
    __table_args__ = (UniqueConstraint("occurrence_id", "version"),)
    id: Mapped[intpk]
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    version: Mapped[int]
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    csv_evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(default=False)
    entries: Mapped[int]
    undone: Mapped[int]
    participants: Mapped[int]
    valid_ids: Mapped[list[int]] = mapped_column(default=list)
    undone_ids: Mapped[list[int]] = mapped_column(default=list)
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sealed_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text, default="")


class EvidenceRevision(Base):
    """A frozen copy of an item's metadata before a change: who, when, why."""

    __tablename__ = "evidence_revisions"
    __table_args__ = (UniqueConstraint("evidence_id", "revision"),)
    id: Mapped[intpk]
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    revision: Mapped[int]
    snapshot: Mapped[dict[str, Any]]
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class LegalHold(Base):
    __tablename__ = "legal_holds"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    scope: Mapped[str] = mapped_column(String(20))  # evidence|occurrence|subgoal|agency_year
    scope_id: Mapped[int | None]
    funding_year: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)
    case_ref: Mapped[str | None] = mapped_column(String(200))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(80))
    released_at: Mapped[datetime | None]


class DeletionRecord(Base):
    """Kept for good: what was deleted, why, when, approved by whom."""

    __tablename__ = "deletion_records"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    object_type: Mapped[str] = mapped_column(String(40), default="evidence")
    sha256: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(120))
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str] = mapped_column(String(80))
    # For object types other than evidence (attendance, volunteer): their id.
    object_id: Mapped[int | None]
    count: Mapped[int] = mapped_column(default=1)
    # Erased before its object lock ran out: the ciphertext (its key destroyed) stays
    # in the bucket until then; the retention run removes it afterwards.
    locked_until: Mapped[datetime | None]


class ErasureRequest(Base):
    """A data subject's erasure request (Art. 17 DSGVO), found through the blind index.

    While a retention duty runs, processing is restricted (Art. 18, 17(3)(b))
    and the request stays ``restricted``; a retention run completes it when the
    duty ends. Holds no name: only the keyed index of it.
    """

    __tablename__ = "erasure_requests"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    subject_index: Mapped[str] = mapped_column(String(64), index=True)
    case_ref: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_by: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="restricted")  # restricted|done
    duty_until: Mapped[date | None]
    done_at: Mapped[datetime | None]


class ActivityReport(Base):
    """The Sachbericht text per agency and year; a submitted one is frozen as evidence."""

    __tablename__ = "activity_reports"
    __table_args__ = (UniqueConstraint("agency_id", "funding_year"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]
    sections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    submitted_at: Mapped[datetime | None]
    submitted_evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    version: Mapped[int] = mapped_column(default=1)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(80))
    review_note: Mapped[str] = mapped_column(Text, default="")


class ReviewEvent(Base):
    """One step of the Freigabe of an analysis, a task plan or a Sachbericht:
    submitted, approved or returned -- who, when, why, and which version."""

    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_doc", "doc_type", "doc_id"),)
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    doc_type: Mapped[str] = mapped_column(String(20))  # analysis | plan | report
    doc_id: Mapped[int]
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))  # submit | approve | return
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class PlanNotice(Base):
    """A grundsätzliche change of a task plan: the duty to tell the Bewilligungsbehörde."""

    __tablename__ = "plan_notices"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    task_plan_id: Mapped[int] = mapped_column(ForeignKey("task_plans.id"), index=True)
    plan_version: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date]
    sent_on: Mapped[date | None]
    sent_by: Mapped[str | None] = mapped_column(String(80))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))


class PersonnelChange(Base):
    """A personnel or position change (Personal- und Stellenveränderung), handbook 4.2."""

    __tablename__ = "personnel_changes"
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    planned_on: Mapped[date]
    requested_on: Mapped[date | None]
    consent_on: Mapped[date | None]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentTemplate(Base):
    """A letterhead, logo, Raster or form, valid from a date (the admin uploads them)."""

    __tablename__ = "document_templates"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str200]
    valid_from: Mapped[date]
    filename: Mapped[str200]
    media_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    sha256: Mapped[sha256hex]
    content: Mapped[bytes]
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- notifications --------------------------------------------------------------------------


class NotifyPreference(Base):
    """A person's e-mail for notifications (given for this purpose only) and their choices.

    The address is sealed like every contact (``privacy.personal``); ``disabled``
    lists the kinds the person switched off (opt-out link or Konto page).
    """

    __tablename__ = "notify_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email_enc: Mapped[bytes | None]
    disabled: Mapped[list[str]] = mapped_column(default=list)
    # Local hour (Europe/Berlin) of the reminder on the day before a shift.
    reminder_hour: Mapped[int] = mapped_column(default=18)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """One message to one person, written with the change that causes it.

    Holds ids and the delivery state; the rendered body lives here only until
    the message is sent. ``key`` makes a scheduled message unique (enqueued once);
    ``message_id`` is fixed at enqueue time, so a resend would carry the same id.
    States: pending -> sending (claimed, leased) -> committing (DATA accepted,
    final dot about to go) -> sent; or failed (permanent), review (a crash left
    it unclear whether the server has it), skipped (no address / switched off).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str40]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    object_type: Mapped[str40]
    object_id: Mapped[int | None]
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]


# -- audit ------------------------------------------------------------------------------------


class AuditEvent(Base):
    """One link of the hash chain. Carries ids and digests, never personal values."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    agency_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[sha256hex]
    hash: Mapped[sha256hex]


# --- funding sources and multipliers (issue 19) ---------------------------------------------


class FundingSourceKind(enum.StrEnum):
    """Where an activity's money comes from; the value is the German label (shown and
    exported). ``own_share`` is the carrier's Eigenanteil (at least 10 % of the financing)."""

    state = "Integrationsagentur-Förderung (Land NRW)"
    komm_an = "KOMM-AN NRW"
    aktion_mensch = "Aktion Mensch"
    youth_office = "Jugendamt"
    district_fund = "Stadtteilfonds"
    donations = "Spenden"
    service_club = "Service-Club (z. B. Rotary, Lions)"
    own_share = "Eigenanteil des Trägers"
    other = "Sonstige"


class FundingShare(Base):
    """One source's share in the financing of an activity or of an opening process (a
    measure that is not an event; exactly one of the two is set; several shares each);
    the amount in euro cents (an integer, never a float), optional. The note may name a
    donor and is sealed under the agency's data key like every personal value."""

    __tablename__ = "funding_shares"
    __table_args__ = (
        CheckConstraint(
            "source IN (" + ",".join("'" + k.value + "'" for k in FundingSourceKind) + ")",
            name="source_known",
        ),
        CheckConstraint("amount_cents IS NULL OR amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "(activity_id IS NULL) <> (process_id IS NULL)", name="activity_or_process"
        ),
        Index("ix_funding_shares_agency_year", "agency_id", "funding_year"),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    process_id: Mapped[int | None] = mapped_column(
        ForeignKey("opening_processes.id", ondelete="CASCADE"), index=True
    )
    funding_year: Mapped[int]
    source: Mapped[str] = mapped_column(String(60))
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    note_enc: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActivityCost(Base):
    """An activity's stated total cost for its funding year (``Gesamtkosten``), in euro
    cents: what its funding shares may add up to at most."""

    __tablename__ = "activity_costs"
    __table_args__ = (CheckConstraint("total_cents >= 0", name="total_not_negative"),)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    funding_year: Mapped[int]
    total_cents: Mapped[int] = mapped_column(BigInteger)


class Multiplier(Base):
    """A volunteer or a partner's contact person marked as *Multiplikator*in* (since a
    day, if known). Exactly one of the two is set; unmarking deletes the row (audited)."""

    __tablename__ = "multipliers"
    __table_args__ = (
        CheckConstraint(
            "(volunteer_id IS NULL) <> (partner_contact_id IS NULL)", name="volunteer_or_contact"
        ),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), unique=True
    )
    partner_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_contacts.id", ondelete="CASCADE"), unique=True
    )
    since: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- network work: meetings and processes (issue 19) ---


class MeetingKind(enum.StrEnum):
    """Kinds of network meetings; the value is the German label (shown and exported)."""

    committee = "Gremium"
    network = "Netzwerktreffen"
    working_group = "Facharbeitskreis"
    retreat = "Klausur"
    carrier_conference = "Trägerkonferenz"


class ProcessStatus(enum.StrEnum):
    """Where an opening process (IKÖ) stands; the value is the German label."""

    running = "läuft"
    resting = "ruht"
    completed = "abgeschlossen"
    ended = "abgebrochen"


class DiscriminationKind(enum.StrEnum):
    """Kinds of discrimination in Antidiskriminierungsberatung (German labels)."""

    ethnic = "ethnische Herkunft/rassistisch"
    religion = "Religion/Weltanschauung"
    gender = "Geschlecht"
    disability = "Behinderung"
    age = "Alter"
    sexual_identity = "sexuelle Identität"
    social_status = "sozialer Status"
    language = "Sprache"
    other = "Sonstiges"


class CounsellingOutcome(enum.StrEnum):
    """How counselling cases ended (German labels)."""

    advised = "beraten, abgeschlossen"
    referred = "weitervermittelt"
    intervention = "Intervention (Beschwerde, Schlichtung)"
    ongoing = "läuft noch"
    broken_off = "abgebrochen"


def _known(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ",".join("'" + v.value + "'" for v in values) + ")"


meeting_partners = Table(
    "meeting_partners",
    Base.metadata,
    Column("meeting_id", ForeignKey("network_meetings.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "partner_id", ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)
meeting_subgoals = Table(
    "meeting_subgoals",
    Base.metadata,
    Column("meeting_id", ForeignKey("network_meetings.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "subgoal_id", ForeignKey("subgoals.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)
# The Protokoll: evidence items (kind ``minutes``) archived for the meeting.
meeting_minutes = Table(
    "meeting_minutes",
    Base.metadata,
    Column("meeting_id", ForeignKey("network_meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("evidence_id", ForeignKey("evidence.id"), primary_key=True, index=True),
)


class NetworkMeeting(Base):
    """A Gremium, Netzwerktreffen, Facharbeitskreis, Klausur or Trägerkonferenz.

    A series is several rows sharing ``series_id`` (the first row's id). Agenda and
    decisions are about the work, not about persons; the organisations present are
    partner records of the same agency."""

    __tablename__ = "network_meetings"
    __table_args__ = (
        CheckConstraint(_known("kind", MeetingKind), name="kind_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_network_meetings_agency_year", "agency_id", "funding_year"),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str200]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(Text, default="")
    agenda: Mapped[str] = mapped_column(Text, default="")
    decisions: Mapped[str] = mapped_column(Text, default="")
    series_id: Mapped[int | None] = mapped_column(Integer, index=True)
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


opening_process_subgoals = Table(
    "opening_process_subgoals",
    Base.metadata,
    Column("process_id", ForeignKey("opening_processes.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "subgoal_id", ForeignKey("subgoals.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class OpeningProcess(Base):
    """Accompanying an institution's intercultural opening (IKÖ): a partner organisation,
    dated contacts (``ProcessContact``) and an outcome."""

    __tablename__ = "opening_processes"
    __table_args__ = (
        CheckConstraint(_known("status", ProcessStatus), name="status_known"),
        Index("ix_opening_processes_agency_year", "agency_id", "funding_year"),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]  # the year it began
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    title: Mapped[str200]
    started_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(30), default=ProcessStatus.running.value)
    outcome: Mapped[str] = mapped_column(Text, default="")
    # What the process costs in its funding year (euro cents; its funding shares may add
    # up to at most this), like an activity's ``ActivityCost``; None: not stated.
    total_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessContact(Base):
    """One dated contact of an opening process, with a short note about the work."""

    __tablename__ = "process_contacts"
    id: Mapped[intpk]
    process_id: Mapped[int] = mapped_column(
        ForeignKey("opening_processes.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    contact_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CounsellingCount(Base):
    """Antidiskriminierungsberatung as anonymous counts: so many cases in a month, of a
    kind of discrimination, with an outcome. Never a name, never free text."""

    __tablename__ = "counselling_counts"
    __table_args__ = (
        CheckConstraint(_known("discrimination", DiscriminationKind), name="discrimination_known"),
        CheckConstraint(_known("outcome", CounsellingOutcome), name="outcome_known"),
        CheckConstraint("cases > 0", name="cases_positive"),
        Index("ix_counselling_counts_agency_year", "agency_id", "funding_year"),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]
    period: Mapped[date]  # first day of the month
    discrimination: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(60))
    cases: Mapped[int]
    subgoal_id: Mapped[int | None] = mapped_column(ForeignKey("subgoals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lending(Base):
    """Material lent to a partner organisation (posters, exhibition, suitcase)."""

    __tablename__ = "lendings"
    __table_args__ = (
        CheckConstraint("due_on >= lent_on", name="due_after_lent"),
        CheckConstraint(
            "returned_on IS NULL OR returned_on >= lent_on", name="returned_after_lent"
        ),
        Index("ix_lendings_agency_year", "agency_id", "funding_year"),
    )
    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    funding_year: Mapped[int]  # the year it was lent
    item: Mapped[str200]
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    lent_on: Mapped[date]
    due_on: Mapped[date]
    returned_on: Mapped[date | None]
    subgoal_id: Mapped[int | None] = mapped_column(ForeignKey("subgoals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
