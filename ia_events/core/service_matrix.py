"""The permission matrix: every public service that takes an ``actor``, with the
permission it needs and how far its reach goes.

This is a declaration, not a second mechanism: the services themselves call
``access.require``. The registry exists so that the matrix can be printed
(``scripts/security_matrix.py`` writes it into docs/security.md), so that a
unit test fails when a new service appears without an entry, and so that the
tenancy tests can derive what each role must be allowed or refused.

Reach:

- ``agency``        acts on one agency's object (by id or slug); specialists and
                    volunteers reach only their own agency, another agency's id is
                    answered ``NotFound`` exactly like an unknown id
- ``listing``       lists filtered to the agencies the actor reaches (``scope_filter``)
- ``own``           the actor's own account or own volunteer record only
- ``installation``  the whole installation (users, keys, verify, retention)
- ``setup``         demo/setup loaders for the operator: the CLI, or the first-start
                    screen before any account exists; never offered to a logged-in user
- ``internal``      building blocks that take the actor's *name* or are called only
                    by other services after those checked the permission
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ia_events.core.access import ROLE_PERMISSIONS, TENANT_ROLES, Permission
from ia_events.core.models import Role


class Reach(enum.StrEnum):
    agency = "agency"
    listing = "listing"
    own = "own"
    installation = "installation"
    setup = "setup"
    internal = "internal"


@dataclass(frozen=True)
class Rule:
    permission: Permission | None
    reach: Reach
    note: str = ""
    # Other permissions that also open the service (``volunteer.self``: only for
    # the volunteer's own record or assignment).
    alternatives: tuple[Permission, ...] = ()

    @property
    def scoped(self) -> bool:
        """True where a specialist or volunteer reaches only her own agency."""
        return self.reach in (Reach.agency, Reach.listing, Reach.own)

    def allows(self, role: Role) -> bool:
        """May a user of ``role`` (of the right agency) call it at all?"""
        if self.permission is None:
            return self.reach is Reach.own
        return any(p in ROLE_PERMISSIONS[role] for p in (self.permission, *self.alternatives))

    def across_agencies(self, role: Role) -> bool:
        """Does a user of ``role`` reach another agency's objects through it?"""
        return self.allows(role) and not (self.scoped and role in TENANT_ROLES)


P = Permission
A, L, OWN, INST, S, X = (
    Reach.agency,
    Reach.listing,
    Reach.own,
    Reach.installation,
    Reach.setup,
    Reach.internal,
)

