"""The kinds of notification, who may receive each, and their German labels.

Every kind is switchable per person (``prefs``); a kind a role does not list
is never sent to that role. Limits: scans in the inbox of unassigned scans and
uploaded social-space analyses are not notified yet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    roles: tuple[str, ...]
    scheduled: bool = False


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("shift_confirmed", "Einsatz bestätigt", ("volunteer",)),
        Kind("shift_changed", "Einsatz geändert", ("volunteer",)),
        Kind("shift_cancelled", "Einsatz abgesagt oder abgemeldet", ("volunteer",)),
        Kind("shift_reminder", "Erinnerung am Tag vor dem Einsatz", ("volunteer",), True),
        Kind(
            "open_shifts_digest",
            "Neue offene Einsätze (höchstens einmal am Tag)",
            ("volunteer",),
            True,
        ),
        Kind("plan_returned", "Aufgabenplanung zurückgegeben", ("specialist",)),
        Kind("plan_approved", "Aufgabenplanung freigegeben", ("specialist",)),
        Kind("deadline_14", "Frist in 14 Tagen", ("specialist",), True),
        Kind("deadline_3", "Frist in 3 Tagen", ("specialist",), True),
        Kind("deadline_overdue", "Frist überschritten", ("specialist",), True),
        Kind(
            "qualification_expiring",
            "Nachweis einer*s Ehrenamtlichen läuft in 30 Tagen ab",
            ("specialist",),
            True,
        ),
        Kind(
            "shift_understaffed", "Einsatz 3 Tage vorher noch nicht besetzt", ("specialist",), True
        ),
        Kind("plan_submitted", "Aufgabenplanung zur Freigabe eingereicht", ("coordinator",)),
        Kind("report_submitted", "Sachbericht eingereicht", ("coordinator",)),
        Kind(
            "coordinator_digest",
            "Wöchentliche Übersicht überfälliger Fristen",
            ("coordinator",),
            True,
        ),
    )
}


def kinds_for(role: str) -> list[Kind]:
    return [k for k in KINDS.values() if role in k.roles]


def label(code: str) -> str:
    kind = KINDS.get(code)
    return kind.label if kind else code
