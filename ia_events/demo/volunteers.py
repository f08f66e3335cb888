"""Demo volunteers: registry, qualifications, shifts with hours, worklogs, logins.

Called once from ``demo.load`` after the agencies' occurrences exist. Per
agency: five fictional volunteers (Turkish, Cyrillic and Arabic script among
them), one expired and two soon-expiring qualifications, worked shifts on past
occurrences (checked in and out, one no-show, one staff override), shifts on
upcoming ones (some still open, one on the occurrence running right now; two of
them the demo login's own), a volunteer with enough logged hours for the
Ehrenamtskarte hint, and a login ``ehrenamt-<agency-slug>`` linked to the first
volunteer. Rows are written directly (one "install:demo" audit event covers the
whole demo).
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.accounts.users import add_user
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import (
    Activity,
    Agency,
    Occurrence,
    Qualification,
    Shift,
    ShiftAssignment,
    User,
    Volunteer,
    WorkLog,
)
from ia_events.core.permissions import Reach, service
from ia_events.privacy.personal import blind_index, seal_text
from ia_events.volunteers.registry import CONSENT_VERSION, add_years, person_index

# Five per agency, rotated so agencies differ; index 0 gets the login.
PEOPLE = [
    ("Ayşe Yıldız", "ayse.yildiz@example.org", ["Deutsch", "Türkisch"], ["Nähen", "Zuschnitt"]),
    ("Олена Коваленко", "+49 151 0000001", ["Ukrainisch", "Russisch", "Deutsch"], ["Dolmetschen"]),
    ("سمية الحسن", "s.alhassan@example.org", ["Arabisch", "Deutsch"], ["Kinderbetreuung"]),
    ("Jonas Becker", "+49 160 0000002", ["Deutsch", "Englisch"], ["Fahrradreparatur"]),
    ("Mehmet Öztürk", "m.oeztuerk@example.org", ["Türkisch", "Deutsch"], ["Aufbau", "Fahrräder"]),
    ("Ирина Петренко", "+49 170 0000003", ["Russisch", "Deutsch"], ["Nähen"]),
    ("Zeynep Çelik", "zeynep.c@example.org", ["Türkisch", "Kurdisch"], ["Dolmetschen"]),
    ("محمد يوسف", "+49 176 0000004", ["Arabisch", "Englisch"], ["Fahrradreparatur"]),
]


def login_names(agencies: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(username, label) of the volunteer logins, for ``demo.DEMO_USERS``."""
    return [
        (f"ehrenamt-{slug}", f"Ehrenamtliche*r {name.removeprefix('Integrationsagentur ')}")
        for slug, name in agencies
    ]


@service(None, Reach.setup)
def load_volunteers(
    s: Session, inst: Installation, actor: Actor, today: date, now: datetime, password: str
) -> int:
    """Add the demo volunteers of every agency; returns the number of logins created."""
    agencies = list(s.scalars(select(Agency).order_by(Agency.id)))
    password_hash: str | None = None
    for agency in agencies:
        first, name = _agency(s, inst, actor, agency, today, now)
        username = f"ehrenamt-{agency.slug}"
        if password_hash is None:  # one Argon2 hash (~0.15 s) for all demo logins
            user = add_user(
                s,
                actor,
                inst.settings,
                username=username,
                password=password,
                role="volunteer",
                agency_slug=agency.slug,
                display_name=name,
                volunteer_id=first.id,
            )
            password_hash = user.password_hash
        else:
            s.add(
                User(
                    username=username,
                    display_name=name,
                    role="volunteer",
                    agency_id=agency.id,
                    volunteer_id=first.id,
                    password_hash=password_hash,
                    password_changed_at=now,
                )
            )
    s.flush()
    return len(agencies)


