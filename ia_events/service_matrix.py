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

from ia_events.access import ROLE_PERMISSIONS, TENANT_ROLES, Permission
from ia_events.models import Role


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
    "accounts.add_user": Rule(P.users_manage, INST),
    "accounts.list_users": Rule(P.users_manage, INST),
    "accounts.set_active": Rule(P.users_manage, INST),
    "accounts.reset_password": Rule(P.users_manage, INST),
    "accounts.change_own_password": Rule(None, OWN, "needs the old password"),
    "accounts.must_change_password": Rule(None, OWN, "reads the actor's own flag"),
    # agencies
    "agencies.list_agencies": Rule(P.agency_read, L),
    "agencies.get_by_slug": Rule(P.agency_read, A),
    "agencies.add_agency": Rule(P.users_manage, INST),
    # planning, schedule
    "planning.agency_id_for": Rule(None, X, "checks the permission it is given"),
    "planning.create_task_plan": Rule(P.plan_edit, A),
    "planning.add_subgoal": Rule(P.plan_edit, A),
    "planning.record_version": Rule(None, X, "called after _plan_for_edit"),
    "planning.create_activity": Rule(P.occurrence_edit, A),
    "planning.add_occurrence": Rule(P.occurrence_edit, A),
    "planning.list_occurrences": Rule(P.agency_read, L),
    "planning.get_occurrence": Rule(P.agency_read, A),
    "planning.update_plan": Rule(P.plan_edit, A),
    "planning.change_subgoal": Rule(P.plan_edit, A),
    "planning.set_manual_actual": Rule(P.plan_edit, A),
    "planning.submit_plan": Rule(P.plan_edit, A),
    "planning.approve_plan": Rule(P.plan_approve, A),
    "planning.return_plan": Rule(P.plan_approve, A),
    "planning.attach_analysis": Rule(P.plan_edit, A),
    "planning.get_plan": Rule(P.agency_read, A),
    "planning.list_plans": Rule(P.agency_read, L),
    "planning.plan_history": Rule(P.agency_read, A),
    "schedule.create_series": Rule(P.occurrence_edit, A),
    "schedule.edit_occurrence": Rule(P.occurrence_edit, A),
    "schedule.edit_future": Rule(P.occurrence_edit, A),
    "schedule.cancel_occurrence": Rule(P.occurrence_edit, A),
    "schedule.add_closure": Rule(P.occurrence_edit, A),
    "schedule.list_closures": Rule(P.agency_read, A),
    "schedule.list_activities": Rule(P.agency_read, A),
    "calendar_feeds.create_feed": Rule(P.occurrence_edit, A),
    "calendar_feeds.list_feeds": Rule(P.agency_read, A),
    "calendar_feeds.revoke_feed": Rule(P.occurrence_edit, A),
    "deadlines.for_year": Rule(P.agency_read, L),
    "deadlines.upcoming": Rule(P.agency_read, L),
    "deadlines.submit": Rule(P.plan_edit, A),
    "deadlines.mark_submitted_without_document": Rule(P.plan_edit, A),
    "deadlines.load_demo": Rule(None, S),
    # check-in and attendance
    "tokens.occurrence_link": Rule(P.checkin_door, A),
    "tokens.series_link": Rule(P.checkin_door, A),
    "tokens.revoke_links": Rule(P.occurrence_edit, A),
    "tokens.revoke_series_link": Rule(P.occurrence_edit, A),
    "checkin.door_checkin": Rule(P.checkin_door, A),
    "checkin.card_checkin": Rule(P.checkin_door, A),
    "checkin_demo.load": Rule(None, S),
    "cards.issue_cards": Rule(P.checkin_door, A),
    "cards.cards_pdf": Rule(P.checkin_door, A),
    "attendance.list_attendance": Rule(P.agency_read, A, "names need attendance.names"),
    "attendance.list_scans": Rule(P.agency_read, A),
    "attendance.counter": Rule(P.checkin_door, A),
    "attendance.undo": Rule(P.checkin_door, A),
    "attendance.headcount": Rule(P.checkin_door, A),
    "attendance.today_occurrences": Rule(P.checkin_door, L),
    "attendance.door_info": Rule(P.checkin_door, A, "names need attendance.names"),
    "pdf_lists.participant_list": Rule(P.attendance_names, A),
    "pdf_lists.occurrence_poster": Rule(P.checkin_door, A),
    "pdf_lists.series_poster": Rule(P.checkin_door, A),
    # evidence and retention
    "evidence.add_evidence": Rule(P.evidence_add, A),
    "evidence.add_many": Rule(P.evidence_add, A),
    "evidence.supersede": Rule(P.evidence_add, A),
    "evidence.change_metadata": Rule(P.evidence_add, A),
    "evidence.read_content": Rule(P.evidence_read, A, "every read is audited"),
    "evidence.open_content": Rule(P.evidence_read, A),
    "evidence_preview.preview": Rule(P.evidence_read, A),
    "evidence_query.list_evidence": Rule(P.evidence_read, L),
    "evidence_query.search_evidence": Rule(P.evidence_read, L),
    "evidence_query.get_detail": Rule(P.evidence_read, A),
    "evidence_query.link_options": Rule(P.evidence_read, A),
    "evidence_query.occurrence_context": Rule(P.evidence_read, A),
    "evidence_demo.load_demo": Rule(None, S),
    "retention.set_hold": Rule(P.evidence_hold, A),
    "retention.release_hold": Rule(P.evidence_hold, A, "a second person approves"),
    "retention.release_for_evidence": Rule(P.evidence_hold, A),
    "retention.list_holds": Rule(P.evidence_read, L, alternatives=(P.evidence_hold,)),
    "retention.propose": Rule(P.system_run, INST),
    "retention.run_deletions": Rule(P.system_run, INST),
    "retention.list_deletions": Rule(
        P.evidence_read, L, alternatives=(P.system_run, P.evidence_hold)
    ),
    "subjects.anonymise_due": Rule(P.system_run, INST),
    "subjects.find_subject": Rule(P.attendance_names, A, alternatives=(P.system_run,)),
    "subjects.request_erasure": Rule(P.attendance_names, A, alternatives=(P.system_run,)),
    # reports, inspection
    "reports.subgoal_progress": Rule(P.agency_read, A),
    "reports.district_summary": Rule(P.agency_read, L),
    "controlling.figures": Rule(P.agency_read, L),
    "controlling.export": Rule(P.agency_read, L, "CSV/XLSX cells formula-escaped"),
    "controlling.attendance_by_month": Rule(P.agency_read, A),
    "activity_report.draft": Rule(P.agency_read, A),
    "activity_report.save_texts": Rule(P.plan_edit, A),
    "activity_report.export": Rule(P.agency_read, A),
    "activity_report.submit": Rule(P.plan_edit, A),
    "inspection.inspect": Rule(P.bundle_export, A),
    "bundle.export_bundle": Rule(P.bundle_export, A),
    "bundle.export_for_download": Rule(P.bundle_export, A),
    "bundle.verify_upload": Rule(P.agency_read, INST, "checks a file, reads no data"),
    # volunteers and shifts
    "volunteers.load_volunteer": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteers.own_volunteer_id": Rule(P.volunteer_self, OWN),
    "volunteers.add_volunteer": Rule(P.volunteer_manage, A),
    "volunteers.update_volunteer": Rule(P.volunteer_manage, A),
    "volunteers.set_volunteer_active": Rule(P.volunteer_manage, A),
    "volunteers.list_volunteers": Rule(P.volunteer_manage, A),
    "volunteers.get_volunteer": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteers.add_qualification": Rule(P.volunteer_manage, A),
    "volunteers.expiring_qualifications": Rule(P.volunteer_manage, A),
    "volunteers.set_card_threshold": Rule(P.system_run, INST),
    "volunteer_hours.add_worklog": Rule(P.volunteer_manage, A),
    "volunteer_hours.list_with_hours": Rule(P.volunteer_manage, L),
    "volunteer_hours.year_summary": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "volunteer_hours.own_year_summary": Rule(P.volunteer_self, OWN),
    "volunteer_import.preview": Rule(P.volunteer_manage, A),
    "volunteer_import.confirm": Rule(P.volunteer_manage, A),
    "volunteer_import.export_registry": Rule(P.volunteer_manage, A, "cells formula-escaped"),
    "volunteer_demo.load_volunteers": Rule(None, S),
    "pdf_certificates.volunteer_certificate": Rule(
        P.volunteer_manage, A, "volunteer: own record", (P.volunteer_self,)
    ),
    "shifts.add_shift": Rule(P.volunteer_manage, A),
    "shifts.sign_up": Rule(P.volunteer_self, OWN),
    "shifts.assign": Rule(P.volunteer_manage, A),
    "shifts.withdraw": Rule(
        P.volunteer_manage, A, "volunteer: own assignment", (P.volunteer_self,)
    ),
    "shifts.mark_no_show": Rule(P.volunteer_manage, A),
    "shifts.check_in": Rule(
        P.volunteer_manage, A, "volunteer: own assignment", (P.volunteer_self,)
    ),
    "shifts.check_out": Rule(
        P.volunteer_manage, A, "volunteer: own assignment", (P.volunteer_self,)
    ),
    "shifts.scan_at_occurrence": Rule(P.volunteer_self, OWN),
    "shifts.scan_preview": Rule(P.volunteer_self, OWN),
    "shifts.scan_token": Rule(P.volunteer_self, OWN),
    "shifts.set_hours": Rule(P.volunteer_manage, A),
    "shifts.roster_for_occurrence": Rule(P.volunteer_manage, A),
    "shifts.roster_for_week": Rule(P.volunteer_manage, A),
    "shifts.reminders": Rule(P.volunteer_manage, A),
    "shifts.open_shifts": Rule(P.volunteer_self, OWN),
    "shifts.my_shifts": Rule(P.volunteer_self, OWN),
    "shifts.volunteer_home": Rule(P.volunteer_self, OWN),
    "shifts.overview_notes": Rule(P.volunteer_manage, A),
    # system
    "integrity.verify": Rule(P.system_run, INST),
    "backup.backup": Rule(P.system_run, INST),
    "backup.rotate_keys": Rule(P.system_run, INST),
    "backup.key_status": Rule(P.system_run, INST),
    "audit.list_events": Rule(P.audit_read, L),
    "audit.record": Rule(None, X, "takes the actor's name; written by every change"),
    "audit.append": Rule(None, X, "audit.record for hot paths (Core); takes the actor's name"),
    "audit.append_along": Rule(None, X, "audit.append inside a caller's insert; actor's name"),
    "audit.event_hash": Rule(None, X, "pure function of an event"),
    "installation.initialise": Rule(None, S, "takes the operator's name"),
    "demo.load": Rule(None, S),
    "demo_large.load": Rule(None, S),
}

# Modules whose actor-taking functions are the permission mechanism itself.
MECHANISM_MODULES = frozenset({"access", "service_matrix"})


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
