"""``ia-events notify [--now YYYY-MM-DDTHH:MM] [--dry-run] [--json]`` (contract).

Enqueues the scheduled messages due at ``--now`` (default: now; a time
without offset is Europe/Berlin), then sends what the outbox holds through
``IA_EVENTS_SMTP_URL``. Without that setting nothing is sent and the messages
wait (the admin's System page shows them). ``--dry-run`` changes nothing and
lists what would be enqueued and sent. Exit 1 when a message failed for good
or became unclear in this run; 2 for bad usage. For cron: every 5 minutes.
"""

from __future__ import annotations

from datetime import datetime

import click

from ia_events.cli.base import EXIT_OK, EXIT_PROBLEM, Ctx, cli, command, emit_json


def parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    from ia_events.core.messages import BERLIN

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"„{value}“ ist keine Zeit (YYYY-MM-DDTHH:MM).", param_hint="--now"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BERLIN)


@command(cli, "notify")
@click.option("--now", "now_text", metavar="YYYY-MM-DDTHH:MM", help="Zeitpunkt (Standard: jetzt).")
@click.option("--dry-run", is_flag=True, help="Nichts ändern, nur anzeigen.")
@click.option("--json", "as_json", is_flag=True)
def notify_cmd(obj: Ctx, now_text: str | None, dry_run: bool, as_json: bool) -> int:
    """Send the outbox's due e-mail (and enqueue reminders, deadlines, digests)."""
    from ia_events.notify import delivery, mail

    now = parse_now(now_text)
    cfg = mail.config_from_env()  # InvalidInput (exit 2) names a malformed setting
    report = delivery.run(obj.inst(), now, dry_run=dry_run, cfg=cfg)
    if as_json:
        emit_json(report.as_json())
    else:
        if report.smtp is None:
            click.echo(
                "Kein Mailserver eingerichtet (IA_EVENTS_SMTP_URL): es wird nichts gesendet."
            )
        else:
            click.echo(f"Mailserver: {report.smtp}")
        verb = "würden eingereiht" if dry_run else "neu eingereiht"
        click.echo(f"{report.enqueued} Nachrichten {verb}.")
        for label, ids in (
            ("gesendet", report.sent),
            ("später erneut (vorübergehender Fehler)", report.retry),
            ("endgültig fehlgeschlagen", report.failed),
            ("unklar, zur Prüfung", report.review),
            ("übersprungen (keine Adresse/abbestellt)", report.skipped),
            ("nach Abbruch wieder eingereiht", report.recovered),
        ):
            if ids:
                click.echo(f"{len(ids)} {label}: " + ", ".join(str(i) for i in ids))
        click.echo(f"{report.pending} Nachrichten warten auf den Versand.")
    return EXIT_PROBLEM if (report.failed or report.review) else EXIT_OK