SERVICES: dict[str, Rule] = {
    # accounts
    "accounts.users.add_user": Rule(P.users_manage, INST),
    "accounts.users.list_users": Rule(P.users_manage, INST),
    "accounts.users.set_active": Rule(P.users_manage, INST),
    "accounts.users.reset_password": Rule(P.users_manage, INST),
    "accounts.users.change_own_password": Rule(None, OWN, "needs the old password"),
    "accounts.users.must_change_password": Rule(None, OWN, "reads the actor's own flag"),
    # agencies
    "accounts.agencies.list_agencies": Rule(P.agency_read, L),
    "accounts.agencies.get_by_slug": Rule(P.agency_read, A),
    "accounts.agencies.add_agency": Rule(P.users_manage, INST),
    "accounts.personnel.agency_id_for": Rule(None, X, "checks the permission it is given"),
    "accounts.personnel.add_change": Rule(P.plan_edit, A),
    "accounts.personnel.set_dates": Rule(P.plan_edit, A),
    "accounts.personnel.list_changes": Rule(P.agency_read, L),
    # planning, schedule
    "planning.plans.agency_id_for": Rule(None, X, "checks the permission it is given"),
    "planning.plans.create_task_plan": Rule(P.plan_edit, A),
    "planning.plans.add_subgoal": Rule(P.plan_edit, A),
    "planning.plans.record_version": Rule(None, X, "called after _plan_for_edit"),
    "planning.plans.create_activity": Rule(P.occurrence_edit, A),
    "planning.plans.add_occurrence": Rule(P.occurrence_edit, A),
    "planning.plans.list_occurrences": Rule(P.agency_read, L),
    "planning.plans.get_occurrence": Rule(P.agency_read, A),
    "planning.plans.update_plan": Rule(P.plan_edit, A),
    "planning.plans.change_subgoal": Rule(P.plan_edit, A),
    "planning.plans.set_manual_actual": Rule(P.plan_edit, A),
    "planning.plans.submit_plan": Rule(P.plan_edit, A),
    "planning.plans.approve_plan": Rule(P.plan_approve, A),
    "planning.plans.return_plan": Rule(P.plan_approve, A),
    "planning.plans.attach_analysis": Rule(P.plan_edit, A),
    "planning.plans.get_plan": Rule(P.agency_read, A),
    "planning.plans.list_plans": Rule(P.agency_read, L),
    "planning.plans.plan_history": Rule(P.agency_read, A),
    "planning.plans.plans_for": Rule(P.agency_read, A),
    "planning.plans.plan_view": Rule(P.agency_read, A),
    "planning.plans.review_step": Rule(None, X, "records a step its caller checked"),
    "planning.analyses.create_analysis": Rule(P.plan_edit, A),
    "planning.analyses.update_analysis": Rule(P.plan_edit, A),
    "planning.analyses.add_need": Rule(P.plan_edit, A),
    "planning.analyses.attach_document": Rule(P.plan_edit, A),
    "planning.analyses.submit_analysis": Rule(P.plan_edit, A),
    "planning.analyses.approve_analysis": Rule(P.plan_approve, A),
    "planning.analyses.return_analysis": Rule(P.plan_approve, A),
    "planning.analyses.get_analysis": Rule(P.agency_read, A),
    "planning.analyses.analysis_by_id": Rule(P.agency_read, A),
    "planning.analyses.list_analyses": Rule(P.agency_read, L),
    "planning.approvals.queue": Rule(P.agency_read, L),
    "planning.approvals.history": Rule(P.agency_read, A),
    "planning.approvals.approve_report": Rule(P.plan_approve, A),
    "planning.approvals.return_report": Rule(P.plan_approve, A),
    "planning.plan_export.export": Rule(P.agency_read, A),
    "planning.templates.add_template": Rule(P.users_manage, INST),
    "planning.templates.list_templates": Rule(P.agency_read, INST, "no agency data: versions"),
    "planning.notices.list_notices": Rule(P.agency_read, L),
    "planning.notices.get_notice": Rule(P.agency_read, A),
    "planning.notices.notice_pdf": Rule(P.agency_read, A),
    "planning.notices.notice_docx": Rule(P.agency_read, A),
    "planning.notices.template_warnings": Rule(P.agency_read, A),
    "planning.notices.mark_sent": Rule(P.plan_edit, A),
    "planning.schedule.create_series": Rule(P.occurrence_edit, A),
    "planning.schedule.edit_occurrence": Rule(P.occurrence_edit, A),
    "planning.schedule.edit_future": Rule(P.occurrence_edit, A),
    "planning.schedule.cancel_occurrence": Rule(P.occurrence_edit, A),
    "planning.schedule.add_closure": Rule(P.occurrence_edit, A),
    "planning.schedule.list_closures": Rule(P.agency_read, A),
    "planning.schedule.list_activities": Rule(P.agency_read, A),
    "planning.calendar_feeds.create_feed": Rule(P.occurrence_edit, A),
    "planning.calendar_feeds.list_feeds": Rule(P.agency_read, A),
    "planning.calendar_feeds.revoke_feed": Rule(P.occurrence_edit, A),
    "planning.deadlines.for_year": Rule(P.agency_read, L),
    "planning.deadlines.upcoming": Rule(P.agency_read, L),
    "planning.deadlines.submit": Rule(P.plan_edit, A),
    "planning.deadlines.mark_submitted_without_document": Rule(P.plan_edit, A),
    "planning.deadlines.load_demo": Rule(None, S),
    # check-in and attendance
    "attendance.tokens.occurrence_link": Rule(P.checkin_door, A),
    "attendance.tokens.series_link": Rule(P.checkin_door, A),
    "attendance.tokens.revoke_links": Rule(P.occurrence_edit, A),
    "attendance.tokens.revoke_series_link": Rule(P.occurrence_edit, A),
    "attendance.checkin.door_checkin": Rule(P.checkin_door, A),
    "attendance.checkin.card_checkin": Rule(P.checkin_door, A),
    "demo.checkins.load": Rule(None, S),
    "demo.instruments.after_load": Rule(None, S),
    "attendance.cards.issue_cards": Rule(P.checkin_door, A),
    "attendance.cards.cards_pdf": Rule(P.checkin_door, A),
    "attendance.records.list_attendance": Rule(P.agency_read, A, "names need attendance.names"),
    "attendance.records.list_scans": Rule(P.agency_read, A),
    "attendance.records.counter": Rule(P.checkin_door, A),
    "attendance.records.undo": Rule(P.checkin_door, A),
    "attendance.records.headcount": Rule(P.checkin_door, A),
    "attendance.records.today_occurrences": Rule(P.checkin_door, L),
    "attendance.records.door_info": Rule(P.checkin_door, A, "names need attendance.names"),
    "attendance.lists.participant_list": Rule(P.attendance_names, A),
    "attendance.lists.occurrence_poster": Rule(P.checkin_door, A),
    "attendance.lists.series_poster": Rule(P.checkin_door, A),
    # evidence and retention
    "archive.evidence.add_evidence": Rule(P.evidence_add, A),
    "archive.evidence.add_many": Rule(P.evidence_add, A),
    "archive.evidence.supersede": Rule(P.evidence_add, A),
    "archive.evidence.change_metadata": Rule(P.evidence_add, A),
    "archive.evidence.read_content": Rule(P.evidence_read, A, "every read is audited"),
    "archive.evidence.open_content": Rule(P.evidence_read, A),
    "archive.previews.preview": Rule(P.evidence_read, A),
    "archive.query.list_evidence": Rule(P.evidence_read, L),
    "archive.query.search_evidence": Rule(P.evidence_read, L),
    "archive.query.get_detail": Rule(P.evidence_read, A),
    "archive.query.link_options": Rule(P.evidence_read, A),
    "archive.query.occurrence_context": Rule(P.evidence_read, A),
    "demo.evidence.load_demo": Rule(None, S),
    "archive.retention.set_hold": Rule(P.evidence_hold, A),
    "archive.retention.release_hold": Rule(P.evidence_hold, A, "a second person approves"),
    "archive.retention.release_for_evidence": Rule(P.evidence_hold, A),
    "archive.retention.list_holds": Rule(P.evidence_read, L, alternatives=(P.evidence_hold,)),
    "archive.retention.propose": Rule(P.system_run, INST),
    "archive.retention.run_deletions": Rule(P.system_run, INST),
    "archive.retention.list_deletions": Rule(
        P.evidence_read, L, alternatives=(P.system_run, P.evidence_hold)
    ),
    "privacy.subjects.anonymise_due": Rule(P.system_run, INST),
    "privacy.subjects.find_subject": Rule(P.attendance_names, A, alternatives=(P.system_run,)),
    "privacy.subjects.request_erasure": Rule(P.attendance_names, A, alternatives=(P.system_run,)),
    # reports, inspection
    "reporting.progress.subgoal_progress": Rule(P.agency_read, A),
    "reporting.progress.district_summary": Rule(P.agency_read, L),
    "reporting.controlling.figures": Rule(P.agency_read, L),
    "reporting.controlling.export": Rule(P.agency_read, L, "CSV/XLSX cells formula-escaped"),
    "reporting.controlling.attendance_by_month": Rule(P.agency_read, A),
    "reporting.activity_report.draft": Rule(P.agency_read, A),
    "reporting.activity_report.save_texts": Rule(P.plan_edit, A),
    "reporting.activity_report.export": Rule(P.agency_read, A),
    "reporting.activity_report.submit": Rule(P.plan_edit, A),
    "inspection.completeness.inspect": Rule(P.bundle_export, A),
    "inspection.bundle.export_bundle": Rule(P.bundle_export, A),
    "inspection.bundle.export_for_download": Rule(P.bundle_export, A),
    "inspection.bundle.verify_upload": Rule(P.agency_read, INST, "checks a file, reads no data"),
    # volunteers and shifts
    "volunteers.registry.load_volunteer": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteers.registry.own_volunteer_id": Rule(P.volunteer_self, OWN),
    "volunteers.registry.add_volunteer": Rule(P.volunteer_manage, A),
    "volunteers.registry.update_volunteer": Rule(P.volunteer_manage, A),
    "volunteers.registry.set_volunteer_active": Rule(P.volunteer_manage, A),
    "volunteers.registry.list_volunteers": Rule(P.volunteer_manage, A),
    "volunteers.registry.get_volunteer": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteers.registry.add_qualification": Rule(P.volunteer_manage, A),
    "volunteers.registry.expiring_qualifications": Rule(P.volunteer_manage, A),
    "volunteers.registry.set_card_threshold": Rule(P.system_run, INST),
    "volunteers.hours.add_worklog": Rule(P.volunteer_manage, A),
    "volunteers.hours.list_with_hours": Rule(P.volunteer_manage, L),
    "volunteers.hours.year_summary": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteers.hours.own_year_summary": Rule(P.volunteer_self, OWN),
    "volunteers.transfer.preview": Rule(P.volunteer_manage, A),
    "volunteers.transfer.confirm": Rule(P.volunteer_manage, A),
    "volunteers.transfer.export_registry": Rule(P.volunteer_manage, A, "cells formula-escaped"),
    "demo.volunteers.load_volunteers": Rule(None, S),
    "volunteers.certificates.volunteer_certificate": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteers.shifts.add_shift": Rule(P.volunteer_manage, A),
    "volunteers.shifts.sign_up": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.assign": Rule(P.volunteer_manage, A),
    "volunteers.shifts.withdraw": Rule(
        P.volunteer_manage, A, "volunteer: own assignment", (P.volunteer_self,)
    ),
    "volunteers.shifts.mark_no_show": Rule(P.volunteer_manage, A),
    "volunteers.shifts.check_in": Rule(
        P.volunteer_manage, A, "volunteer: own assignment", (P.volunteer_self,)
    ),
    "volunteers.shifts.check_out": Rule(
        P.volunteer_manage, A, "volunteer: own assignment", (P.volunteer_self,)
    ),
    "volunteers.shifts.scan_at_occurrence": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.scan_preview": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.scan_token": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.set_hours": Rule(P.volunteer_manage, A),
    "volunteers.shifts.roster_for_occurrence": Rule(P.volunteer_manage, A),
    "volunteers.shifts.roster_for_week": Rule(P.volunteer_manage, A),
    "volunteers.shifts.reminders": Rule(P.volunteer_manage, A),
    "volunteers.shifts.open_shifts": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.my_shifts": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.volunteer_home": Rule(P.volunteer_self, OWN),
    "volunteers.shifts.overview_notes": Rule(P.volunteer_manage, A),
    # system
    "archive.fixity.verify": Rule(P.system_run, INST),
    "archive.backup.backup": Rule(P.system_run, INST),
    "archive.backup.rotate_keys": Rule(P.system_run, INST),
    "archive.backup.key_status": Rule(P.system_run, INST),
    "core.audit.list_events": Rule(P.audit_read, L),
    "core.audit.record": Rule(None, X, "takes the actor's name; written by every change"),
    "core.audit.append": Rule(None, X, "audit.record for hot paths (Core); takes the actor's name"),
    "core.audit.append_along": Rule(None, X, "audit.append inside a caller's insert; actor's name"),
    "core.audit.event_hash": Rule(None, X, "pure function of an event"),
    "core.installation.initialise": Rule(None, S, "takes the operator's name"),
    "demo.loader.load": Rule(None, S),
    "demo.large.load": Rule(None, S),
}

