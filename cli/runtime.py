"""The process runtime: runs the chosen parts of codedrop in one event loop, and stops them
gracefully on SIGTERM or SIGINT.

`codedrop run`, `codedrop api` (one worker), `codedrop bot …` and `codedrop scheduler` all
go through `Runtime.run`. A stop goes in two phases, both bounded by
`CODEDROP_SHUTDOWN_TIMEOUT`:

1. every part stops taking new work and finishes what it took: the API closes its listening
   socket and answers the requests in flight, the Discord bot leaves the gateway with a close
   frame and answers the interactions in flight, the Telegram bot stops polling and answers
   the updates in flight, the scheduler fires no more jobs and lets the running one finish its
   current step;
2. the parts, the notifiers, the event bus, Redis and the database are closed.

What is still running when the time is up is cancelled; a second signal cancels at once.
The process exits 0 after a stop asked by a signal, 1 when a part failed by itself.

uvicorn's `Server.serve()` captures SIGTERM and SIGINT itself and raises the signal again
after its own shutdown, which ends the process before any code after `serve()` runs; the API
part runs a `Server` whose signal capture is off, the runtime owning the signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from domain.adapters import db
from domain.adapters.bootstrap import Services, bootstrap
from domain.settings import Settings

log = logging.getLogger("codedrop.runtime")

HEARTBEAT_SECONDS = 1.0
STALE_AFTER = 10.0  # a heartbeat older than this: the event loop is stuck
CLOSE_RESERVE = 2.0  # seconds of the shutdown budget kept for closing connections


class Part(Protocol):
    """One part of the process (API, a bot, the scheduler) as the runtime drives it."""

    async def run(self) -> None:
        """Serve until stopped."""

    async def stop(self) -> None:
        """Take no new work and finish what was taken (`run` then returns)."""

    async def close(self) -> None:
        """Release what the part holds (after `stop`, or when the time is up)."""

    def healthy(self) -> bool:
        """Whether the part is doing its job (read by `/healthz` of the ops port)."""


class Heartbeat:
    """A timestamp the event loop renews every second: its age tells a stuck loop."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    @property
    def age(self) -> float:
        return time.monotonic() - self.at

    async def beat(self) -> None:
        while True:
            self.at = time.monotonic()
            await asyncio.sleep(HEARTBEAT_SECONDS)


