"""Figures for the state's online controlling, per agency and funding year, as CSV and XLSX.

For each agency: participants (sum of valid attendance counts), distinct
persons (distinct personal cards + distinct named persons by keyed blind
index -- never a name), occurrences held, volunteers who worked a shift and
their hours, in total, by field of action and by sub-goal (with target and
actual). Participants are also split by how they were recorded (by name, by
personal card, counted: the three add up to the participants); activities of
the funding year, their distinct cooperation partners (``network.partners``
records, not the old free-text names) and the cooperations (partner-activity
links) are counted whether or not a date was held yet. The same rows are
the screen's table, the CSV, the XLSX and ``ia-events controlling --json``
(``Figures.as_json``). Everything is aggregated in SQL with one grouped query per figure
and grouping; the coordinator gets every agency in one workbook, one sheet
per agency.

Text cells that a spreadsheet would read as a formula (starting with
``= + - @``, tab or CR) get a leading apostrophe (CSV and XLSX alike).
The CSV is German: ``;`` between cells, numbers with the decimal comma and
no thousands separator (``messages.csv_number``), UTF-8 with BOM -- so a
German LibreOffice or Excel reads "34,33" as a number. The XLSX holds real
numbers (the spreadsheet formats them).

Limits: months for the attendance chart are UTC months (an occurrence in the
last hour of a month in Berlin may count for the next one); volunteer hours
follow the same rule as ``reports`` (check-in/out, else the shift, else a
staff override).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, distinct, func, literal, select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require, scope_filter, sees_all_agencies
from ia_events.core.audit import Action
from ia_events.core.errors import NotFound
from ia_events.core.installation import Installation
from ia_events.core.messages import INDICATOR_LABELS, csv_number
from ia_events.core.models import (
    FIELD_LABELS,
    Activity,
    Agency,
    Attendance,
    FieldOfAction,
    FundingSourceKind,
    Occurrence,
    OccurrenceStatus,
    Shift,
    ShiftAssignment,
    SubGoal,
    activity_subgoals,
    partner_activities,
)
from ia_events.core.permissions import Reach, service
from ia_events.network.funding import cents_by
from ia_events.network.multipliers import count_by_agency
from ia_events.reporting.progress import progress_for_agency
from storage.db import utcnow

FUNDING_SOURCES = [k.value for k in FundingSourceKind]
DISTRICT_SLUG = "bezirk"
DISTRICT_NAME = "Bezirk gesamt"
METRICS = (
    "participants",
    "distinct_persons",
    "occurrences",
    "volunteers",
    "hours",
    "activities",
    "participants_named",
    "participants_card",
    "participants_counted",
    "partners",
    "cooperations",
    "meetings",
    "processes",
    "counselling_cases",
    "lendings",
)
HEADERS = [
    "Ebene",
    "Schlüssel",
    "Bezeichnung",
    "Teilnahmen",
    "Erreichte Personen",
    "Termine",
    "Ehrenamtliche",
    "Ehrenamtsstunden",
    "Messgröße",
    "Soll",
    "Ist",
    # Added for issue 19 (Online-Controlling); after the old columns, which keep their place.
    "Angebote",
    "Teilnahmen namentlich",
    "Teilnahmen mit Karte",
    "Teilnahmen gezählt",
    "Kooperationspartner",
    "Kooperationen",
    # Added for issue 19 (4)/(5): multipliers (the agency's total only) and the funding by
    # source in euros, then the financing in total.
    "Multiplikator*innen",
    *[f"Finanzierung: {source} (EUR)" for source in FUNDING_SOURCES],
    "Finanzierung gesamt (EUR)",
    # Network work (issue 19, meetings and processes); again after the others.
    "Sitzungen",
    "Öffnungsprozesse",
    "Beratungsfälle",
    "Ausleihen",
]
# The figures as JSON keys (``ia-events controlling --json``), in the order of HEADERS.
JSON_KEYS = [
    "level",
    "key",
    "label",
    "participants",
    "distinct_persons",
    "occurrences",
    "volunteers",
    "hours",
    "indicator",
    "target",
    "actual",
    "activities",
    "participants_named",
    "participants_card",
    "participants_counted",
    "partners",
    "cooperations",
    "multipliers",
    *[f"funding_{FundingSourceKind(source).name}" for source in FUNDING_SOURCES],
    "funding_total",
    "meetings",
    "processes",
    "counselling_cases",
    "lendings",
]
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Figures:
    level: str  # "Gesamt" | "Handlungsfeld" | "Teilziel"
    key: str
    label: str
    participants: int = 0
    distinct_persons: int = 0
    occurrences: int = 0
    volunteers: int = 0
    hours: float = 0.0
    indicator: str = ""
    target: float | None = None
    actual: float | None = None
    activities: int = 0
    participants_named: int = 0
    participants_card: int = 0
    participants_counted: int = 0
    partners: int = 0
    cooperations: int = 0
    # Issue 19: marked multipliers (on the agency's and the district's total row only,
    # else None) and the funding in euro cents by source (``FUNDING_SOURCES``).
    multipliers: int | None = None
    funding_cents: dict[str, int] = field(default_factory=dict)

    @property
    def funding_total_cents(self) -> int:
        return sum(self.funding_cents.values())

    def funding_euros(self) -> list[Decimal]:
        """Euros per source in ``FUNDING_SOURCES`` order, then the total (exact decimals)."""
        cents = [self.funding_cents.get(s, 0) for s in FUNDING_SOURCES]
        return [Decimal(c) / 100 for c in (*cents, sum(cents))]

    meetings: int = 0
    processes: int = 0
    counselling_cases: int = 0
    lendings: int = 0

    def row(self) -> list[Any]:
        return [
            self.level,
            self.key,
            self.label,
            self.participants,
            self.distinct_persons,
            self.occurrences,
            self.volunteers,
            round(self.hours, 2),
            INDICATOR_LABELS.get(self.indicator, self.indicator),
            self.target,
            self.actual,
            self.activities,
            self.participants_named,
            self.participants_card,
            self.participants_counted,
            self.partners,
            self.cooperations,
            self.multipliers,
            *self.funding_euros(),
            self.meetings,
            self.processes,
            self.counselling_cases,
            self.lendings,
        ]

    def as_json(self) -> dict[str, Any]:
        """The row with English keys (``JSON_KEYS``); the indicator as its code; euros
        as JSON numbers with at most two decimals."""
        values = [float(v) if isinstance(v, Decimal) else v for v in self.row()]
        values[JSON_KEYS.index("indicator")] = self.indicator
        return dict(zip(JSON_KEYS, values, strict=True))


@dataclass
class AgencyFigures:
    slug: str
    name: str
    year: int
    rows: list[Figures]


def safe_cell(value: Any) -> Any:
    """Neutralise formula injection in text cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def metrics(
    session: Session, agency_id: int, year: int, key: str, now: datetime
) -> dict[Any, dict[str, float]]:
    """Figures grouped by ``key``: "total", "field", "subgoal" or "activity"."""
    held = and_(
        Occurrence.agency_id == agency_id,
        Occurrence.funding_year == year,
        Occurrence.status == OccurrenceStatus.scheduled,
        Occurrence.starts_at <= now,
    )
    link = activity_subgoals

    def keyed(*cols: Any, start: Any) -> tuple[Any, Any]:
        if key == "field":
            col: Any = Activity.field
        elif key == "subgoal":
            col = link.c.subgoal_id
        elif key == "activity":
            col = Occurrence.activity_id
        else:
            col = Occurrence.agency_id
        q = select(col, *cols).select_from(start)
        if start is Attendance:
            q = q.join(Occurrence, Occurrence.id == Attendance.occurrence_id).where(
                Attendance.undone_at.is_(None)
            )
        elif start is ShiftAssignment:
            q = (
                q.join(Shift, Shift.id == ShiftAssignment.shift_id)
                .join(Occurrence, Occurrence.id == Shift.occurrence_id)
                .where(
                    ShiftAssignment.status != "no_show",
                    ShiftAssignment.checked_in_at.is_not(None),
                )
            )
        if key == "field":
            q = q.join(Activity, Activity.id == Occurrence.activity_id)
        elif key == "subgoal":
            q = q.join(link, link.c.activity_id == Occurrence.activity_id)
        return q.where(held).group_by(col), col

    out: dict[Any, dict[str, float]] = defaultdict(lambda: dict.fromkeys(METRICS, 0.0))
    # One pass over the attendance: COUNT(DISTINCT) skips NULLs, so cards and named
    # persons are counted apart and anonymous headcounts only as participants.
    # Participants split by how they were recorded: by name (self check-in, door, paper),
    # by personal card, or counted (headcounts, anonymous check-ins); the three add up.
    named = Attendance.name_index.is_not(None)
    carded = and_(Attendance.name_index.is_(None), Attendance.card_id.is_not(None))
    q, _ = keyed(
        func.sum(Attendance.count),
        func.count(distinct(Attendance.card_id)),
        func.count(distinct(Attendance.name_index)),
        func.sum(case((named, Attendance.count), else_=0)),
        func.sum(case((carded, Attendance.count), else_=0)),
        start=Attendance,
    )
    for k, total, cards, names, by_name, by_card in session.execute(q):
        out[k]["participants"] = int(total or 0)
        out[k]["distinct_persons"] = int(cards or 0) + int(names or 0)
        out[k]["participants_named"] = int(by_name or 0)
        out[k]["participants_card"] = int(by_card or 0)
        out[k]["participants_counted"] = int(total or 0) - int(by_name or 0) - int(by_card or 0)
    q, _ = keyed(func.count(distinct(Occurrence.id)), start=Occurrence)
    for k, v in session.execute(q):
        out[k]["occurrences"] = int(v or 0)
    q, _ = keyed(func.count(distinct(ShiftAssignment.volunteer_id)), start=ShiftAssignment)
    for k, v in session.execute(q):
        out[k]["volunteers"] = int(v or 0)
    q, _ = keyed(
        ShiftAssignment.hours_override,
        ShiftAssignment.checked_in_at,
        ShiftAssignment.checked_out_at,
        Shift.starts_at,
        Shift.ends_at,
        start=ShiftAssignment,
    )
    for k, override, cin, cout, s_start, s_end in session.execute(q.group_by(None)):
        if override is not None:
            out[k]["hours"] += override
        elif cin and cout:
            out[k]["hours"] += max(0.0, (cout - cin).total_seconds() / 3600)
        else:
            out[k]["hours"] += max(0.0, (s_end - s_start).total_seconds() / 3600)
    _activity_metrics(session, agency_id, year, key, out)
    _network_metrics(session, agency_id, year, key, now, out)
    return out


