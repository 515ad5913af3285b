"""Lease implementations: Redis `SET NX PX` when Redis is configured, the `job_leases` table
otherwise. Both compare the owner before renewing or releasing, so a process never frees a
lease another process took over after it expired."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
from tortoise.exceptions import IntegrityError

from domain.leases import Leases
from domain.models import JobLease
from domain.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "codedrop:lease:"

# compare-and-set scripts: only the owner may extend or delete its lease
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def _wall_now() -> datetime:
    return datetime.now(UTC)


class RedisLeases:
    """Leases as Redis keys with a TTL (`SET key owner NX PX ttl`)."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    async def acquire(self, name: str, *, owner: str, ttl: float) -> bool:
        return bool(await self._client.set(PREFIX + name, owner, nx=True, px=int(ttl * 1000)))

    async def renew(self, name: str, *, owner: str, ttl: float) -> bool:
        result = self._client.eval(_RENEW, 1, PREFIX + name, owner, int(ttl * 1000))
        return bool(await result)

    async def release(self, name: str, *, owner: str) -> None:
        await self._client.eval(_RELEASE, 1, PREFIX + name, owner)

    async def close(self) -> None:
        await self._client.aclose()


class DatabaseLeases:
    """Leases as rows of `job_leases` (name is the primary key, so one holder at a time)."""

    async def acquire(self, name: str, *, owner: str, ttl: float) -> bool:
        now = _wall_now()
        expires = now + timedelta(seconds=ttl)
        try:
            await JobLease.create(name=name, owner=owner, expires_at=expires)
            return True
        except IntegrityError:
            pass
        # take over an expired lease; the condition on expires_at lets only one taker win
        taken = await JobLease.filter(name=name, expires_at__lt=now).update(
            owner=owner, expires_at=expires
        )
        return taken == 1

    async def renew(self, name: str, *, owner: str, ttl: float) -> bool:
        expires = _wall_now() + timedelta(seconds=ttl)
        return await JobLease.filter(name=name, owner=owner).update(expires_at=expires) == 1

    async def release(self, name: str, *, owner: str) -> None:
        await JobLease.filter(name=name, owner=owner).delete()

    async def close(self) -> None:
        return None


def build_leases(settings: Settings) -> Leases:
    """Redis leases when Redis is configured, database leases otherwise."""
    if settings.redis_url:
        return RedisLeases(settings.redis_url)
    return DatabaseLeases()
