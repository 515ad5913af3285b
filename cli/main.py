"""The `codedrop` command: the composition root that runs the parts and the admin tasks.

`codedrop run` runs everything in one process on the embedded default (API + scheduler, and the
bots whose tokens are set); each part can also run alone (`api`, `bot telegram`, `bot discord`,
`scheduler`) for a scaled-out deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from tortoise.exceptions import DBConnectionError, OperationalError

from cli import parts
from cli.parts import build_notifiers, close_notifiers
from cli.runtime import Part, Runtime
from domain import access, audit, developers
from domain.adapters import db, logs
from domain.adapters.bootstrap import Services, bootstrap
from domain.audit import AuditChannel
from domain.errors import DomainError
from domain.settings import PLACEHOLDER_SECRETS, Settings, value_sources

log = logging.getLogger("codedrop")
T = TypeVar("T")


def settings_help() -> str:
    """Every setting as its environment variable, for `--help` and the README."""
    lines = ["Configuration (environment variables, or a .env file in the working folder):"]
    for name, field in Settings.model_fields.items():
        default = field.default if field.default_factory is None else field.default_factory()  # type: ignore[call-arg]
        if hasattr(default, "get_secret_value"):
            default = "(secret)"
        lines.append(f"  CODEDROP_{name.upper()}")
        lines.append(f"      {field.description or ''} [default: {default}]")
    return "\b\n" + "\n".join(lines)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(
            "invalid configuration: "
            + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
            )
        ) from None


def setup_logging(settings: Settings) -> None:
    """codedrop's log handler (CODEDROP_LOG_FORMAT, request ids; domain/adapters/logs.py)."""
    logs.configure(settings)


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    except (DBConnectionError, OperationalError) as exc:
        raise click.ClickException(database_problem(exc)) from None


def database_problem(exc: Exception) -> str:
    """One line for an operator: which database, what went wrong, what to do (no password)."""
    where = db.describe_database(load_settings())
    # the driver's own error names host and port but never the password (tortoise's own
    # message may print its whole connection template, so it is not shown)
    cause = exc.__cause__ or exc.__context__
    reason = str(cause.args[-1] if cause is not None and cause.args else exc).splitlines()[0]
    if isinstance(exc, DBConnectionError):
        check = "it is running and " if load_settings().is_mysql else ""
        return (
            f"cannot reach the database, {where}: {reason}. Check that {check}"
            "CODEDROP_DATABASE_URL names it."
        )
    if "doesn't exist" in reason or "no such table" in reason:
        return f"the database has no codedrop tables yet ({where}): run `codedrop migrate` first"
    return f"database error, {where}: {reason}"


async def with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the database open (the embedded SQLite file is migrated first)."""
    await db.init_db(settings, migrate=not settings.is_mysql)
    audit.set_channel(AuditChannel.CLI)  # what this command changes is audited as `cli`
    try:
        return await work()
    finally:
        await db.close_db()


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


# the commands that run one part of codedrop as its own process
PARTS_ALONE = {"api", "bot", "scheduler"}


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


# ---------------------------------------------------------------- running the parts


def serve(
    settings: Settings,
    build: Callable[[Services], dict[str, Part]],
    started: Callable[[Runtime], None] | None = None,
) -> None:
    """Run parts until SIGTERM/SIGINT (graceful stop, exit 0) or a part's failure (exit 1)."""
    runtime = Runtime(settings)
    status = asyncio.run(runtime.run(build, started=started))
    if status:
        sys.exit(status)


