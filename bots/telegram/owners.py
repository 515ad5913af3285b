"""Who manages: the developer behind a Telegram account, and the refusals for everyone else."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import Message, User

from bots.telegram import keyboards, mappers
from bots.telegram.texts import label, refusal, text
from domain import audit, developers
from domain.audit import AuditChannel
from domain.developers import DeveloperView
from domain.errors import CampaignNotFound


async def developer_of(user: User | None) -> DeveloperView | None:
    """The developer this Telegram account is linked to, if any."""
    if user is None:
        return None
    audit.set_channel(AuditChannel.BOT)
    return await developers.developer_for_identity(
        provider=mappers.PROVIDER, external_id=str(user.id)
    )


async def require_developer(message: Message, lang: str | None) -> DeveloperView | None:
    """The sender's developer account, or None after telling them how to get one."""
    dev = await developer_of(message.from_user)
    if dev is None:
        await message.answer(text("manage.not_linked", lang))
    return dev


async def require_private(message: Message, bot: Bot, lang: str | None) -> bool:
    """True in a private chat; in a group, point to the private chat and return False."""
    if mappers.is_private(message.chat):
        return True
    me = await bot.me()
    await message.reply(
        text("private.only", lang),
        reply_markup=keyboards.link_button(
            label("private.open", lang), mappers.private_chat_link(me.username)
        ),
    )
    return False


async def not_yours(campaign_id: str, lang: str | None) -> str:
    """The refusal for a campaign the developer does not own: the same as for an unknown id.

    Another tenant's campaign must not be told apart from a missing one, so ids cannot be probed.
    """
    return refusal(CampaignNotFound(campaign_id), lang)
