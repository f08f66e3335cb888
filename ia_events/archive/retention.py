"""Retention of evidence: policy, legal holds, retention runs, deletion records.

- **Policy.** Each item gets its retention end from a versioned policy per kind
  (default 31 December of funding year + 10); the rule string is stored with the
  item, so a later policy never silently changes what an item was promised.
- **Legal hold** on an item, an occurrence, a sub-goal or a whole agency-year,
  with reason and case reference, set by coordinator/admin. Whether an item is
  held is computed from the active holds (``held_clause``) and mirrored into
  ``Evidence.legal_hold``. Releasing needs a second person.
- **Runs.** ``propose`` lists what is due (past its end, not held, not yet
  deleted); ``execute`` deletes it: tombstone (metadata and SHA-256 kept),
  crypto-shred of the blob's wrapped key and removal of the file with its last
  reference, and a ``DeletionRecord`` that is itself kept. Personal data of
  attendance and volunteers follows its own rule (``ia_events.privacy.subjects``).

Object store with Object Lock (``archive.objectlock``): an item erased while its
object is still locked (a run with a later ``today``, a hold released after the date)
is crypto-shredded at once and its ``DeletionRecord.locked_until`` says until when the
ciphertext stays in the bucket; ``purge_shredded_files`` (every run) deletes it only
after the store reports the lock has run out. Nothing here bypasses a lock.

Limits: a run deletes item by item (one transaction each) so a crash stops
mid-run with every finished item complete; files of shredded blobs that a crash
left on disk are unreadable (their key is gone) and removed by the next run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, can, require, role_may, scope_filter
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Agency,
    Blob,
    DeletionRecord,
    Evidence,
    EvidenceKind,
    LegalHold,
    Occurrence,
    Role,
    SubGoal,
    User,
    evidence_subgoals,
)
from ia_events.core.permissions import Reach, service
from storage.archive_store import BlobError, BlobMissing
from storage.db import utcnow

# -- policy -------------------------------------------------------------------------------

# Years after the funding year, per kind. A new policy gets a new version key;
# items keep the rule they were archived under.
POLICIES: dict[str, dict[str, int]] = {
    "2026.1": {kind.value: 10 for kind in EvidenceKind},
}
CURRENT_POLICY = "2026.1"


def retention_for(kind: str, funding_year: int, policy: str = CURRENT_POLICY) -> tuple[date, str]:
    """(retention end, rule) -- 31 December of funding year + the kind's years."""
    years = POLICIES[policy].get(kind, 10)
    return date(funding_year + years, 12, 31), f"policy-{policy}/{kind}/fy+{years}"


_RULE = re.compile(
    r"^(?:policy-)?(?P<policy>[^/]+)/(?P<what>[a-z_]+)/(?P<base>fy|last)\+(?P<years>\d+)$"
)
_RULE_SUBJECTS = {
    "attendance": "Teilnahmedaten",
    "volunteer": "Daten Ehrenamtlicher",
}


def rule_text(rule: str) -> str:
    """A retention rule code as a German sentence: ``policy-2026.1/photo/fy+10`` →
    "Foto: aufbewahrt bis zum 31.12. des 10. Jahres nach dem Förderjahr (Regelwerk 2026.1)".
    An unknown code is returned as it is (pages show codes only under "Details")."""
    from ia_events.archive.evidence import KIND_LABELS

    if rule == "art17-erasure-request":
        return "Gelöscht auf Verlangen der betroffenen Person (Art. 17 DSGVO)"
    m = _RULE.match(rule or "")
    if m is None:
        return rule
    what = str(m["what"])
    kinds: dict[str, str] = {str(k): v for k, v in KIND_LABELS.items()}
    label = _RULE_SUBJECTS.get(what) or kinds.get(what, what)
    after = "dem Förderjahr" if m["base"] == "fy" else "dem letzten Einsatz"
    return (
        f"{label}: aufbewahrt bis zum 31.12. des {m['years']}. Jahres nach {after} "
        f"(Regelwerk {m['policy']})"
    )


# -- legal holds --------------------------------------------------------------------------