def command_name() -> str:
    """How the user can call this command again (`.venv/bin/codedrop` when run by make)."""
    invoked = Path(sys.argv[0])
    if invoked.name != "codedrop" or shutil.which("codedrop") == str(invoked.resolve()):
        return "codedrop"
    try:
        return str(invoked.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(invoked)


def announce(settings: Settings, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    click.echo(
        f"\ncodedrop is running on {base}\n"
        f"  dashboard: {base}/dashboard   API docs: {base}/docs\n"
        f"  database: {db.describe_database(settings)}\n"
        f"  events/rate limits: {'Redis' if settings.redis_url else 'in-process'}; "
        f"objects: {'S3 bucket ' + settings.s3_bucket if settings.s3_bucket else str(settings.storage_dir)}\n"
        f"  telegram bot: {'on' if settings.telegram_bot_token else 'off (set CODEDROP_TELEGRAM_BOT_TOKEN)'}; "
        f"discord bot: {'on' if settings.discord_bot_token else 'off (set CODEDROP_DISCORD_BOT_TOKEN)'}\n"
        "Get an API key (in another terminal, same folder):\n"
        f"  {command_name()} developers create --name 'Your Name' --email you@example.com\n"
        "Press Ctrl+C to stop.\n",
        err=True,
    )


@cli.command(epilog=settings_help())
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int, help="port to listen on")
def run(host: str, port: int) -> None:
    """Run everything in one process: API, scheduler, and the bots whose tokens are set."""
    settings = load_settings()
    setup_logging(settings)
    build = parts.choose(
        host=host, port=port, api=True, telegram=True, discord=True, scheduler=True
    )
    serve(settings, build, lambda _: announce(settings, host, port))


@cli.command(name="api")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int, help="port to listen on")
@click.option("--workers", default=1, show_default=True, type=int, help="worker processes")
def api_command(host: str, port: int, workers: int) -> None:
    """Run the HTTP API alone (several worker processes with --workers)."""
    settings = load_settings()
    setup_logging(settings)
    if workers <= 1:
        serve(settings, parts.choose(host=host, port=port, api=True))
        return
    import uvicorn

    # every worker writes its metrics to files in this folder; /metrics sums them
    with metrics_folder():
        # uvicorn's supervisor: SIGTERM/SIGINT reach it, it sends SIGTERM to each worker,
        # which answers its requests in flight (bounded below) and closes its database
        uvicorn.run(
            "api.asgi:build",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            log_config=None,  # our handler (domain/adapters/logs.py) formats uvicorn's lines too
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout) - 2),
            **parts.uvicorn_limits(settings, workers=workers),
        )


@contextlib.contextmanager
def metrics_folder() -> Iterator[Path]:
    """`PROMETHEUS_MULTIPROC_DIR` for the workers: the operator's (emptied first: samples of
    an earlier run would be summed in) or a private one removed at exit."""
    from api.metrics import MULTIPROC_ENV

    configured = os.environ.get(MULTIPROC_ENV)
    folder = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="codedrop-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        if not configured:
            shutil.rmtree(folder, ignore_errors=True)


@cli.group()
def bot() -> None:
    """Run one chat bot alone."""


@bot.command(name="telegram")
def bot_telegram() -> None:
    """Run the Telegram bot alone (needs CODEDROP_TELEGRAM_BOT_TOKEN)."""
    settings = load_settings()
    setup_logging(settings)
    if not settings.telegram_bot_token:
        raise click.ClickException("set CODEDROP_TELEGRAM_BOT_TOKEN (from @BotFather) first")
    serve(settings, parts.choose(telegram=True))


@bot.command(name="discord")
def bot_discord() -> None:
    """Run the Discord bot alone (needs CODEDROP_DISCORD_BOT_TOKEN)."""
    settings = load_settings()
    setup_logging(settings)
    if not settings.discord_bot_token:
        raise click.ClickException(
            "set CODEDROP_DISCORD_BOT_TOKEN (Discord developer portal) first"
        )
    serve(settings, parts.choose(discord=True))


@cli.command(name="scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs alone (archival, reports, lifecycle, low stock, cleanup)."""
    settings = load_settings()
    setup_logging(settings)
    serve(settings, parts.choose(scheduler=True, scheduler_alone=True))


@cli.command(name="health")
@click.option(
    "--url", default=None, help="default: http://127.0.0.1:$CODEDROP_METRICS_PORT/healthz"
)
def health(url: str | None) -> None:
    """Exit 0 when this container's process is healthy (bots, scheduler: its heartbeat)."""
    import urllib.error
    import urllib.request

    if url is None:
        settings = load_settings()
        if not settings.metrics_port:
            raise click.ClickException("set CODEDROP_METRICS_PORT (or pass --url)")
        url = f"http://127.0.0.1:{settings.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (our own URL)
            click.echo(answer.read().decode())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"unhealthy: {exc.read().decode()}") from None
    except OSError as exc:
        raise click.ClickException(f"no answer from {url}: {exc}") from None


