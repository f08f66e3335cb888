"""Funding sources per activity or measure (*Finanzierung*) and the carrier's own share.

An activity of a funding year -- or a measure that is not an event, an opening process
(``network.processes``; its funding year is the year it began) -- is financed by one or
more sources from a fixed German list (``FundingSourceKind``: the state's
Integrationsagentur funding, KOMM-AN NRW, Aktion Mensch, Jugendamt, Stadtteilfonds,
donations, service clubs, the carrier's own share, other), each with an optional amount
and an optional note. Amounts are euro cents (integers); a typed amount is read as
German writes it ("1.234,50") or with a decimal point ("1234.50"), never through a
float. The note may name a donor and is
sealed under the agency's data key.

An activity or process may state its total cost (*Gesamtkosten*) for the year; when
the amounts assigned to it add up to more, the same costs are financed twice and it is
flagged (``over_assigned``) -- a warning, not a refusal: the figures may still be
corrected. Per agency and year the carrier's own share (*Eigenanteil*) must be at least
10 % of the financing (the sum of all amounts); ``overview`` says whether it is met.

Specialists edit their own agency's funding; the coordinator reads every agency's.
Another agency's activity or process answers ``NotFound`` like an unknown id. In the
controlling, a process's funding counts in the agency's total and for the sub-goals the
process is linked to -- like the process itself, not per field of action. Audit events carry
ids, the source's code and amounts in cents -- never the note.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Integer, cast, func, null, select, union_all
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import InvalidInput, NotFound
from ia_events.core.models import (
    Activity,
    ActivityCost,
    FundingShare,
    FundingSourceKind,
    OpeningProcess,
    activity_subgoals,
    opening_process_subgoals,
)
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import checked_text
from ia_events.planning.plans import agency_id_for
from ia_events.privacy.personal import open_text, seal_text
from storage.keys import KeyRing

SOURCES = [k.value for k in FundingSourceKind]
OWN_SHARE = FundingSourceKind.own_share.value
NOTE_PURPOSE = "funding-note"
# More than ten million euros for one community activity is a typing error.
MAX_CENTS = 10_000_000 * 100
OWN_SHARE_PERCENT = 10
_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")
_PLAIN = re.compile(r"^\d+([.,]\d{1,2})?$")


def parse_cents(value: object, label: str = "Betrag", *, allow_zero: bool = False) -> int | None:
    """Euro cents from ``value``: an int (cents), a Decimal (euros) or German text
    ("1.234,50", "1234,5", "1234.50", "1.234 €"); None or "" stays None.

    Negative, more than two decimals, absurd (over ten million euros) or not a number:
    ``InvalidInput`` with a German sentence. Floats are refused (money is never a float).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        raise InvalidInput(field=label, reason="Bitte den Betrag in Euro angeben, z. B. 1.234,50.")
    if isinstance(value, int):
        cents = value
    else:
        if isinstance(value, Decimal):
            euros = value
        else:
            raw = str(value).strip().replace("€", "").replace("EUR", "").replace(" ", "")
            raw = raw.replace("\xa0", "")
            if raw.startswith("-"):
                raise InvalidInput(field=label, reason="Ein Betrag kann nicht negativ sein.")
            if "," in raw:  # German: "1.234,50"
                whole, _, rest = raw.partition(",")
                if "." in whole and _THOUSANDS.match(whole):
                    whole = whole.replace(".", "")
                raw = f"{whole}.{rest}"
            elif _THOUSANDS.match(raw):  # "1.234" is a thousand euros, not one
                raw = raw.replace(".", "")
            if not _PLAIN.match(raw):
                raise InvalidInput(
                    field=label, reason="Bitte den Betrag in Euro angeben, z. B. 1.234,50."
                )
            try:
                euros = Decimal(raw)
            except InvalidOperation as exc:  # pragma: no cover - the pattern rules it out
                raise InvalidInput(field=label, reason="Das ist kein Betrag.") from exc
        if not euros.is_finite():
            raise InvalidInput(field=label, reason="Das ist kein Betrag.")
        scaled = euros * 100
        if scaled != scaled.to_integral_value():
            raise InvalidInput(field=label, reason="Höchstens zwei Nachkommastellen (Cent).")
        cents = int(scaled)
    if cents < 0:
        raise InvalidInput(field=label, reason="Ein Betrag kann nicht negativ sein.")
    if cents == 0 and not allow_zero:
        raise InvalidInput(field=label, reason="Der Betrag muss größer als 0 € sein.")
    if cents > MAX_CENTS:
        raise InvalidInput(
            field=label, reason="Mehr als 10 Millionen Euro für ein Angebot – bitte prüfen."
        )
    return cents