def _agency(
    s: Session, inst: Installation, actor: Actor, agency: Agency, today: date, now: datetime
) -> tuple[Volunteer, str]:
    keys = inst.keys
    offset = agency.id % len(PEOPLE)
    # Agencies differ: five to eight volunteers, a different weekly homework help.
    size = 5 + zlib.crc32(agency.slug.encode()) % 4
    weekly = (4.5, 5.0, 5.5, 6.0)[zlib.crc32(agency.slug.encode()[::-1]) % 4]
    people = [PEOPLE[(offset + i) % len(PEOPLE)] for i in range(size)]
    vols = []
    for i, (name, contact, langs, skills) in enumerate(people):
        v = Volunteer(
            agency_id=agency.id,
            name_enc=seal_text(s, keys, agency.id, name, "volunteer-name"),
            name_index=blind_index(keys, agency.id, name),
            contact_enc=seal_text(s, keys, agency.id, contact, "volunteer-contact"),
            person_index=person_index(keys, name, contact),
            languages=langs,
            skills=skills,
            availability=["dienstags vormittags", "donnerstags ab 15 Uhr", "nach Absprache"][i % 3],
            consent_at=today - timedelta(days=400 - 20 * i),
            consent_version=CONSENT_VERSION,
            agreement_at=today - timedelta(days=390 - 20 * i),
        )
        s.add(v)
        vols.append(v)
    s.flush()
    staff = f"fk-{agency.slug}"

    def qual(v: Volunteer, kind: str, checked: date, until: date | None) -> None:
        s.add(
            Qualification(
                volunteer_id=v.id,
                agency_id=agency.id,
                kind=kind,
                checked_on=checked,
                checked_by=staff,
                valid_until=until,
            )
        )

    qual(vols[0], "fuehrungszeugnis", today - timedelta(days=400), add_years(today, 4))
    qual(vols[0], "erste_hilfe", today - timedelta(days=300), today + timedelta(days=430))
    qual(
        vols[1],
        "fuehrungszeugnis",
        add_years(today, -5) - timedelta(days=30),
        today - timedelta(days=30),
    )
    qual(vols[1], "hygiene", today - timedelta(days=100), today + timedelta(days=630))
    qual(vols[2], "hygiene", today - timedelta(days=710), today + timedelta(days=20))
    qual(vols[2], "einweisung", today - timedelta(days=50), today + timedelta(days=315))
    qual(vols[3], "einweisung", today - timedelta(days=100), today + timedelta(days=265))
    qual(vols[4], "fuehrungszeugnis", today - timedelta(days=200), add_years(today, 4))
    qual(vols[4], "erste_hilfe", today - timedelta(days=690), today + timedelta(days=40))

    occs = s.execute(
        select(Occurrence, Activity.type)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(Occurrence.agency_id == agency.id)
        .order_by(Occurrence.starts_at)
    ).all()
    naeh = [o for o, t in occs if t == "Nähcafé"]
    rad = [o for o, t in occs if t == "Fahrradwerkstatt"]

    def shift(o: Occurrence, role: str, needed: int, required: list[str] | None = None,
              start: datetime | None = None, end: datetime | None = None) -> Shift:  # fmt: skip
        sh = Shift(
            occurrence_id=o.id,
            agency_id=agency.id,
            role=role,
            needed=needed,
            starts_at=start or o.starts_at,
            ends_at=end or o.ends_at,
            required_qualifications=required or [],
        )
        s.add(sh)
        s.flush()
        return sh

    def worked(sh: Shift, v: Volunteer, late: int, **extra: object) -> None:
        s.add(
            ShiftAssignment(
                shift_id=sh.id,
                volunteer_id=v.id,
                agency_id=agency.id,
                status=extra.pop("status", "assigned"),
                assigned_by=staff,
                created_at=sh.starts_at - timedelta(days=6),
                checked_in_at=extra.pop("cin", sh.starts_at + timedelta(minutes=late)),
                checked_out_at=extra.pop("cout", sh.ends_at - timedelta(minutes=late)),
                **extra,
            )
        )

    running = [o for o in naeh if o.starts_at <= now < o.ends_at]
    past_naeh = [o for o in naeh if o.ends_at < now - timedelta(days=1)]
    for year in (today.year - 1, today.year):
        of_year = [o for o in past_naeh if o.funding_year == year][-6:]
        for n, o in enumerate(of_year):
            sh = shift(o, "Anleitung Nähen", 2)
            worked(sh, vols[0], 5 + n % 3)
            if n == 2:
                worked(sh, vols[3], 0, status="no_show", cin=None, cout=None)
            else:
                worked(sh, vols[3], 10)
    for n, o in enumerate([o for o in rad if o.ends_at < now][-4:]):
        sh = shift(o, "Fahrradreparatur", 1)
        if n == 1:  # forgot to check in; staff confirmed the planned times
            hours = round((sh.ends_at - sh.starts_at).total_seconds() / 3600, 2)
            worked(sh, vols[4], 0, cin=None, cout=None, hours_override=hours, override_by=staff)
        else:
            worked(sh, vols[4], 3)
    for n, o in enumerate([o for o in naeh if o.starts_at > now][:4]):
        sh = shift(o, "Anleitung Nähen", 2)
        worked(sh, vols[3], 0, cin=None, cout=None)
        if n in (0, 2):  # the demo login's own next shifts ("Meine nächsten Einsätze")
            worked(sh, vols[0], 0, cin=None, cout=None)
        shift(o, "Kinderbetreuung", 1, ["fuehrungszeugnis"])
    for o in [o for o in rad if o.starts_at > now][:2]:
        sh = shift(o, "Fahrradreparatur", 2)
        worked(sh, vols[4], 0, cin=None, cout=None)
    for o in running:
        sh = shift(o, "Empfang/Check-in", 1, end=o.starts_at + timedelta(hours=1))
        worked(sh, vols[3], 0, cout=None)
        # Open for sign-up now and for check-in right away (starts within the hour).
        shift(o, "Abbau", 2, start=o.starts_at + timedelta(hours=1))

    # Homework help every week: enough for the Ehrenamtskarte hint.
    day = date(today.year, 1, 6)
    while day <= today - timedelta(days=1):
        s.add(
            WorkLog(
                volunteer_id=vols[1].id,
                agency_id=agency.id,
                day=day,
                hours=weekly,
                description="Hausaufgabenhilfe im Quartierstreff",
                recorded_by=staff,
            )
        )
        day += timedelta(days=7)
    s.add(
        WorkLog(
            volunteer_id=vols[2].id,
            agency_id=agency.id,
            day=today - timedelta(days=12),
            hours=3.5,
            description="Begleitung zur Ausländerbehörde (Dolmetschen)",
            recorded_by=staff,
        )
    )
    for n, v in enumerate(vols[5:], 1):  # the larger agencies' further helpers
        for k in range(n + 1):
            s.add(
                WorkLog(
                    volunteer_id=v.id,
                    agency_id=agency.id,
                    day=today - timedelta(days=9 + 23 * k + n),
                    hours=2.5 + n,
                    description="Unterstützung beim Stadtteilcafé",
                    recorded_by=staff,
                )
            )
    s.flush()
    return vols[0], people[0][0]