@cli.group()
def jobs() -> None:
    """Scheduled jobs (list, run)."""


@jobs.command(name="list")
def jobs_list() -> None:
    """List the jobs: schedule, next run, last run and its result (times in UTC)."""
    from domain import clock, job_runs
    from scheduler.runner import next_run, schedules

    settings = load_settings()
    last = run_async(lambda: with_database(settings, job_runs.last_runs))
    now = clock.now()
    rows = [("job", "schedule", "next run", "last run", "last result")]
    for name, schedule in schedules(settings).items():
        run = last.get(name)
        upcoming = next_run(schedule, run.started_at if run else None, now)
        rows.append(
            (
                name,
                schedule.description,
                f"{upcoming:%Y-%m-%d %H:%M:%S}" if upcoming else "when a scheduler runs",
                f"{run.started_at:%Y-%m-%d %H:%M:%S}" if run else "never",
                _result_line(run) if run else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[4]]))


def _result_line(run: Any) -> str:
    seconds = (run.finished_at - run.started_at).total_seconds()
    details = ", ".join(f"{k}={v}" for k, v in run.summary.items())
    return f"{run.status} in {seconds:.2f} s" + (f": {details}" if details else "")


@jobs.command(name="run")
@click.argument("name")
def jobs_run(name: str) -> None:
    """Run one job now (under its lease) and print what it did."""
    settings = load_settings()
    setup_logging(settings)

    async def main() -> dict[str, Any]:
        from scheduler.runner import JOBS, run_job

        if name not in JOBS:
            raise click.ClickException(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
        services = bootstrap(settings)
        notifiers = build_notifiers(settings)
        try:
            return await with_database(settings, lambda: run_job(name, services, notifiers))
        finally:
            await close_notifiers(notifiers)
            await services.close()

    result = run_async(main)
    for key, value in result.items():
        click.echo(f"{key}: {value}")


# ---------------------------------------------------------------- schema


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = load_settings()
    setup_logging(settings)
    run_async(lambda: db.run_migrations(settings))
    click.echo(f"database is up to date ({db.describe_database(settings)})")


@cli.command(name="create-bucket")
@click.option(
    "--wait", default=60.0, show_default=True, help="seconds to retry while S3 is not reachable"
)
def create_bucket(wait: float) -> None:
    """Create the S3 bucket (CODEDROP_S3_BUCKET) when it does not exist (compose runs it)."""
    import time

    from botocore.exceptions import BotoCoreError

    from domain.adapters.s3 import S3ObjectStore

    settings = load_settings()
    setup_logging(settings)
    if not settings.s3_bucket:
        raise click.ClickException("set CODEDROP_S3_BUCKET (and the S3 endpoint and keys) first")
    store = S3ObjectStore.from_settings(settings)
    deadline = time.monotonic() + wait
    while True:
        try:
            asyncio.run(store.ensure_bucket())
            break
        except BotoCoreError as exc:  # not reachable yet (the S3 gateway starts last)
            if time.monotonic() > deadline:
                raise click.ClickException(f"bucket {settings.s3_bucket}: {exc}") from None
            time.sleep(1)
        except Exception as exc:  # refused credentials, a name S3 does not accept
            raise click.ClickException(f"bucket {settings.s3_bucket}: {exc}") from None
    click.echo(f"bucket {settings.s3_bucket} is ready")


@cli.command(name="check-migrations")
def check_migrations() -> None:
    """Fail when the models have changes no migration covers (run in CI)."""
    from tortoise import Tortoise
    from tortoise.migrations.autodetector import MigrationAutodetector

    settings = load_settings()

    async def main() -> int:
        config = db.tortoise_config(settings)
        await Tortoise.init(config=config, init_connections=False)
        try:
            detector = MigrationAutodetector(Tortoise.apps, config["apps"])
            writers = await detector.changes()
            return len(writers)
        finally:
            await Tortoise.close_connections()

    pending = asyncio.run(main())
    if pending:
        raise click.ClickException(
            "models changed without a migration: run `tortoise makemigrations -n <what>`"
        )
    click.echo("migrations match the models")


# ---------------------------------------------------------------- accounts


@cli.group(name="developers")
def developers_group() -> None:
    """Developer accounts (create, list)."""


@developers_group.command(name="create")
@click.option("--name", required=True, help="the developer's or studio's name")
@click.option("--email", required=True, help="contact e-mail (unique)")
def developers_create(name: str, email: str) -> None:
    """Create a developer and an API key; the key is printed once, alone on the last line."""
    settings = load_settings()

    async def main() -> developers.IssuedKey:
        dev = await developers.create_developer(name=name, email=email)
        return await developers.issue_key(developer_id=dev.id)

    issued = run_async(lambda: with_database(settings, main))
    click.echo(
        f"developer {issued.developer_id} created ({email}); API key {issued.prefix}… (shown once):",
        err=True,
    )
    click.echo(issued.key)


@developers_group.command(name="list")
def developers_list() -> None:
    """List the developers with their active keys, campaigns and linked chats."""
    settings = load_settings()
    found = run_async(lambda: with_database(settings, developers.list_developers))
    if not found:
        click.echo("no developers yet: codedrop developers create --name … --email …", err=True)
        return
    rows = [("id", "name", "e-mail", "created", "keys", "campaigns", "linked")]
    for d in found:
        v = d.developer
        rows.append(
            (
                str(v.id),
                v.name,
                v.email,
                f"{v.created_at:%Y-%m-%d}",
                str(d.active_keys),
                str(d.campaigns),
                ", ".join(d.linked) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[6]]))


