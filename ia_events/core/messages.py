"""German texts for error codes, and the one way to format numbers, counts and dates.

Codes are English and stable; the words are here, in one place, so pages, CLI
and tests never repeat a sentence.

Every number, count with its noun, percentage, size and date that a person reads --
on a screen, in a PDF, Word, Excel or CSV file, on the command line -- goes through
the ``fmt_*`` helpers below (Babel, locale de_DE): "25,63" not "25.6333",
"1 Termin" but "2 Termine", "1.234". ``csv_number`` writes numbers for the
semicolon CSV files German spreadsheets open (decimal comma, no grouping).
Do not format with f"{x:.1f}", ``:g`` or ``.replace(".", ",")`` elsewhere.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

BERLIN = ZoneInfo("Europe/Berlin")
LOCALE = "de_DE"
_LOCALE = Locale.parse(LOCALE)

MESSAGES: dict[str, str] = {
    "error": "Das hat nicht geklappt. Bitte versuchen Sie es noch einmal.",
    "not_found": "{what} wurde nicht gefunden.",
    "forbidden": "Dafür fehlt Ihnen die Berechtigung.",
    "invalid_input": "Bitte prüfen Sie das Feld „{field}“: {reason}",
    "conflict": "Das ist im jetzigen Zustand nicht möglich: {reason}",
    "duplicate_activity": (
        "Es gibt schon ein Angebot „{title}“ am selben Ort, am selben Wochentag und zur "
        "selben Uhrzeit ({rhythm}). Es würde dann zweimal im Kalender stehen."
    ),
    "bundle_blob_missing": (
        "Die Datei des Nachweises {evidence} fehlt oder ist beschädigt; es wurde kein "
        "Prüfpaket erstellt. Bitte die Administration „ia-events verify“ ausführen lassen."
    ),
    "report_submitted": (
        "Der Sachbericht {year} ist schon eingereicht und eingefroren; er kann nicht mehr "
        "geändert werden."
    ),
    "report_no_plan": (
        "Für {year} gibt es keine Aufgabenplanung, aus der ein Sachbericht entstehen kann."
    ),
    # One answer for unknown, wrong, locked and deactivated: it names no account.
    "login_invalid": (
        "Benutzername oder Passwort ist falsch – oder das Konto ist nach zu vielen "
        "Fehlversuchen vorübergehend gesperrt oder deaktiviert. Bitte versuchen Sie es "
        "später erneut oder wenden Sie sich an die Administration."
    ),
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
    "disk_full": (
        "Auf dem Datenträger ist kein Platz mehr; der Vorgang wurde abgebrochen, nichts "
        "wurde halb gespeichert. Bitte Speicherplatz freigeben (lassen) und es dann "
        "erneut versuchen."
    ),
    # -- archive on an object store (storage/archive_store.py, archive/objectlock.py) --
    "archive_unavailable": (
        "Das Archiv ({store}) ist gerade nicht erreichbar; es wurde nichts gespeichert. "
        "Bitte versuchen Sie es in einigen Minuten noch einmal. Bleibt der Fehler, "
        "bitte die Administration informieren."
    ),
    "archive_no_object_lock": (
        "Der Bucket {bucket} hat keine Objektsperre (Object Lock) mit Versionierung. "
        "Nachweise müssen dort bis zum Ende ihrer Aufbewahrungsfrist unlöschbar liegen; "
        "die Objektsperre lässt sich nur beim Anlegen eines Buckets einschalten. Bitte "
        "einen neuen Bucket angeben (ia-events init legt ihn mit Objektsperre an) oder "
        "docs/deployment.md, Abschnitt „Objektspeicher ohne Objektsperre“, lesen."
    ),
    "archive_url_invalid": (
        "IA_EVENTS_ARCHIVE_URL ist ungültig ({bucket}). Erwartet wird "
        "s3://BUCKET?endpoint=URL&region=REGION (optional &profile=NAME) oder nichts "
        "für den lokalen Archivordner."
    ),
    "object_locked": (
        "Die Datei ist im Archiv noch durch die Objektsperre geschützt ({bucket}) und "
        "kann erst danach entfernt werden."
    ),
    "archive_migrate_same": "Das Archiv liegt schon dort ({store}); nichts zu verschieben.",
    "archive_migrate_failed": (
        "Das Verschieben des Archivs nach {store} ist abgebrochen (Blob {blob}: {reason}). "
        "Es gilt weiter das bisherige Archiv; bitte die Ursache beheben und den Befehl "
        "erneut ausführen."
    ),
    "blob_missing": "Die Datei fehlt im Archiv ({bucket}).",
    "blob_corrupt": "Die Datei im Archiv ist beschädigt ({bucket}).",
    "blob_error": "Fehler im Archiv ({bucket}).",
    # -- evidence archive (filetypes, evidence, retention, backup) --
    "file_empty": "Die Datei „{name}“ ist leer. Es wurde nichts gespeichert.",
    "file_too_large": (
        "Die Datei „{name}“ ist {size_mb} MB groß; erlaubt sind höchstens {limit_mb} MB. "
        "Es wurde nichts gespeichert."
    ),
    "file_type_unsupported": (
        "Die Datei „{name}“ hat kein erlaubtes Format (geprüft wird der Inhalt, nicht die "
        "Endung). Erlaubt sind: {allowed}. Es wurde nichts gespeichert."
    ),
    "file_text_encoding": (
        "Die Textdatei „{name}“ ist nicht in UTF-8 gespeichert. Bitte als UTF-8 speichern "
        "oder als PDF hochladen. Es wurde nichts gespeichert."
    ),
    "file_zip_bomb": (
        "Die Datei „{name}“ würde beim Entpacken unverhältnismäßig groß. "
        "Es wurde nichts gespeichert."
    ),
    "evidence_kind_unknown": "„{kind}“ ist keine bekannte Nachweisart.",
    "evidence_deleted": "Der Nachweis {id} ist gelöscht (nur noch der Löschnachweis existiert).",
    "evidence_superseded": "Der Nachweis {id} wurde bereits durch Nachweis {by} ersetzt.",
    "list_nothing_to_seal": (
        "Für diesen Termin ist noch keine Teilnahme erfasst; es gibt keine Liste abzuschließen."
    ),
    "list_cancelled": (
        "Der Termin ist abgesagt; für abgesagte Termine wird keine Liste abgeschlossen."
    ),
    "list_reason_needed": (
        "Die Liste ist schon abgeschlossen. Für eine neue Fassung bitte den Grund der "
        "Korrektur angeben (mindestens 3 Zeichen)."
    ),
    "scan_not_list": (
        "Der Nachweis {id} ist kein Scan einer unterschriebenen Liste ohne Termin; er kann "
        "hier nicht zugeordnet werden."
    ),
    "photo_consent_missing": (
        "Für Fotos bitte die Einwilligung (KUG) angeben oder „Versammlung, keine "
        "Einwilligung nötig“ wählen."
    ),
    "hold_scope": (
        "Bitte genau einen Bereich angeben: eine Nachweis-ID, --occurrence, --subgoal oder "
        "--agency mit --year."
    ),
    "hold_reason_missing": "Bitte einen Grund für die Sperre angeben.",
    "hold_not_found": "Es gibt keine aktive Sperre {ref}.",
    "hold_same_person": (
        "Eine Sperre muss von einer zweiten Person freigegeben werden: „{who}“ hat sie gesetzt."
    ),
    "hold_approver_unknown": (
        "„{who}“ ist kein aktives Konto mit dem Recht, Sperren freizugeben (Koordination "
        "oder Administration)."
    ),
    "hold_covers_broader": (
        "Nachweis {id} ist durch eine übergreifende Sperre gesperrt ({holds}); bitte diese "
        "Sperre freigeben."
    ),
    "retention_proposal_stale": (
        "Der Löschvorschlag ist nicht mehr aktuell (Nachweis {id}); bitte neu erstellen."
    ),
    "backup_target_not_empty": "Das Sicherungsziel „{path}“ ist nicht leer.",
    "backup_invalid": "„{path}“ ist keine vollständige ia-events-Sicherung: {reason}",
    "restore_target_not_empty": (
        "Wiederherstellen geht nur in ein leeres Datenverzeichnis und eine leere Datenbank: "
        "{reason}"
    ),
    "subject_name_missing": "Bitte den vollständigen Namen der Person angeben.",
    "internal": (
        "Ein unerwarteter Fehler ist aufgetreten; es wurde nichts verändert. "
        "Bitte versuchen Sie es erneut oder melden Sie den Fehler (Zeitpunkt: {at})."
    ),
}

# Volunteers, shifts and hours (ia_events.volunteers: registry, shifts, hours, transfer).
VOLUNTEER_MESSAGES: dict[str, str] = {
    "volunteer_duplicate": (
        "Eine ehrenamtliche Person mit dem Namen „{name}“ ist in Ihrer Agentur schon erfasst."
    ),
    "volunteer_inactive": "Diese Person ist deaktiviert und kann nicht eingeteilt werden.",
    "volunteer_restricted": (
        "Die Person hat die Löschung ihrer Daten verlangt. Solange die Aufbewahrungspflicht "
        "läuft, ist die Verarbeitung eingeschränkt (Art. 18 DSGVO): keine Einteilung, keine "
        "Änderung, keine Reaktivierung."
    ),
    "volunteer_not_linked": (
        "Ihr Konto ist mit keinem Eintrag im Ehrenamtsverzeichnis verknüpft. "
        "Bitte wenden Sie sich an Ihre Fachkraft."
    ),
    "qualification_missing": (
        "Für den Einsatz „{role}“ fehlt der Nachweis „{qualification}“. Bitte erst den Nachweis "
        "einsehen und eintragen lassen."
    ),
    "qualification_expired": (
        "Für den Einsatz „{role}“ ist „{qualification}“ seit dem {until} abgelaufen. Bitte einen "
        "aktuellen Nachweis einsehen und eintragen lassen."
    ),
    "shift_collision": (
        "{who} am {day} von {start} bis {end} Uhr schon für „{role}“ eingeteilt; "
        "Einsätze dürfen sich nicht überschneiden."
    ),
    # Only ever said to the volunteer herself (her own sign-up), never to staff.
    "shift_collision_elsewhere": (
        "Sie sind zur selben Zeit schon für einen anderen Einsatz eingeteilt; "
        "Einsätze dürfen sich nicht überschneiden."
    ),
    "shift_full": "Dieser Einsatz ist schon voll besetzt ({needed} von {needed} Plätzen).",
    "shift_started": "Dieser Einsatz hat schon begonnen; das geht jetzt nicht mehr.",
    "shift_cancelled": "Der Termin dieses Einsatzes ist abgesagt.",
    "shift_already": "{who} für diesen Einsatz schon eingetragen.",
    "shift_not_active": "Diese Einteilung ist nicht mehr aktiv (abgemeldet oder nicht erschienen).",
    "shift_withdraw_checked_in": "Nach dem Check-in ist keine Abmeldung mehr möglich.",
    "shift_not_assigned": "Sie sind für diesen Termin für keinen Einsatz eingeteilt.",
    "shift_already_checked_in": "Sie sind schon seit {at} Uhr eingecheckt.",
    "shift_checkin_early": "Der Check-in für diesen Einsatz ist ab {at} Uhr möglich.",
    "shift_checkin_late": (
        "Der Einsatz ist schon vorbei. Bitte wenden Sie sich an Ihre Fachkraft; "
        "sie kann die Stunden nachtragen."
    ),
    "shift_checkout_first": "Bitte zuerst einchecken.",
    "shift_checkin_done": "Sie sind für diesen Einsatz schon ein- und ausgecheckt.",
    "no_show_before_start": "„Nicht erschienen“ kann erst ab Beginn des Einsatzes vermerkt werden.",
    "no_show_checked_in": "Die Person hat eingecheckt; „nicht erschienen“ passt nicht dazu.",
    "volunteer_qr_invalid": "Dieser Check-in-Link ist ungültig. Bitte scannen Sie den Code erneut.",
    "volunteer_qr_revoked": "Dieser Link wurde zurückgezogen. Bitte den neuen Code scannen.",
    "volunteer_qr_not_open": "Der Check-in für diesen Termin ist noch nicht geöffnet.",
    "volunteer_qr_closed": "Der Check-in für diesen Termin ist schon geschlossen.",
    "volunteer_qr_cancelled": "Dieser Termin ist abgesagt.",
    "import_unreadable": "Die Datei „{name}“ konnte nicht gelesen werden: {reason}",
    "import_no_name_column": (
        "In der Datei fehlt eine Spalte „Name“ (oder „Vorname“ und „Nachname“). "
        "Gefundene Spalten: {columns}"
    ),
    "import_too_large": "Die Liste ist zu groß (höchstens {max} Zeilen auf einmal).",
}
MESSAGES.update(VOLUNTEER_MESSAGES)

# Check-in answers at the door (ia_events.attendance.checkin; codes are the scan reason codes).
CHECKIN_MESSAGES: dict[str, str] = {
    "checkin_ok": "Eingecheckt.",
    "checkin_invalid": "Der Check-in-Link ist ungültig.",
    "checkin_revoked": "Dieser Check-in-Link wurde erneuert; der alte gilt nicht mehr.",
    "checkin_not_open": "Der Check-in für diesen Termin ist noch nicht geöffnet.",
    "checkin_closed": "Der Check-in für diesen Termin ist geschlossen.",
    "checkin_cancelled": "Dieser Termin ist abgesagt.",
    "checkin_already_checked_in": "Diese Person ist schon eingecheckt (nur einmal gezählt).",
    "checkin_card_unknown": "Diese Karte ist unbekannt (oder gehört zu einer anderen Agentur).",
    "checkin_card_revoked": "Diese Karte wurde gesperrt.",
}
MESSAGES.update(CHECKIN_MESSAGES)

# Notifications (ia_events.notify).
MESSAGES.update(
    {
        "notify_email_invalid": (
            "Bitte geben Sie eine gültige E-Mail-Adresse an (name@beispiel.de)."
        ),
        "notify_no_account": "Benachrichtigungen gibt es nur für angemeldete Personen.",
        "notify_optout_invalid": "Der Abmeldelink ist ungültig oder unvollständig.",
        "notify_not_reviewable": "Diese Nachricht wartet nicht auf eine Prüfung.",
    }
)


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
    return format_date(value, "dd.MM.yyyy", locale=_LOCALE)


def fmt_datetime(value: datetime) -> str:
    """24.11.2026, 14:30"""
    return format_datetime(berlin(value), "dd.MM.yyyy, HH:mm", locale=_LOCALE)


def fmt_time(value: datetime) -> str:
    return berlin(value).strftime("%H:%M")


def fmt_weekday_date(value: datetime) -> str:
    """Di., 24.11.2026"""
    return format_datetime(berlin(value), "EEE, dd.MM.yyyy", locale=_LOCALE)


def fmt_month(value: date) -> str:
    """März 2026"""
    return format_date(value, "LLLL yyyy", locale=_LOCALE)


# -- numbers and counts ---------------------------------------------------------------------

# Plural forms of the nouns we count; ``fmt_count`` takes the plural from here unless given.
PLURALS = {
    "Termin": "Termine",
    "Teilnahme": "Teilnahmen",
    "Teilnahme-Eintrag": "Teilnahme-Einträge",
    "Datei": "Dateien",
    "Nachweis": "Nachweise",
    "Stunde": "Stunden",
    "Ehrenamtsstunde": "Ehrenamtsstunden",
    "Person": "Personen",
    "Ehrenamtliche": "Ehrenamtliche",
    "Eintrag": "Einträge",
    "Angebot": "Angebote",
    "Teilziel": "Teilziele",
    "Audit-Ereignis": "Audit-Ereignisse",
    "Fehler": "Fehler",
    "Einsatz": "Einsätze",
    "Abweichung": "Abweichungen",
    "Integrationsagentur": "Integrationsagenturen",
    "Konto": "Konten",
    "Hinweis": "Hinweise",
    "Byte": "Bytes",
    "Planung": "Planungen",
    "Sozialraumanalyse": "Sozialraumanalysen",
    "Aufgabenplanung": "Aufgabenplanungen",
    "Sachbericht": "Sachberichte",
}


def fmt_number(value: float | int | Decimal | None, places: int = 2) -> str:
    """25,63 · 1.234,5 · 40 -- at most ``places`` decimals, no trailing zeros; None: –."""
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "#" * places if places > 0 else "")
    return format_decimal(value, pattern, locale=_LOCALE)


def fmt_hours(value: float) -> str:
    """12,5 (hours, at most two decimals)."""
    return fmt_number(value, 2)


def fmt_count(n: float, singular: str, plural: str | None = None) -> str:
    """1 Termin · 2 Termine · 1.234 Teilnahmen · 1,5 Stunden (German plural rule, Babel)."""
    noun = singular if _LOCALE.plural_form(abs(n)) == "one" else (plural or PLURALS[singular])
    return f"{fmt_number(n)} {noun}"


def fmt_percent(ratio: float) -> str:
    """83 % (whole percent, German spacing)."""
    return format_percent(ratio, "#,##0 %", locale=_LOCALE)


def fmt_size(n_bytes: int) -> str:
    """1,2 MB · 830 KB · 12 Bytes (decimal units, one decimal from MB on)."""
    if n_bytes < 1000:
        return fmt_count(n_bytes, "Byte", "Bytes")
    for unit, factor, places in (("KB", 1e3, 0), ("MB", 1e6, 1), ("GB", 1e9, 1)):
        if n_bytes < factor * 1000 or unit == "GB":
            return f"{fmt_number(n_bytes / factor, places)} {unit}"
    raise AssertionError("unreachable")


@functools.lru_cache(maxsize=4096)  # Babel parses the pattern on every call (~1 ms)
def fmt_euro(cents: int | None) -> str:
    """1.234,50 € (euro cents, an integer, as German readers write money); None: –."""
    if cents is None:
        return "–"
    return format_currency(Decimal(cents) / 100, "EUR", "#,##0.00 ¤", locale=_LOCALE)


def csv_number(value: float | int | Decimal | None) -> str:
    """A number for a semicolon CSV as German spreadsheets read it: 34,33 · 40 · 1234,5
    (decimal comma, at most two decimals, no thousands separator); None: empty."""
    if value is None:
        return ""
    return format_decimal(value, "0.##", locale=_LOCALE)


# What a sub-goal's indicator counts, in the words of the reports (planning, reporting, pages).
INDICATOR_LABELS = {
    "participants": "Teilnahmen",
    "distinct_persons": "erreichte Personen",
    "occurrences": "durchgeführte Termine",
    "volunteers": "aktive Ehrenamtliche",
    "volunteer_hours": "Ehrenamtsstunden",
    "partners": "Kooperationspartner",
    "manual": "manuell erfasst",
    "multipliers": "Multiplikator*innen",
    "meetings": "Sitzungen",
    "processes": "Prozesse",
    "counselling_cases": "Beratungsfälle",
    "lendings": "Ausleihen",
}


# -- status words and audit actions ---------------------------------------------------------

# The stable English status codes of plans, reports, deadlines, dates and notices, as a
# German reader sees them. Pages show ``status_label(code)``, never the code itself.
STATUS_LABELS = {
    "open": "offen",
    "submitted": "eingereicht",
    "overdue": "überfällig",
    "due_soon": "bald fällig",
    "done": "erledigt",
    "draft": "Entwurf",
    "approved": "freigegeben",
    "returned": "zurückgegeben",
    "scheduled": "geplant",
    "cancelled": "abgesagt",
    "held": "durchgeführt",
    "sent": "versandt",
    "assigned": "eingeteilt",
    "withdrawn": "abgemeldet",
    "no_show": "nicht erschienen",
    "active": "aktiv",
    "inactive": "deaktiviert",
}


def status_label(code: str | None) -> str:
    """``submitted`` → "eingereicht"; an unknown code stays as it is; None: –."""
    if code is None:
        return "–"
    return STATUS_LABELS.get(str(code), str(code))


# What each audit action (``ia_events.core.audit.Action``) means, as the Audit-Log page
# says it. tests/unit/test_formatting.py checks that every action has its sentence.
AUDIT_LABELS = {
    "install:init": "Installation eingerichtet",
    "install:demo": "Demodaten geladen",
    "keys:rotate": "Schlüssel erneuert",
    "agency:add": "Integrationsagentur angelegt",
    "user:add": "Konto angelegt",
    "user:deactivate": "Konto deaktiviert",
    "user:reactivate": "Konto wieder aktiviert",
    "user:password:reset": "Passwort zurückgesetzt",
    "user:password:change": "Passwort geändert",
    "user:login": "Anmeldung",
    "user:login:failed": "Anmeldung fehlgeschlagen",
    "user:locked": "Konto nach Fehlversuchen gesperrt",
    "user:logout": "Abmeldung",
    "user:logout:all": "Von allen Geräten abgemeldet",
    "plan:add": "Aufgabenplanung angelegt",
    "plan:change": "Aufgabenplanung geändert",
    "plan:submit": "Aufgabenplanung eingereicht",
    "plan:approve": "Aufgabenplanung freigegeben",
    "plan:return": "Aufgabenplanung zurückgegeben",
    "plan:notice": "Mitteilung an die Bewilligungsbehörde erstellt",
    "plan:notice:sent": "Versand der Mitteilung vermerkt",
    "analysis:add": "Sozialraumanalyse angelegt",
    "analysis:change": "Sozialraumanalyse geändert",
    "analysis:submit": "Sozialraumanalyse eingereicht",
    "analysis:approve": "Sozialraumanalyse freigegeben",
    "analysis:return": "Sozialraumanalyse zurückgegeben",
    "report:approve": "Sachbericht freigegeben",
    "report:return": "Sachbericht zurückgegeben",
    "personnel:add": "Personalveränderung erfasst",
    "personnel:change": "Personalveränderung geändert",
    "template:add": "Vorlage angelegt",
    "subgoal:add": "Teilziel angelegt",
    "subgoal:change": "Teilziel geändert",
    "activity:add": "Angebot angelegt",
    "activity:change": "Angebot geändert",
    "activity:delete": "Angebot gelöscht",
    "partner:add": "Kooperationspartner angelegt",
    "partner:change": "Kooperationspartner geändert",
    "partner:archive": "Kooperationspartner archiviert",
    "partner:restore": "Kooperationspartner wieder aktiv",
    "partner:merge": "Doppelter Kooperationspartner zusammengeführt",
    "partner:link": "Kooperationspartner mit Angebot verknüpft",
    "partner:unlink": "Verknüpfung mit Kooperationspartner gelöst",
    "partner:contact-add": "Kontaktperson eines Kooperationspartners eingetragen",
    "partner:contact-change": "Kontaktperson eines Kooperationspartners geändert",
    "partner:contact-remove": "Kontaktperson eines Kooperationspartners entfernt",
    "funding:add": "Finanzierungsquelle eingetragen",
    "funding:remove": "Finanzierungsquelle entfernt",
    "funding:cost": "Gesamtkosten eines Angebots eingetragen",
    "multiplier:set": "Als Multiplikator*in markiert",
    "multiplier:unset": "Markierung als Multiplikator*in entfernt",
    "meeting:add": "Sitzung im Netzwerk angelegt",
    "meeting:change": "Sitzung im Netzwerk geändert",
    "meeting:cancel": "Sitzung im Netzwerk abgesagt",
    "meeting:minutes": "Protokoll einer Sitzung archiviert",
    "process:add": "Öffnungsprozess angelegt",
    "process:change": "Öffnungsprozess geändert",
    "process:contact": "Kontakt im Öffnungsprozess erfasst",
    "counselling:add": "Beratungsfälle erfasst",
    "counselling:delete": "Beratungsfälle gelöscht",
    "lending:add": "Verleih erfasst",
    "lending:return": "Rückgabe erfasst",
    "occurrence:add": "Termin angelegt",
    "occurrence:change": "Termin geändert",
    "occurrence:cancel": "Termin abgesagt",
    "closure:add": "Schließzeit eingetragen",
    "feed:add": "Kalender-Abo eingerichtet",
    "feed:revoke": "Kalender-Abo zurückgezogen",
    "deadline:submit": "Einreichung einer Frist vermerkt",
    "deadline:add": "Eigene Frist angelegt",
    "deadline:withdraw": "Eigene Frist zurückgezogen",
    "deadline:done": "Eigene Frist als erledigt vermerkt",
    "checkin:link": "Check-in-Link erstellt",
    "checkin:revoke": "Check-in-Link zurückgezogen",
    "checkin:burst_stop": "Check-in wegen vieler Versuche angehalten",
    "attendance:add": "Teilnahme erfasst",
    "attendance:undo": "Teilnahme zurückgenommen",
    "attendance:list:seal": "Teilnehmerliste abgeschlossen",
    "evidence:scan:assign": "Scan einem Termin zugeordnet",
    "card:add": "Teilnahmekarte ausgegeben",
    "evidence:add": "Nachweis abgelegt",
    "evidence:read": "Nachweis abgerufen",
    "evidence:supersede": "Nachweis ersetzt",
    "evidence:hold": "Aufbewahrungssperre gesetzt",
    "evidence:release": "Aufbewahrungssperre freigegeben",
    "evidence:delete": "Nachweis nach Fristablauf gelöscht",
    "evidence:change": "Angaben zum Nachweis geändert",
    "retention:run": "Löschlauf ausgeführt",
    "retention:anonymise": "Personendaten nach Fristablauf anonymisiert",
    "subject:access": "Auskunft an eine betroffene Person erteilt",
    "subject:erasure": "Löschverlangen einer betroffenen Person bearbeitet",
    "system:backup": "Sicherung erstellt",
    "system:restore": "Sicherung wiederhergestellt",
    "system:archive-migrate": "Archiv verschoben",
    "volunteer:add": "Ehrenamtliche Person erfasst",
    "volunteer:change": "Angaben einer ehrenamtlichen Person geändert",
    "volunteer:deactivate": "Ehrenamtliche Person deaktiviert",
    "volunteer:import": "Ehrenamtliche importiert",
    "volunteer:export": "Ehrenamtsverzeichnis exportiert",
    "volunteer:certificate": "Ehrenamtsnachweis erstellt",
    "volunteer:qualification:add": "Qualifikation eingetragen",
    "shift:add": "Einsatz angelegt",
    "shift:signup": "Für einen Einsatz eingetragen",
    "shift:assign": "Für einen Einsatz eingeteilt",
    "shift:withdraw": "Von einem Einsatz abgemeldet",
    "shift:no_show": "Nicht erschienen vermerkt",
    "shift:checkin": "Beim Einsatz eingecheckt",
    "shift:checkout": "Beim Einsatz ausgecheckt",
    "shift:hours:override": "Einsatzstunden nachgetragen",
    "volunteer:worklog:add": "Ehrenamtsstunden eingetragen",
    "setting:change": "Einstellung geändert",
    "system:verify": "Prüfsummen geprüft",
    "audit:read": "Audit-Log exportiert",
    "bundle:export": "Prüfpaket erstellt",
    "report:change": "Sachbericht bearbeitet",
    "report:submit": "Sachbericht eingereicht",
    "report:export": "Sachbericht heruntergeladen",
    "controlling:export": "Controlling-Zahlen exportiert",
    "notify:prefs": "Benachrichtigungen eingestellt",
    "notify:optout": "Benachrichtigungen abbestellt",
    "notify:requeue": "Benachrichtigung erneut eingereiht",
}


def audit_label(action: str) -> str:
    """``user:login`` → "Anmeldung" (an action without a sentence: "Aktion „…“")."""
    return AUDIT_LABELS.get(action, f"Aktion „{action}“")


# What an audit event is about (its ``object_type``), in German.
OBJECT_LABELS = {
    "installation": "Installation",
    "user": "Konto",
    "agency": "Integrationsagentur",
    "task_plan": "Aufgabenplanung",
    "needs_analysis": "Sozialraumanalyse",
    "subgoal": "Teilziel",
    "activity": "Angebot",
    "occurrence": "Termin",
    "attendance": "Teilnahme",
    "evidence": "Nachweis",
    "activity_report": "Sachbericht",
    "deadline": "Frist",
    "volunteer": "Ehrenamtliche*r",
    "shift": "Einsatz",
    "assignment": "Einteilung",
    "card": "Teilnahmekarte",
    "feed": "Kalender-Abo",
    "notice": "Mitteilung",
    "plan_notice": "Mitteilung",
    "analysis": "Sozialraumanalyse",
    "qualification": "Qualifikation",
    "subject": "Betroffene Person",
    "scans": "Scans",
    "personnel_change": "Personalveränderung",
    "legal_hold": "Aufbewahrungssperre",
    "setting": "Einstellung",
    "bundle": "Prüfpaket",
    "template": "Vorlage",
    "closure": "Schließzeit",
    "funding": "Finanzierungsquelle",
    "activity_cost": "Gesamtkosten",
    "multiplier": "Multiplikator*in",
    "meeting": "Sitzung",
    "opening_process": "Öffnungsprozess",
    "counselling": "Beratungsfälle",
    "lending": "Verleih",
}


def object_label(object_type: str, object_id: object = None) -> str:
    """``occurrence``, 218 → "Termin 218"."""
    name = OBJECT_LABELS.get(object_type, object_type)
    return f"{name} {object_id}".strip() if object_id not in (None, "") else name
