"""The `RateLimiter` interface: how many times a key may act per window.

Limits are written in the `limits` notation ("100/minute"). In-process by default, Redis when
`REDIS_URL` is set (domain/adapters/ratelimits.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.errors import RateLimited


@dataclass(frozen=True, slots=True)
class RateLimitState:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    window: int


@dataclass(frozen=True, slots=True)
class ClaimRateLimit:
    """How often one claimant may ask for a code (`rule` in the limits notation)."""

    limiter: RateLimiter
    rule: str


class RateLimiter(Protocol):
    async def hit(self, rule: str, *identifiers: str) -> RateLimitState: ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...


async def enforce(limiter: RateLimiter, rule: str, *identifiers: str, what: str) -> RateLimitState:
    """Count one hit; raise `RateLimited` (with the wait) when the rule is exceeded."""
    state = await limiter.hit(rule, *identifiers)
    if not state.allowed:
        raise RateLimited(
            f"Too many {what}; try again in {state.reset_after} s.",
            retry_after=state.reset_after,
            limit=state.limit,
            window=state.window,
        )
    return state
