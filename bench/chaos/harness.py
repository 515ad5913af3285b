"""Brings the whole stack up on private servers, runs the scenarios, tears everything down."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.chaos import scenarios
from bench.chaos.scenarios import Result, Stack
from bench.chaos.servers import ApiService, MariaDB, Redis
from domain import developers, webhooks
from domain.adapters import db


def service_env(mariadb: MariaDB, redis: Redis, workdir: Path) -> dict[str, str]:
    """The API's environment: production mode on the private servers, generous rate limits.

    Limits stay ON (the Redis scenario exercises the per-process fallback) but high enough
    that every claimer comes from 127.0.0.1 without being refused for it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_")}
    env["CODEDROP_ENV_FILE"] = ""  # never read a .env lying in the repository
    env.update(
        {
            "CODEDROP_ENVIRONMENT": "production",
            "CODEDROP_SECRET_KEY": secrets.token_urlsafe(32),
            "CODEDROP_DATABASE_URL": mariadb.url,
            "CODEDROP_DATABASE_POOL_SIZE": "4",
            "CODEDROP_REDIS_URL": redis.url,
            "CODEDROP_STORAGE_DIR": str(workdir / "objects"),
            "CODEDROP_LOG_LEVEL": "WARNING",
            "CODEDROP_RATE_LIMIT_DISTRIBUTE_IP": "1000000/minute",
            "CODEDROP_RATE_LIMIT_DISTRIBUTE_KEY": "1000000/minute",
            "CODEDROP_RATE_LIMIT_UPLOAD": "1000/minute",
            "CODEDROP_SCHEDULER_ENABLED": "false",
        }
    )
    return env


async def make_developer(mariadb: MariaDB) -> tuple[int, str]:
    """A developer and an API key in the private database (the operator's CLI step)."""
    settings = scenarios.Settings(
        _env_file=None, environment="test", database_url=mariadb.url, database_pool_size=2
    )
    await db.init_db(settings)
    try:
        dev = await developers.create_developer(name="Chaos", email="chaos@example.com")
        key = await developers.issue_key(developer_id=dev.id)
        # every claim's outbox event is checked against the acknowledged claims (nothing is
        # delivered: no dispatcher runs in the harness, the receiver's address is closed)
        await webhooks.create_webhook(
            owner_id=dev.id,
            url="http://127.0.0.1:9/chaos",
            events=["claim.created"],
            allow_private=True,
        )
        return dev.id, key.key
    finally:
        await db.close_db()


async def run_suite(
    *,
    scale: str,
    names: Sequence[str] | None,
    workers: int,
    keep: bool = False,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[Result]:
    """Start the stack, run the chosen scenarios in order, stop everything; the results."""
    size = scenarios.SCALES[scale]
    chosen = [scenarios.BY_NAME[n] for n in names] if names else list(scenarios.SCENARIOS)
    workdir = Path(tempfile.mkdtemp(prefix="codedrop-chaos-"))
    mariadb, redis = MariaDB(workdir), Redis(workdir)
    api = ApiService(workdir, service_env(mariadb, redis, workdir), workers)
    results: list[Result] = []
    try:
        started = time.monotonic()
        await asyncio.to_thread(mariadb.install)
        await asyncio.to_thread(redis.start)
        await asyncio.to_thread(api.migrate)
        await asyncio.to_thread(api.start)
        dev_id, key = await make_developer(mariadb)
        progress(
            f"stack up in {time.monotonic() - started:.1f} s: mariadbd :{mariadb.port},"
            f" redis :{redis.port}, api :{api.port} x{workers} workers ({workdir})"
        )
        stack = Stack(mariadb, redis, api, dev_id, key, size)
        for scenario in chosen:
            progress(f"scenario {scenario.name}: {scenario.title} ...")
            result = await scenarios.run(stack, scenario)
            progress(
                f"  {result.acknowledged} acknowledged, {len(result.violations)} violations,"
                f" {result.seconds:.1f} s"
            )
            results.append(result)
    finally:
        api.stop()
        redis.stop()
        mariadb.stop()
        if keep:
            progress(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results
