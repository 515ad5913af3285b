"""The `codedrop` command: the composition root that runs the parts and the admin tasks.

`codedrop run` runs everything in one process on the embedded default (API + scheduler, and the
bots whose tokens are set); each part can also run alone (`api`, `bot telegram`, `bot discord`,
`scheduler`) for a scaled-out deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from domain import db, developers, log_escape
from domain.bootstrap import bootstrap
from domain.errors import DomainError
from domain.settings import Settings

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
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in (
        "tortoise",
        "aiosqlite",
        "aiomysql",
        "apscheduler.scheduler",
        "apscheduler.executors.default",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log_escape.install()


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None


async def with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the database open (the embedded SQLite file is migrated first)."""
    await db.init_db(settings, migrate=not settings.is_mysql)
    try:
        return await work()
    finally:
        await db.close_db()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """codedrop: fair, one-per-person distribution of single-use promo codes."""


# ---------------------------------------------------------------- running the parts


def build_notifiers(settings: Settings) -> list[Any]:
    """The chat senders for which a bot token is configured."""
    notifiers: list[Any] = []
    if settings.telegram_bot_token:
        from bots.telegram.sender import TelegramNotifier

        notifiers.append(TelegramNotifier(settings))
    if settings.discord_bot_token:
        from bots.discord.sender import DiscordNotifier

        notifiers.append(DiscordNotifier(settings))
    return notifiers


async def close_notifiers(notifiers: list[Any]) -> None:
    """Close the senders' HTTP sessions (each is closed even if another fails)."""
    for notifier in notifiers:
        try:
            await notifier.close()
        except Exception:
            log.exception("closing the %s notifier failed", notifier.provider)


async def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    api: bool = True,
    telegram: bool = True,
    discord: bool = True,
    scheduler: bool = True,
) -> None:
    """Run the chosen parts in this process until interrupted."""
    import uvicorn

    from api.app import create_app

    migrate = not settings.is_mysql
    await db.init_db(settings, migrate=migrate)
    services = bootstrap(settings)
    tasks: list[asyncio.Task[Any]] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    app = None
    try:
        if telegram and settings.telegram_bot_token:
            from bots.telegram.app import TelegramFront

            tg = TelegramFront(services)
            closers.append(tg.close)
            tasks.append(asyncio.create_task(tg.run(), name="telegram"))
            log.info(
                "telegram bot: starting (%s)",
                "webhook" if settings.telegram_webhook_url else "long polling",
            )
        else:
            tg = None
        if discord and settings.discord_bot_token:
            from bots.discord.app import DiscordFront

            dc = DiscordFront(services)
            closers.append(dc.close)
            tasks.append(asyncio.create_task(dc.run(), name="discord"))
            log.info("discord bot: starting")
        if scheduler and settings.scheduler_enabled:
            from scheduler.runner import build_scheduler

            notifiers = build_notifiers(settings)
            closers.append(lambda: close_notifiers(notifiers))
            sched = build_scheduler(services, notifiers)
            sched.start()
            closers.append(_async(lambda: sched.shutdown(wait=False)))
            log.info("scheduler: started with %d jobs", len(sched.get_jobs()))
        if api:
            app = create_app(settings, services, manage_database=False)
            if tg is not None and settings.telegram_webhook_url:
                mount_telegram_webhook(app, tg)
            config = uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                proxy_headers=False,
                **uvicorn_limits(settings),
            )
            log_escape.install()  # uvicorn.Config set up uvicorn's own log handlers
            server = uvicorn.Server(config)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
            await asyncio.sleep(0)
            announce(settings, host, port)
        if not tasks:
            raise click.ClickException("nothing to run: set a bot token or enable a part")
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception():
                log.error("%s stopped: %s", task.get_name(), task.exception())
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                await close()
        await services.close()
        await db.close_db()


def uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """What uvicorn 0.54 itself can bound: idle keep-alive connections, and (with its h11
    parser) the bytes of an unfinished request head. Header count and size, body size and
    body pauses are enforced by api/edge.py whatever the parser."""
    return {
        "timeout_keep_alive": settings.http_keep_alive_timeout,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
    }


def _async(fn: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        fn()

    return call


def mount_telegram_webhook(app: Any, front: Any) -> None:
    """Serve Telegram's webhook on the API app, checking the secret token."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    async def telegram_webhook(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"ok": False}, status_code=400)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        ok = await front.process_webhook(payload, secret)
        return JSONResponse({"ok": ok}, status_code=200 if ok else 403)

    app.add_api_route(
        "/telegram/webhook", telegram_webhook, methods=["POST"], include_in_schema=False
    )


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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, host=host, port=port))


@cli.command(name="api")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int, help="port to listen on")
@click.option("--workers", default=1, show_default=True, type=int, help="worker processes")
def api_command(host: str, port: int, workers: int) -> None:
    """Run the HTTP API alone (several worker processes with --workers)."""
    import uvicorn

    settings = load_settings()
    setup_logging(settings)
    uvicorn.run(
        "api.asgi:build",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,
        **uvicorn_limits(settings),
    )


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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, host="", port=0, api=False, discord=False, scheduler=False))


@bot.command(name="discord")
def bot_discord() -> None:
    """Run the Discord bot alone (needs CODEDROP_DISCORD_BOT_TOKEN)."""
    settings = load_settings()
    setup_logging(settings)
    if not settings.discord_bot_token:
        raise click.ClickException(
            "set CODEDROP_DISCORD_BOT_TOKEN (Discord developer portal) first"
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, host="", port=0, api=False, telegram=False, scheduler=False))


@cli.command(name="scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs alone (archival, reports, lifecycle, low stock, cleanup)."""
    settings = load_settings()
    setup_logging(settings)

    async def main() -> None:
        from scheduler.runner import build_scheduler

        await db.init_db(settings)
        services = bootstrap(settings)
        notifiers = build_notifiers(settings)
        sched = build_scheduler(services, notifiers)
        sched.start()
        log.info("scheduler: running %d jobs; Ctrl+C to stop", len(sched.get_jobs()))
        try:
            await asyncio.Event().wait()
        finally:
            sched.shutdown(wait=False)
            await close_notifiers(notifiers)
            await services.close()
            await db.close_db()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@cli.group()
def jobs() -> None:
    """Scheduled jobs."""


@jobs.command(name="list")
def jobs_list() -> None:
    """List the jobs and their schedules."""
    from scheduler.runner import JOBS

    for name in JOBS:
        click.echo(name)


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
    asyncio.run(db.run_migrations(settings))
    click.echo(f"database is up to date ({db.describe_database(settings)})")


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
    """Developer accounts."""


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


@cli.group(name="keys")
def keys_group() -> None:
    """API keys."""


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
    for name, value in settings.model_dump().items():
        if hasattr(getattr(settings, name), "get_secret_value"):
            value = "(set)" if value else "(not set)"
        elif name == "database_url" and "@" in str(value):
            value = db.describe_database(settings)
        click.echo(f"CODEDROP_{name.upper()}={value}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
