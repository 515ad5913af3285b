"""The Idempotency-Key store on both databases: records written together, races settled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from domain import idempotency
from domain.bootstrap import Services
from domain.errors import IdempotencyMismatch
from domain.idempotency import StoredAnswer
from domain.models import IdempotencyRecord

TTL = timedelta(hours=24)


def _answer(code: str) -> StoredAnswer:
    return StoredAnswer(
        status_code=201, body={"code": code}, media_type="application/json", headers={}
    )


async def test_records_stored_together_are_all_kept_and_found(services: Services) -> None:
    before = idempotency.WRITES.batches
    kept = await asyncio.gather(
        *(
            idempotency.remember(
                scope="anon claim",
                key=f"k{n}",
                request_hash=f"h{n}",
                answer=_answer(f"C{n}"),
                ttl=TTL,
            )
            for n in range(30)
        )
    )
    assert [a.body for a in kept] == [{"code": f"C{n}"} for n in range(30)]
    assert idempotency.WRITES.batches - before < 30  # they shared commits
    assert await IdempotencyRecord.filter(scope="anon claim").count() == 30
    found = await idempotency.lookup(scope="anon claim", key="k7", request_hash="h7", ttl=TTL)
    assert found is not None and found.body == {"code": "C7"}


async def test_one_key_raced_in_one_batch_keeps_the_first_and_refuses_the_other_request(
    services: Services,
) -> None:
    same = idempotency.remember(
        scope="anon claim", key="dup", request_hash="h1", answer=_answer("A"), ttl=TTL
    )
    other = idempotency.remember(
        scope="anon claim", key="dup", request_hash="h2", answer=_answer("B"), ttl=TTL
    )
    results = await asyncio.gather(same, other, return_exceptions=True)
    # the batch conflicted and each went alone: one record, the loser told its key is taken
    assert await IdempotencyRecord.filter(key="dup").count() == 1
    winners = [r for r in results if isinstance(r, StoredAnswer)]
    losers = [r for r in results if isinstance(r, IdempotencyMismatch)]
    assert len(winners) == 1 and len(losers) == 1
    with pytest.raises(IdempotencyMismatch):
        stored = await IdempotencyRecord.get(key="dup")
        other_hash = "h2" if stored.request_hash == "h1" else "h1"
        await idempotency.lookup(scope="anon claim", key="dup", request_hash=other_hash, ttl=TTL)
