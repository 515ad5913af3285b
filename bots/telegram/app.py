"""`TelegramFront`: the Telegram bot as one object the `codedrop` command runs.

It builds the aiogram `Bot` (configured API server, flood control) and `Dispatcher` (routers,
FSM storage in Redis when `REDIS_URL` is set), publishes the command list, follows domain
events for owner notices and waitlists, and then either long-polls or, when
`CODEDROP_TELEGRAM_WEBHOOK_URL` is set, registers the webhook and serves updates handed to
`process_webhook` by the API app.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    Update,
)
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bots.i18n import DEFAULT, LANGUAGES
from bots.inflight import InFlight
from bots.telegram.bot import build_bot
from bots.telegram.handlers import routers
from bots.telegram.notices import WANTED, Notices
from bots.telegram.replies import ErrorReplies, FirstAnswer, InFlightUpdates, Locales
from bots.telegram.sender import TelegramNotifier
from bots.telegram.texts import label
from domain.adapters.bootstrap import Services
from domain.events import Event
from domain.settings import Settings

log = logging.getLogger(__name__)

MEMBER_COMMANDS = ("start", "claim", "mycodes", "help")
DEVELOPER_COMMANDS = (
    "register",
    "link",
    "join",
    "new",
    "campaigns",
    "upload",
    "stats",
    "pause",
    "resume",
    "end",
    "reopen",
    "archive",
    "identity",
    "post",
    "generate",
    "cancel",
)
GROUP_COMMANDS = ("claim", "post", "help")


def build_storage(settings: Settings) -> BaseStorage:
    """FSM storage: Redis when configured (survives restarts, shared), memory otherwise."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return MemoryStorage()