SCOPES = ("evidence", "occurrence", "subgoal", "agency_year")


def held_clause() -> ColumnElement[bool]:
    """True for an ``Evidence`` row that an active hold covers (correlated SQL)."""
    h = LegalHold
    active = h.released_at.is_(None)
    return or_(
        exists().where(active, h.scope == "evidence", h.scope_id == Evidence.id),
        exists().where(active, h.scope == "occurrence", h.scope_id == Evidence.occurrence_id),
        exists().where(
            active,
            h.scope == "subgoal",
            evidence_subgoals.c.subgoal_id == h.scope_id,
            evidence_subgoals.c.evidence_id == Evidence.id,
        ),
        exists().where(
            active,
            h.scope == "agency_year",
            h.agency_id == Evidence.agency_id,
            h.funding_year == Evidence.funding_year,
        ),
    )


def refresh_hold_flags(session: Session, agency_id: int, evidence_id: int | None = None) -> None:
    """Mirror the active holds into ``Evidence.legal_hold`` (for lists and bundles)."""
    q = update(Evidence).where(Evidence.agency_id == agency_id)
    if evidence_id is not None:
        q = q.where(Evidence.id == evidence_id)
    session.execute(
        q.values(legal_hold=case((held_clause(), True), else_=False)).execution_options(
            synchronize_session=False
        )
    )
    session.expire_all()


@dataclass(frozen=True)
class HoldView:
    id: int
    agency_slug: str
    scope: str
    scope_id: int | None
    funding_year: int | None
    reason: str
    case_ref: str | None
    set_by: str
    set_at: datetime
    released_at: datetime | None
    approved_by: str | None
    items: int = 0

    @property
    def ref(self) -> str:
        return f"H{self.id}"

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.ref,
            "agency": self.agency_slug,
            "scope": self.scope,
            "scope_id": self.scope_id,
            "funding_year": self.funding_year,
            "reason": self.reason,
            "case_ref": self.case_ref,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "approved_by": self.approved_by,
            "items": self.items,
        }


def _owner(
    session: Session,
    agency_col: InstrumentedAttribute[int],
    year_col: InstrumentedAttribute[int],
    id_col: InstrumentedAttribute[int],
    scope_id: int | None,
) -> tuple[int, int | None] | None:
    """(agency id, funding year) of the row with ``id_col == scope_id``, if any."""
    row = session.execute(select(agency_col, year_col).where(id_col == scope_id)).first()
    return (row[0], row[1]) if row is not None else None


def _scope_agency(
    session: Session,
    scope: str,
    scope_id: int | None,
    agency_slug: str | None,
    year: int | None,
) -> tuple[int, int | None]:
    """(agency id, funding year) of the scope; unknown ids are ``NotFound``."""
    row: tuple[int, int | None] | None
    if scope == "evidence":
        row = _owner(session, Evidence.agency_id, Evidence.funding_year, Evidence.id, scope_id)
        what = f"Der Nachweis {scope_id}"
    elif scope == "occurrence":
        row = _owner(
            session, Occurrence.agency_id, Occurrence.funding_year, Occurrence.id, scope_id
        )
        what = f"Der Termin {scope_id}"
    elif scope == "subgoal":
        row = _owner(session, SubGoal.agency_id, SubGoal.funding_year, SubGoal.id, scope_id)
        what = f"Das Teilziel {scope_id}"
    else:
        agency_id = session.scalar(select(Agency.id).where(Agency.slug == agency_slug))
        row = (agency_id, year) if agency_id is not None else None
        what = f"Die Integrationsagentur „{agency_slug}“"
    if row is None:
        raise NotFound(what=what)
    return row[0], row[1]


