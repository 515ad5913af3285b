"""Developers: /register, /link, /join, /campaigns, /stats, the status commands (/pause,
/resume, /end, /reopen, /archive), /identity and /post.

Three routers, each behind its `owners.Gate`: accounts (/register, /link: private chat only),
management (private chat and a linked developer, handed to each handler as `developer`) and
/post (a linked developer, in a group too). A refused domain call (an unknown or another
tenant's campaign, a status move the campaign's lifecycle does not allow) is answered by the
`replies.ErrorReplies` middleware in the user's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import claiming, mapping, render
from bots.telegram.owners import Gate
from bots.telegram.texts import text
from bots.texts import state_label
from domain import access, analytics, campaigns, developers, posts
from domain.access import Role
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.developers import DeveloperView
from domain.errors import ValidationFailed

# the lifecycle actions a developer types as commands (/pause <id> ...)
STATUS_ACTIONS = (Action.PAUSE, Action.RESUME, Action.END, Action.REOPEN, Action.ARCHIVE)
LIST_LIMIT = 20


def _args(command: CommandObject) -> list[str]:
    return (command.args or "").split()


async def register(message: Message, lang: str | None, services: Services) -> None:
    """Create a developer for this account and show its API key once."""
    if message.from_user is None:
        return
    dev, key = await developers.register_via_chat(
        provider=mapping.NAMESPACE,
        external_id=str(message.from_user.id),
        name=message.from_user.full_name,
        chat_id=str(message.chat.id),
        settings=services.settings,
    )
    if key is None:
        await message.answer(text("register.already", lang, name=dev.name))
        return
    await message.answer(text("register.done", lang, name=dev.name, key=key.key))


async def link(message: Message, command: CommandObject, lang: str | None) -> None:
    """Link this account to an existing developer with a one-time token."""
    args = _args(command)
    if message.from_user is None or not args:
        await message.answer(text("link.usage", lang))
        return
    dev = await developers.link_identity(
        token=args[0],
        provider=mapping.NAMESPACE,
        external_id=str(message.from_user.id),
        chat_id=str(message.chat.id),
    )
    await message.answer(text("link.done", lang, name=dev.name))


async def join(
    message: Message, command: CommandObject, developer: DeveloperView, lang: str | None
) -> None:
    """Accept an invitation to a campaign with the linked developer account."""
    args = _args(command)
    if not args:
        await message.answer(text("join.usage", lang))
        return
    joined = await access.accept(token=args[0], developer_id=developer.id)
    await message.answer(text("join.done", lang, name=joined.campaign_name, role=joined.role))


async def list_campaigns(message: Message, developer: DeveloperView, lang: str | None) -> None:
    found, total = await campaigns.list_campaigns(owner_id=developer.id, limit=LIST_LIMIT)
    await message.answer(render.campaigns_text(found, total, lang))


async def stats(
    message: Message, command: CommandObject, developer: DeveloperView, lang: str | None
) -> None:
    args = _args(command)
    if not args:
        await message.answer(text("manage.usage", lang, command="stats"))
        return
    view = await campaigns.get_campaign(owner_id=developer.id, campaign_id=args[0])
    result = await analytics.campaign_analytics(owner_id=developer.id, campaign_id=args[0])
    await message.answer(render.stats_text(result, view.name, state_label(view.state, lang), lang))


async def change_status(
    message: Message,
    command: CommandObject,
    developer: DeveloperView,
    services: Services,
    lang: str | None,
) -> None:
    """/pause, /resume, /end, /reopen, /archive <id>: `campaigns.act` with that `Action`."""
    args = _args(command)
    if not args:
        await message.answer(text("manage.usage", lang, command=command.command))
        return
    view = await campaigns.act(
        developer_id=developer.id,
        campaign_id=args[0],
        action=Action.parse(command.command),
        events_bus=services.events,
    )
    state = state_label(view.state, lang).lower()
    await message.answer(text("status.changed", lang, name=view.name, status=state))


async def identity(
    message: Message,
    command: CommandObject,
    developer: DeveloperView,
    services: Services,
    lang: str | None,
) -> None:
    """/identity <id> anonymous|verified: who may claim (domain.signin decides who counts)."""
    args = _args(command)
    if len(args) != 2:
        await message.answer(text("identity.usage", lang))
        return
    try:
        view = await campaigns.update_campaign(
            owner_id=developer.id,
            campaign_id=args[0],
            changes={"identity": args[1]},
            events_bus=services.events,
        )
    except ValidationFailed:
        await message.answer(text("identity.usage", lang))
        return
    await message.answer(text(f"identity.{view.identity}", lang, name=view.name))


async def post(
    message: Message,
    command: CommandObject,
    bot: Bot,
    developer: DeveloperView,
    lang: str | None,
    card_opener: Callable[[str, datetime], None] | None = None,
) -> None:
    """Post a campaign card with a button into the private claim flow.

    In a group: posted there. In the private chat: `/post <id> @channel` posts to a channel
    where the bot is an admin (commands sent inside channels carry no sender to check).
    Before the campaign starts the card counts down without a button; `card_opener` edits
    it at the start.
    """
    args = _args(command)
    private = mapping.is_private(message.chat)
    if not args or (private and len(args) < 2):
        await message.answer(text("post.usage", lang))
        return
    await access.require(campaign_id=args[0], developer_id=developer.id, role=Role.MANAGER)
    target: int | str = message.chat.id if not private else mapping.chat_ref(args[1])
    try:
        message_id = await claiming.show_card(
            bot=bot, chat_id=target, campaign_id=args[0], private=False, lang=lang
        )
    except (TelegramForbiddenError, TelegramBadRequest):
        await message.answer(text("post.failed", lang, chat=str(target)))
        return
    await posts.record_post(
        campaign_id=args[0],
        provider=mapping.NAMESPACE,
        guild_id=str(target),
        channel_id=str(target),
        message_id=str(message_id),
        posted_by=str(message.from_user.id) if message.from_user else "",
    )
    card = await campaigns.public_card(campaign_id=args[0])
    if card.state == "not_started" and card.starts_at is not None and card_opener:
        card_opener(card.id, card.starts_at)
    if private or message.chat.type == ChatType.CHANNEL:
        await message.answer(text("post.done", lang, name=args[0], chat=str(target)))


def setup() -> Router:
    """The developers router (a new one per dispatcher), made of one router per gate."""
    accounts = Router(name="accounts")
    accounts.message.middleware(Gate(developer=False))
    accounts.message.register(register, Command("register"))
    accounts.message.register(link, Command("link"))

    managing = Router(name="managing")
    managing.message.middleware(Gate())
    managing.message.register(join, Command("join"))
    managing.message.register(list_campaigns, Command("campaigns"))
    managing.message.register(stats, Command("stats"))
    managing.message.register(change_status, Command(*(a.value for a in STATUS_ACTIONS)))
    managing.message.register(identity, Command("identity"))

    posting = Router(name="posting")
    posting.message.middleware(Gate(private=False))
    posting.message.register(post, Command("post"))

    router = Router(name="developers")
    router.include_routers(accounts, managing, posting)
    return router
