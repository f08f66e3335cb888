"""The ``ia-events`` command: the ops interface (docs/design.md section 5, a contract).

It parses arguments, calls the same services as the pages and prints the
result. Exit codes: 0 success, 1 a check found a problem (or the system
failed), 2 bad usage (unknown id, invalid value) -- always with a clear
message, never a traceback (set ``IA_EVENTS_DEBUG=1`` to see one).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ia_events.cli import archive, notify
from ia_events.cli.base import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    Ctx,
    cli,
    command,
    emit_json,
    evidence_group,
    keys_group,
    list_group,
    user_group,
)
from ia_events.core.errors import classify

if TYPE_CHECKING:
    from ia_events.core.access import Actor

__all__ = ["archive", "cli", "main", "notify", "run"]


@command(cli, "init")
def init_cmd(obj: Ctx) -> int:
    """Create data dir, database (migrated) and keys; safe to run again."""
    from ia_events.core.installation import initialise

    inst, created = initialise(obj.settings, obj.actor_name)
    s = inst.settings
    click.echo(f"Datenverzeichnis: {s.data_dir}")
    click.echo(f"Datenbank:        {inst.db.url}")
    click.echo(f"Schlüssel:        {s.keys_dir} (separat sichern!)")
    click.echo(f"Signatur-Fingerabdruck: {inst.keys.fingerprint()}")
    click.echo(f"Archiv:           {inst.blobs.describe()}")
    for line in inst.archive_lines:
        click.echo(line)
    click.echo("Eingerichtet." if created else "Schon eingerichtet; Schema ist aktuell.")
    return EXIT_OK


@command(cli, "demo")
@click.option("--size", type=click.Choice(["small", "large"]), default="small", show_default=True)
def demo_cmd(obj: Ctx, size: str) -> int:
    """Load fictional demo data (dates relative to today)."""
    from ia_events.core.installation import initialise
    from ia_events.core.messages import fmt_count
    from ia_events.demo import loader

    inst, _ = initialise(obj.settings, obj.actor_name)
    obj._inst = inst
    if size == "large":
        from ia_events.demo import large

        result = large.load(inst, obj.actor, progress=lambda line: click.echo(line, err=True))
        click.echo(result.describe())
        click.echo(
            "Passwort der Demo-Konten: steht in "
            f"{loader.demo_logins_path(obj.settings)} (Modus 0600)."
        )
        return EXIT_OK
    summary = loader.load(inst, obj.actor)
    if summary.already_loaded:
        click.echo("Die Demodaten sind schon geladen.")
        return EXIT_OK
    click.echo(
        f"Demodaten geladen: {fmt_count(summary.agencies, 'Integrationsagentur')}, "
        f"{fmt_count(summary.users, 'Konto')}, "
        f"{fmt_count(summary.subgoals, 'Teilziel')}, {fmt_count(summary.activities, 'Angebot')}, "
        f"{fmt_count(summary.occurrences, 'Termin')}, "
        f"{fmt_count(summary.attendance, 'Teilnahme-Eintrag')}."
    )
    click.echo(
        f"{summary.sealed} Teilnehmerlisten vergangener Termine versiegelt; spätere "
        "versiegelt der Server im Hintergrund, sofort: ia-events seal-lists"
    )
    click.echo(
        "Anmeldung z. B. als „fk-essen“ oder „koordination“. Passwort für alle Demo-Konten "
        f"(zufällig, nur jetzt angezeigt; steht auch in {loader.demo_logins_path(obj.settings)}, "
        f"Modus 0600): {summary.password}"
    )
    click.echo(
        "Termine als Kalender-Abo (z. B. Thunderbird, Outlook): "
        "ia-events feed-link --agency essen --kind occurrences"
    )
    return EXIT_OK


# -- users ------------------------------------------------------------------------------------


def _read_password() -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        return click.prompt("Passwort", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


@command(user_group, "add")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["specialist", "volunteer", "coordinator", "admin"])
)
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--display-name", default=None)
def user_add_cmd(
    obj: Ctx, name: str, role: str, agency_slug: str | None, display_name: str | None
) -> int:
    """Add an account; the password is read from standard input."""
    from ia_events.accounts.users import add_user

    inst = obj.inst()
    password = _read_password()
    with inst.db.write() as s:
        user = add_user(
            s,
            obj.actor,
            inst.settings,
            username=name,
            password=password,
            role=role,
            agency_slug=agency_slug,
            display_name=display_name,
        )
        click.echo(f"Konto „{user.username}“ ({role}) angelegt, id {user.id}.")
    return EXIT_OK


@command(user_group, "list")
@click.option("--json", "as_json", is_flag=True)
def user_list_cmd(obj: Ctx, as_json: bool) -> int:
    from ia_events.accounts.users import list_users

    inst = obj.inst()
    with inst.db.read() as s:
        users = list_users(s, obj.actor)
    if as_json:
        emit_json(
            [
                {
                    "id": u.id,
                    "username": u.username,
                    "role": u.role,
                    "agency": u.agency_slug,
                    "active": u.active,
                    "locked": u.locked,
                }
                for u in users
            ]
        )
    else:
        for u in users:
            state = "aktiv" if u.active else "deaktiviert"
            click.echo(
                f"{u.id:>4}  {u.username:<28} {u.role:<12} {u.agency_slug or '-':<22} {state}"
            )
    return EXIT_OK


@command(user_group, "deactivate")
@click.argument("name")
def user_deactivate_cmd(obj: Ctx, name: str) -> int:
    """Deactivate an account (never deleted; its history stays)."""
    from ia_events.accounts.users import set_active, user_id_by_name

    inst = obj.inst()
    with inst.db.write() as s:
        set_active(s, obj.actor, user_id_by_name(s, name), False)
    click.echo(f"Konto „{name}“ deaktiviert; alle Sitzungen beendet.")
    return EXIT_OK


# -- lists ------------------------------------------------------------------------------------


@command(list_group, "agencies")
@click.option("--json", "as_json", is_flag=True)
def list_agencies_cmd(obj: Ctx, as_json: bool) -> int:
    from ia_events.accounts.agencies import list_agencies

    with obj.inst().db.read() as s:
        rows = list_agencies(s, obj.actor)
    if as_json:
        emit_json([a.as_json() for a in rows])
    else:
        for a in rows:
            click.echo(f"{a.slug:<22} {a.name:<45} {', '.join(a.fields)}")
    return EXIT_OK


@command(list_group, "occurrences")
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--year", type=int)
@click.option("--json", "as_json", is_flag=True)
def list_occurrences_cmd(obj: Ctx, agency_slug: str | None, year: int | None, as_json: bool) -> int:
    from ia_events.core.messages import fmt_datetime
    from ia_events.planning.plans import list_occurrences

    with obj.inst().db.read() as s:
        rows = list_occurrences(s, obj.actor, agency_slug=agency_slug, year=year)
    if as_json:
        emit_json([o.as_json() for o in rows])
    else:
        for o in rows:
            click.echo(f"{o.id:>6}  {fmt_datetime(o.starts_at)}  {o.agency_slug:<20} {o.title}")
    return EXIT_OK


@command(list_group, "subgoals")
@click.option("--agency", "agency_slug", metavar="SLUG", required=True)
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
def list_subgoals_cmd(obj: Ctx, agency_slug: str, year: int, as_json: bool) -> int:
    from ia_events.reporting.progress import subgoal_progress

    with obj.inst().db.read() as s:
        rows = subgoal_progress(s, obj.actor, agency_slug, year)
    if as_json:
        emit_json([g.as_json() for g in rows])
    else:
        for g in rows:
            click.echo(f"{g.id:>5}  {g.actual:>8g} / {g.target:<8g} {g.indicator:<18} {g.title}")
    return EXIT_OK


@command(list_group, "plans")
@click.option("--agency", "agency_slug", metavar="SLUG", required=True)
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
def list_plans_cmd(obj: Ctx, agency_slug: str, year: int, as_json: bool) -> int:
    """The agency's Aufgaben of the year (phase-spanning ones included)."""
    from ia_events.planning.plans import plans_for

    with obj.inst().db.read() as s:
        rows = plans_for(s, obj.actor, agency_slug, year)
    if as_json:
        emit_json([p.as_json() for p in rows])
    else:
        for p in rows:
            click.echo(
                f"{p.id:>5}  {p.years:<9} {p.status:<10} v{p.version:<3} "
                f"{','.join(p.fields):<14} {p.topic}"
            )
    return EXIT_OK


