"""The configuration as the command line shows it: loading it with one-line errors, the
settings listed in `--help` and in the README's table, and `codedrop settings`."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from domain.adapters import db, logs
from domain.settings import PLACEHOLDER_SECRETS, Settings, value_sources


def load_settings() -> Settings:
    """The settings, or a one-line error naming every invalid value."""
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


@click.command(name="settings")
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