@cli.group(name="keys")
def keys_group() -> None:
    """API keys (create, list, revoke)."""


@keys_group.command(name="create")
@click.option("--email", required=True, help="the developer's e-mail")
@click.option("--name", default="default", show_default=True, help="a label for the key")
def keys_create(email: str, name: str) -> None:
    """Issue another API key for a developer (printed once, alone on the last line)."""
    settings = load_settings()

    async def main() -> developers.IssuedKey:
        dev = await developers.find_developer(email=email)
        return await developers.issue_key(developer_id=dev.id, name=name)

    issued = run_async(lambda: with_database(settings, main))
    click.echo(f"API key {issued.prefix}… (shown once):", err=True)
    click.echo(issued.key)


@keys_group.command(name="list")
@click.option("--email", required=True, help="the developer's e-mail")
def keys_list(email: str) -> None:
    """List a developer's keys (prefixes only)."""
    settings = load_settings()

    async def main() -> list[developers.KeyView]:
        dev = await developers.find_developer(email=email)
        return await developers.list_keys(developer_id=dev.id)

    for k in run_async(lambda: with_database(settings, main)):
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        click.echo(f"{k.prefix}  {k.name:<20} created {k.created_at:%Y-%m-%d}  {state}")


@keys_group.command(name="revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke a key by its prefix (cdk_1a2b3c4d) or the full key."""
    settings = load_settings()
    view = run_async(lambda: with_database(settings, lambda: developers.revoke_key(prefix=prefix)))
    click.echo(f"revoked {view.prefix}")


@cli.group(name="members")
def members_group() -> None:
    """Campaign members and invitations with a role (invite, accept, list)."""


@members_group.command(name="invite")
@click.option("--email", required=True, help="the e-mail of an owner of the campaign")
@click.option("--campaign", required=True, help="the campaign's id")
@click.option(
    "--role", type=click.Choice(["viewer", "manager", "owner"]), default="viewer", show_default=True
)
@click.option("--hours", type=int, default=access.DEFAULT_INVITE_HOURS, show_default=True)
def members_invite(email: str, campaign: str, role: str, hours: int) -> None:
    """A one-time invitation token for a role on a campaign (printed once, on the last line)."""
    settings = load_settings()

    async def main() -> access.IssuedInvite:
        dev = await developers.find_developer(email=email)
        return await access.invite(
            campaign_id=campaign, developer_id=dev.id, role=role, expires_in_hours=hours
        )

    issued = run_async(lambda: with_database(settings, main))
    click.echo(
        f"invitation for a {issued.role}, until {issued.expires_at:%Y-%m-%d %H:%M} UTC:", err=True
    )
    click.echo(issued.token)


@members_group.command(name="accept")
@click.option("--email", required=True, help="the e-mail of the developer who joins")
@click.argument("token")
def members_accept(email: str, token: str) -> None:
    """Join a campaign with an invitation token (once, before it expires)."""
    settings = load_settings()

    async def main() -> access.Joined:
        dev = await developers.find_developer(email=email)
        return await access.accept(token=token, developer_id=dev.id)

    joined = run_async(lambda: with_database(settings, main))
    click.echo(f"joined {joined.campaign_id} ({joined.campaign_name}) as {joined.role}")


@members_group.command(name="list")
@click.option("--email", required=True, help="the e-mail of a member of the campaign")
@click.option("--campaign", required=True, help="the campaign's id")
def members_list(email: str, campaign: str) -> None:
    """The campaign's owner and members with their roles."""
    settings = load_settings()

    async def main() -> list[access.MemberView]:
        dev = await developers.find_developer(email=email)
        return await access.list_members(campaign_id=campaign, developer_id=dev.id)

    for m in run_async(lambda: with_database(settings, main)):
        click.echo(
            f"{m.developer_id:>8}  {m.role:<8} {m.name}{'  (campaign owner)' if m.is_owner else ''}"
        )


@cli.command(name="link-token")
@click.option("--email", required=True, help="the developer's e-mail")
def link_token(email: str) -> None:
    """A one-time token to link a Telegram/Discord account (`/link <token>` to the bot)."""
    settings = load_settings()

    async def main() -> str:
        dev = await developers.find_developer(email=email)
        return await developers.issue_link_token(developer_id=dev.id)

    click.echo(run_async(lambda: with_database(settings, main)))


def settings_table() -> str:
    """Every setting as a Markdown table row (the README's configuration table)."""
    rows = ["| variable | meaning | default |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default if field.default_factory is None else field.default_factory()  # type: ignore[call-arg]
        if hasattr(default, "get_secret_value"):
            default = "a development placeholder" if name == "secret_key" else None
        shown = f"`{default}`" if default not in (None, [], "") else ""
        rows.append(f"| `CODEDROP_{name.upper()}` | {field.description or ''} | {shown} |")
    return "\n".join(rows)


@cli.command(name="settings")
@click.option("--markdown", is_flag=True, help="print every setting as a Markdown table instead")
def show_settings(markdown: bool) -> None:
    """Print the effective configuration (secrets hidden)."""
    if markdown:
        click.echo(settings_table())
        return
    settings = load_settings()
    sources = value_sources()
    env_file = Settings.model_config.get("env_file")
    click.echo(
        f"# read from: the environment, then {env_file or 'no file (CODEDROP_ENV_FILE is empty)'}"
        + (" (not found)" if env_file and not Path(str(env_file)).exists() else "")
    )
    for name, value in settings.model_dump().items():
        secret = getattr(settings, name)
        if name == "secret_key" and secret.get_secret_value() in PLACEHOLDER_SECRETS:
            value = "(the development placeholder: refused in production; set a random value)"
        elif hasattr(secret, "get_secret_value"):
            value = "(set)" if value else "(not set)"
        elif name == "database_url" and "@" in str(value):
            value = db.describe_database(settings)
        click.echo(f"CODEDROP_{name.upper()}={value}  # {sources[name]}")


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