@command(list_group, "deadlines")
@click.option("--agency", "agency_slug", metavar="SLUG", required=True)
@click.option("--year", type=int, required=True)
@click.option("--today", "today_text", metavar="YYYY-MM-DD", help="Stichtag für „overdue“.")
@click.option("--json", "as_json", is_flag=True)
def list_deadlines_cmd(
    obj: Ctx, agency_slug: str, year: int, today_text: str | None, as_json: bool
) -> int:
    """The funding year's deadlines for one agency: due date (district), status, document."""
    from datetime import date

    from ia_events.core.messages import berlin
    from ia_events.planning.deadlines import for_year
    from storage.db import utcnow

    try:
        today = date.fromisoformat(today_text) if today_text else berlin(utcnow()).date()
    except ValueError as exc:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--today") from exc
    if not 2000 <= year <= 2100:
        raise click.BadParameter("ein Jahr zwischen 2000 und 2100", param_hint="--year")
    with obj.inst().db.read() as s:
        rows = for_year(s, obj.actor, year, agency_slug)
    if as_json:
        emit_json([r.as_json(today) for r in rows])
    else:
        for r in rows:
            click.echo(
                f"{r.deadline.district_due.isoformat()}  {r.status(today):<10} "
                f"{r.evidence_id or '':>6}  {r.deadline.title}"
            )
    return EXIT_OK


