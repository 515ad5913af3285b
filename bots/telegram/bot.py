"""Building the aiogram `Bot` for codedrop: API server choice and flood control.

Every Bot codedrop creates (the front's, the scheduler's notifier) comes from `build_bot`, so
all of them talk to the configured Bot API server (`CODEDROP_TELEGRAM_API_URL`: a self-hosted
telegram-bot-api, or the tests' fake) and all of them wait out Telegram's 429 answers instead
of dropping the message. The same role as `bots/discord/bot.py` (the platform client).
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import LinkPreviewOptions

from domain.settings import Settings

log = logging.getLogger(__name__)

# A 429 carries the wait Telegram demands; past this much waiting for one request we give up
# and let the caller see the error rather than hold a handler for hours.
MAX_FLOOD_WAIT = 600.0


class FloodControl(BaseRequestMiddleware):
    """Retries a request Telegram refused with 429 after the `retry_after` it asked for.

    A 429 means Telegram did not act on the request, so sending it again cannot duplicate
    a message. Network errors are not retried here: the request may have been delivered.
    """

    def __init__(self, max_wait: float = MAX_FLOOD_WAIT) -> None:
        self.max_wait = max_wait
        self.waited = 0.0  # total seconds spent waiting (observability, tests)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        spent = 0.0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                wait = float(max(exc.retry_after, 1))
                if spent + wait > self.max_wait:
                    log.error(
                        "telegram %s: flood wait over %.0f s, giving up",
                        method.__api_method__,
                        self.max_wait,
                    )
                    raise
                log.warning("telegram %s: 429, retrying in %.0f s", method.__api_method__, wait)
                await asyncio.sleep(wait)
                spent += wait
                self.waited += wait


def api_server(settings: Settings) -> TelegramAPIServer | None:
    """The Bot API server to talk to: the configured one, or None for api.telegram.org."""
    if not settings.telegram_api_url:
        return None
    return TelegramAPIServer.from_base(settings.telegram_api_url)


def bot_token(settings: Settings) -> str:
    """The bot token; a clear error when it is not configured."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise RuntimeError("CODEDROP_TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather")
    return settings.telegram_bot_token.get_secret_value()


def build_bot(settings: Settings, *, html: bool = True) -> Bot:
    """A Bot on the configured API server, with flood control; HTML parse mode by default."""
    server = api_server(settings)
    session = AiohttpSession(api=server) if server is not None else AiohttpSession()
    session.middleware(FloodControl())
    default = DefaultBotProperties(
        parse_mode=ParseMode.HTML if html else None,
        link_preview=LinkPreviewOptions(is_disabled=True),
    )
    return Bot(token=bot_token(settings), session=session, default=default)
