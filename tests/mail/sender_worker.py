"""A notice-sender process for the two-process test: waits for "go" on stdin, runs passes
of `domain.waitlist_notices.send_pass` until one finds nothing to do, prints the totals."""

from __future__ import annotations

import asyncio
import json
import sys

from pydantic import SecretStr

from domain.adapters.bootstrap import bootstrap
from domain.adapters.db import close_db, init_db
from domain.adapters.mail import mail_setup
from domain.settings import Settings
from domain.waitlist_notices import send_pass


async def main(database_url: str, smtp_port: str, storage_dir: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=database_url,
        storage_dir=storage_dir,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}?starttls=no"),
        smtp_from="drops@example.com",
        public_url="https://drops.example.com",
    )
    await init_db(settings)
    services = bootstrap(settings)
    totals = {"sent": 0, "notices_made": 0, "restocks_opened": 0, "passes": 0}
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        while True:
            result = await send_pass(
                setup=mail_setup(settings), limiter=services.limiter, rate="100000/minute"
            )
            totals["passes"] += 1
            for name in ("sent", "notices_made", "restocks_opened"):
                totals[name] += getattr(result, name)
            if not (result.sent or result.notices_made or result.restocks_opened):
                break
        print(json.dumps(totals), flush=True)
    finally:
        await services.close()
        await close_db()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
