"""The `codedrop` command as an operator meets it: run as a real process, read as printed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from domain import developers
from domain.adapters.bootstrap import Services
from domain.settings import Settings
from scheduler.runner import JOBS, run_job
from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def codedrop(
    *args: str,
    database_url: str,
    cwd: Path,
    columns: int = 80,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`codedrop …` in its own process, with no .env and a terminal `columns` wide."""
    env = {
        **os.environ,
        "CODEDROP_ENV_FILE": "",
        "CODEDROP_DATABASE_URL": database_url,
        "CODEDROP_ENVIRONMENT": "test",
        "COLUMNS": str(columns),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CODEDROP_REDIS_URL", None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=30,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_help_lists_every_command_with_its_whole_description_on_a_narrow_terminal(
    tmp_path: Path,
) -> None:
    from cli.main import cli

    shown = codedrop("--help", database_url="sqlite://:memory:", cwd=tmp_path, columns=80)
    assert shown.returncode == 0, shown.stderr
    commands = shown.stdout.split("Commands:")[1]
    assert "..." not in commands
    flat = " ".join(shown.stdout.split())
    for name, command in cli.commands.items():
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert f"{name} {first}" in flat, name
    assert "_CODEDROP_COMPLETE=bash_source codedrop" in shown.stdout


def test_migrate_with_the_database_down_says_so_in_one_line_without_a_traceback(
    tmp_path: Path,
) -> None:
    url = f"mysql://root:hunter2@127.0.0.1:{closed_port()}/codedrop"
    r = codedrop("migrate", database_url=url, cwd=tmp_path)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, r.stderr
    assert errors[0].startswith("Error: cannot reach the database, MySQL/MariaDB at 127.0.0.1:")
    assert "CODEDROP_DATABASE_URL" in errors[0]
    assert "Traceback" not in r.stderr and "hunter2" not in r.stderr + r.stdout


def test_a_sqlite_file_in_a_missing_folder_is_named_instead_of_hanging(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'missing' / 'codedrop.sqlite3'}"
    r = codedrop("developers", "list", database_url=url, cwd=tmp_path)  # times out if it hangs
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f"Error: cannot reach the database, SQLite ({tmp_path}/missing/codedrop.sqlite3): the"
        f" folder of the SQLite file, {tmp_path}/missing, does not exist (create it first)."
        " Check that CODEDROP_DATABASE_URL names it."
    )


async def test_developers_list_shows_each_developer_with_keys_campaigns_and_linked_chats(
    db: Settings, tmp_path: Path
) -> None:
    ann, _ = await factories.developer("Ann")
    await developers.issue_key(developer_id=ann.id, name="ci")
    await factories.campaign(ann.id, name="One")
    await factories.campaign(ann.id, name="Two")
    token = await developers.issue_link_token(developer_id=ann.id)
    await developers.link_identity(token=token, provider="telegram", external_id="42", chat_id="42")
    bob, _ = await factories.developer("Bob")
    listed = codedrop("developers", "list", database_url=db.database_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "e-mail", "created", "keys", "campaigns", "linked"]
    assert re.search(rf"^{ann.id}\s+Ann\s+{ann.email}\s+\S+\s+2\s+2\s+telegram$", lines[1])
    assert re.search(rf"^{bob.id}\s+Bob\s+{bob.email}\s+\S+\s+1\s+0\s+-$", lines[2])
    assert len(lines) == 3


async def test_jobs_list_shows_each_schedule_its_next_run_and_the_last_result(
    services: Services, tmp_path: Path
) -> None:
    await run_job("lifecycle", services, [])
    listed = codedrop("jobs", "list", database_url=services.settings.database_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == set(JOBS)  # every job the scheduler runs, each on its own line
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.search(rf"daily at 03:00 UTC\s+{stamp} ", rows["archive"])
    assert "never" in rows["archive"]
    assert re.search(
        rf"every 60 s\s+{stamp}\s+{stamp}\s+ran in \d+\.\d\d s: started=0, announced=0, ended=0, sold_out=0$",
        rows["lifecycle"],
    ), rows["lifecycle"]
    assert "when a scheduler runs" in rows["low_stock"]


def test_a_part_run_alone_without_redis_warns_that_it_sees_no_other_process_events(
    tmp_path: Path,
) -> None:
    alone = codedrop("bot", "telegram", database_url="sqlite://:memory:", cwd=tmp_path)
    assert alone.returncode == 1  # no token: it stops, but only after the warning
    assert "WARNING: `codedrop bot` runs as its own process but CODEDROP_REDIS_URL" in (
        alone.stderr
    )
    assert "set CODEDROP_TELEGRAM_BOT_TOKEN" in alone.stderr
    shared = codedrop(
        "bot",
        "telegram",
        database_url="sqlite://:memory:",
        cwd=tmp_path,
        extra_env={"CODEDROP_REDIS_URL": "redis://127.0.0.1:6379/15"},
    )
    assert "WARNING" not in shared.stderr and "set CODEDROP_TELEGRAM_BOT_TOKEN" in shared.stderr
    together = codedrop("jobs", "list", database_url="sqlite://:memory:", cwd=tmp_path)
    assert "WARNING" not in together.stderr
