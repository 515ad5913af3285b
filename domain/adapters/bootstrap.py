"""Builds the adapters one process needs from settings: the single place that picks
embedded or production implementations (tests pass overrides)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.adapters.events import InProcessEventBus, RedisEventBus
from domain.adapters.leases import build_leases
from domain.adapters.ratelimits import MemoryRateLimiter, RedisRateLimiter
from domain.adapters.storage import LocalObjectStore
from domain.events import EventBus
from domain.leases import Leases
from domain.ratelimits import ClaimRateLimit, RateLimiter
from domain.settings import Settings
from domain.storage import ObjectStore

if TYPE_CHECKING:
    from domain.waitlist import MailSetup

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    """What fronts hand to domain functions that touch the world outside the database.

    Built once when a process starts (`bootstrap`) and passed down: no domain function
    builds a client of its own."""

    settings: Settings
    events: EventBus
    limiter: RateLimiter
    store: ObjectStore
    leases: Leases
    mail: MailSetup

    def claim_rate_limit(self) -> ClaimRateLimit | None:
        """The per-claimant limit every front hands to `claims.claim` (None when switched off)."""
        if not self.settings.rate_limit_enabled:
            return None
        return ClaimRateLimit(self.limiter, self.settings.rate_limit_distribute_claimant)

    async def close(self) -> None:
        await self.events.close()
        await self.limiter.close()
        await self.leases.close()


def build_store(settings: Settings) -> ObjectStore:
    """A local folder, or S3 when a bucket is configured."""
    if settings.s3_bucket:
        from domain.adapters.s3 import S3ObjectStore

        return S3ObjectStore.from_settings(settings)
    return LocalObjectStore(settings.storage_dir)


def bootstrap(
    settings: Settings,
    *,
    events: EventBus | None = None,
    limiter: RateLimiter | None = None,
    store: ObjectStore | None = None,
    leases: Leases | None = None,
    mail: MailSetup | None = None,
) -> Services:
    """Wire the adapters for these settings (Redis/S3 when configured, embedded otherwise)."""
    if events is None:
        events = RedisEventBus(settings.redis_url) if settings.redis_url else InProcessEventBus()
    if limiter is None:
        limiter = (
            RedisRateLimiter(settings.redis_url) if settings.redis_url else MemoryRateLimiter()
        )
    if store is None:
        store = build_store(settings)
    if leases is None:
        leases = build_leases(settings)
    if mail is None:
        from domain.adapters.mail import mail_setup

        mail = mail_setup(settings)
    log.info(
        "adapters: events=%s, rate limits=%s, objects=%s, leases=%s, mail=%s",
        type(events).__name__,
        type(limiter).__name__,
        type(store).__name__,
        type(leases).__name__,
        type(mail.mailer).__name__,
    )
    return Services(
        settings=settings, events=events, limiter=limiter, store=store, leases=leases, mail=mail
    )
