"""Group commit: concurrent requests for the same key share one batch, one transaction.

A launch-day burst sends hundreds of claims for one campaign at once. Run one by one, every
claim holds the lock on "the next available code" until its own commit, so claims queue
behind each other's round trips. A `Coalescer` lets whatever arrived while a batch was in
flight go together in the next one: a lone request runs at once, as a batch of one, and the
batch grows with the load (under load, optionally lingering a few ms to fill).

The mechanism knows nothing of claims: `run(key, items)` returns one outcome per item, in
order, and an exception it raises fails every item of that batch.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Lane(Generic[T, R]):
    pending: deque[tuple[T, asyncio.Future[R]]] = field(default_factory=deque)
    flushers: int = 0


class Coalescer(Generic[K, T, R]):
    """Batches concurrent `submit`s by key; at most `max_inflight` batches per key at once.

    `linger` (seconds): once batches carry several items (the key is under load), the next
    batch waits this long for more before it starts. A request on a quiet key never waits.
    """

    def __init__(
        self,
        run: Callable[[K, list[T]], Awaitable[list[R]]],
        *,
        max_batch: int,
        max_inflight: int = 1,
        linger: float = 0.0,
    ) -> None:
        if max_batch < 1 or max_inflight < 1:
            raise ValueError("max_batch and max_inflight must be at least 1")
        self._run = run
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self.linger = linger
        # one set of lanes per event loop: futures and tasks must not cross loops
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[K, _Lane[T, R]]] = (
            weakref.WeakKeyDictionary()
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # batches run, and the items they carried (this process)
        self.items = 0
        self.observe: Callable[[int], None] | None = None  # told each batch's size (metrics)

    async def submit(self, key: K, item: T) -> R:
        """Queue `item` under `key` and wait for its outcome."""
        loop = asyncio.get_running_loop()
        lanes = self._lanes.setdefault(loop, {})
        lane = lanes.get(key)
        if lane is None:
            lane = lanes[key] = _Lane()
        future: asyncio.Future[R] = loop.create_future()
        lane.pending.append((item, future))
        if lane.flushers < self.max_inflight:
            lane.flushers += 1
            task = loop.create_task(self._flush(lanes, key, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _flush(self, lanes: dict[K, _Lane[T, R]], key: K, lane: _Lane[T, R]) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            busy = False
            while lane.pending:
                if busy and self.linger > 0 and len(lane.pending) < self.max_batch:
                    # under load (the last batch carried several): let this one fill a little
                    await asyncio.sleep(self.linger)
                take = min(len(lane.pending), self.max_batch)
                busy = take > 1
                batch = [lane.pending.popleft() for _ in range(take)]
                self.batches += 1
                self.items += take
                if self.observe is not None:
                    self.observe(take)
                try:
                    outcomes = await self._run(key, [item for item, _ in batch])
                except Exception as exc:  # every waiter sees the batch's failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), outcome in zip(batch, outcomes, strict=True):
                        if not future.done():
                            future.set_result(outcome)
                batch = []
        finally:
            # cancelled (the loop is closing): nobody is left to answer these waiters
            for _, future in batch:
                if not future.done():
                    future.cancel()
            lane.flushers -= 1
            if lane.flushers == 0:
                for _, future in lane.pending:
                    if not future.done():
                        future.cancel()
                lane.pending.clear()
                if lanes.get(key) is lane:
                    del lanes[key]
