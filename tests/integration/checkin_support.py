"""Test data for the check-in tests: an agency, an activity and an occurrence around now."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from ia_events.attendance.tokens import TokenInfo, make_token
from ia_events.core.access import Actor
from ia_events.core.installation import Installation
from ia_events.core.models import Activity, Agency, Occurrence, Role
from storage.db import utcnow

_seq = itertools.count(1)


@dataclass
class Made:
    agency_id: int
    activity_id: int
    occurrence_id: int
    token: str
    door: Actor  # a specialist of this agency


def make_occurrence(
    inst: Installation,
    *,
    mode: str = "named",
    starts_in: timedelta = timedelta(minutes=-30),
    duration: timedelta = timedelta(hours=2),
    photographed: bool = False,
    asks_age_band: bool = False,
    categories: list[str] | None = None,
    privacy_law: str = "DSGVO",
    agency_id: int | None = None,
    now: datetime | None = None,
) -> Made:
    now = now or utcnow()
    n = next(_seq)
    with inst.db.write() as s:
        if agency_id is None:
            agency = Agency(
                slug=f"test-{n}",
                name=f"Integrationsagentur Test {n}",
                carrier="Testträger e.V.",
                city="Essen",
                fields=["BE"],
                privacy_law=privacy_law,
                privacy_contact="datenschutz@test.example",
            )
            s.add(agency)
            s.flush()
            agency_id = agency.id
        start = now + starts_in
        activity = Activity(
            agency_id=agency_id,
            funding_year=start.year,
            title="Nähcafé",
            type="Nähcafé",
            field="BE",
            place="Stadtteilzentrum, Helenenstraße 12",
            attendance_mode=mode,
            photographed=photographed,
            asks_age_band=asks_age_band,
            count_categories=categories or [],
        )
        s.add(activity)
        s.flush()
        occ = Occurrence(
            activity_id=activity.id,
            agency_id=agency_id,
            funding_year=start.year,
            starts_at=start,
            ends_at=start + duration,
        )
        s.add(occ)
        s.flush()
        token = make_token(inst.keys, TokenInfo("participant", "occurrence", occ.id, 1))
        door = Actor(name=f"fk-test-{n}", role=Role.specialist, agency_id=agency_id)
        return Made(agency_id, activity.id, occ.id, token, door)
