"""Real `codedrop` processes for the operations tests, over the test session's database."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import httpx

from domain.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a codedrop process on the test database (no developer's .env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEDROP_", "PROMETHEUS_"))}
    env.update(
        {
            "CODEDROP_ENV_FILE": "",
            "CODEDROP_ENVIRONMENT": "test",
            "CODEDROP_DATABASE_URL": settings.database_url,
            "CODEDROP_STORAGE_DIR": str(settings.storage_dir),
            "CODEDROP_RATE_LIMIT_ENABLED": "false",
            "CODEDROP_LOG_LEVEL": "INFO",
        }
    )
    env.update({f"CODEDROP_{k.upper()}": v for k, v in extra.items()})
    return env


async def start(env: dict[str, str], *args: str, log: Path) -> asyncio.subprocess.Process:
    """`python -m cli <args>` with its output in `log`."""
    out = log.open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", *args, cwd=ROOT, env=env, stdout=out, stderr=out
        )
    finally:
        out.close()


async def wait_http(
    url: str, proc: asyncio.subprocess.Process, log: Path, timeout: float = 60
) -> None:
    """Until `url` answers 200 (fails with the log when the process died or time ran out)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"exited {proc.returncode}:\n{log.read_text()}")
            try:
                if (await http.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout}s:\n{log.read_text()}")
