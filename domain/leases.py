"""Leases: how a scheduled job run (or a large-upload processing) stays with one process.

A lease is a named, expiring claim: whoever acquires it runs, everyone else skips. It is
held in Redis (`SET NX PX`) when Redis is configured and in the `job_leases` table
otherwise (domain/adapters/leases.py); a process builds its lease client once, at
start-up (`Services.leases`, domain/adapters/bootstrap.py). A lease can be lost (a long GC
pause, a Redis failover), so the work done under it is idempotent as well: a lease only
keeps the waste down, the database constraints keep the results right.

Leases use the real wall clock, never `domain.clock`: tests move the domain's clock, while
lease expiry is about processes on real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Leases(Protocol):
    """Named expiring leases shared by every process of one deployment."""

    async def acquire(self, name: str, *, owner: str, ttl: float) -> bool:
        """Take `name` for `ttl` seconds; False when someone else holds it."""
        ...

    async def renew(self, name: str, *, owner: str, ttl: float) -> bool:
        """Extend a lease we hold; False when it was lost (expired and taken)."""
        ...

    async def release(self, name: str, *, owner: str) -> None:
        """Give a lease back early (a no-op when we no longer hold it)."""
        ...

    async def close(self) -> None: ...


def new_owner() -> str:
    """An owner id naming this process (host, pid) plus a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(slots=True)
class Held:
    """A lease held by `holding`; `lost` turns True if a renewal failed."""

    name: str
    owner: str
    lost: bool = False
    _stop: asyncio.Event = field(default_factory=asyncio.Event)


async def _keep_renewed(leases: Leases, held: Held, ttl: float) -> None:
    while True:
        try:
            await asyncio.wait_for(held._stop.wait(), timeout=ttl / 3)
            return
        except TimeoutError:
            pass
        try:
            ok = await leases.renew(held.name, owner=held.owner, ttl=ttl)
        except Exception:
            log.exception("renewing lease %s failed", held.name)
            ok = False
        if not ok:
            held.lost = True
            log.warning("lease %s was lost while its work was running", held.name)
            return


@contextlib.asynccontextmanager
async def holding(
    leases: Leases, name: str, *, ttl: float, owner: str | None = None, release: bool = True
) -> AsyncIterator[Held | None]:
    """Hold `name` for the block, renewing it every ttl/3; yields None when it is taken.

    `release=False` keeps the lease until it expires (a per-slot lease that must keep a
    second process from running the same slot after the first one finished).
    """
    owner = owner or new_owner()
    if not await leases.acquire(name, owner=owner, ttl=ttl):
        yield None
        return
    held = Held(name=name, owner=owner)
    renewer = asyncio.create_task(_keep_renewed(leases, held, ttl), name=f"lease:{name}")
    try:
        yield held
    finally:
        held._stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        if release:
            try:
                await leases.release(name, owner=owner)
            except Exception:
                log.exception("releasing lease %s failed (it will expire by itself)", name)