@service(Permission.evidence_hold, Reach.agency)
def set_hold(
    session: Session,
    actor: Actor,
    *,
    scope: str,
    scope_id: int | None = None,
    agency_slug: str | None = None,
    year: int | None = None,
    reason: str,
    case_ref: str | None = None,
) -> HoldView:
    """Put a legal hold on one scope; items under it cannot be deleted until released."""
    require(actor, Permission.evidence_hold)
    if scope not in SCOPES:
        raise InvalidInput("hold_scope")
    if scope == "agency_year" and (not agency_slug or not year or scope_id is not None):
        raise InvalidInput("hold_scope")
    if scope != "agency_year" and (scope_id is None or agency_slug or year):
        raise InvalidInput("hold_scope")
    if not (reason or "").strip():
        raise InvalidInput("hold_reason_missing")
    agency_id, fy = _scope_agency(session, scope, scope_id, agency_slug, year)
    require(actor, Permission.evidence_hold, agency_id)
    hold = LegalHold(
        agency_id=agency_id,
        scope=scope,
        scope_id=scope_id,
        funding_year=fy if scope == "agency_year" else None,
        reason=reason.strip()[:2000],
        case_ref=(case_ref or "").strip()[:200] or None,
        set_by=actor.name,
    )
    session.add(hold)
    session.flush()
    refresh_hold_flags(session, agency_id)
    items = _covered_count(session, hold)
    audit.record(
        session,
        actor.name,
        Action.evidence_hold,
        "legal_hold",
        hold.id,
        agency_id=agency_id,
        scope=scope,
        scope_id=scope_id,
        funding_year=hold.funding_year,
        items=items,
    )
    return _hold_view(session, hold, items)


def _covered_count(session: Session, hold: LegalHold) -> int:
    q = select(Evidence.id).where(Evidence.agency_id == hold.agency_id)
    if hold.scope == "evidence":
        q = q.where(Evidence.id == hold.scope_id)
    elif hold.scope == "occurrence":
        q = q.where(Evidence.occurrence_id == hold.scope_id)
    elif hold.scope == "subgoal":
        q = q.join(evidence_subgoals, evidence_subgoals.c.evidence_id == Evidence.id).where(
            evidence_subgoals.c.subgoal_id == hold.scope_id
        )
    else:
        q = q.where(Evidence.funding_year == hold.funding_year)
    return len(session.scalars(q).all())


def _hold_view(session: Session, hold: LegalHold, items: int | None = None) -> HoldView:
    slug = session.scalar(select(Agency.slug).where(Agency.id == hold.agency_id)) or ""
    return HoldView(
        hold.id,
        slug,
        hold.scope,
        hold.scope_id,
        hold.funding_year,
        hold.reason,
        hold.case_ref,
        hold.set_by,
        hold.set_at,
        hold.released_at,
        hold.approved_by,
        _covered_count(session, hold) if items is None else items,
    )


def _check_approver(session: Session, hold: LegalHold, approver: str) -> None:
    approver = (approver or "").strip()
    if not approver or approver == hold.set_by:
        raise Conflict("hold_same_person", who=hold.set_by)
    user = session.scalar(select(User).where(User.username == approver))
    # The approver must be someone who may set and release holds herself.
    if user is None or not user.active or not role_may(Role(user.role), Permission.evidence_hold):
        raise InvalidInput("hold_approver_unknown", who=approver)


@service(Permission.evidence_hold, Reach.agency, "a second person approves")
def release_hold(session: Session, actor: Actor, hold_id: int, approved_by: str) -> HoldView:
    """Release an active hold; ``approved_by`` must be a second person (not who set it)."""
    require(actor, Permission.evidence_hold)
    hold = session.get(LegalHold, hold_id)
    if hold is None or hold.released_at is not None:
        raise NotFound("hold_not_found", ref=f"H{hold_id}")
    require(actor, Permission.evidence_hold, hold.agency_id)
    _check_approver(session, hold, approved_by)
    hold.released_at = utcnow()
    hold.released_by = actor.name
    hold.approved_by = approved_by.strip()
    session.flush()
    refresh_hold_flags(session, hold.agency_id)
    audit.record(
        session,
        actor.name,
        Action.evidence_release,
        "legal_hold",
        hold.id,
        agency_id=hold.agency_id,
        scope=hold.scope,
        scope_id=hold.scope_id,
        approved_by=hold.approved_by,
    )
    return _hold_view(session, hold)


