"""Demo funding sources and multipliers (issue 19): a few activities of every agency are
co-funded -- the state's Integrationsagentur funding plus one other source by turn and
the carrier's own share (12 % of the rest; in one agency only 5 %, so its overview shows
the 10 % rule not met) -- with their total cost stated; in one agency an activity has
more assigned than it costs (the warning). Per agency one volunteer and one partner's
contact person (a chair or a head) are marked as Multiplikator*innen.

Called once from ``demo.load`` inside its transaction, after volunteers and partners
exist; rows only (the demo load is one audited action). Amounts are euro cents.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ia_events.core.models import (
    Activity,
    ActivityCost,
    Agency,
    FundingShare,
    FundingSourceKind,
    Multiplier,
    PartnerContact,
    Volunteer,
)
from ia_events.demo.network import MULTIPLIER_ROLES

K = FundingSourceKind
OTHERS = [K.komm_an, K.aktion_mensch, K.youth_office, K.district_fund, K.donations, K.service_club]
BELOW = "wesel-moers"  # the agency whose own share stays under 10 %
OVER = "essen"  # the agency with one activity financed beyond its cost
PER_YEAR = 3  # funded activities per agency and year


def load(session: Session, agencies: list[Agency]) -> tuple[int, int]:
    """(funding shares, multipliers) written for ``agencies``."""
    shares = marks = 0
    below = BELOW if any(a.slug == BELOW for a in agencies) else agencies[-1].slug
    for n, agency in enumerate(agencies):
        picked: dict[int, int] = {}
        rows = session.execute(
            select(Activity.id, Activity.funding_year)
            .where(Activity.agency_id == agency.id)
            .order_by(Activity.funding_year, Activity.id)
        ).all()
        for i, (act_id, year) in enumerate(rows):
            k = picked.get(year, 0)
            if k >= PER_YEAR:
                continue
            picked[year] = k + 1
            land = (200_000 + 25_000 * ((n + i) % 4)) if k != 2 else 0
            other_kind = OTHERS[(n + i) % len(OTHERS)]
            other = 40_000 + 10_000 * ((n * 3 + i) % 7)
            own_percent = 5 if agency.slug == below else 12
            own = -(-(land + other) * own_percent // 100)
            for kind, cents in ((K.state, land), (other_kind, other), (K.own_share, own)):
                if cents:
                    session.add(
                        FundingShare(
                            agency_id=agency.id,
                            activity_id=act_id,
                            funding_year=year,
                            source=kind.value,
                            amount_cents=cents,
                        )
                    )
                    shares += 1
            total = land + other + own
            if agency.slug == OVER and k == 0:
                total -= other  # the same costs with the state and the other source
            session.add(
                ActivityCost(
                    activity_id=act_id, agency_id=agency.id, funding_year=year, total_cents=total
                )
            )
        volunteer = session.scalar(
            select(func.min(Volunteer.id)).where(Volunteer.agency_id == agency.id)
        )
        if volunteer is not None:
            session.add(
                Multiplier(agency_id=agency.id, volunteer_id=volunteer, since=date(2024, 3, 1 + n))
            )
            marks += 1
        contact = session.scalar(
            select(func.min(PartnerContact.id)).where(
                PartnerContact.agency_id == agency.id,
                PartnerContact.role.in_(MULTIPLIER_ROLES),
            )
        )
        if contact is not None:
            session.add(Multiplier(agency_id=agency.id, partner_contact_id=contact))
            marks += 1
    session.flush()
    return shares, marks