@command(list_group, "evidence")
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--year", type=int)
@click.option("--occurrence", "occurrence_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
def list_evidence_cmd(
    obj: Ctx, agency_slug: str | None, year: int | None, occurrence_id: int | None, as_json: bool
) -> int:
    from ia_events.archive.evidence import list_evidence

    with obj.inst().db.read() as s:
        rows = list_evidence(s, obj.actor, agency_slug, year, occurrence_id=occurrence_id)
    if as_json:
        emit_json([e.as_json() for e in rows])
    else:
        for e in rows:
            flag = " [gelöscht]" if e.deleted else (" [Sperre]" if e.legal_hold else "")
            seal = f" [versiegelt v{e.version}]" if e.sealed else ""
            click.echo(f"{e.id:>6}  {e.funding_year}  {e.kind:<18} {e.title}{seal}{flag}")
    return EXIT_OK


@command(list_group, "partners")
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--archived", "include_archived", is_flag=True, help="Archivierte Partner zeigen.")
@click.option("--json", "as_json", is_flag=True)
def list_partners_cmd(
    obj: Ctx, agency_slug: str | None, include_archived: bool, as_json: bool
) -> int:
    """Cooperation partners: [{id, name, type, activity_ids}]."""
    from ia_events.network.partners import list_partners

    with obj.inst().db.read() as s:
        rows = list_partners(s, obj.actor, agency_slug, include_archived=include_archived)
    if as_json:
        emit_json([p.as_json() for p in rows])
    else:
        for p in rows:
            linked = ",".join(str(a) for a in p.activity_ids) or "–"
            flag = " [archiviert]" if p.archived else ""
            click.echo(f"{p.id:>5}  {p.agency_slug:<20} {p.type:<36} {p.name}{flag}  ({linked})")
    return EXIT_OK


@command(list_group, "meetings")
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--year", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
def list_meetings_cmd(obj: Ctx, agency_slug: str | None, year: int | None, as_json: bool) -> int:
    """Network meetings: [{id, date, kind, title, partner_ids, minutes_evidence_ids}]."""
    from ia_events.network.meetings import list_meetings

    if year is not None and not 2000 <= year <= 2100:
        raise click.BadParameter("ein Jahr zwischen 2000 und 2100", param_hint="--year")
    with obj.inst().db.read() as s:
        rows = list_meetings(s, obj.actor, agency_slug, year)
    if as_json:
        emit_json([m.as_json() for m in rows])
    else:
        for m in rows:
            j = m.as_json()
            flag = " [abgesagt]" if m.cancelled else ""
            minutes = ",".join(str(e) for e in m.minutes_evidence_ids) or "–"
            click.echo(
                f"{m.id:>5}  {m.agency_slug:<20} {j['date']}  {m.kind:<18} {m.title}{flag}"
                f"  (Protokoll: {minutes})"
            )
    return EXIT_OK


@command(cli, "controlling")
@click.option(
    "--agency",
    "agency_slug",
    metavar="SLUG",
    default=None,
    help="Ohne: alle erreichbaren Agenturen und (Koordination) der Bezirk gesamt.",
)
@click.option("--year", type=int, required=True)
@click.option("--json", "as_json", is_flag=True, help="Die Zahlen als JSON ausgeben.")
@click.option("--csv", "csv_out", metavar="FILE", type=click.Path(dir_okay=False, writable=True))
@click.option("--xlsx", "xlsx_out", metavar="FILE", type=click.Path(dir_okay=False, writable=True))
def controlling_cmd(
    obj: Ctx,
    agency_slug: str | None,
    year: int,
    as_json: bool,
    csv_out: str | None,
    xlsx_out: str | None,
) -> int:
    """Online-Controlling figures of one agency and year (the same numbers in every format);
    without --agency every agency's and the district's."""
    from ia_events.reporting import controlling
    from storage.db import utcnow

    if not 2000 <= year <= 2100:
        raise click.BadParameter("ein Jahr zwischen 2000 und 2100", param_hint="--year")
    inst, now = obj.inst(), utcnow()  # one clock: every format counts the same dates
    with inst.db.read() as s:
        data = controlling.figures(s, obj.actor, year, agency_slug, now)
    if not data and agency_slug:  # known but deactivated: no controlling of its own any more
        click.echo(f"Fehler: Die Integrationsagentur „{agency_slug}“ ist nicht aktiv.", err=True)
        return EXIT_USAGE
    for fmt, out in (("csv", csv_out), ("xlsx", xlsx_out)):
        if out:
            _, _, body = controlling.export(inst, obj.actor, year, fmt, agency_slug, now)
            target = Path(out)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(body)
            tmp.replace(target)
            click.echo(f"Controlling-Tabelle geschrieben: {target}", err=as_json)
    if agency_slug is None:
        _controlling_all(obj.actor, data, year, as_json, bool(csv_out or xlsx_out))
        return EXIT_OK
    if as_json:
        agency = data[0]
        emit_json(
            {
                "agency": agency.slug,
                "year": agency.year,
                "rows": [f.as_json() for f in agency.rows],
            }
        )
    elif not (csv_out or xlsx_out):
        click.echo(";".join(controlling.HEADERS))
        for f in data[0].rows:
            click.echo(";".join("" if v is None else str(v) for v in f.row()))
    return EXIT_OK


def _controlling_all(actor: Actor, data: list[Any], year: int, as_json: bool, wrote: bool) -> None:
    """``controlling`` without --agency: each agency as with --agency (under "agencies"),
    and for whom sees every agency the district's sum under "district" (slug "bezirk")."""
    from ia_events.core.access import sees_all_agencies
    from ia_events.reporting import controlling

    whole = (
        controlling.district(data, year)
        if controlling.with_district(sees_all_agencies(actor), data, None)
        else None
    )
    if as_json:
        emit_json(
            {
                "year": year,
                "agencies": [
                    {"agency": a.slug, "year": a.year, "rows": [f.as_json() for f in a.rows]}
                    for a in data
                ],
                "district": None
                if whole is None
                else {
                    "agency": whole.slug,
                    "label": whole.name,
                    "year": whole.year,
                    "rows": [f.as_json() for f in whole.rows],
                },
            }
        )
    elif not wrote:
        click.echo(";".join(["Agentur", *controlling.HEADERS]))
        for a in [*data, *([whole] if whole else [])]:
            for f in a.rows:
                click.echo(";".join([a.slug, *("" if v is None else str(v) for v in f.row())]))


def parse_now(value: str | None, option: str = "--now") -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` (Europe/Berlin) or ISO 8601 with offset; None: now."""
    from ia_events.core.messages import BERLIN

    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("Zeit bitte als YYYY-MM-DDTHH:MM.", param_hint=option) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BERLIN)
    return moment


@command(cli, "seal-lists")
@click.option("--now", "now_text", metavar="YYYY-MM-DDTHH:MM", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes rendering lists (default: number of CPUs).",
)
def seal_lists_cmd(obj: Ctx, now_text: str | None, as_json: bool, workers: int | None) -> int:
    """Seal ended occurrences' attendance as participant lists (idempotent, for cron)."""

    from ia_events.attendance import sealing

    now = parse_now(now_text)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        import time

        if done == total or time.monotonic() - last[0] > 2:
            last[0] = time.monotonic()
            click.echo(f"Versiegelt: {done}/{total}", err=True)

    run = sealing.seal_due(
        obj.inst(), obj.actor, now=now, progress=progress, workers=workers or os.cpu_count() or 1
    )
    if as_json:
        emit_json([r.as_json() for r in run.results])
    else:
        for r in run.results:
            click.echo(
                f"{r.occurrence_id:>8}  Fassung {r.version}  Nachweis {r.evidence_id}  "
                f"{r.participants} Teilnahme(n)  {r.state}"
            )
        click.echo(f"{run.sealed} Liste(n) versiegelt.")
    for oid, code in run.failed:
        click.echo(f"Fehler: Termin {oid} nicht versiegelt ({code}).", err=True)
    return EXIT_PROBLEM if run.failed else EXIT_OK


@command(cli, "inspect")
@click.option("--agency", "agency_slug", metavar="SLUG", required=True)
@click.option("--year", type=int, required=True)
@click.option("--subgoal", "subgoal_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.option("--strict", is_flag=True, help="Exit 1 when a finding is a warning.")
def inspect_cmd(
    obj: Ctx, agency_slug: str, year: int, subgoal_id: int | None, as_json: bool, strict: bool
) -> int:
    """Completeness findings of an agency's year, as the Prüfung page shows them."""
    from ia_events.inspection.completeness import grace_of, inspect

    inst = obj.inst()
    with inst.db.read() as s:
        tree = inspect(s, obj.actor, agency_slug, year, subgoal_id, grace=grace_of(inst.settings))
    if as_json:
        emit_json([f.as_json() for f in tree.findings])
    else:
        for f in tree.findings:
            click.echo(f"{f.severity:<8} {f.code:<26} {f.object_type}:{f.object_id}  {f.text}")
        if not tree.findings:
            click.echo("Keine Hinweise: vollständig.")
    warned = any(f.severity == "warning" for f in tree.findings)
    return EXIT_PROBLEM if strict and warned else EXIT_OK


# -- volunteers (issue 6) ------------------------------------------------------------------------


@command(list_group, "volunteers")
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--year", type=int, help="Jahr der Stunden (Standard: laufendes Jahr).")
@click.option("--json", "as_json", is_flag=True)
def list_volunteers_cmd(obj: Ctx, agency_slug: str | None, year: int | None, as_json: bool) -> int:
    """Volunteers with their hours in the year: [{id, name, agency, hours}]."""
    from ia_events.volunteers.hours import list_with_hours

    inst = obj.inst()
    with inst.db.read() as s:
        rows = list_with_hours(s, inst.keys, obj.actor, agency_slug=agency_slug, year=year)
    if as_json:
        emit_json([r.as_json() for r in rows])
    else:
        for r in rows:
            state = "" if r.active else " [deaktiviert]"
            click.echo(f"{r.id:>5}  {r.agency:<20} {r.hours:>8.2f} h  {r.name}{state}")
    return EXIT_OK


@command(cli, "volunteer-certificate")
@click.argument("volunteer_id", type=int)
@click.option("--year", type=int, required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def volunteer_certificate_cmd(obj: Ctx, volunteer_id: int, year: int, out: str) -> int:
    """Write the Ehrenamtsnachweis (PDF) of VOLUNTEER_ID for YEAR to FILE."""

    from ia_events.volunteers.certificates import volunteer_certificate

    inst = obj.inst()
    with inst.db.write() as s:
        _name, pdf = volunteer_certificate(s, inst.keys, obj.actor, volunteer_id, year)
    Path(out).write_bytes(pdf)
    click.echo(f"Ehrenamtsnachweis {year} für Eintrag {volunteer_id} geschrieben: {out}")
    return EXIT_OK


@command(cli, "ehrenamtskarte-threshold")
@click.option("--hours-year", type=float, help="Stunden pro Jahr (Standard 200).")
@click.option("--hours-week", type=float, help="Stunden pro Woche (Standard 4).")
def card_threshold_cmd(obj: Ctx, hours_year: float | None, hours_week: float | None) -> int:
    """Show or set the Ehrenamtskarte NRW threshold (check the state's current rule)."""
    from ia_events.core.messages import fmt_count
    from ia_events.volunteers.registry import card_threshold, set_card_threshold

    inst = obj.inst()
    with inst.db.write() as s:
        current = card_threshold(s)
        if hours_year is not None or hours_week is not None:
            current = set_card_threshold(
                s,
                obj.actor,
                hours_per_year=hours_year if hours_year is not None else current.hours_per_year,
                hours_per_week=hours_week if hours_week is not None else current.hours_per_week,
            )
    click.echo(
        f"Ehrenamtskarte NRW: {fmt_count(current.hours_per_year, 'Stunde')} im Jahr "
        f"oder {fmt_count(current.hours_per_week, 'Stunde')} pro Woche."
    )
    return EXIT_OK


# -- evidence ------------------------------------------------------------------------------------


@command(evidence_group, "add")
@click.option("--agency", "agency_slug", metavar="SLUG", required=True)
@click.option("--year", type=int, required=True)
@click.option("--kind", required=True)
@click.option("--occurrence", "occurrence_id", type=int)
@click.option("--subgoal", "subgoal_ids", type=int, multiple=True)
@click.option("--title", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, readable=True)
)
def evidence_add_cmd(
    obj: Ctx,
    agency_slug: str,
    year: int,
    kind: str,
    occurrence_id: int | None,
    subgoal_ids: tuple[int, ...],
    title: str | None,
    as_json: bool,
    files: tuple[str, ...],
) -> int:
    """Archive FILE... as evidence (encrypted, content-addressed)."""
    from contextlib import ExitStack

    from ia_events.archive.evidence import add_many
    from ia_events.archive.filetypes import check

    inst = obj.inst()
    for name in files:  # refuse the whole batch before storing anything
        with open(name, "rb") as fh:
            check(fh, Path(name).name, inst.settings.max_upload_bytes)
    if kind == "signed_list_scan" and occurrence_id is None and not subgoal_ids:
        return _file_scans(obj, agency_slug, year, title, as_json, files)
    out = []
    for start in range(0, len(files), 32):  # batches share one durable flush
        batch = [Path(n) for n in files[start : start + 32]]
        with ExitStack() as stack:
            handles = [(p.name, stack.enter_context(open(p, "rb"))) for p in batch]
            views = add_many(
                inst,
                obj.actor,
                handles,  # type: ignore[arg-type]  # BufferedReader is a BinaryIO
                kind=kind,
                agency_slug=agency_slug,
                funding_year=year,
                title=title if len(files) == 1 else None,
                occurrence_id=occurrence_id,
                subgoal_ids=list(subgoal_ids),
            )
        for path, view in zip(batch, views, strict=True):
            out.append(view)
            for warning in view.warnings:
                click.echo(f"Warnung ({path.name}): {warning}", err=True)
            if not as_json:
                click.echo(f"{view.id}  {view.sha256}  {path.name}")
    if as_json:
        emit_json([v.as_json() for v in out])
    return EXIT_OK


def _file_scans(
    obj: Ctx, agency_slug: str, year: int, title: str | None, as_json: bool, files: tuple[str, ...]
) -> int:
    """Scans of signed lists without --occurrence: filed page by page by their QR code."""
    from pathlib import Path

    from ia_events.archive.scans import file_scans
    from ia_events.attendance.tokens import occurrence_from_code

    inst = obj.inst()
    filed = file_scans(
        inst,
        obj.actor,
        [(Path(n).name, Path(n).read_bytes()) for n in files],
        agency_slug=agency_slug,
        year=year,
        read_code=functools.partial(occurrence_from_code, inst.keys),
        title=title if len(files) == 1 else None,
    )
    if as_json:
        emit_json([p.as_json() for p in filed])
    else:
        for p in filed:
            where = f"Termin {p.occurrence_id}" if p.occurrence_id else "nicht zugeordnet"
            click.echo(f"{p.filename} Seite {p.page}: {where} (Nachweis {p.evidence.id})")
    return EXIT_OK


# -- system ------------------------------------------------------------------------------------


@command(cli, "verify")
def verify_cmd(obj: Ctx) -> int:
    """Re-read every blob and check the audit chain; exit 1 naming each fault."""
    from ia_events.archive.fixity import verify
    from ia_events.core.messages import fmt_count, fmt_size

    report = verify(obj.inst(), obj.actor)
    for f in report.findings:
        click.echo(f"FEHLER {f.line()}")
    click.echo(
        f"{fmt_count(report.blobs_checked, 'Datei')} ({fmt_size(report.bytes_checked)}) und "
        f"{fmt_count(report.events_checked, 'Audit-Ereignis')} geprüft; "
        f"{fmt_count(len(report.findings), 'Fehler')}."
    )
    if report.leftovers_cleared:
        click.echo(f"{report.leftovers_cleared} Reste abgebrochener Uploads entfernt.")
    return EXIT_OK if report.ok else EXIT_PROBLEM


@command(keys_group, "public")
def keys_public_cmd(obj: Ctx) -> int:
    """Print the signing public key (PEM)."""
    click.echo(obj.inst().keys.public_pem(), nl=False)
    return EXIT_OK


# -- inspection (issue 7) -------------------------------------------------------------------------


@command(cli, "export-bundle")
@click.option("--agency", "agency_slug", metavar="SLUG", required=True)
@click.option("--year", type=int, required=True)
@click.option("--subgoal", "subgoal_id", type=int, default=None)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def export_bundle_cmd(
    obj: Ctx, agency_slug: str, year: int, subgoal_id: int | None, out: str
) -> int:
    """Write the signed inspection bundle (BagIt in a ZIP) for an agency and year."""
    from ia_events.core.messages import fmt_count, fmt_size
    from ia_events.inspection.bundle import export_bundle

    result = export_bundle(
        obj.inst(), obj.actor, agency_slug, year, Path(out), subgoal_id=subgoal_id
    )
    click.echo(
        f"{fmt_count(result.files, 'Datei')} ({fmt_size(result.payload_bytes)}), "
        f"{fmt_count(result.findings, 'Hinweis')} zur Vollständigkeit."
    )
    click.echo(f"SHA-256 {result.sha256}")
    click.echo(str(result.path))
    return EXIT_OK


@command(cli, "verify-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    default=None,
    help="PEM file of the signing key known to you (default: this installation's key).",
)
def verify_bundle_cmd(obj: Ctx, file: str, public_key: str | None) -> int:
    """Check every checksum and the signature of a bundle; exit 1 naming each change."""
    from ia_events.core.messages import fmt_count
    from ia_events.inspection.bundle import load_public_key, verify_bundle

    if public_key:
        key = load_public_key(Path(public_key).read_bytes())
    else:
        key = obj.inst().keys.public_key
    check = verify_bundle(Path(file), key)
    for problem in check.problems:
        click.echo(f"FEHLER {problem}")
    click.echo(
        f"{fmt_count(check.files_checked, 'Datei')} geprüft; Signatur "
        f"{'gültig' if check.signature_ok else 'UNGÜLTIG'} (Schlüssel {check.key_fingerprint})."
    )
    if check.ok:
        click.echo("Das Prüfpaket ist vollständig und unverändert.")
        return EXIT_OK
    click.echo(f"Das Prüfpaket ist NICHT intakt: {fmt_count(len(check.problems), 'Abweichung')}.")
    return EXIT_PROBLEM


# -- check-in (issue 4) -------------------------------------------------------------------------


@command(cli, "checkin-link")
@click.argument("occurrence_id", type=int)
@click.option("--purpose", type=click.Choice(["participant", "volunteer"]), default="participant")
@click.option("--base-url", metavar="URL", help="Default: IA_EVENTS_BASE_URL.")
def checkin_link_cmd(obj: Ctx, occurrence_id: int, purpose: str, base_url: str | None) -> int:
    """Print the check-in URL of an occurrence (the URL is the last line)."""
    from ia_events.attendance import checkin
    from ia_events.core.messages import fmt_datetime

    inst = obj.inst()
    with inst.db.read() as s:
        url = checkin.occurrence_link(
            s,
            inst.keys,
            obj.actor,
            occurrence_id,
            base_url or inst.settings.base_url,
            purpose=purpose,
        )
        target = checkin.resolve(s, inst.keys, url.rsplit("t=", 1)[1])
    if target.starts_at:
        click.echo(f"{target.title}, {fmt_datetime(target.starts_at)} – Zustand: {target.state}")
    click.echo(url)
    return EXIT_OK


@command(cli, "feed-link")
@click.option("--agency", "agency_slug", required=True, metavar="SLUG")
@click.option("--kind", type=click.Choice(["occurrences", "deadlines"]), required=True)
@click.option("--base-url", metavar="URL", help="Default: IA_EVENTS_BASE_URL.")
def feed_link_cmd(obj: Ctx, agency_slug: str, kind: str, base_url: str | None) -> int:
    """Print the URL of an agency's calendar feed, creating it if needed (URL on the last line)."""
    from ia_events.planning import calendar_feeds

    inst = obj.inst()
    with inst.db.write() as s:
        feed = calendar_feeds.standing_feed(
            s, inst.keys, obj.actor, agency_slug, kind, base_url or inst.settings.base_url
        )
    label = calendar_feeds.KIND_LABELS[calendar_feeds.FeedKind(feed.kind)]
    click.echo(f"{label} ({agency_slug}): {'neu angelegt' if feed.created else 'besteht schon'}")
    click.echo(feed.url)
    return EXIT_OK


@command(list_group, "attendance")
@click.option("--occurrence", "occurrence_id", type=int, required=True, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
def list_attendance_cmd(obj: Ctx, occurrence_id: int, as_json: bool) -> int:
    """Valid (not undone) attendances of an occurrence."""
    from ia_events.attendance import records

    with obj.inst().db.read() as s:
        rows = records.list_attendance(s, None, obj.actor, occurrence_id)
    if as_json:
        emit_json([r.as_json() for r in rows])
    else:
        for r in rows:
            click.echo(f"{r.id:>8}  {r.recorded_at.isoformat()}  {r.method:<12} {r.count}")
    return EXIT_OK


@command(list_group, "scans")
@click.option("--occurrence", "occurrence_id", type=int, required=True, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
def list_scans_cmd(obj: Ctx, occurrence_id: int, as_json: bool) -> int:
    """Every check-in attempt of an occurrence, denied and undone ones included."""
    from ia_events.attendance import records

    with obj.inst().db.read() as s:
        rows = records.list_scans(s, obj.actor, occurrence_id)
    if as_json:
        emit_json([r.as_json() for r in rows])
    else:
        for r in rows:
            flag = " [rückgängig]" if r.undone else ""
            click.echo(f"{r.id:>8}  {r.received_at.isoformat()}  {r.method:<12} {r.reason}{flag}")
    return EXIT_OK


@command(cli, "participant-list")
@click.argument("occurrence_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), metavar="FILE.pdf")
@click.option("--base-url", metavar="URL", help="For the QR code; default IA_EVENTS_BASE_URL.")
def participant_list_cmd(obj: Ctx, occurrence_id: int, out: str, base_url: str | None) -> int:
    """Write the participant list (PDF) of an occurrence."""

    from ia_events.attendance import lists

    inst = obj.inst()
    with inst.db.read() as s:
        data = lists.participant_list(
            s, inst.keys, obj.actor, occurrence_id, base_url or inst.settings.base_url
        )
    target = Path(out)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    click.echo(f"Teilnehmerliste geschrieben: {target} ({len(data) // 1024} KB)")
    return EXIT_OK


# -- entry point --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="ia-events", standalone_mode=False)
        return int(result or 0)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return EXIT_USAGE
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Abgebrochen.", err=True)
        return EXIT_PROBLEM
    except Exception as exc:
        failure = classify(exc)
        click.echo(f"Fehler: {failure.message}", err=True)
        if os.environ.get("IA_EVENTS_DEBUG") and not failure.expected:
            traceback.print_exc()
        return failure.exit_code