def _source(value: str) -> str:
    try:
        return FundingSourceKind(value).value
    except ValueError as exc:
        raise InvalidInput(
            field="Finanzierungsquelle", reason="bitte eine aus der Liste: " + ", ".join(SOURCES)
        ) from exc


def _activity(session: Session, actor: Actor, activity_id: int, permission: Permission) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what="Das Angebot")
    try:
        require(actor, permission, activity.agency_id)
    except NotFound as exc:  # another agency's activity reads like an unknown one
        raise NotFound(what="Das Angebot") from exc
    return activity


def _process(
    session: Session, actor: Actor, process_id: int, permission: Permission
) -> OpeningProcess:
    process = session.get(OpeningProcess, process_id)
    if process is None:
        raise NotFound(what="Der Prozess")
    try:
        require(actor, permission, process.agency_id)
    except NotFound as exc:  # another agency's process reads like an unknown one
        raise NotFound(what="Der Prozess") from exc
    return process


def _measure(
    session: Session,
    actor: Actor,
    activity_id: int | None,
    process_id: int | None,
    permission: Permission,
) -> Activity | OpeningProcess:
    """The activity or the process a share belongs to (exactly one of the two ids)."""
    if (activity_id is None) == (process_id is None):
        raise InvalidInput(
            field="Finanzierung", reason="Bitte ein Angebot oder einen Prozess angeben."
        )
    if activity_id is not None:
        return _activity(session, actor, activity_id, permission)
    assert process_id is not None
    return _process(session, actor, process_id, permission)


@dataclass(frozen=True)
class FundingLine:
    id: int
    source: str
    amount_cents: int | None
    note: str


@dataclass
class ActivityFunding:
    """The funding of one measure: an activity (``activity_id``) or an opening process
    (``process_id``; ``activity_id`` is then None)."""

    activity_id: int | None
    title: str
    funding_year: int
    lines: list[FundingLine] = field(default_factory=list)
    total_cost_cents: int | None = None
    process_id: int | None = None

    @property
    def key(self) -> str:
        """A name unique among activities and processes ("12" for an activity, "p3")."""
        return f"p{self.process_id}" if self.process_id is not None else str(self.activity_id)

    @property
    def kind(self) -> str:
        return "Öffnungsprozess" if self.process_id is not None else "Angebot"

    @property
    def assigned_cents(self) -> int:
        return sum(line.amount_cents or 0 for line in self.lines)

    @property
    def over_assigned(self) -> bool:
        """More assigned to sources than the activity costs: the same costs twice."""
        return self.total_cost_cents is not None and self.assigned_cents > self.total_cost_cents

    @property
    def excess_cents(self) -> int:
        return (
            max(0, self.assigned_cents - (self.total_cost_cents or 0)) if self.over_assigned else 0
        )


