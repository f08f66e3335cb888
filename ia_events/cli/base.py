"""What every ``ia-events`` command shares: the context (settings, installation, actor),
the ``command`` decorator that adds ``--actor``, JSON output, the command groups.

Imports nothing heavy at module level: ``ia-events --help`` must start quickly;
each command imports the services it calls.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ia_events.core.access import Actor
    from ia_events.core.installation import Installation, Settings

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


class Ctx:
    def __init__(self, actor_name: str | None) -> None:
        self.actor_name = actor_name or "system:cli"
        self._inst: Installation | None = None

    @property
    def actor(self) -> Actor:
        from ia_events.core.access import Actor

        return Actor.cli(self.actor_name)

    @property
    def settings(self) -> Settings:
        from ia_events.core.installation import Settings

        return Settings.from_env()

    def inst(self) -> Installation:
        from ia_events.core.installation import Installation

        if self._inst is None:
            self._inst = Installation.open(self.settings)
        return self._inst


def _set_actor(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        # The root group always creates the Ctx before any option callback runs.
        ctx.find_object(Ctx).actor_name = value  # type: ignore[union-attr]


actor_option = click.option(
    "--actor",
    metavar="NAME",
    expose_value=False,
    callback=_set_actor,
    is_eager=True,
    help="Name recorded in the audit log (default system:cli).",
)


def command(group: click.Group, name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """A subcommand that accepts ``--actor`` and gets the Ctx as first argument."""

    def deco(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        @click.pass_obj
        def wrapper(obj: Ctx, *args: Any, **kw: Any) -> Any:
            return fn(obj, *args, **kw)

        return group.command(name, **kwargs)(actor_option(wrapper))

    return deco


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--actor",
    metavar="NAME",
    default=None,
    help="Name recorded in the audit log (default system:cli).",
)
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    """ia-events: Angebote, Teilnahme und Nachweise der Integrationsagenturen."""
    ctx.obj = Ctx(actor)


user_group = click.Group("user", help="Konten verwalten.")
cli.add_command(user_group)


list_group = click.Group("list", help="Daten auflisten (mit --json maschinenlesbar).")
cli.add_command(list_group)


evidence_group = click.Group("evidence", help="Nachweise archivieren.")
cli.add_command(evidence_group)


keys_group = click.Group("keys", help="Schlüssel.")
cli.add_command(keys_group)