def build_dispatcher(
    services: Services, storage: BaseStorage, in_flight: InFlight | None = None
) -> Dispatcher:
    """The dispatcher with every router; handlers receive `services` as an argument."""
    dp = Dispatcher(storage=storage, services=services)
    dp.update.outer_middleware(InFlightUpdates(in_flight if in_flight is not None else InFlight()))
    dp.update.outer_middleware(Locales())
    # answering is outermost so a callback is answered even when a handler fails
    dp.callback_query.middleware(CallbackAnswerMiddleware())
    dp.message.middleware(ErrorReplies())
    dp.callback_query.middleware(ErrorReplies())
    dp.include_routers(*routers())
    return dp


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.

    The configured one, or one derived from the secret key and the bot token, so a webhook
    is never registered without a secret.
    """
    if settings.telegram_webhook_secret is not None:
        configured = settings.telegram_webhook_secret.get_secret_value()
        if configured:
            return configured
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    return hmac.new(
        settings.secret_key.get_secret_value().encode(),
        b"telegram-webhook:" + token.encode(),
        hashlib.sha256,
    ).hexdigest()


def commands(keys: tuple[str, ...], lang: str = DEFAULT) -> list[BotCommand]:
    return [BotCommand(command=k, description=label(f"command.{k}", lang)) for k in keys]


class TelegramFront:
    """The Telegram bot: polling or webhook, plus event-driven notices."""

    def __init__(
        self, services: Services, *, bot: Bot | None = None, drain_timeout: float = 10.0
    ) -> None:
        self.services = services
        self.drain_timeout = drain_timeout
        self.settings = services.settings
        self.bot = bot if bot is not None else build_bot(self.settings)
        self.bot.session.middleware(FirstAnswer())
        self.storage = build_storage(self.settings)
        self.in_flight = InFlight()
        self.dispatcher = build_dispatcher(services, self.storage, self.in_flight)
        self.notifier = TelegramNotifier(self.settings, bot=self.bot)
        self.notices = Notices(self.bot, self.notifier, spawn=self._spawn)
        # /post arms the timer that opens a card posted before its campaign starts
        self.dispatcher["card_opener"] = self.notices.open_at
        self.ready = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._stopping = asyncio.Event()
        self._polling: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check the token (getMe), publish the commands, follow domain events. Idempotent."""
        if self._started:
            return
        self._started = True
        me = await self.bot.me()
        log.info("telegram bot @%s (id %d) starting", me.username, me.id)
        configured = (self.settings.telegram_bot_username or "").lstrip("@")
        if not configured and me.username:
            # the dashboard's t.me deep links in this process need no setting: getMe knows
            self.settings.telegram_bot_username = me.username
        elif configured and me.username and configured.lower() != me.username.lower():
            log.warning(
                "CODEDROP_TELEGRAM_BOT_USERNAME is @%s but this token is @%s's: the dashboard's"
                " deep links point at the wrong bot",
                configured,
                me.username,
            )
        await self.publish_commands()
        events = self.services.events.subscribe()
        self._listener = asyncio.create_task(self._listen(events), name="telegram-events")
        await self.notices.arm()
        # one turn of the loop lets the listener register its subscription before we go on
        await asyncio.sleep(0)
        self.ready.set()

    async def publish_commands(self) -> None:
        """setMyCommands: members everywhere, developers in private chats, a few in groups;
        English for everyone, then each translated language for users of that language."""
        for lang in LANGUAGES:
            # Telegram keys command lists by a two-letter language code (pt_BR -> pt)
            code = None if lang == DEFAULT else lang.split("_")[0]
            await self.bot.set_my_commands(
                commands(MEMBER_COMMANDS, lang), scope=BotCommandScopeDefault(), language_code=code
            )
            await self.bot.set_my_commands(
                commands(MEMBER_COMMANDS + DEVELOPER_COMMANDS, lang),
                scope=BotCommandScopeAllPrivateChats(),
                language_code=code,
            )
            await self.bot.set_my_commands(
                commands(GROUP_COMMANDS, lang),
                scope=BotCommandScopeAllGroupChats(),
                language_code=code,
            )

    async def run(self) -> None:
        """Serve until cancelled: long polling, or the webhook when one is configured."""
        await self.start()
        allowed = self.dispatcher.resolve_used_update_types()
        if self.settings.telegram_webhook_url:
            await self.bot.set_webhook(
                url=self.settings.telegram_webhook_url,
                secret_token=webhook_secret(self.settings),
                allowed_updates=allowed,
            )
            log.info("telegram webhook set to %s", self.settings.telegram_webhook_url)
            await self._stopping.wait()  # updates arrive through process_webhook
            return
        # a webhook left from an earlier deployment would make getUpdates fail with 409
        await self.bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_signals=False, close_bot_session=False, allowed_updates=allowed
            ),
            name="telegram-polling",
        )
        self._polling = polling
        try:
            await asyncio.shield(polling)
        except asyncio.CancelledError:
            await self._stop_polling(polling)
            raise

    async def _stop_polling(self, polling: asyncio.Task[None]) -> None:
        with contextlib.suppress(RuntimeError):  # polling had not started yet
            await self.dispatcher.stop_polling()
        if not polling.done():
            polling.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await polling

    async def process_webhook(self, payload: dict[str, Any], secret_token: str | None) -> bool:
        """Accept one webhook update; False (nothing done) when the secret token is wrong.

        The update is handled in the background so Telegram gets its answer at once.
        """
        expected = webhook_secret(self.settings)
        if secret_token is None or not hmac.compare_digest(secret_token, expected):
            log.warning("telegram webhook call with a wrong secret token refused")
            return False
        update = Update.model_validate(payload, context={"bot": self.bot})
        self._spawn(self._handle_update(update))
        return True

    async def _handle_update(self, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(self.bot, update)
            if isinstance(result, TelegramMethod):
                await self.bot(result)
        except Exception:
            log.exception("telegram update %d failed", update.update_id)

    async def _listen(self, events: AsyncIterator[Event]) -> None:
        async for event in events:
            if event.name in WANTED:
                self._spawn(self._notice(event))

    async def _notice(self, event: Event) -> None:
        try:
            await self.notices.handle(event)
        except Exception:
            log.exception("telegram notice for %s of %s failed", event.name, event.campaign_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def healthy(self) -> bool:
        """Started, and polling (or waiting for webhook calls) has not stopped."""
        if not self.ready.is_set() or self._stopping.is_set():
            return False
        return self._polling is None or not self._polling.done()

    async def stop(self) -> None:
        """Graceful stop: fetch no more updates, then finish every update and notice in
        flight; `close` follows."""
        self._stopping.set()
        if self._polling is not None:
            with contextlib.suppress(RuntimeError):  # polling had not started yet
                await self.dispatcher.stop_polling()
        log.info("telegram: polling stopped; answering %d updates", self.in_flight.count)
        await self.in_flight.wait_idle()
        await self.drain()

    async def drain(self) -> None:
        """Wait for webhook updates and notices in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop following events, finish work in flight, close storage and HTTP session."""
        self.notices.disarm()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        try:
            await asyncio.wait_for(self.drain(), timeout=self.drain_timeout)
        except TimeoutError:
            log.warning(
                "telegram: %d tasks still running at shutdown, cancelling", len(self._tasks)
            )
        except Exception:
            log.exception("telegram: finishing work in flight failed")
        # nothing may run on against a closed storage or HTTP session
        leftover = list(self._tasks)
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        await self.storage.close()
        await self.bot.session.close()