class Runtime:
    """Starts parts, watches for signals and failures, and stops everything in order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parts: dict[str, Part] = {}
        self.heartbeat = Heartbeat()
        self.stopping: asyncio.Event | None = None
        self._force: asyncio.Event | None = None
        self.signalled: int | None = None
        self._deadline: float | None = None  # loop time by which the process must be gone

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the process is healthy, and the details (`/healthz` of the ops port)."""
        parts = {name: part.healthy() for name, part in self.parts.items()}
        age = self.heartbeat.age
        ok = age < STALE_AFTER and all(parts.values()) and not self._is_stopping()
        return ok, {
            "status": "ok" if ok else "unhealthy",
            "heartbeat_age_seconds": round(age, 3),
            "stopping": self._is_stopping(),
            "parts": {name: "ok" if up else "down" for name, up in parts.items()},
        }

    def _is_stopping(self) -> bool:
        return self.stopping is not None and self.stopping.is_set()

    def _on_signal(self, signum: int) -> None:
        assert self.stopping is not None and self._force is not None
        if self.stopping.is_set():
            log.warning("second %s: stopping now", signal.Signals(signum).name)
            self._force.set()
            return
        self.signalled = signum
        log.info(
            "%s: shutting down (within %gs)",
            signal.Signals(signum).name,
            self.settings.shutdown_timeout,
        )
        self.stopping.set()

    @contextlib.contextmanager
    def _signals(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        handled = (signal.SIGTERM, signal.SIGINT)
        for signum in handled:
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            yield
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)

    async def run(
        self,
        build: Callable[[Services], dict[str, Part]],
        *,
        started: Callable[[Runtime], None] | None = None,
    ) -> int:
        """Open the database, build the parts with the process's services, serve until a
        signal or a part's failure, then stop. The exit status."""
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self._force = asyncio.Event()
        with self._signals(loop):
            await db.init_db(self.settings, migrate=not self.settings.is_mysql)
            await db.open_pool(self.settings)  # before the first request or update
            services = bootstrap(self.settings)
            try:
                self.parts = build(services)
                return await self._serve(loop, started)
            finally:
                await self._close(loop, services)

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, started: Callable[[Runtime], None] | None
    ) -> int:
        assert self.stopping is not None
        tasks: dict[asyncio.Task[Any], str] = {
            asyncio.create_task(part.run(), name=name): name for name, part in self.parts.items()
        }
        beating = asyncio.create_task(self.heartbeat.beat(), name="heartbeat")
        ops = None
        try:
            if self.settings.metrics_port:
                from cli.ops import OpsServer

                ops = OpsServer(self, self.settings.metrics_port)
                await ops.start()
            await asyncio.sleep(0)
            if started is not None:
                started(self)
            asking = asyncio.create_task(self.stopping.wait(), name="signals")
            done, _ = await asyncio.wait({asking, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            asking.cancel()
            # a part that returns before it was asked to stop has failed, whatever it raised
            failed = [t for t in done if t in tasks]
            for task in failed:
                error = None if task.cancelled() else task.exception()
                log.error("%s stopped by itself: %r", tasks[task], error)
            self._deadline = loop.time() + self.settings.shutdown_timeout
            self.stopping.set()
            await self._stop(loop, tasks)
            return 1 if failed else 0
        finally:
            beating.cancel()
            if ops is not None:
                await ops.stop()

    async def _stop(
        self, loop: asyncio.AbstractEventLoop, tasks: dict[asyncio.Task[Any], str]
    ) -> None:
        """Phase 1: every part stops taking work and finishes what it took, in the budget."""
        assert self._force is not None
        budget = self.settings.shutdown_timeout
        assert self._deadline is not None
        deadline = self._deadline - min(CLOSE_RESERVE, budget / 4)
        started = time.perf_counter()

        async def stop(name: str, part: Part) -> None:
            try:
                await part.stop()
            except Exception:
                log.exception("%s: stopping failed", name)

        stops = [asyncio.create_task(stop(n, p), name=f"stop-{n}") for n, p in self.parts.items()]
        pending = set(stops) | {t for t in tasks if not t.done()}
        forced = asyncio.create_task(self._force.wait())
        while pending and not self._force.is_set():
            left = deadline - loop.time()
            if left <= 0:
                break
            _, pending = await asyncio.wait(
                pending | {forced}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            pending.discard(forced)
        forced.cancel()
        if pending:
            log.warning(
                "shutdown: cancelling %s after %.1fs",
                ", ".join(sorted(t.get_name() for t in pending)),
                time.perf_counter() - started,
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task, name in tasks.items():
            if not task.cancelled() and task.exception() is not None:
                log.error("%s ended with %r", name, task.exception())
        log.info("shutdown: work in flight finished in %.2fs", time.perf_counter() - started)

    async def _close(
        self,
        loop: asyncio.AbstractEventLoop,
        services: Services,
    ) -> None:
        """Phase 2: close the parts, the notifiers, the adapters and the database."""
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            (name, part.close) for name, part in reversed(self.parts.items())
        ]
        steps += [("services", services.close), ("database", db.close_db)]
        if self._deadline is None:  # start-up failed before serving
            self._deadline = loop.time() + self.settings.shutdown_timeout
        for name, close in steps:
            # each step gets a share of what is left, at least a moment
            left = max(self._deadline - loop.time(), 0.2)
            try:
                await asyncio.wait_for(close(), timeout=min(left, CLOSE_RESERVE))
            except Exception as exc:
                log.warning("closing %s failed: %r", name, exc)
        log.info("codedrop stopped")
