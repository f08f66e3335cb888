"""Fictional demo data for the 13 agencies of the district, relative to today.

Everything here is invented; the agencies are the real district's list (good
reference data). Each capability extends this module so a new user sees it
working on first start. Loading is one audited action ("install:demo"), not
one event per generated row.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from ia_events.accounts.agencies import DISTRICT_AGENCIES
from ia_events.accounts.users import add_user, check_setup_token, setup_token_path
from ia_events.core import audit
from ia_events.core.access import Actor
from ia_events.core.errors import Conflict
from ia_events.core.installation import Installation, Settings
from ia_events.core.messages import BERLIN, berlin
from ia_events.core.models import (
    Activity,
    Agency,
    Attendance,
    ClosurePeriod,
    Occurrence,
    ParticipantCard,
    Setting,
)
from ia_events.core.permissions import Reach, service
from ia_events.demo import checkins, evidence, instruments, lists, network, volunteers
from ia_events.demo import funding as funding_demo
from ia_events.planning import deadlines
from ia_events.planning.recurrence import SeriesRule, expand
from ia_events.privacy.personal import blind_index, seal_text
from storage.db import utcnow

# No published password: every load draws its own (one for all demo accounts of that
# installation), shown once to whoever loaded it and kept for the operator in a 0600
# file in the data dir. A fixed password would let anyone who can reach a fresh
# server log in as the demo admin.
DEMO_LOGINS_FILE = "demo-logins.txt"


def new_demo_password() -> str:
    """A random password (about 72 bits) that passes the password rules."""
    return "demo-" + "-".join(secrets.token_hex(3) for _ in range(3))


def demo_logins_path(settings: Settings) -> Path:
    return settings.data_dir / DEMO_LOGINS_FILE


def read_demo_password(data_dir: Path) -> str | None:
    """The demo password of the installation in ``data_dir`` (its 0600 file), or None."""
    path = Path(data_dir) / DEMO_LOGINS_FILE
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            return line.strip()
    return None


def _write_demo_logins(settings: Settings, password: str) -> Path:
    path = demo_logins_path(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there before
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# ia-events Demo-Zugänge (erfundene Daten). Passwort für alle Demo-Konten:\n")
        fh.write(password + "\n")
        fh.write("# Benutzernamen: " + ", ".join(u for u, _ in DEMO_USERS) + "\n")
    return path


# (slug, name, city, carrier, fields, privacy law): the handbook's 13 agencies (3.2).
AGENCIES = [
    (a.slug, a.name, a.city, a.carrier, list(a.fields), a.privacy_law) for a in DISTRICT_AGENCIES
]

PLACES = {
    "essen": "Stadtteilzentrum Altendorf, Helenenstraße 12",
    "duesseldorf": "Begegnungsstätte Oberbilk, Kölner Straße 200",
}

FIRST = [
    "Ayşe",
    "Olena",
    "Fatima",
    "Mariam",
    "Zahra",
    "Nadia",
    "Hanna",
    "Leyla",
    "Svitlana",
    "Amina",
    "Elif",
    "Yasmin",
    "Rania",
    "Şükran",
    "Iryna",
    "Maryam",
    "Gül",
    "Nour",
    "Tetiana",
    "Samira",
    "Hatice",
    "Darya",
    "Roya",
    "Ludmila",
    "Sara",
]
LAST = [
    "Yılmaz",
    "Kovalenko",
    "Al-Hassan",
    "Ahmadi",
    "Demir",
    "Schevchenko",
    "Haddad",
    "Karimi",
    "Öztürk",
    "Bondarenko",
    "Nasser",
    "Rahimi",
    "Kaya",
    "Melnyk",
    "Saleh",
    "Hosseini",
    "Çelik",
    "Petrenko",
    "Youssef",
    "Moradi",
]
SCRIPT_NAMES = ["Марія Іваненко", "فاطمة الزهراء", "زهرا احمدی", "Ольга Смирнова"]


def _users() -> list[tuple[str, str]]:
    users = [("admin", "Administration"), ("koordination", "Koordination (alle Agenturen)")]
    users += [
        (f"fk-{slug}", f"Fachkraft {name.removeprefix('Integrationsagentur ')}")
        for slug, name, *_ in AGENCIES
    ]
    users += volunteers.login_names([(slug, name) for slug, name, *_ in AGENCIES])
    return users


DEMO_USERS = _users()


@dataclass
class DemoSummary:
    agencies: int = 0
    users: int = 0
    subgoals: int = 0
    activities: int = 0
    occurrences: int = 0
    attendance: int = 0
    sealed: int = 0
    partners: int = 0
    cooperations: int = 0
    funding_shares: int = 0
    multipliers: int = 0
    already_loaded: bool = False
    # The password of every demo account, set only by the load that created them.
    password: str = field(default="", repr=False)


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=BERLIN).astimezone(BERLIN)


@service(None, Reach.setup)
def load(
    inst: Installation,
    actor: Actor,
    *,
    today: date | None = None,
    now: datetime | None = None,
    seed: int = 2026,
    password: str | None = None,
) -> DemoSummary:
    """Load the small demo into an empty installation (idempotent once loaded).

    The demo accounts get ``password`` (default: a new random one), returned in
    the summary and written to ``demo-logins.txt`` (0600) in the data dir.
    """
    password = password or new_demo_password()
    now = now or utcnow()
    today = today or now.astimezone(BERLIN).date()
    rng = random.Random(seed)
    summary = DemoSummary()
    with inst.db.write() as s:
        if s.get(Setting, "demo") is not None:
            summary.already_loaded = True
            return summary
        if (s.scalar(select(func.count()).select_from(Agency)) or 0) > 0:
            raise Conflict("demo_not_empty")
        s.add(Setting(key="demo", value="1"))
        agencies: list[Agency] = []
        for slug, name, city, carrier, fields, law in AGENCIES:
            a = Agency(
                slug=slug,
                name=name,
                city=city,
                carrier=carrier,
                fields=fields,
                privacy_law=law,
                privacy_contact=f"Datenschutzbeauftragte*r {carrier}, datenschutz@{slug}.example",
            )
            s.add(a)
            agencies.append(a)
        s.flush()
        summary.agencies = len(agencies)
        for username, label in DEMO_USERS:
            if username.startswith("ehrenamt-"):
                continue  # created with their volunteer record (volunteer_demo)
            agency_slug: str | None = username.removeprefix("fk-")
            role = "specialist"
            if username == "admin":
                role, agency_slug = "admin", None
            elif username == "koordination":
                role, agency_slug = "coordinator", None
            add_user(
                s,
                actor,
                inst.settings,
                username=username,
                password=password,
                role=role,
                agency_slug=agency_slug,
                display_name=label,
            )
            summary.users += 1
        for agency in agencies:
            _agency_demo(s, inst, agency, today, now, rng, summary)
        summary.users += volunteers.load_volunteers(s, inst, actor, today, now, password)
        checkins.load(s, inst.keys, actor, now)
        summary.partners, summary.cooperations = network.load(s, inst.keys, agencies)
        summary.funding_shares, summary.multipliers = funding_demo.load(s, agencies)
        network.load_work(s, agencies, today)
        audit.record(
            s,
            actor.name,
            audit.Action.demo_load,
            "installation",
            agencies=summary.agencies,
            occurrences=summary.occurrences,
            attendance=summary.attendance,
        )
    deadlines.load_demo(inst, actor, today)
    evidence.load_demo(inst, actor, today)
    network.load_minutes(inst, actor, today)
    # Every past date's participant list sealed, a paper day without its scan per
    # agency, one unreadable scan in Essen's inbox.
    summary.sealed = lists.load(inst, actor, today.year - 1, now)
    # Submitted Sachberichte for last year (frozen as evidence) for a few agencies.
    from ia_events.reporting.activity_report import submit as submit_report

    for slug in ("essen", "kleve", "duesseldorf"):
        submit_report(inst, actor, slug, today.year - 1, now=now)
    # Notification addresses for Essen and the coordination; no mail server, so the
    # System page shows what would have been sent.
    from ia_events.demo import notify as notify_demo

    notify_demo.load_demo(inst, now)
    # The Freigabe stories: a returned plan, a grundsätzliche change with its notice.
    instruments.after_load(inst, actor, today, now)
    # Accounts exist now: the first-start setup code has no use any more.
    setup_token_path(inst.settings).unlink(missing_ok=True)
    _write_demo_logins(inst.settings, password)
    summary.password = password
    return summary


def load_with_setup_code(inst: Installation, setup_code: str) -> DemoSummary:
    """The start page's "Demodaten laden": only for whoever holds the setup code
    (printed on the server console, ``setup-token.txt``), like the first admin."""
    check_setup_token(inst, setup_code)
    return load(inst, Actor.cli("system:web-demo"))


def _agency_demo(
    s,
    inst: Installation,
    agency: Agency,
    today: date,
    now: datetime,
    rng: random.Random,
    summary: DemoSummary,
) -> None:
    place = PLACES.get(agency.slug, f"Familienzentrum {agency.city}, Marktplatz 3")
    profile = _profile(agency.slug)
    pool = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(22)] + SCRIPT_NAMES
    cards = [
        ParticipantCard(agency_id=agency.id, code=f"K-{agency.id:02d}-{i:04d}")
        for i in range(1, 16)
    ]
    s.add_all(cards)
    s.flush()
    closures = _demo_closures(s, agency, today)
    cancel_next: list[Occurrence] = []
    needs_by_phase = instruments.analyses(s, agency, [today.year - 1, today.year])
    for year in (today.year - 1, today.year):
        served = instruments.plans(
            s,
            agency,
            year,
            "approved" if year < today.year else "submitted",
            needs_by_phase[deadlines.phase_of(year)[0]],
        )
        summary.subgoals += len({g.id for gs in served.values() for g in gs})

        def activity(
            title,
            type_,
            field,
            mode,
            goals_,
            partners,
            photographed=False,
            categories=None,
            recurrence=None,
            year=year,
        ):
            a = Activity(
                agency_id=agency.id,
                funding_year=year,
                title=title,
                type=type_,
                field=field,
                attendance_mode=mode,
                place=place,
                partners=partners,
                photographed=photographed,
                count_categories=categories or [],
                recurrence=recurrence or {"kind": "single"},
            )
            a.subgoals = goals_
            s.add(a)
            s.flush()
            summary.activities += 1
            return a

        naeh = activity(
            "Nähcafé",
            "Nähcafé",
            instruments.activity_field(agency, "naeh"),
            "named",
            served["naeh"],
            ["Stadtteilbibliothek", "Familienzentrum"],
            photographed=True,
            recurrence={
                "kind": "weekly",
                "interval": 1,
                "weekday": 1,
                "start": "09:30",
                "end": "12:00",
            },
        )
        rad = activity(
            "Fahrradwerkstatt",
            "Fahrradwerkstatt",
            instruments.activity_field(agency, "rad"),
            "card",
            served["rad"],
            ["ADFC Ortsgruppe", "Jugendzentrum"],
            recurrence={
                "kind": "weekly",
                "interval": 2,
                "weekday": 3,
                "start": "15:00",
                "end": "18:00",
            },
        )
        info = activity(
            "Institutionen der Stadt stellen sich vor",
            "Infoveranstaltung",
            instruments.activity_field(agency, "info"),
            "anonymous",
            served["info"],
            ["Jobcenter", "Verbraucherzentrale", "Polizei – Bezirksdienst"],
            categories=["Frauen", "Männer", "Kinder"],
        )
        fest = activity(
            "Interkulturelles Stadtteilfest",
            "Fest/Begegnung",
            instruments.activity_field(agency, "fest"),
            "anonymous",
            served["fest"],
            ["Moscheegemeinde", "Kirchengemeinde", "Sportverein"],
            photographed=True,
            categories=["Erwachsene", "Kinder"],
        )

        # Weekly Nähcafé on Tuesdays, Fahrradwerkstatt every other Thursday: expanded by the
        # series rules, so NRW holidays and the summer closure are skipped as in real use.
        series_end = min(date(year, 12, 18), today + timedelta(days=42))
        series_slots = []
        rad.recurrence = {**rad.recurrence, "interval": profile.rad_interval}
        for act, weekday, weeks in ((naeh, 1, profile.naeh_late), (rad, 3, profile.rad_late)):
            rule = _demo_rule(act.recurrence, year, weekday, series_end, weeks)
            act.recurrence = rule.as_dict()
            series_slots += [(act, slot) for slot in expand(rule, year, closures).slots]
        series_slots.sort(key=lambda pair: pair[1].starts_at)
        for act, slot in series_slots:
            if act is naeh and year == today.year and berlin(slot.starts_at).date() == today:
                continue  # today's Nähcafé is the one open for check-in right now (below)
            occ = _occ(
                s,
                inst,
                act,
                slot.starts_at,
                slot.ends_at,
                now,
                rng,
                pool,
                cards,
                summary,
                scale=profile.scale,
            )
            if act is rad and slot.starts_at > now and not cancel_next:
                cancel_next.append(occ)
        year_end = series_end
        for month in profile.info_months:
            d = date(year, month, 12)
            if d <= year_end:
                _occ(
                    s,
                    inst,
                    info,
                    _at(d, 17),
                    _at(d, 19),
                    now,
                    rng,
                    pool,
                    cards,
                    summary,
                    scale=profile.scale,
                )
        fest_day = date(year, 6, 20)
        if fest_day <= year_end:
            _occ(
                s,
                inst,
                fest,
                _at(fest_day, 14),
                _at(fest_day, 19),
                now,
                rng,
                pool,
                cards,
                summary,
                scale=profile.scale,
            )
        if year == today.year:
            # Open for check-in right now: a Nähcafé that began half an hour ago.
            # Times on quarter hours ("11:45–14:15"), as a real plan has them.
            local_now = now.astimezone(BERLIN).replace(second=0, microsecond=0)
            start = local_now - timedelta(minutes=30)
            start = start.replace(minute=start.minute - start.minute % 15)
            _occ(
                s,
                inst,
                naeh,
                start,
                start + timedelta(hours=2, minutes=30),
                now,
                rng,
                pool,
                cards,
                summary,
                attendance=False,
            )

    for occ in cancel_next:  # one cancelled date, kept in the record with its reason
        occ.status = "cancelled"
        occ.cancel_reason = "Die Werkstattleitung ist erkrankt; Ersatztermin folgt."


def _demo_closures(s, agency: Agency, today: date) -> list[ClosurePeriod]:
    """A summer closure per year (moved later when today falls in it, so today stays open)."""
    periods = []
    for year in (today.year - 1, today.year):
        start, end = date(year, 7, 20), date(year, 8, 7)
        if start <= today <= end:
            start, end = today + timedelta(days=7), today + timedelta(days=25)
        periods.append(
            ClosurePeriod(agency_id=agency.id, starts_on=start, ends_on=end, label="Sommerpause")
        )
    s.add_all(periods)
    s.flush()
    return periods


@dataclass(frozen=True)
class Profile:
    """How big and busy one demo agency is: agencies differ, the same on every load."""

    scale: float  # attendance per date, relative
    rad_interval: int  # the Fahrradwerkstatt every 1, 2 or 3 weeks
    naeh_late: int  # weeks after early January the Nähcafé series starts
    rad_late: int
    info_months: tuple[int, ...]


def _profile(slug: str) -> Profile:
    rng = random.Random(f"demo-profile-{slug}")  # str seeds are stable across runs
    return Profile(
        scale=rng.choice((0.6, 0.8, 1.0, 1.0, 1.3, 1.6)),
        rad_interval=rng.choice((1, 2, 2, 3)),
        naeh_late=rng.choice((0, 0, 2, 5, 9)),
        rad_late=rng.choice((0, 3, 6)),
        info_months=tuple(sorted(rng.sample((2, 3, 5, 9, 10, 11), rng.randint(2, 5)))),
    )


def _demo_rule(
    recurrence: dict[str, object], year: int, weekday: int, until: date, late_weeks: int = 0
) -> SeriesRule:
    first = date(year, 1, 8) + timedelta(weeks=late_weeks)
    first += timedelta(days=(weekday - first.weekday()) % 7)
    return SeriesRule.from_dict(
        {**recurrence, "first_day": first.isoformat(), "until": until.isoformat()}
    )


def _occ(
    s,
    inst: Installation,
    activity: Activity,
    start: datetime,
    end: datetime,
    now: datetime,
    rng: random.Random,
    pool: list[str],
    cards: list[ParticipantCard],
    summary: DemoSummary,
    attendance: bool = True,
    scale: float = 1.0,
) -> Occurrence:
    occ = Occurrence(
        activity_id=activity.id,
        agency_id=activity.agency_id,
        funding_year=start.year,
        starts_at=start,
        ends_at=end,
    )
    s.add(occ)
    s.flush()
    summary.occurrences += 1
    if not attendance or start > now:
        return occ
    rows: list[dict[str, object]] = []
    base = {
        "occurrence_id": occ.id,
        "agency_id": activity.agency_id,
        "funding_year": start.year,
        "recorded_at": start + timedelta(minutes=10),
    }
    if activity.attendance_mode == "named":
        for name in rng.sample(
            pool, min(len(pool), rng.randint(round(6 * scale), round(14 * scale)))
        ):
            rows.append(
                {
                    **base,
                    "method": rng.choice(["self_qr", "self_qr", "door_manual"]),
                    "count": 1,
                    "name_enc": seal_text(s, inst.keys, activity.agency_id, name, "attendance"),
                    "name_index": blind_index(inst.keys, activity.agency_id, name),
                    "photo_consent": rng.random() < 0.7,
                }
            )
    elif activity.attendance_mode == "card":
        for card in rng.sample(
            cards, min(len(cards), rng.randint(round(4 * scale), round(10 * scale)))
        ):
            rows.append({**base, "method": "card_scan", "count": 1, "card_id": card.id})
    else:
        categories: list[str | None] = [*activity.count_categories] or [None]
        for category in categories:
            low, high = (40, 160) if activity.type == "Fest/Begegnung" else (5, 25)
            rows.append(
                {
                    **base,
                    "method": "headcount",
                    "count": rng.randint(round(low * scale), round(high * scale)),
                    "category": category,
                }
            )
    if rows:
        s.execute(insert(Attendance), rows)
        summary.attendance += len(rows)
    return occ
