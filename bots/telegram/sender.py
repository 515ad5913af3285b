"""`TelegramNotifier`: the domain's `Notifier` for Telegram (reports, notices, waitlists).

Sends are paced under Telegram's broadcast limit (about 30 messages/s per bot; we keep to
25/s), and a 429 is waited out and retried by the bot's `FloodControl`, so a burst of
notifications is slowed down, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bots.telegram.bot import build_bot
from bots.telegram.mapping import chat_ref
from domain.settings import Settings

log = logging.getLogger(__name__)

BROADCAST_PER_SECOND = 25.0


class Pacer:
    """Spaces calls at least 1/rate seconds apart, across every task that shares it."""

    def __init__(self, per_second: float = BROADCAST_PER_SECOND) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0

    async def wait(self) -> None:
        """Return when this caller's slot comes (slots are handed out in call order)."""
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class TelegramNotifier:
    """Plain-text messages to a chat id, paced; False when the chat cannot be reached."""

    provider = "telegram"

    def __init__(
        self,
        settings: Settings,
        *,
        bot: Bot | None = None,
        per_second: float = BROADCAST_PER_SECOND,
    ) -> None:
        self._owns_bot = bot is None
        self.bot = bot if bot is not None else build_bot(settings, html=False)
        self.pacer = Pacer(per_second)

    async def send(self, chat_id: str, text: str, *, button: tuple[str, str] | None = None) -> bool:
        """Deliver `text` (no markup); `button` is an optional (label, url) link button."""
        markup = None
        if button is not None:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=button[0], url=button[1])]]
            )
        await self.pacer.wait()
        try:
            await self.bot.send_message(
                chat_id=chat_ref(chat_id), text=text, parse_mode=None, reply_markup=markup
            )
        except TelegramForbiddenError:
            log.info("telegram chat %s blocked the bot or left; not delivered", chat_id)
            return False
        except TelegramBadRequest as exc:
            log.warning("telegram chat %s unreachable: %s", chat_id, exc.message)
            return False
        except TelegramNetworkError as exc:
            log.warning("telegram network error sending to %s: %s", chat_id, exc.message)
            return False
        except TelegramAPIError as exc:
            log.warning("telegram refused a message to %s: %s", chat_id, exc.message)
            return False
        return True

    async def close(self) -> None:
        """Close the HTTP session if this notifier created its bot."""
        if self._owns_bot:
            await self.bot.session.close()
