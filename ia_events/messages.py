"""German texts for error codes and a few formatting helpers for the UI.

Codes are English and stable; the words are here, in one place, so pages, CLI
and tests never repeat a sentence.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

BERLIN = ZoneInfo("Europe/Berlin")

MESSAGES: dict[str, str] = {
    "error": "Das hat nicht geklappt. Bitte versuchen Sie es noch einmal.",
    "not_found": "{what} wurde nicht gefunden.",
    "forbidden": "Dafür fehlt Ihnen die Berechtigung.",
    "invalid_input": "Bitte prüfen Sie das Feld „{field}“: {reason}",
    "conflict": "Das ist im jetzigen Zustand nicht möglich: {reason}",
    "login_invalid": "Benutzername oder Passwort ist falsch.",
    "login_locked": (
        "Zu viele falsche Versuche: Das Konto ist bis {until} Uhr gesperrt. "
        "Bitte warten Sie oder wenden Sie sich an die Administration."
    ),
    "login_inactive": "Dieses Konto ist deaktiviert. Bitte wenden Sie sich an die Administration.",
    "session_expired": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
    "password_too_short": "Das Passwort muss mindestens {min} Zeichen lang sein.",
    "password_too_long": "Das Passwort darf höchstens {max} Zeichen lang sein.",
    "password_common": "Dieses Passwort ist zu verbreitet oder zu leicht zu erraten.",
    "password_contains_username": "Das Passwort darf den Benutzernamen nicht enthalten.",
    "password_wrong": "Das bisherige Passwort stimmt nicht.",
    "username_taken": "Der Benutzername „{username}“ ist schon vergeben.",
    "username_invalid": (
        "Benutzernamen bestehen aus 3 bis 60 Kleinbuchstaben, Ziffern, Punkt, "
        "Binde- oder Unterstrich."
    ),
    "role_unknown": (
        "Unbekannte Rolle „{role}“. Erlaubt: specialist, volunteer, coordinator, admin."
    ),
    "agency_required": "Für die Rolle „{role}“ muss eine Integrationsagentur angegeben werden.",
    "agency_not_allowed": "Die Rolle „{role}“ gehört zu keiner einzelnen Integrationsagentur.",
    "setup_token_invalid": "Der Einrichtungs-Code stimmt nicht.",
    "setup_done": "Die Einrichtung ist schon abgeschlossen: Es gibt bereits Konten.",
    "demo_not_empty": "Demodaten können nur in eine leere Installation geladen werden.",
    "last_admin": "Das letzte aktive Administrator-Konto kann nicht deaktiviert werden.",
    "not_initialised": (
        "Die Installation ist noch nicht eingerichtet. Bitte zuerst „ia-events init“ ausführen."
    ),
    "keys_missing": (
        "Die Schlüsseldateien fehlen oder sind unlesbar ({detail}). Ohne sie sind "
        "Archiv und personenbezogene Daten nicht lesbar – bitte aus der Schlüsselsicherung "
        "wiederherstellen."
    ),
    "database_unavailable": (
        "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es in einem Moment erneut."
    ),
    "storage_full": "Im Archiv ist kein Platz mehr. Es wurde nichts gespeichert.",
    "internal": (
        "Ein unerwarteter Fehler ist aufgetreten; es wurde nichts verändert. "
        "Bitte versuchen Sie es erneut oder melden Sie den Fehler (Zeitpunkt: {at})."
    ),
}


class _Default(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "…"


def text(code: str, **params: object) -> str:
    template = MESSAGES.get(code, MESSAGES["error"])
    return template.format_map(_Default(params))


def berlin(value: datetime) -> datetime:
    return value.astimezone(BERLIN)


def fmt_date(value: date | datetime) -> str:
    """24.11.2026"""
    if isinstance(value, datetime):
        value = berlin(value).date()
    return format_date(value, "dd.MM.yyyy", locale="de_DE")


def fmt_datetime(value: datetime) -> str:
    """24.11.2026, 14:30"""
    return format_datetime(berlin(value), "dd.MM.yyyy, HH:mm", locale="de_DE")


def fmt_time(value: datetime) -> str:
    return berlin(value).strftime("%H:%M")


def fmt_weekday_date(value: datetime) -> str:
    """Di., 24.11.2026"""
    return format_datetime(berlin(value), "EEE, dd.MM.yyyy", locale="de_DE")