def _activity_metrics(
    session: Session, agency_id: int, year: int, key: str, out: dict[Any, dict[str, float]]
) -> None:
    """Activities of the funding year, their distinct partners and the cooperations
    (partner-activity links) -- whether or not a date was held yet."""
    link = activity_subgoals
    if key == "field":
        col: Any = Activity.field
    elif key == "subgoal":
        col = link.c.subgoal_id
    elif key == "activity":
        col = Activity.id
    else:
        col = Activity.agency_id
    of_year = and_(Activity.agency_id == agency_id, Activity.funding_year == year)

    def grouped(*cols: Any, partners: bool = False) -> Any:
        q = select(col, *cols).select_from(Activity)
        if key == "subgoal":
            q = q.join(link, link.c.activity_id == Activity.id)
        if partners:
            q = q.join(partner_activities, partner_activities.c.activity_id == Activity.id)
        return q.where(of_year).group_by(col)

    for k, n in session.execute(grouped(func.count(distinct(Activity.id)))):
        out[k]["activities"] = int(n or 0)
    q = grouped(func.count(distinct(partner_activities.c.partner_id)), func.count(), partners=True)
    for k, partners, links in session.execute(q):
        out[k]["partners"] = int(partners or 0)
        out[k]["cooperations"] = int(links or 0)


