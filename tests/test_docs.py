"""The README and docs/ stay true: settings, commands, test files, figures, quickstart.

Facts that change as the code grows (the settings table, the command list) are derived from
the code here and compared; facts that cannot be derived (how many tests an area has: every
helper adds some) are kept out of the docs, and this file refuses them coming back.
"""

from __future__ import annotations

import re
from pathlib import Path

from cli.main import cli
from domain.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}
ALL = {"README.md": README, **DOCS}


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [n for n in Settings.model_fields if f"CODEDROP_{n.upper()}" not in README]
    assert missing == []


def test_the_readme_settings_table_is_what_codedrop_settings_prints() -> None:
    from cli.main import settings_table

    assert settings_table() in README, "regenerate it: codedrop settings --markdown"


def test_every_cli_command_is_listed_in_the_readme() -> None:
    assert sorted(c for c in cli.commands if f"\n{c} " not in README) == []


def test_the_readme_command_list_is_what_codedrop_help_says() -> None:
    width = max(len(n) for n in cli.commands) + 2
    listing = "\n".join(f"{n:<{width}}{c.short_help}" for n, c in sorted(cli.commands.items()))
    assert f"```\n{listing}\n```" in README, "copy the command list from `codedrop --help`"


def test_the_quickstart_is_the_two_make_commands() -> None:
    assert "make run" in README and "make test" in README


def test_the_quickstart_writes_nothing_into_the_repository() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    shell = [
        line.split(" #", 1)[0]
        for block in re.findall(r"```sh\n(.*?)```", quickstart, re.DOTALL)
        for line in block.splitlines()
    ]
    targets = [t for line in shell for t in re.findall(r"(?<![-0-9&])>\s*([^\s|;&)]+)", line)]
    assert targets, "the quickstart writes its sample file somewhere"
    assert [t for t in targets if not t.startswith(("/tmp/", "/dev/"))] == []


def test_no_doc_states_a_number_of_tests() -> None:
    counted = re.compile(
        r"\b(\d[\d,]*|two|three|four|five|six|seven|eight|nine|ten)\s+"
        r"(?:[a-z-]+\s+)?tests?\b(?!/)",
        re.IGNORECASE,
    )
    found = {
        name: [m.group(0) for m in counted.finditer(text)]
        for name, text in ALL.items()
        if counted.search(text)
    }
    assert found == {}, "counts of tests go stale as tests are added: name the command instead"


def test_every_test_file_and_screenshot_the_docs_name_exists() -> None:
    named = {
        (name, path)
        for name, text in ALL.items()
        for path in re.findall(r"(tests/[\w/]+\.py|docs/screenshots/[\w-]+\.png)", text)
    }
    named |= {
        (name, f"docs/{path}")
        for name, text in DOCS.items()
        for path in re.findall(r"\((screenshots/[\w-]+\.png)\)", text)
    }
    assert named, "the docs name test files"
    assert sorted((n, p) for n, p in named if not (ROOT / p).exists()) == []


def test_the_chaos_results_are_in_one_table_only() -> None:
    header = "| scenario | claimers | requests |"
    holders = [name for name, text in ALL.items() if header in text]
    assert holders == ["docs/reliability.md"]
    assert DOCS["docs/reliability.md"].count(header) == 1
