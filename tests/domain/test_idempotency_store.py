"""The Idempotency-Key store on both databases: keys taken together, races settled, exact keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from domain import idempotency
from domain.adapters.bootstrap import Services
from domain.errors import IdempotencyMismatch
from domain.idempotency import Held, StoredAnswer
from domain.models import IdempotencyRecord

TTL = timedelta(hours=24)


def _answer(code: str) -> StoredAnswer:
    return StoredAnswer(
        status_code=201, body={"code": code}, media_type="application/json", headers={}
    )


async def test_keys_taken_together_are_all_kept_and_their_answers_found(
    services: Services,
) -> None:
    before = idempotency.TAKES.batches
    held = await asyncio.gather(
        *(
            idempotency.begin(scope="anon claim", key=f"k{n}", request_hash=f"h{n}", ttl=TTL)
            for n in range(30)
        )
    )
    assert all(h.answer is None for h in held)
    assert idempotency.TAKES.batches - before < 30  # they shared commits
    await asyncio.gather(
        *(
            idempotency.finish(
                scope="anon claim", key=f"k{n}", request_hash=f"h{n}", answer=_answer(f"C{n}")
            )
            for n in range(30)
        )
    )
    assert await IdempotencyRecord.filter(scope="anon claim").count() == 30
    again = await idempotency.begin(scope="anon claim", key="k7", request_hash="h7", ttl=TTL)
    assert again.answer is not None and again.answer.body == {"code": "C7"}


async def test_one_key_raced_by_two_requests_goes_to_one_and_refuses_the_other(
    services: Services,
) -> None:
    results = await asyncio.gather(
        *(
            idempotency.begin(scope="anon claim", key="dup", request_hash=f"h{n}", ttl=TTL)
            for n in range(8)
        ),
        return_exceptions=True,
    )
    # the batch conflicted and each went alone: one row, every other request told before it ran
    assert await IdempotencyRecord.filter(key="dup").count() == 1
    assert len([r for r in results if isinstance(r, Held)]) == 1
    assert len([r for r in results if isinstance(r, IdempotencyMismatch)]) == 7


async def test_the_first_answer_stays_and_another_request_cannot_overwrite_it(
    services: Services,
) -> None:
    await idempotency.begin(scope="s", key="k", request_hash="h1", ttl=TTL)
    await idempotency.finish(scope="s", key="k", request_hash="h1", answer=_answer("FIRST"))
    await idempotency.finish(scope="s", key="k", request_hash="h1", answer=_answer("LATER"))
    await idempotency.finish(scope="s", key="k", request_hash="h2", answer=_answer("OTHER"))
    held = await idempotency.begin(scope="s", key="k", request_hash="h1", ttl=TTL)
    assert held.answer is not None and held.answer.body == {"code": "FIRST"}


async def test_keys_differing_only_in_case_accents_or_trailing_spaces_are_different_keys(
    services: Services,
) -> None:
    keys = ["KEY-Q", "key-q", "café", "cafe", "pad", "pad "]
    for n, key in enumerate(keys):
        held = await idempotency.begin(scope="s", key=key, request_hash=f"h{n}", ttl=TTL)
        assert held.answer is None, key  # nobody else's key
        await idempotency.finish(scope="s", key=key, request_hash=f"h{n}", answer=_answer(key))
    for n, key in enumerate(keys):
        held = await idempotency.begin(scope="s", key=key, request_hash=f"h{n}", ttl=TTL)
        assert held.answer is not None and held.answer.body == {"code": key}
    assert await IdempotencyRecord.filter(scope="s").count() == len(keys)
