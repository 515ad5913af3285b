"""A scheduler process for the two-process tests: waits for "go" on stdin, fires one
scheduled slot of a job, prints the summary as JSON."""

from __future__ import annotations

import asyncio
import json
import sys

from domain.adapters.bootstrap import bootstrap
from domain.adapters.db import close_db, init_db
from domain.settings import Settings
from scheduler.runner import run_scheduled


async def main(database_url: str, storage_dir: str, redis_url: str, job: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=database_url,
        storage_dir=storage_dir,
        redis_url=redis_url or None,
        archive_batch_size=500,
    )
    await init_db(settings)
    services = bootstrap(settings)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        summary = await run_scheduled(job, services, [])
        print(json.dumps(summary, default=str), flush=True)
    finally:
        await services.close()
        await close_db()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
