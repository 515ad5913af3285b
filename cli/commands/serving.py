"""The commands that run codedrop's long-running parts: `run` (everything in one process),
`api`, `bot telegram`, `bot discord` and `scheduler` (one part each, for a scaled-out
deployment), and `health` (the container health check of such a process).

Every one of them goes through `cli.runtime.Runtime` with the parts `cli.parts.choose` picks;
only `api --workers N` (N > 1) hands the socket to uvicorn's supervisor.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from cli import parts
from cli.commands.config import load_settings, settings_help, setup_logging
from cli.runtime import Part, Runtime, one_line_errors
from domain.adapters import db
from domain.adapters.bootstrap import Services
from domain.settings import Settings


def serve(
    settings: Settings,
    build: Callable[[Services], dict[str, Part]],
    started: Callable[[Runtime], None] | None = None,
) -> None:
    """Run parts until SIGTERM/SIGINT (graceful stop, exit 0) or a part's failure (exit 1)."""
    runtime = Runtime(settings)
    status = one_line_errors(lambda: runtime.run(build, started=started))
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
    """Tell the person who typed `codedrop run` where everything is and what to do next."""
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


@click.command(epilog=settings_help())
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


@click.command(name="api")
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


@click.group()
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


@click.command(name="scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs alone (archival, reports, lifecycle, low stock, cleanup)."""
    settings = load_settings()
    setup_logging(settings)
    serve(settings, parts.choose(scheduler=True, scheduler_alone=True))


@click.command(name="health")
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


COMMANDS = [run, api_command, bot, scheduler_command, health]