def _network_metrics(
    session: Session,
    agency_id: int,
    year: int,
    key: str,
    now: datetime,
    out: dict[Any, dict[str, float]],
) -> None:
    """Network work of the year: meetings held, opening processes (begun or with a contact
    in the year), counselling cases and lendings. In total every item; by sub-goal the
    items linked to it; by field of action the items linked to a sub-goal of that field
    (each counted once)."""
    if key == "activity":
        return
    for name, table, count, link, subgoal_col, where in _network_queries(agency_id, year, now):
        if key == "total":
            q = select(literal(agency_id), count).select_from(table).where(*where)
        else:
            q = select(subgoal_col, count).select_from(table)
            if link is not None:
                q = q.join(*link)
            col = subgoal_col
            if key == "field":
                q = q.join(SubGoal, SubGoal.id == subgoal_col)
                col = SubGoal.field
                q = q.with_only_columns(col, count)
            q = q.where(*where).group_by(col)
        for k, n in session.execute(q):
            if k is not None and n:
                out[k][name] = int(n)


def _network_queries(agency_id: int, year: int, now: datetime) -> list[tuple[Any, ...]]:
    """(metric, table, count, join to the sub-goal link or None, sub-goal column,
    conditions) of each kind of network work."""
    from ia_events.core.models import (
        CounsellingCount,
        Lending,
        NetworkMeeting,
        OpeningProcess,
        meeting_subgoals,
        opening_process_subgoals,
    )
    from ia_events.network.processes import active_in

    ms, ps = meeting_subgoals, opening_process_subgoals
    return [
        (
            "meetings",
            NetworkMeeting,
            func.count(distinct(NetworkMeeting.id)),
            (ms, ms.c.meeting_id == NetworkMeeting.id),
            ms.c.subgoal_id,
            (
                NetworkMeeting.agency_id == agency_id,
                NetworkMeeting.funding_year == year,
                NetworkMeeting.cancelled_at.is_(None),
                NetworkMeeting.starts_at <= now,
            ),
        ),
        (
            "processes",
            OpeningProcess,
            func.count(distinct(OpeningProcess.id)),
            (ps, ps.c.process_id == OpeningProcess.id),
            ps.c.subgoal_id,
            (OpeningProcess.agency_id == agency_id, active_in(year)),
        ),
        (
            "counselling_cases",
            CounsellingCount,
            func.sum(CounsellingCount.cases),
            None,
            CounsellingCount.subgoal_id,
            (CounsellingCount.agency_id == agency_id, CounsellingCount.funding_year == year),
        ),
        (
            "lendings",
            Lending,
            func.count(distinct(Lending.id)),
            None,
            Lending.subgoal_id,
            (Lending.agency_id == agency_id, Lending.funding_year == year),
        ),
    ]