@service(Permission.evidence_hold, Reach.agency)
def release_for_evidence(
    session: Session, actor: Actor, evidence_id: int, approved_by: str
) -> list[HoldView]:
    """Release the item-level holds of one evidence item (CLI: ``evidence release ID``)."""
    require(actor, Permission.evidence_hold)
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise NotFound(what=f"Der Nachweis {evidence_id}")
    require(actor, Permission.evidence_hold, item.agency_id)
    holds = session.scalars(
        select(LegalHold).where(
            LegalHold.scope == "evidence",
            LegalHold.scope_id == evidence_id,
            LegalHold.released_at.is_(None),
        )
    ).all()
    if not holds:
        broader = [h for h in list_holds(session, actor, evidence_id=evidence_id)]
        if broader:
            raise Conflict(
                "hold_covers_broader", id=evidence_id, holds=", ".join(h.ref for h in broader)
            )
        raise NotFound("hold_not_found", ref=f"auf Nachweis {evidence_id}")
    return [release_hold(session, actor, h.id, approved_by) for h in holds]


@service(Permission.evidence_read, Reach.listing, alternatives=(Permission.evidence_hold,))
def list_holds(
    session: Session,
    actor: Actor,
    *,
    active_only: bool = True,
    evidence_id: int | None = None,
) -> list[HoldView]:
    """Holds the actor may see; with ``evidence_id`` only those covering that item."""
    if not (can(actor, Permission.evidence_read) or can(actor, Permission.evidence_hold)):
        require(actor, Permission.evidence_read)
    q = select(LegalHold).where(scope_filter(actor, LegalHold.agency_id)).order_by(LegalHold.id)
    if active_only:
        q = q.where(LegalHold.released_at.is_(None))
    holds = session.scalars(q).all()
    if evidence_id is not None:
        item = session.get(Evidence, evidence_id)
        if item is None:
            return []
        sub_ids = {g.id for g in item.subgoals}
        holds = [
            h
            for h in holds
            if (h.scope == "evidence" and h.scope_id == item.id)
            or (h.scope == "occurrence" and h.scope_id == item.occurrence_id)
            or (h.scope == "subgoal" and h.scope_id in sub_ids)
            or (
                h.scope == "agency_year"
                and h.agency_id == item.agency_id
                and h.funding_year == item.funding_year
            )
        ]
    return [_hold_view(session, h) for h in holds]


# -- retention runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    evidence_id: int
    agency_slug: str
    kind: str
    title: str
    sha256: str
    funding_year: int
    retention_until: date
    rule: str

    def line(self, done: bool) -> str:
        verb = "gelöscht" if done else "würde gelöscht"
        return (
            f"{self.evidence_id}  {verb}  {self.agency_slug} {self.funding_year} {self.kind} "
            f"sha256:{self.sha256[:16]} Frist {self.retention_until.isoformat()} ({self.rule})"
        )


@dataclass
class Proposal:
    today: date
    items: list[Candidate] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    personal: list[str] = field(default_factory=list)  # lines from subjects.propose


def _due_clause(today: date) -> ColumnElement[bool]:
    return and_(Evidence.deleted_at.is_(None), Evidence.retention_until < today)


@service(Permission.system_run, Reach.installation)
def propose(session: Session, actor: Actor, today: date) -> Proposal:
    """What a run on ``today`` would delete (and which due items a hold keeps)."""
    require(actor, Permission.system_run)
    from ia_events.privacy import subjects

    proposal = Proposal(today)
    rows = session.execute(
        select(Evidence, Agency.slug, held_clause())
        .join(Agency, Agency.id == Evidence.agency_id)
        .where(_due_clause(today))
        .order_by(Evidence.id)
    ).all()
    for item, slug, held in rows:
        if held:
            proposal.held.append(item.id)
            continue
        proposal.items.append(
            Candidate(
                item.id,
                slug,
                item.kind,
                item.title,
                item.sha256,
                item.funding_year,
                item.retention_until,
                item.retention_rule,
            )
        )
    proposal.personal = subjects.propose_lines(session, today)
    return proposal


