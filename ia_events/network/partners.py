"""The partner directory: an agency's cooperation partners and which activities they
work on (*Kooperationen*).

A partner is an organisation, not a person: its name, type (``PartnerType``, a fixed
German list) and place are plain. Its contact persons (``PartnerContact``, several per
partner) carry the least personal data needed: a name, a phone number and an e-mail
address, each optional and each sealed under the agency's data key
(``privacy.personal``, so shredded with it), and a function ("Leitung",
"Integrationsbeauftragte") that is plain -- a role, not a person, shown to pick the
right contact. A contact needs a name, or else an e-mail address or phone number (a
function mailbox, a central number). Lists never carry the sealed values: only the
agency's own staff who edit the directory open them (``list_contacts``); whoever reads
every agency's sees how many contacts a partner has (``contact_counts``), never who.
Removing a contact deletes its row and so its sealed values.

Specialists see and edit their own agency's partners; the coordinator reads every
agency's. Another agency's partner or activity answers ``NotFound`` like an unknown id,
and a link across agencies is refused before anything changes. Archived partners stay
in the directory (and in last year's figures) but cannot be linked anew. Audit events
carry ids only -- never a partner's name or contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import (
    Actor,
    Permission,
    agency_id_by_slug,
    listing_filter,
    require,
)
from ia_events.core.audit import Action
from ia_events.core.errors import Conflict, InvalidInput, NotFound
from ia_events.core.models import (
    Activity,
    Agency,
    Lending,
    Multiplier,
    OpeningProcess,
    Partner,
    PartnerContact,
    PartnerType,
    meeting_partners,
    partner_activities,
)
from ia_events.core.permissions import Reach, service
from ia_events.core.textcheck import checked_text
from ia_events.privacy.personal import normalise_name, open_text, seal_text
from storage.db import utcnow
from storage.keys import KeyRing

PARTNER_TYPES = [t.value for t in PartnerType]
# The name keeps the purpose of the one contact a partner had before (migration
# j1_partner_contacts copied those ciphertexts into the contacts' names unchanged).
CONTACT_PURPOSE = "partner-contact"
PHONE_PURPOSE = "partner-contact-phone"
EMAIL_PURPOSE = "partner-contact-email"
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()/\-]{3,40}$")


@dataclass
class PartnerView:
    id: int
    agency_id: int
    agency_slug: str
    name: str
    type: str
    place: str
    archived: bool
    activity_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """``ia-events list partners --json`` (a contract: add keys, never rename)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "activity_ids": list(self.activity_ids),
        }


def _text(value: str, label: str, *, limit: int, required: bool = True) -> str:
    return checked_text(value, label, limit=limit, required=required, multiline=False)


def _type(value: str) -> str:
    try:
        return PartnerType(value).value
    except ValueError as exc:
        raise InvalidInput(field="Art", reason=", ".join(PARTNER_TYPES) + ".") from exc


def _partner(session: Session, actor: Actor, partner_id: int, permission: Permission) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(what="Der Partner")
    try:
        require(actor, permission, partner.agency_id)
    except NotFound as exc:  # another agency's partner reads like an unknown one
        raise NotFound(what="Der Partner") from exc
    return partner


def _no_duplicate(session: Session, agency_id: int, name: str, partner_id: int | None) -> None:
    wanted = normalise_name(name)
    rows = session.execute(
        select(Partner.id, Partner.name).where(
            Partner.agency_id == agency_id, Partner.archived_at.is_(None)
        )
    )
    if any(pid != partner_id and normalise_name(n) == wanted for pid, n in rows):
        raise Conflict(reason="Einen Partner mit diesem Namen gibt es schon.")


@service(Permission.plan_edit, Reach.agency, "contact sealed; audit carries ids only")
def create_partner(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    *,
    agency_slug: str,
    name: str,
    type: str,
    place: str = "",
    contact: str = "",
) -> Partner:
    """A new partner; ``contact``, if given, is the name of its first contact person."""
    agency_id = agency_id_by_slug(session, actor, agency_slug, Permission.plan_edit)
    name = _text(name, "Name", limit=200)
    _no_duplicate(session, agency_id, name, None)
    contact = _text(contact, "Kontaktperson", limit=200, required=False)
    partner = Partner(
        agency_id=agency_id,
        name=name,
        type=_type(type),
        place=_text(place, "Ort", limit=200, required=False),
    )
    session.add(partner)
    session.flush()
    audit.record(
        session, actor.name, Action.partner_add, "partner", partner.id, agency_id=agency_id
    )
    if contact:
        add_contact(session, keys, actor, partner.id, name=contact)
    return partner