def _figures(session: Session, agency: Agency, year: int, now: datetime) -> AgencyFigures:
    def fig(level: str, key: str, label: str, m: dict[str, float] | None) -> Figures:
        m = m or {}
        return Figures(
            level,
            key,
            label,
            int(m.get("participants", 0)),
            int(m.get("distinct_persons", 0)),
            int(m.get("occurrences", 0)),
            int(m.get("volunteers", 0)),
            float(m.get("hours", 0.0)),
            activities=int(m.get("activities", 0)),
            participants_named=int(m.get("participants_named", 0)),
            participants_card=int(m.get("participants_card", 0)),
            participants_counted=int(m.get("participants_counted", 0)),
            partners=int(m.get("partners", 0)),
            cooperations=int(m.get("cooperations", 0)),
            meetings=int(m.get("meetings", 0)),
            processes=int(m.get("processes", 0)),
            counselling_cases=int(m.get("counselling_cases", 0)),
            lendings=int(m.get("lendings", 0)),
        )

    rows = [
        fig(
            "Gesamt",
            agency.slug,
            agency.name,
            metrics(session, agency.id, year, "total", now).get(agency.id),
        )
    ]
    by_field = metrics(session, agency.id, year, "field", now)
    for fa in FieldOfAction:
        if fa.value in by_field or fa.value in (agency.fields or []):
            rows.append(fig("Handlungsfeld", fa.value, FIELD_LABELS[fa], by_field.get(fa.value)))
    by_goal = metrics(session, agency.id, year, "subgoal", now)
    for g in progress_for_agency(session, agency.id, year, now):
        f = fig("Teilziel", str(g.id), g.title, by_goal.get(g.id))
        f.indicator, f.target, f.actual = g.indicator, g.target, g.actual
        rows.append(f)
    _funding_and_multipliers(session, agency, year, rows)
    return AgencyFigures(agency.slug, agency.name, year, rows)


