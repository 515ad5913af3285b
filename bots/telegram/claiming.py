"""The member's claim, Telegram side: gather facts, call `domain.claims.claim`, render.

A code is only ever sent to `user.id` as a chat id, which Telegram resolves to the user's
private chat with the bot: whatever chat the request came from, a code cannot land in a group.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import User

from bots.telegram import buttons, mapping, render
from bots.telegram.texts import refusal, text
from domain import campaigns, claims
from domain.adapters.bootstrap import Services
from domain.errors import NotEligible, PlatformNotServed, PlatformRequired, SoldOut
from domain.requirements import claim_requirements

log = logging.getLogger(__name__)


async def claim_for(
    *,
    bot: Bot,
    services: Services,
    user: User,
    campaign_id: str,
    platform: str | None,
    idempotency_key: str | None,
    lang: str | None,
) -> None:
    """Claim for `user` and answer in their private chat: the code, or why not and what next."""
    rules = await claim_requirements(campaign_id=campaign_id)
    memberships: frozenset[str] = frozenset()
    if rules.required_chats:
        memberships = await mapping.chat_memberships(bot, user.id, rules.required_chats)
    claimant = mapping.claimant_of(user, memberships=memberships)
    try:
        result = await claims.claim(
            campaign_id=campaign_id,
            claimant=claimant,
            channel=mapping.CHANNEL,
            platform=platform or None,
            idempotency_key=idempotency_key,
            events_bus=services.events,
            rate_limit=services.claim_rate_limit(),
        )
    except NotEligible as exc:
        missing = (
            [str(c) for c in exc.extra.get("missing", [])] if exc.rule == "required_chats" else []
        )
        await bot.send_message(
            chat_id=user.id,
            text=refusal(exc, lang),
            reply_markup=buttons.check_again(campaign_id, platform or "", missing, lang),
        )
        return
    except SoldOut as exc:
        card = await campaigns.public_card(campaign_id=campaign_id)
        markup = buttons.waitlist_button(campaign_id, lang) if card.waitlist_enabled else None
        await bot.send_message(chat_id=user.id, text=refusal(exc, lang), reply_markup=markup)
        return
    except (PlatformRequired, PlatformNotServed) as exc:
        await bot.send_message(
            chat_id=user.id,
            text=text("claim.pick_platform", lang)
            if isinstance(exc, PlatformRequired)
            else refusal(exc, lang),
            reply_markup=buttons.platform_buttons(campaign_id, exc.available),
        )
        return
    await bot.send_message(chat_id=user.id, text=render.claim_text(result, lang))


async def show_card(
    *, bot: Bot, chat_id: int | str, campaign_id: str, private: bool, lang: str | None
) -> int:
    """Send the campaign card (never a code); returns the sent message id."""
    card = await campaigns.public_card(campaign_id=campaign_id)
    me = await bot.me()
    sent = await bot.send_message(
        chat_id=chat_id,
        text=render.card_text(card, lang),
        reply_markup=render.card_markup(
            card, lang, private=private, link=mapping.deep_link(me.username, card.id)
        ),
    )
    return sent.message_id
