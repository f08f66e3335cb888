"""Volunteer lists in and out: import the lists agencies already keep, export the registry.

Import is two steps. ``preview`` parses the file and checks every row
(German message per row: name missing, consent missing or not a date, twice in
the file, already registered) and changes nothing. ``confirm`` parses the
same bytes again and registers the rows without errors, through
``volunteers.add_volunteer`` (same rules, an audit event each), plus one
``volunteer:import`` event with the file's SHA-256. Column names are matched
loosely ("E-Mail", "Telefon", "Vorname" + "Nachname", "Einwilligung am" ...).

Export writes CSV or Excel with every text cell made formula-safe: a cell
beginning with ``= + - @`` (or tab/CR) is prefixed with an apostrophe, so a
name like ``=HYPERLINK(...)`` is shown, never run, by a spreadsheet.

Limits: the first sheet of a workbook only; at most ``MAX_ROWS`` rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import DomainError, InvalidInput
from ia_events.core.messages import fmt_date
from ia_events.core.models import Volunteer
from ia_events.core.permissions import Reach, service
from ia_events.privacy.personal import blind_index, normalise_name
from ia_events.volunteers.registry import add_volunteer, list_volunteers, qualification_label
from storage.db import utcnow
from storage.keys import KeyRing

MAX_ROWS = 2000

_ALIASES = {
    "name": {"name", "vollständigername", "namevorname", "nameundvorname", "ehrenamtliche"},
    "first": {"vorname"},
    "last": {"nachname", "familienname"},
    "email": {"email", "mail", "emailadresse"},
    "phone": {"telefon", "tel", "handy", "mobil", "telefonnummer", "mobilnummer"},
    "contact": {"kontakt", "kontaktdaten"},
    "languages": {"sprachen", "sprache", "sprachkenntnisse"},
    "skills": {"fähigkeiten", "kenntnisse", "skills", "tätigkeiten", "einsatzbereiche"},
    "availability": {"verfügbarkeit", "verfügbar", "zeiten", "wann"},
    "consent_at": {
        "einwilligung",
        "einwilligungam",
        "einwilligungsdatum",
        "datenschutzeinwilligung",
        "einwilligungdatenschutz",
    },
    "consent_version": {"einwilligungfassung", "fassung", "version", "einwilligungversion"},
    "agreement_at": {"vereinbarung", "vereinbarungam", "ehrenamtsvereinbarung"},
}


def _key(header: object) -> str:
    return re.sub(r"[^a-zäöüß]", "", str(header or "").casefold())


@dataclass
class ImportRow:
    line: int
    name: str = ""
    contact: str = ""
    languages: str = ""
    skills: str = ""
    availability: str = ""
    consent_at: date | None = None
    consent_version: str = ""
    agreement_at: date | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportPreview:
    filename: str
    sha256: str
    rows: list[ImportRow]

    @property
    def valid(self) -> int:
        return sum(1 for r in self.rows if r.ok)

    @property
    def invalid(self) -> int:
        return len(self.rows) - self.valid


def _date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


# Rows read at most (header and blank rows included): the row limit is checked while
# reading, so a workbook of a million rows is refused after a few thousand, not read whole.
READ_LIMIT = MAX_ROWS + 200


def _capped(rows: Iterable[Sequence[object]]) -> list[list[object]]:
    out: list[list[object]] = []
    for row in rows:
        if len(out) >= READ_LIMIT:
            raise InvalidInput("import_too_large", max=MAX_ROWS)
        out.append(list(row))
    return out


def _count_sheet_rows(content: bytes) -> None:
    """Refuse a workbook with a sheet of more than ``READ_LIMIT`` rows, counting the
    ``<row>`` elements as they stream past (openpyxl itself parses a whole sheet
    that lacks a size tag before it yields a single row)."""
    import zipfile
    from xml.etree.ElementTree import iterparse

    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        for name in zf.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            rows = 0
            with zf.open(name) as sheet:
                for _event, element in iterparse(sheet, events=("start",)):
                    if element.tag.endswith("}row") or element.tag == "row":
                        rows += 1
                        if rows > READ_LIMIT:
                            raise InvalidInput("import_too_large", max=MAX_ROWS)


def _table(filename: str, content: bytes) -> list[list[object]]:
    """The file's rows as lists of cell values (CSV or the first Excel sheet), read as a
    stream and given up on as soon as there are more than ``READ_LIMIT``."""
    try:
        if filename.lower().endswith((".xlsx", ".xlsm")):
            from openpyxl import load_workbook

            _count_sheet_rows(content)
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                sheet = wb.worksheets[0]
                # Ignore the sheet's size claim (it can lie, and asking for max_row
                # without one reads the whole sheet): stream and count instead.
                sheet.reset_dimensions()
                return _capped(sheet.iter_rows(values_only=True))
            finally:
                wb.close()
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("cp1252")
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=";,\t").delimiter
        except csv.Error:
            delimiter = ";" if text.count(";") >= text.count(",") else ","
        return _capped(csv.reader(io.StringIO(text), delimiter=delimiter))
    except DomainError:
        raise
    except Exception as exc:  # a broken file is bad input, not a crash
        raise InvalidInput("import_unreadable", name=filename, reason=type(exc).__name__) from exc


def parse(filename: str, content: bytes, default_consent_version: str = "") -> list[ImportRow]:
    """Rows of the file, each with its own German errors (no database involved)."""
    table = _table(filename, content)
    start = next((i for i, r in enumerate(table) if any(str(c or "").strip() for c in r)), None)
    if start is None:
        return []
    header = [_key(h) for h in table[start]]
    cols: dict[str, int] = {}
    for i, h in enumerate(header):
        for target, names in _ALIASES.items():
            if h in names and target not in cols:
                cols[target] = i
    if "name" not in cols and not ("first" in cols and "last" in cols):
        shown = ", ".join(str(h) for h in table[start] if h) or "–"
        raise InvalidInput("import_no_name_column", columns=shown)
    body = table[start + 1 :]
    if len(body) > MAX_ROWS:
        raise InvalidInput("import_too_large", max=MAX_ROWS)
    rows: list[ImportRow] = []
    for offset, raw in enumerate(body):
        if not any(str(c or "").strip() for c in raw):
            continue

        def cell(name: str, raw: list[object] = raw) -> object:
            i = cols.get(name)
            return raw[i] if i is not None and i < len(raw) else None

        def txt(name: str) -> str:
            return str(cell(name) or "").strip()

        row = ImportRow(line=start + offset + 2)
        row.name = txt("name") or f"{txt('first')} {txt('last')}".strip()
        row.contact = " · ".join(v for v in (txt("contact"), txt("email"), txt("phone")) if v)
        row.languages, row.skills, row.availability = (
            txt("languages"),
            txt("skills"),
            txt("availability"),
        )
        row.consent_version = txt("consent_version") or default_consent_version
        if not row.name:
            row.errors.append("Name fehlt.")
        elif len(row.name) > 200:
            row.errors.append("Name ist länger als 200 Zeichen.")
        for attr, label in (("consent_at", "Einwilligung"), ("agreement_at", "Vereinbarung")):
            try:
                setattr(row, attr, _date(cell(attr)))
            except ValueError:
                row.errors.append(f"{label}: „{cell(attr)}“ ist kein Datum (TT.MM.JJJJ).")
        if row.consent_at is None and not any(e.startswith("Einwilligung") for e in row.errors):
            row.errors.append("Datum der Einwilligung fehlt: ohne sie kein Eintrag.")
        if row.consent_at is not None and not row.consent_version:
            row.errors.append("Fassung der Einwilligung fehlt.")
        rows.append(row)
    return rows


@service(Permission.volunteer_manage, Reach.agency)
def preview(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_id: int,
    filename: str,
    content: bytes,
    *,
    default_consent_version: str = "",
    today: date | None = None,
) -> ImportPreview:
    """Check every row against the file and the registry; changes nothing."""
    require(actor, Permission.volunteer_manage, agency_id)
    rows = parse(filename, content, default_consent_version)
    today = today or utcnow().date()
    existing = set(
        session.scalars(select(Volunteer.name_index).where(Volunteer.agency_id == agency_id))
    )
    seen: dict[str, int] = {}
    for row in rows:
        if not row.name:
            continue
        for value, label in ((row.consent_at, "Einwilligung"), (row.agreement_at, "Vereinbarung")):
            if value is not None and value > today:
                row.errors.append(f"{label}: {fmt_date(value)} liegt in der Zukunft.")
        index = blind_index(keys, agency_id, row.name)
        if index in existing:
            row.errors.append("Ist schon im Ehrenamtsverzeichnis.")
        elif normalise_name(row.name) in seen:
            row.errors.append(f"Steht schon in Zeile {seen[normalise_name(row.name)]} der Datei.")
        else:
            seen[normalise_name(row.name)] = row.line
    return ImportPreview(filename, hashlib.sha256(content).hexdigest(), rows)


@service(Permission.volunteer_manage, Reach.agency)
def confirm(
    session: Session,
    keys: KeyRing,
    actor: Actor,
    agency_id: int,
    filename: str,
    content: bytes,
    *,
    default_consent_version: str = "",
    today: date | None = None,
) -> ImportPreview:
    """Register the rows without errors (the same file as previewed); returns what happened."""
    result = preview(
        session,
        keys,
        actor,
        agency_id,
        filename,
        content,
        default_consent_version=default_consent_version,
        today=today,
    )
    imported = 0
    for row in result.rows:
        if not row.ok:
            continue
        add_volunteer(
            session,
            keys,
            actor,
            agency_id,
            name=row.name,
            contact=row.contact,
            languages=row.languages,
            skills=row.skills,
            availability=row.availability,
            consent_at=row.consent_at,
            consent_version=row.consent_version,
            agreement_at=row.agreement_at,
        )
        imported += 1
    audit.record(
        session,
        actor.name,
        Action.volunteer_import,
        "volunteer_import",
        result.sha256[:16],
        agency_id=agency_id,
        sha256=result.sha256,
        imported=imported,
        skipped=result.invalid,
    )
    return result


# -- export ------------------------------------------------------------------------------------

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")
EXPORT_HEADER = [
    "Name",
    "Kontakt",
    "Sprachen",
    "Fähigkeiten",
    "Verfügbarkeit",
    "Einwilligung am",
    "Fassung",
    "Vereinbarung am",
    "Nachweise",
    "Aktiv",
]


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formulas in text cells (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


@service(Permission.volunteer_manage, Reach.agency, "cells formula-escaped")
def export_registry(
    session: Session, keys: KeyRing, actor: Actor, agency_id: int, fmt: str = "csv"
) -> bytes:
    """The agency's registry (inactive included) as CSV (UTF-8, ``;``) or XLSX."""
    volunteers = list_volunteers(session, keys, actor, agency_id, include_inactive=True)
    rows = [
        [
            v.name,
            v.contact,
            ", ".join(v.languages),
            ", ".join(v.skills),
            v.availability,
            fmt_date(v.consent_at) if v.consent_at else "",
            v.consent_version or "",
            fmt_date(v.agreement_at) if v.agreement_at else "",
            "; ".join(
                f"{qualification_label(q.kind)} bis {fmt_date(q.valid_until)}"
                if q.valid_until
                else qualification_label(q.kind)
                for q in v.qualifications
            ),
            "ja" if v.active else "nein",
        ]
        for v in volunteers
    ]
    safe = [[safe_cell(c) for c in r] for r in rows]
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.create_sheet(index=0)
        wb.remove(wb.worksheets[1])  # the default empty sheet
        ws.title = "Ehrenamtliche"
        ws.append(EXPORT_HEADER)
        for r in safe:
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        data = out.getvalue()
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        writer.writerow(EXPORT_HEADER)
        writer.writerows(safe)
        data = buf.getvalue().encode("utf-8-sig")
    else:
        raise InvalidInput(field="Format", reason="csv oder xlsx.")
    audit.record(
        session,
        actor.name,
        Action.volunteer_export,
        "volunteer_export",
        agency_id=agency_id,
        format=fmt,
        rows=len(rows),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return data
