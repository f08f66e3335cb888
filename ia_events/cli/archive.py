"""CLI commands of the evidence archive (contract: docs/design.md section 5).

``evidence hold`` / ``evidence release`` / ``evidence holds``, ``list deletions``,
``retention run``, ``backup``, ``restore``, ``keys rotate`` and ``keys status``.
Registered on the groups of ``ia_events.cli.base``; parsing and printing only, the
work is done by ``retention``, ``backup`` and ``subjects``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from ia_events.cli.base import (
    EXIT_OK,
    Ctx,
    cli,
    command,
    emit_json,
    evidence_group,
    keys_group,
    list_group,
)


def _parse_hold_ref(value: str) -> tuple[str, int]:
    """ "H12" / "hold:12" name a hold; a plain number names an evidence item."""
    raw = value.strip()
    low = raw.lower()
    for prefix in ("hold:", "h"):
        if low.startswith(prefix) and low[len(prefix) :].isdigit():
            return "hold", int(low[len(prefix) :])
    if raw.isdigit():
        return "evidence", int(raw)
    raise click.BadParameter(f"„{value}“ ist weder eine Nachweis-ID noch eine Sperre (H<Nr.>).")


@command(evidence_group, "hold")
@click.argument("evidence_id", required=False, type=int)
@click.option("--occurrence", "occurrence_id", type=int)
@click.option("--subgoal", "subgoal_id", type=int)
@click.option("--agency", "agency_slug", metavar="SLUG")
@click.option("--year", type=int)
@click.option("--reason", required=True)
@click.option("--case", "case_ref", metavar="REF")
@click.option("--json", "as_json", is_flag=True)
def evidence_hold_cmd(
    obj: Ctx,
    evidence_id: int | None,
    occurrence_id: int | None,
    subgoal_id: int | None,
    agency_slug: str | None,
    year: int | None,
    reason: str,
    case_ref: str | None,
    as_json: bool,
) -> int:
    """Put a legal hold on an item, an occurrence, a sub-goal or an agency-year."""
    from ia_events.archive.retention import set_hold
    from ia_events.core.messages import fmt_count

    given = [
        ("evidence", evidence_id),
        ("occurrence", occurrence_id),
        ("subgoal", subgoal_id),
        ("agency_year", agency_slug or year),
    ]
    scopes = [name for name, value in given if value is not None]
    if len(scopes) != 1 or (scopes == ["agency_year"] and not (agency_slug and year)):
        raise click.UsageError(
            "Genau einen Bereich angeben: ID, --occurrence, --subgoal oder --agency mit --year."
        )
    scope = scopes[0]
    scope_id = {"evidence": evidence_id, "occurrence": occurrence_id, "subgoal": subgoal_id}.get(
        scope
    )
    with obj.inst().db.write() as s:
        hold = set_hold(
            s,
            obj.actor,
            scope=scope,
            scope_id=scope_id,
            agency_slug=agency_slug if scope == "agency_year" else None,
            year=year if scope == "agency_year" else None,
            reason=reason,
            case_ref=case_ref,
        )
    _sync_holds(obj)
    if as_json:
        emit_json(hold.as_json())
    else:
        click.echo(
            f"{hold.ref}  Sperre gesetzt ({scope} {scope_id or f'{agency_slug} {year}'}), "
            f"{fmt_count(hold.items, 'Nachweis')} betroffen. "
            f"Freigabe: ia-events evidence release {hold.ref} "
            "--approved-by ZWEITE-PERSON"
        )
    return EXIT_OK


@command(evidence_group, "release")
@click.argument("ref")
@click.option("--approved-by", "approved_by", required=True, metavar="USER")
def evidence_release_cmd(obj: Ctx, ref: str, approved_by: str) -> int:
    """Release the hold(s) on evidence ID (or hold H<n>); a second person must approve."""
    from ia_events.archive.retention import release_for_evidence, release_hold
    from ia_events.core.models import Evidence, LegalHold

    kind, number = _parse_hold_ref(ref)
    with obj.inst().db.write() as s:
        unknown_item = kind == "evidence" and s.get(Evidence, number) is None
        if unknown_item and s.get(LegalHold, number) is not None:
            kind = "hold"  # no such item, but a hold with that number
        if kind == "hold":
            released = [release_hold(s, obj.actor, number, approved_by)]
        else:
            released = release_for_evidence(s, obj.actor, number, approved_by)
    _sync_holds(obj)
    for h in released:
        click.echo(f"{h.ref}  Sperre freigegeben (freigegeben von {h.approved_by}).")
    return EXIT_OK


def _sync_holds(obj: Ctx) -> None:
    """The objects' legal holds follow the app's (S3 Object Lock; no-op locally)."""
    from ia_events.archive.retention import sync_object_holds

    problem = sync_object_holds(obj.inst())
    if problem:
        click.echo(
            "Hinweis: Der Legal Hold am Objekt im Archiv konnte noch nicht gesetzt werden "
            f"({problem}); „ia-events verify“ holt das nach.",
            err=True,
        )


@command(evidence_group, "holds")
@click.option("--all", "show_all", is_flag=True, help="Auch freigegebene Sperren.")
@click.option("--json", "as_json", is_flag=True)
def evidence_holds_cmd(obj: Ctx, show_all: bool, as_json: bool) -> int:
    """List legal holds."""
    from ia_events.archive.retention import list_holds

    with obj.inst().db.read() as s:
        holds = list_holds(s, obj.actor, active_only=not show_all)
    if as_json:
        emit_json([h.as_json() for h in holds])
    else:
        for h in holds:
            state = "frei" if h.released_at else "aktiv"
            where = h.scope_id if h.scope_id is not None else h.funding_year
            click.echo(f"{h.ref:<6} {state:<6} {h.agency_slug:<20} {h.scope} {where}: {h.reason}")
    return EXIT_OK


@command(list_group, "deletions")
@click.option("--json", "as_json", is_flag=True)
def list_deletions_cmd(obj: Ctx, as_json: bool) -> int:
    """Deletion records (kept for good)."""
    from ia_events.archive.retention import list_deletions

    with obj.inst().db.read() as s:
        rows = list_deletions(s, obj.actor)
    if as_json:
        emit_json([r.as_json() for r in rows])
    else:
        for r in rows:
            what = f"Nachweis {r.evidence_id}" if r.evidence_id else f"{r.object_type} ×{r.count}"
            click.echo(f"{r.id:>5}  {r.deleted_at.isoformat()}  {what:<18} {r.rule}")
    return EXIT_OK


retention_group = click.Group("retention", help="Aufbewahrungsfristen.")
cli.add_command(retention_group)


@command(retention_group, "run")
@click.option("--dry-run", is_flag=True, help="Nur anzeigen, was gelöscht würde.")
@click.option("--today", metavar="YYYY-MM-DD", default=None)
def retention_run_cmd(obj: Ctx, dry_run: bool, today: str | None) -> int:
    """Delete (crypto-shred) what is past its retention end and not on hold."""
    from ia_events.archive import retention
    from ia_events.core.messages import fmt_count

    try:
        day = date.fromisoformat(today) if today else date.today()
    except ValueError as exc:
        raise click.BadParameter("Datum bitte als YYYY-MM-DD.", param_hint="--today") from exc
    inst = obj.inst()
    if dry_run:
        with inst.db.read() as s:
            plan = retention.propose(s, obj.actor, day)
        for c in plan.items:
            click.echo(c.line(done=False))
        for line in plan.personal:
            click.echo(f"# {line}", err=True)
        if plan.held:
            click.echo(f"# wegen Sperre behalten: {', '.join(map(str, plan.held))}", err=True)
        n = len(plan.items)
        verb = "würde" if n == 1 else "würden"
        click.echo(f"# {fmt_count(n, 'Nachweis')} {verb} gelöscht (Probelauf).", err=True)
        return EXIT_OK
    result = retention.run_deletions(
        inst, obj.actor, day, on_item=lambda c: click.echo(c.line(done=True))
    )
    for line in result.personal:
        click.echo(f"# {line}", err=True)
    for evidence_id, until in result.still_locked:
        click.echo(
            f"# Nachweis {evidence_id}: Schlüssel vernichtet; die verschlüsselte Datei bleibt "
            f"durch die Objektsperre bis {until.date().isoformat()} im Archiv und wird danach "
            "vom Aufbewahrungslauf entfernt.",
            err=True,
        )
    click.echo(
        f"# {fmt_count(len(result.deleted), 'Nachweis')} gelöscht, "
        f"{fmt_count(result.files_removed, 'Datei')} entfernt.",
        err=True,
    )
    return EXIT_OK


@command(cli, "backup")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--no-keys", is_flag=True, help="Schlüssel nicht in die Sicherung legen.")
def backup_cmd(obj: Ctx, directory: str, no_keys: bool) -> int:
    """Write a consistent backup (database, blobs, checkpoints; keys separately)."""
    from ia_events.archive.backup import KEYS_DIR, backup
    from ia_events.core.messages import fmt_count, fmt_size

    res = backup(obj.inst(), obj.actor, Path(directory), include_keys=not no_keys)
    click.echo(f"Sicherung: {res.directory}")
    click.echo(f"Datenbank: {res.method}")
    if obj.inst().blobs.kind == "local":
        click.echo(f"Archiv:    {fmt_count(res.blobs, 'Datei')} ({fmt_size(res.bytes)})")
    else:
        click.echo(
            "Gesichert: Datenbank, Prüfpunkte" + (", Schlüssel" if res.keys_included else "")
        )
        click.echo(f"Archiv:    {res.archive_note}.")
    if res.keys_included:
        click.echo(
            f"SCHLÜSSEL: {res.directory / KEYS_DIR} – bitte getrennt von der Sicherung "
            "aufbewahren und dort löschen!",
            err=True,
        )
    return EXIT_OK


@command(cli, "restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--keys", "keys_dir", type=click.Path(exists=True, file_okay=False))
def restore_cmd(obj: Ctx, directory: str, keys_dir: str | None) -> int:
    """Restore a backup into an empty data dir; run `ia-events verify` afterwards."""
    from ia_events.archive.backup import restore
    from ia_events.core.messages import fmt_count

    manifest = restore(Path(directory), obj.settings, Path(keys_dir) if keys_dir else None)
    click.echo(
        f"Wiederhergestellt: Sicherung vom {manifest['created_at']} "
        f"({fmt_count(manifest['blobs'], 'Datei')}) nach {obj.settings.data_dir}."
    )
    click.echo("Bitte jetzt `ia-events verify` ausführen.")
    return EXIT_OK


@command(keys_group, "rotate")
def keys_rotate_cmd(obj: Ctx) -> int:
    """New key-encryption key; rewrap every data key (files stay as they are)."""
    from ia_events.archive.backup import rotate_keys

    res = rotate_keys(obj.inst(), obj.actor)
    click.echo(
        f"Neuer Schlüssel {res.new_kek}: {res.blobs} Datei-Schlüssel und {res.data_keys} "
        "Personendaten-Schlüssel neu verpackt. Bitte die Schlüssel neu sichern."
    )
    return EXIT_OK


@command(keys_group, "status")
def keys_status_cmd(obj: Ctx) -> int:
    """Which key-encryption keys exist and how many data keys each still wraps."""
    from ia_events.archive.backup import key_status

    st = key_status(obj.inst(), obj.actor)
    for kek in st.kek_ids:
        mark = "*" if kek == st.current_kek else " "
        click.echo(f"{mark} KEK {kek}: {st.wrapped_by.get(kek, 0)} verpackte Schlüssel")
    return EXIT_OK


archive_group = click.Group("archive", help="Das Archiv der Nachweise (Ablageort).")
cli.add_command(archive_group)


@command(archive_group, "migrate")
@click.option(
    "--to",
    "to_url",
    required=True,
    metavar="URL",
    help="s3://BUCKET?endpoint=URL&region=R, oder local für den Archivordner im Datenverzeichnis.",
)
def archive_migrate_cmd(obj: Ctx, to_url: str) -> int:
    """Move the archive (local folder <-> S3); afterwards set IA_EVENTS_ARCHIVE_URL."""
    from ia_events.archive.migrate import migrate

    res = migrate(
        obj.inst(),
        obj.actor,
        to_url,
        progress=lambda i, n: click.echo(f"{i}/{n}", err=True) if i % 100 == 0 or i == n else None,
    )
    click.echo(
        f"{res.blobs} Dateien ({res.bytes / 1048576:.1f} MiB) von {res.source} nach "
        f"{res.target} kopiert und geprüft; die Datensätze nennen jetzt das neue Archiv."
    )
    target = "" if to_url.strip().lower() == "local" else to_url
    click.echo(
        f"Jetzt IA_EVENTS_ARCHIVE_URL={target!s} setzen (leer: lokaler Ordner), die App neu "
        "starten und „ia-events verify“ ausführen. Das alte Archiv bleibt unverändert; "
        "erst nach bestandener Prüfung entfernen (gesperrte Objekte erst nach Fristende)."
    )
    return EXIT_OK
