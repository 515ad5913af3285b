"""Work a bot has accepted and not answered yet, so that a shutdown can wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class InFlight:
    """A count of updates or interactions being answered, and an event set when it is zero."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        """How many are in flight now (a property, not `len()`: an idle tracker stays truthy)."""
        return self._count

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count the enclosed work as in flight."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Until nothing is in flight (a few loop turns first, so work just handed to a new
        task has the time to register)."""
        for _ in range(3):
            await asyncio.sleep(0)
        while True:
            await self._idle.wait()
            await asyncio.sleep(0.05)
            if self._idle.is_set():
                return
