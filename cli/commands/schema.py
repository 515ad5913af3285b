"""The database schema and the object bucket: `migrate`, `check-migrations` (CI) and
`create-bucket` (compose runs it before the parts start)."""

from __future__ import annotations

import asyncio
import time

import click

from cli.commands.config import load_settings, setup_logging
from cli.runtime import one_line_errors
from domain.adapters import db


@click.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = load_settings()
    setup_logging(settings)
    one_line_errors(lambda: db.run_migrations(settings))
    click.echo(f"database is up to date ({db.describe_database(settings)})")


@click.command(name="create-bucket")
@click.option(
    "--wait", default=60.0, show_default=True, help="seconds to retry while S3 is not reachable"
)
def create_bucket(wait: float) -> None:
    """Create the S3 bucket (CODEDROP_S3_BUCKET) when it does not exist (compose runs it)."""
    from botocore.exceptions import BotoCoreError

    from domain.adapters.s3 import S3ObjectStore

    settings = load_settings()
    setup_logging(settings)
    if not settings.s3_bucket:
        raise click.ClickException("set CODEDROP_S3_BUCKET (and the S3 endpoint and keys) first")
    store = S3ObjectStore.from_settings(settings)  # one client for every attempt
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


@click.command(name="check-migrations")
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


COMMANDS = [migrate, create_bucket, check_migrations]
