"""Dispatcher middlewares: the user's language, and the one place errors become replies.

Every domain refusal a handler lets through is answered with the shared wording; anything
unexpected is logged with a reference the user sees, so a support request can find the log.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, TelegramObject, User

from bots.telegram.texts import refusal, text
from domain.errors import DomainError

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Language(BaseMiddleware):
    """Puts `lang` (the user's Telegram language code) into every handler's data."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        data["lang"] = user.language_code if user else None
        return await handler(event, data)


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