@service(Permission.plan_edit, Reach.agency, "audit carries ids only")
def update_partner(
    session: Session,
    actor: Actor,
    partner_id: int,
    *,
    name: str,
    type: str,
    place: str = "",
) -> Partner:
    """The organisation's name, type and place (its contacts: ``update_contact``)."""
    partner = _partner(session, actor, partner_id, Permission.plan_edit)
    name = _text(name, "Name", limit=200)
    _no_duplicate(session, partner.agency_id, name, partner.id)
    changed = []
    for attr, value in (
        ("name", name),
        ("type", _type(type)),
        ("place", _text(place, "Ort", limit=200, required=False)),
    ):
        if getattr(partner, attr) != value:
            setattr(partner, attr, value)
            changed.append(attr)
    if changed:
        audit.record(
            session,
            actor.name,
            Action.partner_change,
            "partner",
            partner.id,
            agency_id=partner.agency_id,
            fields=changed,
        )
    return partner


@service(Permission.plan_edit, Reach.agency)
def archive_partner(
    session: Session, actor: Actor, partner_id: int, archived: bool = True
) -> Partner:
    """Archive (or restore) a partner: kept with its links, no longer offered for new ones."""
    partner = _partner(session, actor, partner_id, Permission.plan_edit)
    if (partner.archived_at is not None) == archived:
        return partner
    if not archived:
        _no_duplicate(session, partner.agency_id, partner.name, partner.id)
    partner.archived_at = utcnow() if archived else None
    audit.record(
        session,
        actor.name,
        Action.partner_archive if archived else Action.partner_restore,
        "partner",
        partner.id,
        agency_id=partner.agency_id,
    )
    return partner