@dataclass
class FundingOverview:
    """An agency's funding of one year: by source, the own share against 10 %."""

    agency_slug: str
    year: int
    by_source: dict[str, int]  # every source of the list, in its order; cents
    activities: list[ActivityFunding]

    @property
    def total_cents(self) -> int:
        return sum(self.by_source.values())

    @property
    def own_share_cents(self) -> int:
        return self.by_source.get(OWN_SHARE, 0)

    @property
    def required_own_share_cents(self) -> int:
        """10 % of the financing, rounded up to the cent."""
        return -(-self.total_cents * OWN_SHARE_PERCENT // 100)

    @property
    def own_share_met(self) -> bool:
        """At least 10 % of the financing is the carrier's own (nothing financed: met)."""
        return self.own_share_cents * 100 >= self.total_cents * OWN_SHARE_PERCENT

    @property
    def over_assigned(self) -> list[ActivityFunding]:
        return [a for a in self.activities if a.over_assigned]

    def as_json(self) -> dict[str, object]:
        return {
            "agency": self.agency_slug,
            "year": self.year,
            "by_source_cents": dict(self.by_source),
            "total_cents": self.total_cents,
            "own_share_cents": self.own_share_cents,
            "required_own_share_cents": self.required_own_share_cents,
            "own_share_met": self.own_share_met,
            "over_assigned_activity_ids": [
                a.activity_id for a in self.over_assigned if a.activity_id is not None
            ],
            "over_assigned_process_ids": [
                a.process_id for a in self.over_assigned if a.process_id is not None
            ],
        }


@service(Permission.plan_edit, Reach.agency, "note sealed; audit carries ids and cents")
def add_funding(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    activity_id: int | None = None,
    *,
    source: str,
    amount: object = None,
    note: str = "",
    process_id: int | None = None,
) -> FundingShare:
    """One more source of the financing of an activity or (``process_id``) an opening
    process (amount optional, in euros)."""
    measure = _measure(session, actor, activity_id, process_id, Permission.plan_edit)
    kind = _source(source)
    cents = parse_cents(amount)
    note = checked_text(note, "Notiz", limit=500, required=False, multiline=False)
    share = FundingShare(
        agency_id=measure.agency_id,
        activity_id=activity_id,
        process_id=process_id,
        funding_year=measure.funding_year,
        source=kind,
        amount_cents=cents,
    )
    session.add(share)
    session.flush()
    if note:
        share.note_enc = seal_text(session, keys, measure.agency_id, note, NOTE_PURPOSE)
    audit.record(
        session,
        actor.name,
        Action.funding_add,
        "funding",
        share.id,
        agency_id=measure.agency_id,
        activity_id=activity_id,
        process_id=process_id,
        source=FundingSourceKind(kind).name,
        amount_cents=cents,
    )
    return share


@service(Permission.plan_edit, Reach.agency)
def remove_funding(session: Session, actor: Actor, funding_id: int) -> None:
    """Remove a source from an activity's or process's financing (a mistake; audited)."""
    share = session.get(FundingShare, funding_id)
    if share is None:
        raise NotFound(what="Die Finanzierungsquelle")
    try:
        require(actor, Permission.plan_edit, share.agency_id)
    except NotFound as exc:
        raise NotFound(what="Die Finanzierungsquelle") from exc
    audit.record(
        session,
        actor.name,
        Action.funding_remove,
        "funding",
        share.id,
        agency_id=share.agency_id,
        activity_id=share.activity_id,
        process_id=share.process_id,
        source=FundingSourceKind(share.source).name,
        amount_cents=share.amount_cents,
    )
    session.delete(share)


@service(Permission.plan_edit, Reach.agency)
def set_total_cost(
    session: Session,
    actor: Actor,
    activity_id: int | None,
    total: object,
    *,
    process_id: int | None = None,
) -> None:
    """The total cost for its year (``Gesamtkosten``) of the activity or (with
    ``process_id`` and no activity) the opening process; None or "" clears it."""
    measure = _measure(session, actor, activity_id, process_id, Permission.plan_edit)
    cents = parse_cents(total, "Gesamtkosten", allow_zero=True)
    if isinstance(measure, OpeningProcess):
        before_process = measure.total_cost_cents
        if before_process == cents:
            return
        measure.total_cost_cents = cents
        audit.record(
            session,
            actor.name,
            Action.funding_cost,
            "process_cost",
            measure.id,
            agency_id=measure.agency_id,
            total_cents=cents,
            before_cents=before_process,
        )
        return
    activity = measure
    row = session.get(ActivityCost, activity.id)
    before = row.total_cents if row else None
    if before == cents:
        return
    if cents is None:
        assert row is not None
        session.delete(row)
    elif row is None:
        session.add(
            ActivityCost(
                activity_id=activity.id,
                agency_id=activity.agency_id,
                funding_year=activity.funding_year,
                total_cents=cents,
            )
        )
    else:
        row.total_cents = cents
    audit.record(
        session,
        actor.name,
        Action.funding_cost,
        "activity_cost",
        activity.id,
        agency_id=activity.agency_id,
        total_cents=cents,
        before_cents=before,
    )


def _note(session: Session, keys: KeyRing | None, share: FundingShare) -> str:
    if keys is None:
        return ""
    return open_text(session, keys, share.agency_id, share.note_enc, NOTE_PURPOSE)


def _funding_of(
    session: Session,
    keys: KeyRing | None,
    activities: list[Activity],
    processes: list[OpeningProcess] | None = None,
) -> list[ActivityFunding]:
    ids = [a.id for a in activities]
    pids = [p.id for p in processes or []]
    out = {a.id: ActivityFunding(a.id, a.title, a.funding_year) for a in activities}
    by_process = {
        p.id: ActivityFunding(
            None, p.title, p.funding_year, total_cost_cents=p.total_cost_cents, process_id=p.id
        )
        for p in processes or []
    }
    if ids:
        for share in session.scalars(
            select(FundingShare).where(FundingShare.activity_id.in_(ids)).order_by(FundingShare.id)
        ):
            assert share.activity_id is not None
            out[share.activity_id].lines.append(
                FundingLine(share.id, share.source, share.amount_cents, _note(session, keys, share))
            )
        for cost in session.scalars(select(ActivityCost).where(ActivityCost.activity_id.in_(ids))):
            out[cost.activity_id].total_cost_cents = cost.total_cents
    if pids:
        for share in session.scalars(
            select(FundingShare).where(FundingShare.process_id.in_(pids)).order_by(FundingShare.id)
        ):
            assert share.process_id is not None
            by_process[share.process_id].lines.append(
                FundingLine(share.id, share.source, share.amount_cents, _note(session, keys, share))
            )
    return list(out.values()) + list(by_process.values())


@service(Permission.agency_read, Reach.agency, "notes opened for the agency's own staff only")
def activity_funding(
    session: Session, keys: KeyRing, actor: Actor, activity_id: int
) -> ActivityFunding:
    """The activity's sources, amounts and total cost (notes only for its own staff)."""
    activity = _activity(session, actor, activity_id, Permission.agency_read)
    own_staff = actor.agency_id == activity.agency_id and not actor.system
    return _funding_of(session, keys if own_staff else None, [activity])[0]


@service(Permission.agency_read, Reach.agency, "notes opened for the agency's own staff only")
def process_funding(
    session: Session, keys: KeyRing, actor: Actor, process_id: int
) -> ActivityFunding:
    """The opening process's sources, amounts and total cost (notes only for its own
    staff)."""
    process = _process(session, actor, process_id, Permission.agency_read)
    own_staff = actor.agency_id == process.agency_id and not actor.system
    return _funding_of(session, keys if own_staff else None, [], [process])[0]


@service(Permission.agency_read, Reach.agency)
def overview(session: Session, actor: Actor, agency_slug: str, year: int) -> FundingOverview:
    """The agency's funding in ``year``: totals by source, own share against 10 %, and
    the activities and opening processes with more assigned than they cost."""
    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    activities = list(
        session.scalars(
            select(Activity)
            .where(Activity.agency_id == agency_id, Activity.funding_year == year)
            .order_by(Activity.title, Activity.id)
        )
    )
    processes = list(
        session.scalars(
            select(OpeningProcess)
            .where(OpeningProcess.agency_id == agency_id, OpeningProcess.funding_year == year)
            .order_by(OpeningProcess.title, OpeningProcess.id)
        )
    )
    funded = [
        a
        for a in _funding_of(session, None, activities, processes)
        if a.lines or a.total_cost_cents
    ]
    by_source = dict.fromkeys(SOURCES, 0)
    for a in funded:
        for line in a.lines:
            by_source[line.source] += line.amount_cents or 0
    return FundingOverview(agency_slug, year, by_source, funded)


def cents_by(session: Session, agency_id: int, year: int, key: str) -> dict[Any, dict[str, int]]:
    """Internal (caller checked permission): amounts in cents per source, grouped by
    ``key`` -- "total" (the agency id), "field" or "subgoal" -- for the controlling.
    A process's shares count in the total and for its sub-goals, like the process itself
    (network work has no row per field of action)."""
    col: Any
    if key == "field":
        col = Activity.field
    elif key == "subgoal":
        subgoals = union_all(
            select(
                activity_subgoals.c.subgoal_id.label("subgoal_id"),
                activity_subgoals.c.activity_id.label("activity_id"),
                cast(null(), Integer).label("process_id"),
            ),
            select(
                opening_process_subgoals.c.subgoal_id,
                cast(null(), Integer),
                opening_process_subgoals.c.process_id,
            ),
        ).subquery()
        col = subgoals.c.subgoal_id
    else:
        col = FundingShare.agency_id
    q = select(col, FundingShare.source, func.sum(FundingShare.amount_cents)).select_from(
        FundingShare
    )
    if key == "field":
        q = q.join(Activity, Activity.id == FundingShare.activity_id)
    elif key == "subgoal":
        q = q.join(
            subgoals,
            (subgoals.c.activity_id == FundingShare.activity_id)
            | (subgoals.c.process_id == FundingShare.process_id),
        )
    q = q.where(
        FundingShare.agency_id == agency_id,
        FundingShare.funding_year == year,
        FundingShare.amount_cents.is_not(None),
    ).group_by(col, FundingShare.source)
    out: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SOURCES, 0))
    for k, source, cents in session.execute(q):
        out[k][source] += int(cents or 0)
    return out
