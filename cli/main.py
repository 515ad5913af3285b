"""The `codedrop` command: the composition root that runs the parts and the admin tasks.

`codedrop run` runs everything in one process on the embedded default (API + scheduler, and the
bots whose tokens are set); each part can also run alone (`api`, `bot telegram`, `bot discord`,
`scheduler`) for a scaled-out deployment. This module only assembles the command group: the
commands live by group in `cli/commands/`, every process runs in the one context of
`cli/runtime.py` (database and services opened once, parts started and stopped in order), and
the parts themselves are in `cli/parts.py`.
"""

from __future__ import annotations

import click
from pydantic import ValidationError

from cli.commands import accounts, jobs, schema, serving
from cli.commands.config import settings_table as settings_table
from cli.commands.config import show_settings
from domain.settings import Settings

# the commands that run one part of codedrop as its own process
PARTS_ALONE = {"api", "bot", "scheduler"}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="codedrop", prog_name="codedrop")
def cli() -> None:
    """codedrop: fair, one-per-person distribution of single-use promo codes.

    \b
    Shell completion (bash; zsh and fish alike with zsh_source / fish_source):
      eval "$(_CODEDROP_COMPLETE=bash_source codedrop)"
    """
    part = click.get_current_context().invoked_subcommand
    if part in PARTS_ALONE:
        warn_without_shared_events(part)


def warn_without_shared_events(part: str) -> None:
    """Say loudly that a part run alone sees no other process's events without Redis."""
    try:
        settings = Settings()
    except ValidationError:
        return  # the command itself reports the configuration error
    if settings.redis_url:
        return
    message = (
        f"WARNING: `codedrop {part}` runs as its own process but CODEDROP_REDIS_URL is not set:"
        " events stay inside this process, so it does not see what the other parts do"
        " (claims, uploads and sell-outs made through the API or a bot: Discord drop counts,"
        " waitlist notices, owner notices and the dashboard's live stats go stale). Set"
        " CODEDROP_REDIS_URL to the same Redis on every part, or run them together with"
        " `codedrop run`."
    )
    click.secho(message, fg="yellow", bold=True, err=True)


for command in [
    *serving.COMMANDS,
    jobs.jobs,
    *schema.COMMANDS,
    *accounts.COMMANDS,
    show_settings,
]:
    cli.add_command(command)


def _whole_short_help(group: click.Group) -> None:
    """`--help` lists each command with its whole first line, wrapped, never cut with "...".

    click shortens a docstring's first sentence to fit the terminal; a short help of its
    own is shown whole (and wrapped by the formatter).
    """
    for command in group.commands.values():
        if command.short_help is None and command.help:
            command.short_help = command.help.strip().split("\n\n")[0].replace("\n", " ")
        if isinstance(command, click.Group):
            _whole_short_help(command)


_whole_short_help(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