@dataclass
class RunResult:
    deleted: list[Candidate] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # no longer due or now held
    files_removed: int = 0
    personal: list[str] = field(default_factory=list)
    # Items erased before their object's lock ran out: (evidence id, locked until). The
    # key is destroyed now; the ciphertext stays in the bucket until that date.
    still_locked: list[tuple[int, datetime]] = field(default_factory=list)
    lock_problem: str | None = None  # the object store did not answer (caught up later)


@service(Permission.system_run, Reach.installation)
def run_deletions(
    inst: Installation,
    actor: Actor,
    today: date,
    *,
    only_ids: list[int] | None = None,
    approved_by: str | None = None,
    now: datetime | None = None,
    on_item: Callable[[Candidate], None] | None = None,
) -> RunResult:
    """Delete what is due (or the approved ``only_ids`` of a proposal, re-checked)."""
    require(actor, Permission.system_run)
    from ia_events.privacy import subjects

    approver = approved_by or actor.name
    result = RunResult()
    result.lock_problem = sync_object_holds(inst)  # the store's holds as the app's, first
    result.files_removed += purge_shredded_files(inst)
    clock = utcnow()  # object locks run on real time, whatever ``today`` says
    with inst.db.read() as s:
        plan = propose(s, actor, today)
    wanted = plan.items
    if only_ids is not None:
        due = {c.evidence_id for c in plan.items}
        result.skipped = [i for i in only_ids if i not in due]
        wanted = [c for c in plan.items if c.evidence_id in set(only_ids)]
    for cand in wanted:
        done = _delete_one(inst, actor, cand, today, now=now, clock=clock, approver=approver)
        if done is None:  # gone, no longer due, or now held
            result.skipped.append(cand.evidence_id)
            continue
        shred, locked = done
        if shred is not None and _remove_object(inst, *shred):
            result.files_removed += 1
        if locked is not None:
            result.still_locked.append((cand.evidence_id, locked))
        result.deleted.append(cand)
        if on_item:
            on_item(cand)
    if only_ids is None or plan.personal:
        result.personal = subjects.anonymise_due(inst, actor, today, approved_by=approver)
    with inst.db.write() as s:
        audit.record(
            s,
            actor.name,
            Action.retention_run,
            "installation",
            today=today.isoformat(),
            deleted=[c.evidence_id for c in result.deleted],
            skipped=result.skipped,
            approved_by=approver,
        )
    return result


# (blob id, object name, version) of a shredded blob whose object can be removed now
_Shred = tuple[int, str, str | None]


def _delete_one(
    inst: Installation,
    actor: Actor,
    cand: Candidate,
    today: date,
    *,
    now: datetime | None,
    clock: datetime,
    approver: str,
) -> tuple[_Shred | None, datetime | None] | None:
    """Mark one candidate deleted, re-checked in the same transaction, with its deletion
    record and audit event; None when it is gone, no longer due or now held. Returns the
    object to remove (if any) and the lock date when its object may not be removed yet."""
    with inst.db.write() as s:
        # Row locks (PostgreSQL; SQLite has one writer anyway): a run on another host
        # deleting the same item waits here, then sees it deleted and skips it, so no item
        # gets two deletion records.
        item = s.get(Evidence, cand.evidence_id, with_for_update=True, populate_existing=True)
        still = s.scalar(
            select(held_clause()).where(Evidence.id == cand.evidence_id, _due_clause(today))
        )
        if item is None or still is not False:
            return None
        at = now or utcnow()
        item.deleted_at = at
        shred, locked = _shred_key(inst, s, item, at, clock)
        record = DeletionRecord(
            agency_id=item.agency_id,
            evidence_id=item.id,
            object_type="evidence",
            sha256=item.sha256,
            rule=cand.rule,
            deleted_at=at,
            approved_by=approver,
            locked_until=locked,
        )
        s.add(record)
        s.flush()
        audit.record(
            s,
            actor.name,
            Action.evidence_delete,
            "evidence",
            item.id,
            agency_id=item.agency_id,
            sha256=item.sha256,
            rule=cand.rule,
            deletion_record=record.id,
            blob_shredded=shred is not None or locked is not None,
            object_locked_until=locked.isoformat() if locked else None,
            approved_by=approver,
        )
    return shred, locked


