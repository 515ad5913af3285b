"""A separate OS process that races claims: `python -m tests.domain.claim_worker URL CAMPAIGN N PREFIX`.

Prints one JSON object: the acknowledged (claimant, code) pairs, refusals and errors.
"""

from __future__ import annotations

import asyncio
import json
import sys

from domain import claims
from domain.adapters import db
from domain.errors import DomainError
from domain.settings import Settings
from domain.values import Claimant
from tests import factories


async def main(url: str, campaign_id: str, n: int, prefix: str) -> None:
    settings = Settings(_env_file=None, environment="test", database_url=url, database_pool_size=10)  # type: ignore[call-arg]
    await db.init_db(settings)
    acknowledged: list[tuple[str, str]] = []
    refused: dict[str, int] = {}
    errors: list[str] = []

    async def one(i: int) -> None:
        # every fifth claimant asks twice: repeats must get their first code back
        who = Claimant.of("web", f"{prefix}{i // 2 if i % 5 == 0 else i}")
        try:
            got = await claims.claim(
                events_bus=factories.BUS, campaign_id=campaign_id, claimant=who, channel="web"
            )
            acknowledged.append((who.key, got.code))
        except DomainError as exc:
            refused[exc.code] = refused.get(exc.code, 0) + 1
        except Exception as exc:  # recorded, the checker decides
            errors.append(repr(exc)[:200])

    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await db.close_db()
    print(json.dumps({"acknowledged": acknowledged, "refused": refused, "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
