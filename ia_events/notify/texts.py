"""The German text (plain and simple HTML) and the iCal attachment of each kind.

Rendered at sending time from the ids in the outbox row, so a mail shows the
current state (a shift moved again after the first message says where it is
now). No mail names a participant, and none names a volunteer to anyone but
that volunteer: staff read "eine ehrenamtliche Person (Nr. 12)". Every mail
ends with the one-click opt-out link of its kind.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core.messages import fmt_date, fmt_time, fmt_weekday_date
from ia_events.core.models import (
    Activity,
    ActivityReport,
    Agency,
    Occurrence,
    OccurrenceStatus,
    OutboxMessage,
    Shift,
    TaskPlan,
)
from ia_events.notify.kinds import label
from ia_events.notify.prefs import optout_url
from storage.db import utcnow
from storage.keys import KeyRing

DISTRICT_SENDER = "AWO Integrationsagenturen"


@dataclass(frozen=True)
class Rendered:
    sender_name: str
    subject: str
    text: str
    html: str
    attachment: tuple[str, bytes] | None = None  # (file name, text/calendar bytes)


@dataclass(frozen=True)
class _ShiftFacts:
    shift: Shift
    title: str
    place: str
    cancelled: bool
    reason: str
    occurrence: Occurrence


def _shift_facts(session: Session, shift_id: int | None) -> _ShiftFacts | None:
    row = session.execute(
        select(Shift, Activity.title, Occurrence.place, Activity.place, Occurrence)
        .join(Occurrence, Occurrence.id == Shift.occurrence_id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .where(Shift.id == shift_id)
    ).first()
    if row is None:
        return None
    shift, title, occ_place, act_place, occ = row
    return _ShiftFacts(
        shift,
        title,
        occ_place or act_place or "",
        occ.status == OccurrenceStatus.cancelled,
        occ.cancel_reason or "",
        occ,
    )


def _when(start: datetime, end: datetime) -> str:
    return f"{fmt_weekday_date(start)}, {fmt_time(start)}–{fmt_time(end)} Uhr"


def _ics(facts: _ShiftFacts, cancelled: bool, domain: str, sequence: int) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//ia-events//Einsatz//DE")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    ev = icalendar.Event()
    ev.add("uid", f"shift-{facts.shift.id}@{domain}")
    ev.add("dtstamp", utcnow())
    ev.add("dtstart", facts.shift.starts_at)
    ev.add("dtend", facts.shift.ends_at)
    ev.add("summary", f"Einsatz: {facts.shift.role} – {facts.title}")
    if facts.place:
        ev.add("location", facts.place)
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    ev.add("sequence", sequence)
    cal.add_component(ev)
    return cal.to_ical()


def _shift_text(
    session: Session, row: OutboxMessage, domain: str
) -> tuple[str, list[str], tuple[str, bytes] | None] | None:
    facts = _shift_facts(session, row.object_id)
    if facts is None:
        return None
    s = facts.shift
    p: dict[str, Any] = row.params or {}
    what = f"{s.role} bei „{facts.title}“"
    lines = [what, _when(s.starts_at, s.ends_at)]
    if facts.place:
        lines.append(f"Ort: {facts.place}")
    cancelled = row.kind == "shift_cancelled"
    seq = int(p.get("sequence", 0))
    if row.kind == "shift_confirmed":
        subject = f"Einsatz bestätigt: {s.role} am {fmt_date(s.starts_at)}"
        body = ["Ihr Einsatz ist eingetragen:", "", *lines, "", "Vielen Dank für Ihre Hilfe!"]
    elif row.kind == "shift_changed":
        subject = f"Einsatz geändert: {s.role} am {fmt_date(s.starts_at)}"
        occ = facts.occurrence
        body = [
            f"Der Termin „{facts.title}“, an dem Sie eingeteilt sind, hat sich geändert.",
            "",
            f"Termin jetzt: {_when(occ.starts_at, occ.ends_at)}",
        ]
        if p.get("old_starts_at") and p.get("old_ends_at"):
            old_s = datetime.fromisoformat(p["old_starts_at"])
            old_e = datetime.fromisoformat(p["old_ends_at"])
            body.append(f"Bisher: {_when(old_s, old_e)}")
        if "old_place" in p:
            body.append(f"Ort jetzt: {facts.place or '–'} (bisher: {p['old_place'] or '–'})")
        body += ["", "Ihr Einsatz:", *lines, "", "Bitte prüfen Sie, ob Sie weiterhin können."]
        seq = max(seq, 1)
    elif cancelled:
        subject = f"Einsatz abgesagt: {s.role} am {fmt_date(s.starts_at)}"
        why = p.get("why", "")
        if why == "occurrence_cancelled":
            first = "Der Termin ist abgesagt, Ihr Einsatz entfällt:"
        elif why == "withdrawn_self":
            first = "Sie haben sich von diesem Einsatz abgemeldet:"
        else:
            first = "Ihr Einsatz wurde von der Integrationsagentur ausgetragen:"
        body = [first, "", *lines]
        if why == "occurrence_cancelled" and facts.reason:
            body += ["", f"Grund: {facts.reason}"]
        seq = max(seq, 2)
    else:  # shift_reminder
        subject = f"Erinnerung: morgen {s.role} um {fmt_time(s.starts_at)} Uhr"
        body = [
            "Eine Erinnerung an Ihren Einsatz morgen:",
            "",
            *lines,
            "",
            "Wenn Sie nicht kommen können, melden Sie sich bitte in der App unter "
            "„Meine Einsätze“ ab.",
        ]
    ics = _ics(facts, cancelled, domain, seq)
    return subject, body, (f"einsatz-{s.id}.ics", ics)


def _plan_text(session: Session, row: OutboxMessage) -> tuple[str, list[str]] | None:
    plan = session.get(TaskPlan, row.object_id)
    if plan is None:
        return None
    agency = plan.agency.name
    if row.kind == "plan_returned":
        return (
            f"Aufgabenplanung {plan.funding_year} zurückgegeben",
            [
                f"Die Koordination hat die Aufgabenplanung {plan.funding_year} "
                f"(„{plan.topic}“) zur Überarbeitung zurückgegeben.",
                "",
                "Hinweis der Koordination:",
                (row.params or {}).get("note") or plan.review_note or "–",
                "",
                "Sie finden die Planung in ia-events unter „Planung“.",
            ],
        )
    if row.kind == "plan_approved":
        return (
            f"Aufgabenplanung {plan.funding_year} freigegeben",
            [
                f"Die Koordination hat die Aufgabenplanung {plan.funding_year} "
                f"(„{plan.topic}“, Version {plan.approved_version or plan.version}) freigegeben.",
            ],
        )
    return (
        f"Zur Freigabe: Aufgabenplanung {plan.funding_year} – {agency}",
        [
            f"{agency} hat die Aufgabenplanung {plan.funding_year} (Version {plan.version}) "
            "zur Freigabe eingereicht.",
            "",
            "Sie finden sie in ia-events unter „Planung (Freigabe)“.",
        ],
    )


def _scheduled_text(session: Session, row: OutboxMessage) -> tuple[str, list[str]] | None:
    p: dict[str, Any] = row.params or {}
    if row.kind in ("deadline_14", "deadline_3", "deadline_overdue"):
        due = fmt_date(datetime.fromisoformat(p["due"]).date())
        title = p.get("title", "")
        if row.kind == "deadline_overdue":
            return (
                f"Frist überschritten: {title}",
                [
                    f"Die Frist „{title}“ ist am {due} abgelaufen und noch nicht als "
                    "eingereicht vermerkt.",
                    "",
                    "Bitte reichen Sie die Unterlagen nach oder vermerken Sie die Einreichung "
                    "in ia-events unter „Fristen“.",
                ],
            )
        days = 14 if row.kind == "deadline_14" else 3
        return (
            f"Frist in {days} Tagen: {title}",
            [
                f"Die Frist „{title}“ endet am {due} (Abgabe beim Bezirksverband).",
                "",
                "Den Stand sehen Sie in ia-events unter „Fristen“.",
            ],
        )
    if row.kind == "qualification_expiring":
        until = fmt_date(datetime.fromisoformat(p["valid_until"]).date())
        return (
            f"Nachweis läuft ab: {p.get('label', '')} am {until}",
            [
                f"Bei einer ehrenamtlichen Person Ihrer Agentur (Nr. {p.get('volunteer')}) "
                f"läuft der Nachweis „{p.get('label', '')}“ am {until} ab.",
                "",
                "Bitte sprechen Sie die Person an; Einsätze, die den Nachweis verlangen, "
                "sind danach nicht mehr möglich.",
            ],
        )
    if row.kind == "shift_understaffed":
        facts = _shift_facts(session, row.object_id)
        if facts is None:
            return None
        s = facts.shift
        return (
            f"Noch nicht besetzt: {s.role} am {fmt_date(s.starts_at)}",
            [
                f"Für den Einsatz {s.role} bei „{facts.title}“ "
                f"({_when(s.starts_at, s.ends_at)}) fehlen noch "
                f"{p.get('missing', '?')} von {s.needed} Personen.",
                "",
                "Die Einteilung finden Sie in ia-events unter „Ehrenamt“.",
            ],
        )
    if row.kind == "open_shifts_digest":
        lines = ["Diese Einsätze sind neu und noch offen:", ""]
        for item in p.get("shifts", []):
            start = datetime.fromisoformat(item["starts_at"])
            end = datetime.fromisoformat(item["ends_at"])
            lines.append(f"• {_when(start, end)}: {item['role']} bei „{item['title']}“")
        lines += ["", "Eintragen können Sie sich in der App unter „Meine Einsätze“."]
        return (f"Neue offene Einsätze ({len(p.get('shifts', []))})", lines)
    if row.kind == "report_submitted":
        report = session.get(ActivityReport, row.object_id)
        agency = session.get(Agency, row.agency_id) if row.agency_id else None
        if report is None or agency is None:
            return None
        return (
            f"Sachbericht {report.funding_year} eingereicht – {agency.name}",
            [
                f"{agency.name} hat den Sachbericht {report.funding_year} eingereicht.",
                "",
                "Sie finden ihn in ia-events unter „Berichte & Controlling“ und als Nachweis "
                "(Art „Bericht“).",
            ],
        )
    if row.kind == "coordinator_digest":
        lines = ["Diese Fristen sind überschritten und nicht als eingereicht vermerkt:", ""]
        for item in p.get("items", []):
            due = fmt_date(datetime.fromisoformat(item["due"]).date())
            lines.append(f"• {item['agency']}: {item['title']} (fällig am {due})")
        return (f"Wochenübersicht: {len(p.get('items', []))} überfällige Fristen", lines)
    return None


def _html(lines: list[str], footer: list[str], link: str) -> str:
    parts = []
    for line in lines:
        parts.append(f"<p>{html.escape(line)}</p>" if line else "")
    foot = " ".join(html.escape(f) for f in footer)
    return (
        '<!doctype html><html lang="de"><body style="font-family:sans-serif;line-height:1.4">'
        + "".join(parts)
        + '<hr><p style="font-size:small;color:#555">'
        + foot
        + f' <a href="{html.escape(link, quote=True)}">Diese Benachrichtigungen abbestellen</a>'
        + "</p></body></html>"
    )


def render(
    session: Session, keys: KeyRing, row: OutboxMessage, base_url: str, domain: str
) -> Rendered | None:
    """The message for ``row``, or None when its subject is gone."""
    attachment = None
    if row.kind.startswith("shift_") and row.kind != "shift_understaffed":
        got = _shift_text(session, row, domain)
        if got is None:
            return None
        subject, body, attachment = got
    elif row.kind.startswith("plan_"):
        got2 = _plan_text(session, row)
        if got2 is None:
            return None
        subject, body = got2
    else:
        got2 = _scheduled_text(session, row)
        if got2 is None:
            return None
        subject, body = got2
    agency = session.get(Agency, row.agency_id) if row.agency_id else None
    sender = agency.name if agency else DISTRICT_SENDER
    link = optout_url(base_url, keys, row.user_id, row.kind)
    footer = [
        f"Sie erhalten diese Nachricht, weil Sie in ia-events „{label(row.kind)}“ "
        "eingeschaltet haben. Ändern können Sie das auf Ihrer Seite „Konto“.",
    ]
    greeting = ["Guten Tag,", ""]
    text_lines = [*greeting, *body, "", f"Ihre {sender}"]
    text = "\n".join(
        [*text_lines, "", "-- ", *footer, f"Diese Benachrichtigungen abbestellen: {link}"]
    )
    return Rendered(sender, subject, text + "\n", _html(text_lines, footer, link), attachment)