def _funding_and_multipliers(
    session: Session, agency: Agency, year: int, rows: list[Figures]
) -> None:
    """Issue 19: the multipliers on the total row; the funding by source on every row
    (an activity on two sub-goals counts for both, like its participants)."""
    rows[0].multipliers = count_by_agency(session, [agency.id], year).get(agency.id, 0)
    by_key = {
        "Gesamt": cents_by(session, agency.id, year, "total"),
        "Handlungsfeld": cents_by(session, agency.id, year, "field"),
        "Teilziel": cents_by(session, agency.id, year, "subgoal"),
    }
    for f in rows:
        found = by_key[f.level]
        key: Any = agency.id if f.level == "Gesamt" else f.key
        if f.level == "Teilziel":
            key = int(f.key)
        if key in found:
            f.funding_cents = dict(found[key])


def district(data: list[AgencyFigures], year: int) -> AgencyFigures:
    """The district's table (*Bezirk gesamt*): the agencies' total rows and their rows per
    field of action, summed. Sub-goals are each agency's own and are not summed; distinct
    persons are the sum of each agency's (one person reached by two agencies counts twice)."""
    total = Figures("Gesamt", DISTRICT_SLUG, DISTRICT_NAME, multipliers=0)
    fields = {
        fa.value: Figures("Handlungsfeld", fa.value, FIELD_LABELS[fa]) for fa in FieldOfAction
    }
    seen: set[str] = set()
    for agency in data:
        for f in agency.rows:
            if f.level == "Gesamt":
                _add_into(total, f)
            elif f.level == "Handlungsfeld" and f.key in fields:
                _add_into(fields[f.key], f)
                seen.add(f.key)
    rows = [total, *[fields[fa.value] for fa in FieldOfAction if fa.value in seen]]
    return AgencyFigures(DISTRICT_SLUG, DISTRICT_NAME, year, rows)


_SUMMED = METRICS  # the district sums every counted figure


def _add_into(into: Figures, f: Figures) -> None:
    for name in _SUMMED:
        setattr(into, name, getattr(into, name) + getattr(f, name))
    if f.multipliers is not None:
        into.multipliers = (into.multipliers or 0) + f.multipliers
    for source, cents in f.funding_cents.items():
        into.funding_cents[source] = into.funding_cents.get(source, 0) + cents


def with_district(sees_all: bool, data: list[AgencyFigures], agency_slug: str | None) -> bool:
    """The district's table goes with an export of every agency for whom sees them all
    (``access.sees_all_agencies``)."""
    return agency_slug is None and sees_all and bool(data)


@service(Permission.agency_read, Reach.listing)
def figures(
    session: Session,
    actor: Actor,
    year: int,
    agency_slug: str | None = None,
    now: datetime | None = None,
) -> list[AgencyFigures]:
    """One agency (``agency_slug``) or every agency the actor reaches."""
    require(actor, Permission.agency_read)
    now = now or utcnow()
    q = select(Agency).where(scope_filter(actor, Agency.id), Agency.active).order_by(Agency.name)
    if agency_slug:
        agency = session.scalar(select(Agency).where(Agency.slug == agency_slug))
        if agency is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        require(actor, Permission.agency_read, agency.id)
        q = q.where(Agency.id == agency.id)
    return [_figures(session, a, year, now) for a in session.scalars(q)]


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return safe_cell(value)
    return csv_number(value)


