"""EventBus implementations: in-process fan-out, and Redis pub/sub for many processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as redis
from redis.exceptions import RedisError

from domain.events import Event

log = logging.getLogger(__name__)

CHANNEL = "codedrop:events"
QUEUE_SIZE = 1_000


class InProcessEventBus:
    """Delivers each event to every subscriber of this process."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    async def publish(self, event: Event) -> None:
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning(
                    "event subscriber is %d events behind; dropping %s", QUEUE_SIZE, event.name
                )

    async def subscribe(self) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        self._queues.clear()


class RedisEventBus:
    """Publishes to a Redis channel; one reader task per process fans events out locally.

    When Redis is down, publishing logs and delivers to this process only (degraded, not
    broken), and the reader reconnects by itself when Redis returns.
    """

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15
        )
        self._local = InProcessEventBus()
        self._reader: asyncio.Task[None] | None = None
        self._subscribers = 0

    async def publish(self, event: Event) -> None:
        try:
            await self._client.publish(CHANNEL, event.to_json())
        except (RedisError, OSError) as exc:
            log.warning(
                "redis unavailable, event %s delivered in this process only: %s", event.name, exc
            )
            self._local.deliver(event)

    async def subscribe(self) -> AsyncIterator[Event]:
        self._subscribers += 1
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="redis-events")
        try:
            async for event in self._local.subscribe():
                yield event
        finally:
            self._subscribers -= 1

    async def _read(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        try:
                            self._local.deliver(Event.from_json(message["data"]))
                        except (ValueError, TypeError, KeyError):
                            log.warning("ignoring a malformed event on %s", CHANNEL)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning(
                    "redis event reader lost its connection (%s); retrying in %.1fs", exc, delay
                )
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def healthy(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._local.close()
        await self._client.aclose()