def _activity(session: Session, actor: Actor, activity_id: int, agency_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    # Another agency's activity reads like an unknown one: ids cannot be probed.
    if activity is None or activity.agency_id != agency_id:
        raise NotFound(what="Das Angebot")
    require(actor, Permission.plan_edit, activity.agency_id)
    return activity


def _linked(session: Session, partner_id: int, activity_id: int) -> bool:
    return (
        session.scalar(
            select(func.count()).where(
                partner_activities.c.partner_id == partner_id,
                partner_activities.c.activity_id == activity_id,
            )
        )
        or 0
    ) > 0


@service(Permission.plan_edit, Reach.agency, "partner and activity of the same agency")
def link_partner(session: Session, actor: Actor, partner_id: int, activity_id: int) -> bool:
    """Record that the partner cooperates on the activity; False if it already did."""
    partner = _partner(session, actor, partner_id, Permission.plan_edit)
    activity = _activity(session, actor, activity_id, partner.agency_id)
    if _linked(session, partner.id, activity.id):
        return False
    if partner.archived_at is not None:
        raise Conflict(reason="Der Partner ist archiviert.")
    session.execute(
        insert(partner_activities).values(partner_id=partner.id, activity_id=activity.id)
    )
    audit.record(
        session,
        actor.name,
        Action.partner_link,
        "partner",
        partner.id,
        agency_id=partner.agency_id,
        activity_id=activity.id,
    )
    return True


@service(Permission.plan_edit, Reach.agency)
def unlink_partner(session: Session, actor: Actor, partner_id: int, activity_id: int) -> bool:
    """Remove the cooperation; False if there was none."""
    partner = _partner(session, actor, partner_id, Permission.plan_edit)
    activity = _activity(session, actor, activity_id, partner.agency_id)
    if not _linked(session, partner.id, activity.id):
        return False
    session.execute(
        delete(partner_activities).where(
            partner_activities.c.partner_id == partner.id,
            partner_activities.c.activity_id == activity.id,
        )
    )
    audit.record(
        session,
        actor.name,
        Action.partner_unlink,
        "partner",
        partner.id,
        agency_id=partner.agency_id,
        activity_id=activity.id,
    )
    return True


@service(Permission.agency_read, Reach.listing)
def list_partners(
    session: Session,
    actor: Actor,
    agency_slug: str | None = None,
    include_archived: bool = False,
) -> list[PartnerView]:
    """The partners the actor reaches (one agency with ``agency_slug``), by agency and name."""
    require(actor, Permission.agency_read)
    q = (
        select(Partner, Agency.slug)
        .join(Agency, Agency.id == Partner.agency_id)
        .where(listing_filter(session, actor, Partner.agency_id, agency_slug))
    )
    if not include_archived:
        q = q.where(Partner.archived_at.is_(None))
    rows = session.execute(q.order_by(Agency.slug, func.lower(Partner.name), Partner.id)).all()
    links: dict[int, list[int]] = {p.id: [] for p, _ in rows}
    if links:
        for pid, aid in session.execute(
            select(partner_activities.c.partner_id, partner_activities.c.activity_id)
            .where(partner_activities.c.partner_id.in_(list(links)))
            .order_by(partner_activities.c.activity_id)
        ):
            links[pid].append(aid)
    return [
        PartnerView(
            id=p.id,
            agency_id=p.agency_id,
            agency_slug=slug,
            name=p.name,
            type=p.type,
            place=p.place,
            archived=p.archived_at is not None,
            activity_ids=links[p.id],
        )
        for p, slug in rows
    ]


# --- contact persons (issue 19 (1)) ---


@dataclass(frozen=True)
class ContactView:
    """A contact person as the agency's own staff see it (values opened)."""

    id: int
    partner_id: int
    role: str
    name: str
    phone: str
    email: str
    multiplier: bool = False
    multiplier_since: date | None = None

    @property
    def label(self) -> str:
        """How the contact is named in a list: "Name (Funktion)", else the function or
        the mailbox."""
        if self.name:
            return f"{self.name} ({self.role})" if self.role else self.name
        return self.role or self.email or self.phone or "Kontakt"


def _contact(
    session: Session, actor: Actor, contact_id: int, permission: Permission
) -> PartnerContact:
    contact = session.get(PartnerContact, contact_id)
    if contact is None:
        raise NotFound(what="Die Kontaktperson")
    try:
        require(actor, permission, contact.agency_id)
    except NotFound as exc:  # another agency's contact reads like an unknown one
        raise NotFound(what="Die Kontaktperson") from exc
    return contact


def _contact_values(name: str, role: str, phone: str, email: str) -> dict[str, str]:
    values = {
        "name": _text(name, "Name", limit=200, required=False),
        "role": _text(role, "Funktion", limit=100, required=False),
        "phone": _text(phone, "Telefon", limit=40, required=False),
        "email": _text(email, "E-Mail", limit=200, required=False),
    }
    if values["phone"] and not _PHONE.match(values["phone"]):
        raise InvalidInput(field="Telefon", reason="Bitte nur Ziffern, Leerzeichen, + / - ( ).")
    if values["email"] and not _EMAIL.match(values["email"]):
        raise InvalidInput(field="E-Mail", reason="Das ist keine E-Mail-Adresse.")
    if not (values["name"] or values["email"] or values["phone"]):
        raise InvalidInput(
            field="Name",
            reason="Bitte einen Namen angeben – für ein Funktionspostfach ohne Person "
            "genügt die E-Mail-Adresse oder die Telefonnummer.",
        )
    return values


_SEALED = (("name", CONTACT_PURPOSE), ("phone", PHONE_PURPOSE), ("email", EMAIL_PURPOSE))


def _seal_into(
    session: Session, keys: KeyRing, contact: PartnerContact, values: dict[str, str]
) -> list[str]:
    """Seal the changed values into ``contact``; the names of the fields that changed."""
    changed = []
    if contact.role != values["role"]:
        contact.role = values["role"]
        changed.append("role")
    for attr, purpose in _SEALED:
        sealed = getattr(contact, f"{attr}_enc")
        if open_text(session, keys, contact.agency_id, sealed, purpose) == values[attr]:
            continue
        setattr(
            contact,
            f"{attr}_enc",
            seal_text(session, keys, contact.agency_id, values[attr], purpose)
            if values[attr]
            else None,
        )
        changed.append(attr)
    return changed


@service(Permission.plan_edit, Reach.agency, "name, phone, e-mail sealed; audit ids only")
def add_contact(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    partner_id: int,
    *,
    name: str = "",
    role: str = "",
    phone: str = "",
    email: str = "",
) -> PartnerContact:
    """One more contact person of the partner (a name, or a mailbox or number alone)."""
    partner = _partner(session, actor, partner_id, Permission.plan_edit)
    if partner.archived_at is not None:
        raise Conflict(reason="Der Partner ist archiviert.")
    values = _contact_values(name, role, phone, email)
    contact = PartnerContact(agency_id=partner.agency_id, partner_id=partner.id, role="")
    session.add(contact)
    session.flush()
    _seal_into(session, keys, contact, values)
    audit.record(
        session,
        actor.name,
        Action.partner_contact_add,
        "partner_contact",
        contact.id,
        agency_id=partner.agency_id,
        partner_id=partner.id,
    )
    return contact


@service(Permission.plan_edit, Reach.agency, "name, phone, e-mail sealed; audit ids only")
def update_contact(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    contact_id: int,
    *,
    name: str = "",
    role: str = "",
    phone: str = "",
    email: str = "",
) -> PartnerContact:
    """Change a contact person (an emptied field is deleted); audited with the fields'
    names, never their values."""
    contact = _contact(session, actor, contact_id, Permission.plan_edit)
    changed = _seal_into(session, keys, contact, _contact_values(name, role, phone, email))
    if changed:
        audit.record(
            session,
            actor.name,
            Action.partner_contact_change,
            "partner_contact",
            contact.id,
            agency_id=contact.agency_id,
            partner_id=contact.partner_id,
            fields=changed,
        )
    return contact


@service(Permission.plan_edit, Reach.agency, "deletes the sealed values; audit ids only")
def remove_contact(session: Session, actor: Actor, contact_id: int) -> None:
    """Remove a contact person: the row and its sealed values are deleted, and with
    them a mark as Multiplikator*in."""
    contact = _contact(session, actor, contact_id, Permission.plan_edit)
    mark = session.scalar(select(Multiplier).where(Multiplier.partner_contact_id == contact.id))
    if mark is not None:
        session.delete(mark)
    audit.record(
        session,
        actor.name,
        Action.partner_contact_remove,
        "partner_contact",
        contact.id,
        agency_id=contact.agency_id,
        partner_id=contact.partner_id,
        multiplier=mark is not None,
    )
    session.delete(contact)
    session.flush()


@service(Permission.plan_edit, Reach.agency, "opens the sealed name, phone and e-mail")
def list_contacts(
    session: Session, keys: KeyRing, actor: Actor, partner_id: int
) -> list[ContactView]:
    """The partner's contact persons, oldest first, for the agency's own staff."""
    partner = _partner(session, actor, partner_id, Permission.plan_edit)
    rows = session.execute(
        select(PartnerContact, Multiplier.id, Multiplier.since)
        .outerjoin(Multiplier, Multiplier.partner_contact_id == PartnerContact.id)
        .where(PartnerContact.partner_id == partner.id)
        .order_by(PartnerContact.id)
    ).all()

    def opened(c: PartnerContact, attr: str, purpose: str) -> str:
        return open_text(session, keys, c.agency_id, getattr(c, f"{attr}_enc"), purpose)

    return [
        ContactView(
            id=c.id,
            partner_id=c.partner_id,
            role=c.role,
            name=opened(c, "name", CONTACT_PURPOSE),
            phone=opened(c, "phone", PHONE_PURPOSE),
            email=opened(c, "email", EMAIL_PURPOSE),
            multiplier=mark is not None,
            multiplier_since=since,
        )
        for c, mark, since in rows
    ]


@service(Permission.agency_read, Reach.listing)
def contact_counts(
    session: Session, actor: Actor, agency_slug: str | None = None
) -> dict[int, int]:
    """How many contact persons each partner the actor reaches has (no names: what the
    coordinator of all agencies sees)."""
    require(actor, Permission.agency_read)
    q = (
        select(PartnerContact.partner_id, func.count(PartnerContact.id))
        .where(listing_filter(session, actor, PartnerContact.agency_id, agency_slug))
        .group_by(PartnerContact.partner_id)
    )
    return {pid: int(n) for pid, n in session.execute(q)}


# --- duplicates: found by their names, merged into one record (issue 19 (1)) ---

_LEGAL_FORMS = re.compile(r"\b(e\.? ?v|g?gmbh|gug|ag|kg|ggmbh|stiftung|verein)\b\.?")


def _name_key(name: str) -> str:
    """The name as duplicates compare it: case, spacing, punctuation and legal forms
    ("e. V.", "gGmbH") left out -- "AWO Essen e.V." and "awo essen" are one partner."""
    text = _LEGAL_FORMS.sub(" ", normalise_name(name))
    return re.sub(r"[^0-9a-zäöüß]+", "", text)


def _alike(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return a == b or SequenceMatcher(None, a, b).ratio() >= DUPLICATE_SIMILARITY


DUPLICATE_SIMILARITY = 0.88  # "Jobcenter Essen" ~ "Jobcentre Essen"; not "Jobcenter Kleve"


@service(Permission.agency_read, Reach.agency)
def duplicate_groups(session: Session, actor: Actor, agency_slug: str) -> list[list[PartnerView]]:
    """Groups of the agency's active partners whose names look like one organisation
    (same name apart from case, punctuation and legal form, or nearly the same spelling);
    each group oldest first, so the first is the one to keep."""
    listed = [p for p in list_partners(session, actor, agency_slug) if not p.archived]
    keys = {p.id: _name_key(p.name) for p in listed}
    groups: list[list[PartnerView]] = []
    placed: set[int] = set()
    for p in sorted(listed, key=lambda v: v.id):
        if p.id in placed:
            continue
        group = [p] + [
            q
            for q in listed
            if q.id > p.id and q.id not in placed and _alike(keys[p.id], keys[q.id])
        ]
        if len(group) > 1:
            placed.update(q.id for q in group)
            groups.append(sorted(group, key=lambda v: v.id))
    return groups


@service(Permission.plan_edit, Reach.agency, "both partners of the same agency")
def merge_partners(
    session: Session, keys: KeyRing, actor: Actor, keep_id: int, drop_id: int
) -> Partner:
    """Merge ``drop_id`` into ``keep_id``: its cooperations, meetings, opening processes,
    lendings and contact persons (with their marks as Multiplikator*in) move to the kept
    record; the merged record is archived and links to nothing, so it is counted once.
    Both must be the same agency's (a contact's sealing holds the agency, not the
    partner, so it moves as it is); nothing changes on a refusal."""
    if keep_id == drop_id:
        raise InvalidInput(field="Partner", reason="Bitte zwei verschiedene Partner wählen.")
    keep = _partner(session, actor, keep_id, Permission.plan_edit)
    drop = _partner(session, actor, drop_id, Permission.plan_edit)
    if keep.agency_id != drop.agency_id:
        raise NotFound(what="Der Partner")
    if drop.archived_at is not None or keep.archived_at is not None:
        raise Conflict(reason="Archivierte Partner lassen sich nicht zusammenführen.")
    for table, other in ((partner_activities, "activity_id"), (meeting_partners, "meeting_id")):
        have = set(session.scalars(select(table.c[other]).where(table.c.partner_id == keep.id)))
        moved = [
            o
            for o in session.scalars(select(table.c[other]).where(table.c.partner_id == drop.id))
            if o not in have
        ]
        session.execute(delete(table).where(table.c.partner_id == drop.id))
        if moved:
            session.execute(insert(table), [{"partner_id": keep.id, other: o} for o in moved])
    for process in session.scalars(
        select(OpeningProcess).where(OpeningProcess.partner_id == drop.id)
    ):
        process.partner_id = keep.id
    for lending in session.scalars(select(Lending).where(Lending.partner_id == drop.id)):
        lending.partner_id = keep.id
    moved_contacts = list(
        session.scalars(select(PartnerContact).where(PartnerContact.partner_id == drop.id))
    )
    for contact in moved_contacts:
        contact.partner_id = keep.id
    drop.archived_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor.name,
        Action.partner_merge,
        "partner",
        keep.id,
        agency_id=keep.agency_id,
        merged=drop.id,
        contacts=[c.id for c in moved_contacts],
    )
    return keep
