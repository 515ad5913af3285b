"""Developers: /register, /link, /campaigns, /stats, /pause, /resume, /end, /post, /generate."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import claiming, mappers, owners, views
from bots.telegram.texts import text
from domain import access, analytics, campaigns, developers, generate, posts
from domain.access import Role
from domain.adapters.bootstrap import Services
from domain.campaigns import STATE_LABELS
from domain.errors import CampaignNotFound, ValidationFailed
from domain.values import CampaignStatus

STATUS_COMMANDS = {
    "pause": CampaignStatus.PAUSED,
    "resume": CampaignStatus.ACTIVE,
    "end": CampaignStatus.COMPLETED,
}
LIST_LIMIT = 20


def _args(command: CommandObject) -> list[str]:
    return (command.args or "").split()


async def register(message: Message, bot: Bot, lang: str | None, services: Services) -> None:
    """Create a developer for this account and show its API key once (private chat only)."""
    if message.from_user is None or not await owners.require_private(message, bot, lang):
        return
    dev, key = await developers.register_via_chat(
        provider=mappers.PROVIDER,
        external_id=str(message.from_user.id),
        name=message.from_user.full_name,
        chat_id=str(message.chat.id),
        settings=services.settings,
    )
    if key is None:
        await message.answer(text("register.already", lang, name=dev.name))
        return
    await message.answer(text("register.done", lang, name=dev.name, key=key.key))


async def link(message: Message, command: CommandObject, bot: Bot, lang: str | None) -> None:
    """Link this account to an existing developer with a one-time token."""
    if message.from_user is None or not await owners.require_private(message, bot, lang):
        return
    args = _args(command)
    if not args:
        await message.answer(text("link.usage", lang))
        return
    dev = await developers.link_identity(
        token=args[0],
        provider=mappers.PROVIDER,
        external_id=str(message.from_user.id),
        chat_id=str(message.chat.id),
    )
    await message.answer(text("link.done", lang, name=dev.name))


async def join(message: Message, command: CommandObject, bot: Bot, lang: str | None) -> None:
    """Accept an invitation to a campaign with the linked developer account."""
    if not await owners.require_private(message, bot, lang):
        return
    args = _args(command)
    if not args:
        await message.answer(text("join.usage", lang))
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    joined = await access.accept(token=args[0], developer_id=dev.id)
    await message.answer(text("join.done", lang, name=joined.campaign_name, role=joined.role))


async def list_campaigns(message: Message, bot: Bot, lang: str | None) -> None:
    if not await owners.require_private(message, bot, lang):
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    views_, total = await campaigns.list_campaigns(owner_id=dev.id, limit=LIST_LIMIT)
    await message.answer(views.campaigns_text(views_, total, lang))


async def stats(message: Message, command: CommandObject, bot: Bot, lang: str | None) -> None:
    if not await owners.require_private(message, bot, lang):
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    args = _args(command)
    if not args:
        await message.answer(text("manage.usage", lang, command="stats"))
        return
    try:
        view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=args[0])
        result = await analytics.campaign_analytics(owner_id=dev.id, campaign_id=args[0])
    except CampaignNotFound:
        await message.answer(await owners.not_yours(args[0], lang))
        return
    await message.answer(views.stats_text(result, view.name, STATE_LABELS[view.state], lang))


async def change_status(
    message: Message, command: CommandObject, bot: Bot, services: Services, lang: str | None
) -> None:
    """/pause, /resume, /end: only the owner, only in private."""
    if not await owners.require_private(message, bot, lang):
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    args = _args(command)
    if not args:
        await message.answer(text("manage.usage", lang, command=command.command))
        return
    try:
        view = await campaigns.set_status(
            owner_id=dev.id,
            campaign_id=args[0],
            status=STATUS_COMMANDS[command.command],
            events_bus=services.events,
        )
    except CampaignNotFound:
        await message.answer(await owners.not_yours(args[0], lang))
        return
    state = STATE_LABELS[view.state].lower()
    await message.answer(text("status.changed", lang, name=view.name, status=state))


async def identity(message: Message, command: CommandObject, bot: Bot, lang: str | None) -> None:
    """/identity <id> anonymous|verified: who may claim (domain.signin decides who counts)."""
    if not await owners.require_private(message, bot, lang):
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    args = _args(command)
    if len(args) != 2:
        await message.answer(text("identity.usage", lang))
        return
    try:
        view = await campaigns.update_campaign(
            owner_id=dev.id, campaign_id=args[0], changes={"identity": args[1]}
        )
    except CampaignNotFound:
        await message.answer(await owners.not_yours(args[0], lang))
        return
    except ValidationFailed:
        await message.answer(text("identity.usage", lang))
        return
    await message.answer(text(f"identity.{view.identity}", lang, name=view.name))


async def post(message: Message, command: CommandObject, bot: Bot, lang: str | None) -> None:
    """Post a campaign card with a button into the private claim flow.

    In a group: posted there. In the private chat: `/post <id> @channel` posts to a channel
    where the bot is an admin (commands sent inside channels carry no sender to check).
    """
    args = _args(command)
    private = mappers.is_private(message.chat)
    if not args or (private and len(args) < 2):
        await message.answer(text("post.usage", lang))
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    try:
        await access.require(campaign_id=args[0], developer_id=dev.id, role=Role.MANAGER)
    except CampaignNotFound:
        await message.answer(await owners.not_yours(args[0], lang))
        return
    target: int | str = message.chat.id if not private else mappers.chat_ref(args[1])
    try:
        message_id = await claiming.show_card(
            bot=bot, chat_id=target, campaign_id=args[0], private=False, lang=lang
        )
    except (TelegramForbiddenError, TelegramBadRequest):
        await message.answer(text("post.failed", lang, chat=str(target)))
        return
    await posts.record_post(
        campaign_id=args[0],
        provider=mappers.PROVIDER,
        guild_id=str(target),
        channel_id=str(target),
        message_id=str(message_id),
        posted_by=str(message.from_user.id) if message.from_user else "",
    )
    if private or message.chat.type == ChatType.CHANNEL:
        await message.answer(text("post.done", lang, name=args[0], chat=str(target)))


async def generate_codes(
    message: Message, command: CommandObject, bot: Bot, services: Services, lang: str | None
) -> None:
    """/generate <id> <count> <pattern>: random codes, look-alikes left out (private only)."""
    if not await owners.require_private(message, bot, lang):
        return
    dev = await owners.require_developer(message, lang)
    if dev is None:
        return
    args = _args(command)
    if len(args) != 3 or not args[1].isdigit():
        await message.answer(text("generate.usage", lang))
        return
    try:
        view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=args[0])
    except CampaignNotFound:
        await message.answer(await owners.not_yours(args[0], lang))
        return
    report = await generate.generate_codes(
        owner_id=dev.id,
        campaign_id=args[0],
        request=generate.GenerateRequest(
            count=int(args[1]), pattern=args[2], exclude_lookalikes=True
        ),
        events_bus=services.events,
    )
    await message.answer(
        text("generate.done", lang, generated=report.imported, pattern=args[2], name=view.name)
    )


def setup() -> Router:
    """The developers router (a new one per dispatcher)."""
    router = Router(name="developers")
    router.message.register(register, Command("register"))
    router.message.register(link, Command("link"))
    router.message.register(join, Command("join"))
    router.message.register(list_campaigns, Command("campaigns"))
    router.message.register(stats, Command("stats"))
    router.message.register(change_status, Command(*STATUS_COMMANDS))
    router.message.register(identity, Command("identity"))
    router.message.register(post, Command("post"))
    router.message.register(generate_codes, Command("generate"))
    return router
