"""Community members: the deep-link card, claiming, platform choice, waitlist, /mycodes, /help."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bots.telegram import buttons, claiming, mapping, render
from bots.telegram.buttons import ClaimCb, WaitCb
from bots.telegram.texts import label, text
from domain import claims, waitlist
from domain.adapters.bootstrap import Services


def _campaign_arg(command: CommandObject) -> str | None:
    arg = (command.args or "").strip().split()
    return arg[0] if arg else None


async def _point_to_private(
    message: Message, bot: Bot, campaign_id: str | None, lang: str | None
) -> None:
    """In a group: a button into the private chat, never a code."""
    me = await bot.me()
    link = (
        mapping.deep_link(me.username, campaign_id)
        if campaign_id
        else mapping.private_chat_link(me.username)
    )
    await message.reply(
        text("claim.private_only", lang),
        reply_markup=buttons.link_button(label("claim.open_private", lang), link),
    )


async def start_with_campaign(
    message: Message, command: CommandObject, bot: Bot, lang: str | None
) -> None:
    """`/start <public id>` from a shared link: the campaign card with its buttons."""
    campaign_id = _campaign_arg(command)
    if not mapping.is_private(message.chat):
        await _point_to_private(message, bot, campaign_id, lang)
        return
    assert campaign_id is not None
    await claiming.show_card(
        bot=bot, chat_id=message.chat.id, campaign_id=campaign_id, private=True, lang=lang
    )


async def start(message: Message, lang: str | None) -> None:
    """Plain /start: what the bot is for."""
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(text("start.welcome", lang, name=name))


async def help_(message: Message, lang: str | None) -> None:
    await message.answer(text("help", lang))


async def claim_command(
    message: Message, command: CommandObject, bot: Bot, services: Services, lang: str | None
) -> None:
    """`/claim <id>`: in private the claim itself, in a group a button to the private chat."""
    campaign_id = _campaign_arg(command)
    if not mapping.is_private(message.chat):
        await _point_to_private(message, bot, campaign_id, lang)
        return
    if campaign_id is None or message.from_user is None:
        await message.answer(text("claim.usage", lang))
        return
    await claiming.claim_for(
        bot=bot,
        services=services,
        user=message.from_user,
        campaign_id=campaign_id,
        platform=None,
        idempotency_key=f"tg-msg-{message.chat.id}-{message.message_id}",
        lang=lang,
    )


async def claim_pressed(
    query: CallbackQuery,
    callback_data: ClaimCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    services: Services,
    lang: str | None,
) -> None:
    """'Get my code', a platform, or 'Check again'. Every press is answered (the middleware)."""
    chat = query.message.chat if query.message else None
    if not mapping.is_private(chat):
        # Telegram lets a callback answer open t.me/<bot>?start=...: straight into the private chat
        me = await bot.me()
        callback_answer.url = mapping.deep_link(me.username, callback_data.campaign)
        return
    # acknowledged before the claim, not after it: in a drop the claim waits its turn, and
    # Telegram shows a spinner (then "query is too old") until the press is answered
    await query.answer()
    callback_answer.disable()
    # Two taps on the same message, or two devices, share one key: one code, sent twice.
    key = None
    if query.message is not None:
        key = f"tg-btn-{query.message.chat.id}-{query.message.message_id}"
    await claiming.claim_for(
        bot=bot,
        services=services,
        user=query.from_user,
        campaign_id=callback_data.campaign,
        platform=callback_data.platform or None,
        idempotency_key=key,
        lang=lang,
    )


async def notify_me(
    query: CallbackQuery,
    callback_data: WaitCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    lang: str | None,
) -> None:
    """'Notify me': join the waitlist; the message comes back when codes are uploaded."""
    joined = await waitlist.join(
        campaign_id=callback_data.campaign,
        claimant=mapping.claimant_of(query.from_user),
        channel=mapping.CHANNEL,
        contact=str(query.from_user.id),
    )
    callback_answer.text = label("waitlist.joined" if joined else "waitlist.already", lang)
    await bot.send_message(
        chat_id=query.from_user.id,
        text=text("waitlist.joined" if joined else "waitlist.already", lang),
    )


async def my_codes(message: Message, bot: Bot, lang: str | None) -> None:
    """The codes this member received; only ever in the private chat."""
    if message.from_user is None:
        return
    if not mapping.is_private(message.chat):
        await _point_to_private(message, bot, None, lang)
        return
    codes = await claims.my_codes(claimant_key=mapping.claimant_of(message.from_user).key)
    await message.answer(render.my_codes_text(codes, lang))


async def stale_button(
    query: CallbackQuery, callback_answer: CallbackAnswer, lang: str | None
) -> None:
    """A button from an older version of the bot: say so instead of spinning."""
    callback_answer.text = label("callback.stale", lang)


def setup() -> Router:
    """The members router (a new one per dispatcher)."""
    router = Router(name="members")
    router.message.register(start_with_campaign, CommandStart(deep_link=True))
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(claim_command, Command("claim"))
    router.callback_query.register(claim_pressed, ClaimCb.filter())
    router.callback_query.register(notify_me, WaitCb.filter())
    router.message.register(my_codes, Command("mycodes"))
    router.callback_query.register(stale_button, F.data)
    return router
