"""A private MariaDB and a real `codedrop api` over it, for tests that freeze, kill or restart
the database. The machine's shared MariaDB is never touched; processes are stopped by pid."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.chaos.servers import ROOT, ApiService, MariaDB


@dataclass
class Stack:
    mariadb: MariaDB
    api: ApiService
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def private_stack(workdir: Path, *, workers: int, **settings: str) -> Iterator[Stack]:
    """Install and start a mariadbd of our own, migrate, create a developer, start the API."""
    mariadb = MariaDB(workdir)
    try:
        mariadb.install()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("mariadbd is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_")}
    env["CODEDROP_ENV_FILE"] = ""  # never read a .env lying in the repository
    env.update(
        {
            "CODEDROP_ENVIRONMENT": "test",
            "CODEDROP_DATABASE_URL": mariadb.url,
            "CODEDROP_STORAGE_DIR": str(workdir / "objects"),
            "CODEDROP_LOG_LEVEL": "WARNING",
            "CODEDROP_RATE_LIMIT_ENABLED": "false",
        }
    )
    env.update({f"CODEDROP_{k.upper()}": v for k, v in settings.items()})
    api = ApiService(workdir, env, workers=workers)
    try:
        api.migrate()
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "developers",
                "create",
                "--name",
                "Ops",
                "--email",
                "o@x.io",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        api.start()
        yield Stack(mariadb, api, created.stdout.strip().splitlines()[-1])
    finally:
        api.stop()
        mariadb.stop()
