"""The in-process rate limiter: `limits`' fixed windows over codedrop's swept memory storage."""

from __future__ import annotations

import asyncio

from domain.adapters.ratelimits import MemoryRateLimiter, WindowMemoryStorage


async def test_a_window_counts_refuses_and_restarts_when_it_expires() -> None:
    limiter = MemoryRateLimiter()
    states = [await limiter.hit("2/second", "claim-ip", "10.0.0.1") for _ in range(3)]
    assert [s.allowed for s in states] == [True, True, False]
    assert [s.remaining for s in states] == [1, 0, 0]
    assert states[-1].limit == 2 and states[-1].reset_after == 1
    # another key has its own window
    assert (await limiter.hit("2/second", "claim-ip", "10.0.0.2")).allowed
    await asyncio.sleep(1.05)
    again = await limiter.hit("2/second", "claim-ip", "10.0.0.1")
    assert again.allowed and again.remaining == 1


async def test_counters_of_expired_windows_are_dropped_by_the_sweep() -> None:
    storage = WindowMemoryStorage(sweep_every=0.0)  # sweep on every hit
    for n in range(50):
        await storage.incr(f"claimant:{n}", 1)
    assert await storage.get("claimant:7") == 1
    await asyncio.sleep(1.05)
    assert await storage.get("claimant:7") == 0  # expired on read
    await storage.incr("claimant:new", 60)  # the sweep runs here
    assert len(storage._counts) == 1
    assert await storage.get("claimant:new") == 1
    await storage.clear("claimant:new")
    assert await storage.get("claimant:new") == 0
