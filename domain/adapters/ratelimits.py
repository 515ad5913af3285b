"""RateLimiter implementations on the `limits` library: memory, or Redis with a fallback.

Rules are `limits`' notation and its fixed windows (the same keys its FixedWindowRateLimiter
counts under); a hit is ONE storage operation that counts and returns where the window
stands (one dict update in memory, one Lua call to Redis), where `limits`' `hit` plus
`get_window_stats` took three: a claim passes two limits, and those calls were a fifth of an
API worker's CPU in a drop (py-spy).

With Redis down the Redis limiter falls back to a per-process limiter (logged once per
outage) and goes back to Redis by itself when it answers again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.errors import ConfigurationError

from domain.ratelimits import RateLimitState

log = logging.getLogger(__name__)

RETRY_REDIS_AFTER = 5.0


# one hit of a fixed window: count it and read where the window stands, in ONE storage
# operation: (the count after this hit, when the window ends as a time.time() moment)
Counter = Callable[[str, int, int], Awaitable[tuple[int, float]]]

# Redis: `limits`' own fixed-window increment (the expiry set by the hit that opens the
# window), returning the window's remaining seconds with the count: one round trip where
# `hit` plus `get_window_stats` took three
INCR_EXPIRE_TTL = """
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if tonumber(current) == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class _Limits:
    """`limits`' notation and fixed windows, each hit one operation on `count`'s storage."""

    def __init__(self, storage: Storage, count: Counter) -> None:
        self.storage = storage
        self._count = count
        self._items: dict[str, RateLimitItem] = {}

    def item(self, rule: str) -> RateLimitItem:
        found = self._items.get(rule)
        if found is None:
            try:
                found = self._items[rule] = parse(rule)
            except (ValueError, ConfigurationError) as exc:
                raise ValueError(f"bad rate limit {rule!r}: {exc}") from exc
        return found

    async def hit(self, rule: str, *identifiers: str) -> RateLimitState:
        item = self.item(rule)
        window = item.get_expiry()
        # the key `limits`' FixedWindowRateLimiter would use, so both count the same window
        count, ends_at = await self._count(item.key_for(*identifiers), window, 1)
        return RateLimitState(
            allowed=count <= item.amount,
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_after=max(1, math.ceil(ends_at - time.time())),
            window=window,
        )


class WindowMemoryStorage(Storage):
    """In-process counters for `limits`' fixed windows, swept every `sweep_every` seconds.

    `limits`' own async MemoryStorage schedules a pass over every key after nearly every hit;
    with one key per claimant (30,000 after a launch burst) that pass was 11% of an API
    worker's CPU (py-spy, bench/claims.py). Here an expired counter restarts when it is next
    read, and forgotten counters are dropped at most once per `sweep_every` seconds.
    No method awaits, so each runs whole on the event loop without locks.
    """

    STORAGE_SCHEME = None

    def __init__(self, sweep_every: float = 10.0) -> None:
        super().__init__()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._sweep_every = sweep_every
        self._next_sweep = time.time() + sweep_every

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_every
        for stale in [k for k, (_, until) in self._counts.items() if until <= now]:
            del self._counts[stale]

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, _ = await self.count(key, expiry, amount)
        return count

    async def count(self, key: str, expiry: int, amount: int = 1) -> tuple[int, float]:
        """`incr` that also says when the window ends: one hit, one dict operation."""
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        entry = self._live(key, now)
        count, until = entry if entry is not None else (0, now + expiry)
        count += amount
        self._counts[key] = (count, until)
        return count, until

    async def get(self, key: str) -> int:
        entry = self._live(key, time.time())
        return entry[0] if entry is not None else 0

    async def get_expiry(self, key: str) -> float:
        now = time.time()
        entry = self._live(key, now)
        return entry[1] if entry is not None else now

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        dropped = len(self._counts)
        self._counts.clear()
        return dropped

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class MemoryRateLimiter:
    """Per-process counters."""

    def __init__(self) -> None:
        storage = WindowMemoryStorage()
        self._limits = _Limits(storage, storage.count)

    async def hit(self, rule: str, *identifiers: str) -> RateLimitState:
        return await self._limits.hit(rule, *identifiers)

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Counters shared by every process through Redis; per-process while Redis is away."""

    def __init__(self, url: str) -> None:
        uri = "async+" + url if not url.startswith("async+") else url
        storage = RedisStorage(
            uri, implementation="redispy", socket_connect_timeout=1, socket_timeout=2
        )
        bridge = storage.bridge
        script = bridge.get_connection().register_script(INCR_EXPIRE_TTL)  # type: ignore[attr-defined]

        async def count(key: str, expiry: int, amount: int) -> tuple[int, float]:
            current, ttl = await script([bridge.prefixed_key(key)], [expiry, amount])
            return int(current), time.time() + max(int(ttl), 0)

        self._redis = _Limits(storage, count)
        self._fallback = MemoryRateLimiter()
        self._down_until = 0.0
        self._degraded = False

    async def hit(self, rule: str, *identifiers: str) -> RateLimitState:
        if time.monotonic() < self._down_until:
            return await self._fallback.hit(rule, *identifiers)
        try:
            state = await self._redis.hit(rule, *identifiers)
        except ValueError:
            raise
        except Exception as exc:  # redis-py and limits wrap connection errors differently
            if not self._degraded:
                log.warning("redis rate limiter unavailable (%s); limiting per process", exc)
                self._degraded = True
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER
            return await self._fallback.hit(rule, *identifiers)
        if self._degraded:
            log.info("redis rate limiter is back")
            self._degraded = False
        return state

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.storage.check())
        except Exception:
            return False

    async def close(self) -> None:
        return None