def _shred_key(
    inst: Installation, s: Session, item: Evidence, at: datetime, clock: datetime
) -> tuple[_Shred | None, datetime | None]:
    """Crypto-shred the item's blob when no other live item uses it: without its key
    the file is noise. Returns the object to remove now, or the lock date when the store
    refuses until then (purge removes it later)."""
    if item.blob_id is None:
        return None, None
    # Locked before looking for other items on the blob: two hosts deleting the last two
    # items of one blob at once must not both leave it to the other.
    blob = s.get(Blob, item.blob_id, with_for_update=True, populate_existing=True)
    others = s.scalar(
        select(Evidence.id).where(
            Evidence.blob_id == item.blob_id,
            Evidence.id != item.id,
            Evidence.deleted_at.is_(None),
        )
    )
    if others is not None or blob is None or blob.shredded_at is not None:
        return None, None
    blob.wrapped_key = None
    blob.shredded_at = at
    if inst.blobs.enforces_lock and (
        blob.object_hold or (blob.locked_until and blob.locked_until > clock)
    ):
        return None, blob.locked_until
    return (blob.id, blob.name, blob.version_id), None


def _remove_object(inst: Installation, blob_id: int, name: str, version: str | None) -> bool:
    """Delete a shredded blob's object; False when its lock is still in force (or the
    store does not answer): it stays for the next run."""
    try:
        inst.blobs.shred(name, version)
    except BlobError:
        return False
    with inst.db.write() as s:
        s.execute(update(Blob).where(Blob.id == blob_id).values(removed_at=utcnow()))
    return True


def purge_shredded_files(inst: Installation) -> int:
    """Remove the files of shredded blobs: after a crash between commit and unlink, and
    on an object store those erased before their lock ran out, once it has."""
    with inst.db.read() as s:
        rows = s.execute(
            select(Blob.id, func.coalesce(Blob.object_name, Blob.name), Blob.version_id).where(
                Blob.shredded_at.is_not(None), Blob.removed_at.is_(None)
            )
        ).all()
    store = inst.blobs
    removed = 0
    now = utcnow()
    for blob_id, name, version in rows:
        if store.enforces_lock:
            try:
                if store.lock_status(name, version).in_force(now):
                    continue
            except BlobMissing:
                pass
            except BlobError:
                continue
            if _remove_object(inst, blob_id, name, version):
                removed += 1
        elif store.exists(name):
            store.shred(name)
            removed += 1
    return removed


def sync_object_holds(inst: Installation) -> str | None:
    """After a hold was set or released: the objects' legal holds follow (S3 Object
    Lock); None when done, else what failed (verify and the next run catch up)."""
    from ia_events.archive import objectlock

    return objectlock.try_apply(inst)


@dataclass(frozen=True)
class DeletionView:
    id: int
    agency_slug: str
    evidence_id: int | None
    object_type: str
    sha256: str | None
    rule: str
    deleted_at: datetime
    approved_by: str
    count: int

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "evidence_id": self.evidence_id,
            "sha256": self.sha256,
            "rule": self.rule,
            "deleted_at": self.deleted_at.isoformat(),
            "approved_by": self.approved_by,
        }


@service(
    Permission.evidence_read,
    Reach.listing,
    alternatives=(
        Permission.system_run,
        Permission.evidence_hold,
    ),
)
def list_deletions(session: Session, actor: Actor, limit: int | None = None) -> list[DeletionView]:
    if not (can(actor, Permission.system_run) or can(actor, Permission.evidence_hold)):
        require(actor, Permission.evidence_read)
    q = (
        select(DeletionRecord, Agency.slug)
        .join(Agency, Agency.id == DeletionRecord.agency_id)
        .where(scope_filter(actor, DeletionRecord.agency_id))
        .order_by(DeletionRecord.id)
    )
    if limit:
        q = q.limit(limit)
    return [
        DeletionView(
            r.id,
            slug,
            r.evidence_id,
            r.object_type,
            r.sha256,
            r.rule,
            r.deleted_at,
            r.approved_by,
            r.count,
        )
        for r, slug in session.execute(q).all()
    ]
