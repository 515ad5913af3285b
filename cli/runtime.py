"""The process runtime: what a `codedrop` command opens once and closes once.

`Process` is the one context every command runs in: it opens the database (migrating the
embedded SQLite file), builds the services (`domain.adapters.bootstrap`: event bus, rate
limiter, object store, leases) once, and closes them in reverse order. Two ways use it:

- `Runtime.run` serves long-running parts (API server, bots, scheduler, webhook dispatcher;
  `cli/parts.py`) with the ops port (`cli/ops.py`) until a signal or a part's failure:
  `codedrop run`, `codedrop api` (one worker), `codedrop bot telegram|discord`, `codedrop
  scheduler`;
- `run_once` runs one piece of work and returns (the admin commands, `codedrop jobs run`),
  turning domain and database errors into one line for the operator.

`codedrop api --workers N` (N > 1) hands the socket to uvicorn's supervisor instead; each
worker's app opens and closes its own database and services in its lifespan (api/asgi.py).

A stop of `Runtime.run` goes in two phases, both bounded by `CODEDROP_SHUTDOWN_TIMEOUT`:

1. every part stops taking new work and finishes what it took: the API closes its listening
   socket and answers the requests in flight, the Discord bot leaves the gateway with a close
   frame and answers the interactions in flight, the Telegram bot stops polling and answers
   the updates in flight, the scheduler fires no more jobs and lets the running one finish its
   current step;
2. the parts, the notifiers, then the `Process` (services: event bus, Redis, leases; the
   database) are closed.

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
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click
from tortoise.exceptions import DBConnectionError, OperationalError

from domain import audit
from domain.adapters import db
from domain.adapters.bootstrap import Services, bootstrap
from domain.audit import AuditChannel
from domain.errors import DomainError
from domain.settings import Settings

if TYPE_CHECKING:
    from cli.ops import OpsServer

log = logging.getLogger("codedrop.runtime")
T = TypeVar("T")

HEARTBEAT_SECONDS = 1.0
STALE_AFTER = 10.0  # a heartbeat older than this: the event loop is stuck
CLOSE_RESERVE = 2.0  # seconds of the shutdown budget kept for closing connections


class Process:
    """The database and the services of one process, opened once and closed once.

    The services are built on first use (`services`), so a command that only reads the
    database builds no Redis or S3 client; `close` closes what was opened, each step within
    the time `step_timeout` gives it (a shutdown deadline), services before the database.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._services: Services | None = None
        self._open = False

    async def open(self) -> Process:
        """Open the database (the embedded SQLite file is migrated first)."""
        await db.init_db(self.settings, migrate=not self.settings.is_mysql)
        self._open = True
        return self

    @property
    def services(self) -> Services:
        """The process's adapters, built once (`bootstrap`)."""
        if self._services is None:
            self._services = bootstrap(self.settings)
        return self._services

    async def close(self, step_timeout: Callable[[], float] | None = None) -> None:
        """Close the services, then the database; a step that fails or runs out of time is
        logged and the next one still runs."""
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self._services is not None:
            steps.append(("services", self._services.close))
        if self._open:
            steps.append(("database", db.close_db))
        for name, close in steps:
            try:
                if step_timeout is None:
                    await close()
                else:
                    await asyncio.wait_for(close(), timeout=step_timeout())
            except Exception as exc:
                log.warning("closing %s failed: %r", name, exc)
        self._services, self._open = None, False

    async def __aenter__(self) -> Process:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def run_once(settings: Settings, work: Callable[[Process], Awaitable[T]]) -> T:
    """Run one command's work in a `Process` (what it changes is audited as `cli`); a domain
    refusal or a database problem ends the command with one line, never a traceback."""

    async def main() -> T:
        async with Process(settings) as process:
            audit.set_channel(AuditChannel.CLI)
            return await work(process)

    return one_line_errors(main)


def one_line_errors(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main`; a domain refusal or a database problem becomes a one-line click error."""
    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    except (DBConnectionError, OperationalError) as exc:
        raise click.ClickException(database_problem(exc)) from None


def database_problem(exc: Exception) -> str:
    """One line for an operator: which database, what went wrong, what to do (no password)."""
    settings = Settings()
    where = db.describe_database(settings)
    # the driver's own error names host and port but never the password (tortoise's own
    # message may print its whole connection template, so it is not shown)
    cause = exc.__cause__ or exc.__context__
    reason = str(cause.args[-1] if cause is not None and cause.args else exc).splitlines()[0]
    if isinstance(exc, DBConnectionError):
        check = "it is running and " if settings.is_mysql else ""
        return (
            f"cannot reach the database, {where}: {reason}. Check that {check}"
            "CODEDROP_DATABASE_URL names it."
        )
    if "doesn't exist" in reason or "no such table" in reason:
        return f"the database has no codedrop tables yet ({where}): run `codedrop migrate` first"
    return f"database error, {where}: {reason}"


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
        """Open the process (database, services), build the parts with its services, serve
        until a signal or a part's failure, then stop. The exit status."""
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self._force = asyncio.Event()
        process = Process(self.settings)
        with self._signals(loop):
            try:
                await process.open()
                await db.open_pool(self.settings)  # before the first request or update
                self.parts = build(process.services)
                return await self._serve(loop, started)
            finally:
                await self._close(loop, process)

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, started: Callable[[Runtime], None] | None
    ) -> int:
        assert self.stopping is not None
        tasks: dict[asyncio.Task[Any], str] = {
            asyncio.create_task(part.run(), name=name): name for name, part in self.parts.items()
        }
        beating = asyncio.create_task(self.heartbeat.beat(), name="heartbeat")
        ops: OpsServer | None = None
        try:
            if self.settings.metrics_port:
                from cli.ops import OpsServer  # aiohttp: loaded only where the port is on

                ops = OpsServer(self.health, self.settings.metrics_port)
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

    async def _close(self, loop: asyncio.AbstractEventLoop, process: Process) -> None:
        """Phase 2: close the parts, then the process (services, database), each step within
        a share of what is left of the shutdown budget."""
        if self._deadline is None:  # start-up failed before serving
            self._deadline = loop.time() + self.settings.shutdown_timeout
        deadline = self._deadline

        def step_timeout() -> float:
            # each step gets a share of what is left, at least a moment
            return min(max(deadline - loop.time(), 0.2), CLOSE_RESERVE)

        for name, part in reversed(self.parts.items()):
            try:
                await asyncio.wait_for(part.close(), timeout=step_timeout())
            except Exception as exc:
                log.warning("closing %s failed: %r", name, exc)
        await process.close(step_timeout)
        log.info("codedrop stopped")
