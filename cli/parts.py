"""The parts `cli.runtime.Runtime` runs: the API on uvicorn, the scheduler, the webhook
dispatcher, and the choice of parts for each `codedrop` command (the bots' fronts are parts as
they are). Every part gets the process's services, built once by the runtime; the API part of
a process that also runs the Telegram bot in webhook mode includes its route
(bots/telegram/webhook.py), and the scheduler part owns the chat notifiers of its reports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from domain.adapters.bootstrap import Services
from domain.notify import Notifier
from domain.settings import Settings

if TYPE_CHECKING:
    from cli.runtime import Part

log = logging.getLogger("codedrop")


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal capture: the runtime owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_limits(settings: Settings, *, workers: int = 1) -> dict[str, Any]:
    """What the HTTP server itself bounds: idle keep-alive connections, and the time a
    request's line and headers may take (api/http_protocol.py). Header count and size, body
    size and body pauses are enforced by api/edge.py. Worker processes import the protocol by
    name (a class made here could not be sent to them) and read the deadline from the
    environment, as they read every other setting."""
    from api.http_protocol import IMPORT_PATH, with_head_timeout

    return {
        "timeout_keep_alive": settings.http_keep_alive_timeout,
        "http": IMPORT_PATH if workers > 1 else with_head_timeout(settings.http_head_timeout),
    }


class ApiPart:
    """The FastAPI app on one uvicorn server in this process."""

    def __init__(self, services: Services, *, host: str, port: int, telegram: Any = None) -> None:
        from api.app import create_app

        settings = services.settings
        self.app = create_app(settings, services, manage_database=False)
        if telegram is not None and settings.telegram_webhook_url:
            from bots.telegram.webhook import webhook_router

            self.app.include_router(webhook_router(telegram))
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            log_config=None,  # our handler (domain/adapters/logs.py) formats uvicorn's lines too
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
            **uvicorn_limits(settings),
        )
        self.server = _Server(config)

    async def run(self) -> None:
        await self.server.serve()

    async def stop(self) -> None:
        """Close the listening socket; uvicorn answers the requests in flight, then `run`
        returns."""
        self.server.should_exit = True

    async def close(self) -> None:
        self.server.force_exit = True

    def healthy(self) -> bool:
        return bool(self.server.started) and not self.server.should_exit


class SchedulerPart:
    """The scheduled jobs (and the chat notifiers their reports use)."""

    def __init__(self, services: Services, notifiers: list[Notifier]) -> None:
        from scheduler.runner import Scheduler

        self.notifiers = notifiers
        self.jobs = Scheduler(services, notifiers)
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        self.jobs.start()
        await self._stopped.wait()

    async def stop(self) -> None:
        try:
            await self.jobs.stop()
        finally:
            self._stopped.set()

    async def close(self) -> None:
        await self.jobs.close()
        await close_notifiers(self.notifiers)

    def healthy(self) -> bool:
        return self.jobs.healthy()


class WebhooksPart:
    """The webhook dispatcher (scheduler/webhooks.py); one process of a deployment sends, by
    lease, so it runs wherever the scheduler runs."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._stop = asyncio.Event()
        self._running = False

    async def run(self) -> None:
        from scheduler.webhooks import run_webhooks

        self._running = True
        try:
            await run_webhooks(self.services, self._stop)
        finally:
            self._running = False

    async def stop(self) -> None:
        """Finish the pass in flight (each attempt is bounded by its timeout), then return."""
        self._stop.set()

    async def close(self) -> None:
        return None

    def healthy(self) -> bool:
        return self._running and not self._stop.is_set()


def build_notifiers(settings: Any) -> list[Notifier]:
    """The chat senders for which a bot token is configured."""
    notifiers: list[Notifier] = []
    if settings.telegram_bot_token:
        from bots.telegram.sender import TelegramNotifier

        notifiers.append(TelegramNotifier(settings))
    if settings.discord_bot_token:
        from bots.discord.sender import DiscordNotifier

        notifiers.append(DiscordNotifier(settings))
    return notifiers


async def close_notifiers(notifiers: list[Notifier]) -> None:
    """Close the senders' HTTP sessions (each is closed even if another fails)."""
    for notifier in notifiers:
        try:
            await notifier.close()  # type: ignore[attr-defined]
        except Exception:
            log.exception("closing the %s notifier failed", notifier.provider)


def choose(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api: bool = False,
    telegram: bool = False,
    discord: bool = False,
    scheduler: bool = False,
    scheduler_alone: bool = False,
) -> Callable[[Services], dict[str, Part]]:
    """A builder of the chosen parts (those whose settings allow them: a bot needs its token,
    the scheduler inside `codedrop run` can be turned off; `codedrop scheduler` always runs)."""

    def build(services: Services) -> dict[str, Part]:
        settings = services.settings
        parts: dict[str, Part] = {}
        front = None
        if telegram and settings.telegram_bot_token:
            from bots.telegram.app import TelegramFront

            front = TelegramFront(services, drain_timeout=settings.shutdown_timeout)
            parts["telegram"] = front
            log.info(
                "telegram bot: starting (%s)",
                "webhook" if settings.telegram_webhook_url else "long polling",
            )
        if discord and settings.discord_bot_token:
            from bots.discord.app import DiscordFront

            parts["discord"] = DiscordFront(services)
            log.info("discord bot: starting")
        if scheduler and (settings.scheduler_enabled or scheduler_alone):
            parts["scheduler"] = SchedulerPart(services, build_notifiers(settings))
            parts["webhooks"] = WebhooksPart(services)
        if api:
            parts["api"] = ApiPart(services, host=host, port=port, telegram=front)
        return parts

    return build
