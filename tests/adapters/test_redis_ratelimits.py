"""The Redis rate limiter: `limits`' fixed windows, each hit one round trip (real Redis)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from domain.adapters.ratelimits import RedisRateLimiter

pytestmark = pytest.mark.redis


async def test_a_window_counts_refuses_and_restarts_when_it_expires(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url)
    who = secrets.token_hex(8)  # the shared test Redis: a key of this test's own
    states = [await limiter.hit("2/second", "claim-ip", who) for _ in range(3)]
    assert [s.allowed for s in states] == [True, True, False]
    assert [s.remaining for s in states] == [1, 0, 0]
    assert states[-1].limit == 2 and states[-1].reset_after == 1 and states[-1].window == 1
    await asyncio.sleep(1.1)
    again = await limiter.hit("2/second", "claim-ip", who)
    assert again.allowed and again.remaining == 1


async def test_hits_count_in_the_window_limits_itself_reads(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url)
    who = secrets.token_hex(8)
    for _ in range(3):
        state = await limiter.hit("5/minute", "claimant", who)
    uri = "async+" + redis_url
    stats = await FixedWindowRateLimiter(
        RedisStorage(uri, implementation="redispy")
    ).get_window_stats(parse("5/minute"), "claimant", who)
    assert stats.remaining == state.remaining == 2
    assert 55 <= state.reset_after <= 60
