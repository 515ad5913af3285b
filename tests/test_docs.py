"""The README stays true: every setting is documented, every CLI command is listed."""

from __future__ import annotations

from pathlib import Path

from cli.main import cli
from domain.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [n for n in Settings.model_fields if f"CODEDROP_{n.upper()}" not in README]
    assert missing == []


def test_the_readme_settings_table_is_what_codedrop_settings_prints() -> None:
    from cli.main import settings_table

    assert settings_table() in README, "regenerate it: codedrop settings --markdown"


def test_every_cli_command_is_listed_in_the_readme() -> None:
    assert sorted(c for c in cli.commands if f"\n{c} " not in README) == []


def test_the_quickstart_is_the_two_make_commands() -> None:
    assert "make run" in README and "make test" in README
