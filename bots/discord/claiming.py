"""The member's claim, Discord side: find the campaign, call `domain.claims.claim`, render;
and the controls that lead there (the drop message's Claim button, the platform select, the
sold-out "Notify me" button).

The controls are made by `buttons.campaign_item`, so they survive restarts; a repeat press
returns the member's existing code (the domain hands it back), never a second one. The same
role as `bots/telegram/claiming.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import discord

from bots.discord import buttons
from bots.discord.mapping import CHANNEL, claimant_of, lang_of
from bots.discord.render import code_message
from bots.discord.replies import Answer, client_of, respond
from bots.discord.texts import text
from bots.texts import refusal
from domain import claims, waitlist
from domain.campaigns import PublicCard
from domain.errors import DomainError, PlatformRequired, SoldOut

log = logging.getLogger(__name__)


async def claim_for(
    interaction: discord.Interaction, campaign_id: str, platform: str | None = None
) -> None:
    """Claim a code for the interacting member and answer privately."""

    async def known() -> str:
        return campaign_id

    await claim_resolved(interaction, known, platform)


async def claim_resolved(
    interaction: discord.Interaction,
    resolve: Callable[[], Awaitable[str]],
    platform: str | None = None,
) -> None:
    """Find the campaign with `resolve`, then claim; any failure of either becomes the answer."""
    services = client_of(interaction).services
    lang = lang_of(interaction)
    resolved: list[str] = []

    async def action() -> Answer:
        campaign_id = await resolve()
        resolved.append(campaign_id)
        result = await claims.claim(
            campaign_id=campaign_id,
            claimant=claimant_of(interaction.user),
            channel=CHANNEL,
            platform=platform,
            events_bus=services.events,
            rate_limit=services.claim_rate_limit(),
        )
        return Answer(code_message(result, lang))

    async def explain(error: DomainError) -> Answer | None:
        if not resolved:
            return None
        if isinstance(error, PlatformRequired):
            return Answer(
                text("claim.pick_platform", lang),
                items=[PlatformSelect(resolved[0], error.available)],
            )
        if isinstance(error, SoldOut):
            return Answer(refusal(error, lang), items=[NotifyButton(resolved[0])])
        return None

    await respond(interaction, action, on_domain_error=explain)


async def claim_platform(interaction: discord.Interaction, campaign_id: str) -> None:
    """A platform picked in the select: claim for it."""
    data = cast("dict[str, Any]", interaction.data or {})
    values = [str(v) for v in data.get("values", [])]
    await claim_for(interaction, campaign_id, platform=values[0] if values else None)


async def join_waitlist(interaction: discord.Interaction, campaign_id: str) -> None:
    """Sold out: join the waitlist; the member is DMed when codes return."""

    async def action() -> Answer:
        joined = await waitlist.join(
            campaign_id=campaign_id,
            claimant=claimant_of(interaction.user),
            channel=CHANNEL,
            contact=str(interaction.user.id),
        )
        return Answer(
            text("waitlist.joined" if joined else "waitlist.already", lang_of(interaction))
        )

    await respond(interaction, action)


ClaimButton = buttons.campaign_item(
    "claim", buttons.button(text("claim.button"), discord.ButtonStyle.success, "🎁"), claim_for
)
PlatformSelect = buttons.campaign_item(
    "platform", buttons.select(text("claim.pick_platform")), claim_platform
)
NotifyButton = buttons.campaign_item(
    "notify",
    buttons.button(text("waitlist.offer"), discord.ButtonStyle.secondary, "🔔"),
    join_waitlist,
)
DYNAMIC_ITEMS = (ClaimButton, PlatformSelect, NotifyButton)


def drop_view(card: PublicCard) -> discord.ui.View:
    """The drop message's controls: the Claim button, disabled until the campaign starts."""
    view = discord.ui.View(timeout=None)
    claim = ClaimButton(card.id)
    if isinstance(claim.item, discord.ui.Button):
        claim.item.disabled = card.state == "not_started"
    view.add_item(claim)
    return view