# Modules whose actor-taking functions are the permission mechanism itself.
MECHANISM_MODULES = frozenset({"core.access", "core.service_matrix"})


def rows() -> list[tuple[str, str, str, dict[Role, str], str]]:
    """The matrix as rows: service, permission, reach, a cell per role, note.

    A cell reads ``own agency`` (tenant roles on a scoped service), ``all``
    (every agency), ``own`` (own record) or ``–`` (refused).
    """
    out = []
    for name, rule in sorted(SERVICES.items()):
        cells: dict[Role, str] = {}
        for role in Role:
            if rule.reach in (Reach.setup, Reach.internal):
                cells[role] = "n/a"
            elif not rule.allows(role):
                cells[role] = "–"
            elif rule.reach is Reach.own:
                cells[role] = "own"
            elif rule.scoped and role in TENANT_ROLES:
                cells[role] = "own agency"
            else:
                cells[role] = "all"
        perm = " / ".join(p.value for p in (rule.permission, *rule.alternatives) if p) or "–"
        out.append((name, perm, rule.reach.value, cells, rule.note))
    return out


def markdown() -> str:
    roles = list(Role)
    head = (
        "| service | permission | reach | "
        + " | ".join(r.value for r in roles)
        + " | anonymous | note |"
    )
    sep = "|" + "---|" * (len(roles) + 5)
    lines = [head, sep]
    for name, perm, reach, cells, note in rows():
        lines.append(
            f"| `{name}` | {perm} | {reach} | "
            + " | ".join(cells[r] for r in roles)
            + f" | – | {note} |"
        )
    return "\n".join(lines) + "\n"