def to_csv(data: list[AgencyFigures], district: AgencyFigures | None = None) -> bytes:
    """One line per row of each agency; the district's rows (``district``, Agentur
    "bezirk") follow at the end."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(["Agentur", "Förderjahr", *HEADERS])
    for agency in [*data, *([district] if district else [])]:
        for f in agency.rows:
            w.writerow([_csv_cell(v) for v in (agency.slug, agency.year, *f.row())])
    return ("\ufeff" + buf.getvalue()).encode()


def _xlsx_cell(value: Any) -> Any:
    # A spreadsheet keeps numbers as doubles anyway; the euros are exact to the cent.
    return float(value) if isinstance(value, Decimal) else safe_cell(value)


def to_xlsx(data: list[AgencyFigures], district: AgencyFigures | None = None) -> bytes:
    """One sheet per agency; the district's table (``district``) first, as "Bezirk gesamt"."""
    from openpyxl import Workbook

    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    used: set[str] = set()
    if district is not None:
        _sheet(wb.create_sheet(DISTRICT_NAME), district)
        used.add(DISTRICT_NAME.casefold())
    for agency in data:
        title = agency.slug[:31]
        n = 1
        while title.casefold() in used:
            n += 1
            title = f"{agency.slug[:28]}-{n}"
        used.add(title.casefold())
        _sheet(wb.create_sheet(title), agency)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet(ws: Any, agency: AgencyFigures) -> None:
    from openpyxl.styles import Font

    ws.append([safe_cell(f"{agency.name} – Förderjahr {agency.year}")])
    ws.append([safe_cell(h) for h in HEADERS])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for f in agency.rows:
        ws.append([_xlsx_cell(v) for v in f.row()])
    ws.column_dimensions["C"].width = 55
    ws.freeze_panes = "A3"


@service(Permission.agency_read, Reach.listing, "CSV/XLSX cells formula-escaped")
def export(
    inst: Installation,
    actor: Actor,
    year: int,
    fmt: str,
    agency_slug: str | None = None,
    now: datetime | None = None,
) -> tuple[str, str, bytes]:
    """(file name, media type, bytes) of the controlling figures; the export is audited."""
    with inst.db.write() as s:
        data = figures(s, actor, year, agency_slug, now)
        scope = agency_slug or "alle"
        sees_all = sees_all_agencies(actor)
        whole = district(data, year) if with_district(sees_all, data, agency_slug) else None
        if fmt == "xlsx":
            name, mime = f"Controlling_{year}_{scope}.xlsx", XLSX_MIME
            body = to_xlsx(data, whole)
        else:
            name, mime = f"Controlling_{year}_{scope}.csv", "text/csv"
            body = to_csv(data, whole)
        audit.record(
            s,
            actor.name,
            Action.controlling_export,
            "controlling",
            year,
            agency_id=_agency_id(s, agency_slug) if agency_slug else None,
            year=year,
            format=fmt,
            agencies=[a.slug for a in data],
        )
    return name, mime, body


def _agency_id(s: Session, slug: str) -> int | None:
    return s.scalar(select(Agency.id).where(Agency.slug == slug))


@service(Permission.agency_read, Reach.agency)
def attendance_by_month(
    session: Session, actor: Actor, agency_slug: str, year: int, now: datetime | None = None
) -> list[dict[str, int]]:
    """Per month (1-12): occurrences held and participants, for the chart."""
    from ia_events.planning.plans import agency_id_for

    agency_id = agency_id_for(session, actor, agency_slug, Permission.agency_read)
    now = now or utcnow()
    month = func.extract("month", Occurrence.starts_at)
    held = and_(
        Occurrence.agency_id == agency_id,
        Occurrence.funding_year == year,
        Occurrence.status == OccurrenceStatus.scheduled,
        Occurrence.starts_at <= now,
    )
    occ = dict(session.execute(select(month, func.count()).where(held).group_by(month)).all())
    part = dict(
        session.execute(
            select(month, func.sum(Attendance.count))
            .join(Occurrence, Occurrence.id == Attendance.occurrence_id)
            .where(held, Attendance.undone_at.is_(None))
            .group_by(month)
        ).all()
    )
    return [
        {
            "Monat": m,
            "Termine": int(occ.get(m, 0) or 0),
            "Teilnahmen": int(part.get(m, 0) or 0),
        }
        for m in range(1, 13)
    ]
