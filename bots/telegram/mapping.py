"""Telegram to the domain: a Telegram user to a `Claimant`, chats to kinds, ids and links.

The same role as `bots/discord/mapping.py`. Nothing here decides a rule; it only translates
Telegram objects into plain values (`NAMESPACE` is the claimant namespace and the provider of
linked developer accounts, `CHANNEL` the claim channel).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, ChatMemberRestricted, User

from domain import claimants
from domain.values import Channel, Claimant

log = logging.getLogger(__name__)

NAMESPACE = claimants.TELEGRAM
CHANNEL = Channel.TELEGRAM.value
MEMBER_STATUSES = {
    ChatMemberStatus.CREATOR,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
}


def claimant_of(user: User, *, memberships: Iterable[str] = ()) -> Claimant:
    """The domain's claimant for a Telegram user, with the chat memberships we checked."""
    return Claimant.of(
        NAMESPACE,
        user.id,
        display_name=user.full_name[:100],
        chat_memberships=frozenset(memberships),
    )


def is_private(chat: Chat | None) -> bool:
    """True for a one-to-one chat with the bot (the only place a code may be sent)."""
    return chat is not None and chat.type == ChatType.PRIVATE


def deep_link(username: str | None, campaign_id: str) -> str:
    """`https://t.me/<bot>?start=<id>`: opens the private chat on a campaign."""
    return f"https://t.me/{username}?start={campaign_id}"


def private_chat_link(username: str | None) -> str:
    return f"https://t.me/{username}"


def chat_ref(value: str) -> int | str:
    """A chat id as Telegram takes it: numbers as int, `@username` as text."""
    stripped = value.strip()
    try:
        return int(stripped)
    except ValueError:
        return stripped if stripped.startswith("@") else "@" + stripped


async def chat_memberships(bot: Bot, user_id: int, chats: Iterable[str]) -> frozenset[str]:
    """The required chats (as the campaign names them) this user is a member of.

    A chat the bot cannot see (not added there, wrong name) counts as not joined, and is
    logged so the developer can fix the campaign.
    """
    found: set[str] = set()
    for chat in chats:
        try:
            member = await bot.get_chat_member(chat_id=chat_ref(chat), user_id=user_id)
        except TelegramAPIError as exc:
            log.warning("cannot check membership of %s: %s", chat, exc.message)
            continue
        joined = member.status in MEMBER_STATUSES or (
            isinstance(member, ChatMemberRestricted) and member.is_member
        )
        if joined:
            found.update({chat, chat.lower()})
    return frozenset(found)
