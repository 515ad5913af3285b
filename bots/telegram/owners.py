"""Who manages: `Gate`, the middleware of the developer routers, and the developer behind a
Telegram account.

A router whose handlers belong to developers installs `Gate` as its inner middleware, which
aiogram runs only once a handler's filters matched: outside a private chat it points to the
private chat, for an account linked to no developer it says how to register or link, and
otherwise the handler runs with the account's `DeveloperView` as its `developer` argument.
What that developer may do to a campaign is the domain's to decide (another tenant's campaign
is refused like an unknown id, and `replies.ErrorReplies` words the refusal).
The same role as `bots/discord/owners.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User

from bots.telegram import buttons, mapping
from bots.telegram.texts import label, text
from domain import audit, developers
from domain.audit import AuditChannel
from domain.developers import DeveloperView

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


async def developer_of(user: User | None) -> DeveloperView | None:
    """The developer this Telegram account is linked to, if any."""
    if user is None:
        return None
    audit.set_channel(AuditChannel.BOT)
    return await developers.developer_for_identity(
        provider=mapping.NAMESPACE, external_id=str(user.id)
    )


def _chat_of(event: TelegramObject) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat
    return None


class Gate(BaseMiddleware):
    """Lets a matched handler run only in a private chat (`private`) and only for a linked
    developer (`developer`), who is handed to it as `developer`; answers everyone else."""

    def __init__(self, *, private: bool = True, developer: bool = True) -> None:
        self.private = private
        self.developer = developer

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        lang: str | None = data.get("lang")
        chat = _chat_of(event)
        if self.private and not mapping.is_private(chat):
            await self._point_to_private(event, data["bot"], lang)
            return None
        if self.developer:
            dev = await developer_of(data.get("event_from_user"))
            if dev is None:
                await self._answer(event, data["bot"], chat, text("manage.not_linked", lang))
                return None
            data["developer"] = dev
        return await handler(event, data)

    async def _point_to_private(self, event: TelegramObject, bot: Bot, lang: str | None) -> None:
        me = await bot.me()
        markup = buttons.link_button(
            label("private.open", lang), mapping.private_chat_link(me.username)
        )
        if isinstance(event, Message):
            await event.reply(text("private.only", lang), reply_markup=markup)
        elif isinstance(event, CallbackQuery):
            await bot.send_message(
                chat_id=event.from_user.id, text=text("private.only", lang), reply_markup=markup
            )

    async def _answer(self, event: TelegramObject, bot: Bot, chat: Chat | None, body: str) -> None:
        if isinstance(event, Message):
            await event.answer(body)
        elif isinstance(event, CallbackQuery):
            await bot.send_message(chat_id=chat.id if chat else event.from_user.id, text=body)
