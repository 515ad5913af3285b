"""How an update is answered, as dispatcher middlewares: the user's language (aiogram's i18n
middleware over the `telegram` catalogue), the one place errors become replies, and the count
of updates in flight with the time to each one's first answer (metrics, shutdown). The same
role as `bots/discord/replies.py`.

Every domain refusal a handler lets through is answered with the shared wording; anything
unexpected is logged with a reference the user sees, so a support request can find the log.
"""

from __future__ import annotations

import gettext
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware

from bots.i18n import DEFAULT, LOCALES_DIR, negotiate
from bots.inflight import InFlight
from bots.metrics import FIRST_ACK, INTERACTIONS
from bots.telegram.texts import CATALOGUE, refusal, text

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods.base import Response
from domain.errors import DomainError

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class CatalogueI18n(I18n):
    """aiogram's `I18n` over the `telegram` catalogue (Babel `Translations` compiled from the
    `.po` files, English behind each language) instead of `.mo` files it finds itself."""

    def __init__(self) -> None:
        super().__init__(path=LOCALES_DIR, default_locale=DEFAULT, domain=CATALOGUE.domain)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        return dict(CATALOGUE.translations)


class Locales(SimpleI18nMiddleware):
    """aiogram's i18n middleware: the locale of `event_from_user.language_code` (`pt-br` ->
    `pt_BR`, `pt` -> `pt_BR`, unknown -> `en`) becomes the I18n context and `lang`, which
    every handler passes to the texts."""

    def __init__(self) -> None:
        super().__init__(CatalogueI18n())

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        return negotiate(user.language_code if user else None, self.i18n.available_locales)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["lang"] = await self.get_locale(event, data)
        return await super().__call__(handler, event, data)


# when the update being handled arrived; emptied by its first request to Telegram
_arrived: ContextVar[list[float] | None] = ContextVar("telegram_update_arrived", default=None)


class InFlightUpdates(BaseMiddleware):
    """Outer update middleware: counts the update as in flight (a shutdown waits for it) and
    as answered or failed once its handlers are done."""

    def __init__(self, tracker: InFlight) -> None:
        self.tracker = tracker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        token = _arrived.set([time.perf_counter()])
        outcome = "failed"
        try:
            with self.tracker.track():
                result = await handler(event, data)
            outcome = "answered"
            return result
        finally:
            _arrived.reset(token)
            INTERACTIONS.labels("telegram", outcome).inc()


class FirstAnswer(BaseRequestMiddleware):
    """Session middleware: observes the time from an update's arrival to its first request."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        arrived = _arrived.get()
        if arrived:
            FIRST_ACK.labels("telegram").observe(time.perf_counter() - arrived.pop())
        return await make_request(bot, method)


class ErrorReplies(BaseMiddleware):
    """Turns a `DomainError` into a friendly reply and any other failure into a reference."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except DomainError as exc:
            log.info("refused %s: %s", type(event).__name__, exc.code)
            await _reply(event, refusal(exc, data.get("lang")))
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("telegram handler failed (ref %s)", ref)
            await _reply(event, text("error.generic", data.get("lang"), ref=ref))
        return None


async def _reply(event: TelegramObject, body: str) -> None:
    try:
        if isinstance(event, Message):
            await event.answer(body)
        elif isinstance(event, CallbackQuery) and event.message is not None:
            await event.bot.send_message(chat_id=event.message.chat.id, text=body)  # type: ignore[union-attr]
    except TelegramAPIError as exc:
        log.warning("could not send an error reply: %s", exc.message)
