"""The member side: /claim, /mycodes, the drop message's Claim button, platform picking and
the sold-out "Notify me" button.

Buttons and selects are `DynamicItem`s: their `custom_id` carries the campaign's public id
(`cd:claim:<id>`), and the bot registers the templates at every start, so a drop message
posted before a restart keeps working. A repeat press returns the member's existing code
(the domain hands it back), never a second one.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.mapping import CHANNEL, NAMESPACE, claimant_of
from bots.discord.render import code_message, my_codes_message
from bots.discord.replies import Answer, respond
from bots.texts import refusal, t
from domain import claims, posts, waitlist
from domain.errors import CampaignNotFound, DomainError, PlatformRequired, SoldOut

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bots.discord.bot import CodedropBot

log = logging.getLogger(__name__)

CAMPAIGN_ID = r"(?P<cid>[A-Za-z0-9_-]{1,32})"


def bot_of(interaction: discord.Interaction) -> CodedropBot:
    return cast("CodedropBot", interaction.client)


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
    bot = bot_of(interaction)
    services = bot.services
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
        return Answer(code_message(result))

    async def explain(error: DomainError) -> Answer | None:
        if not resolved:
            return None
        if isinstance(error, PlatformRequired):
            return Answer(
                t("claim.pick_platform"), items=[PlatformSelect(resolved[0], error.available)]
            )
        if isinstance(error, SoldOut):
            return Answer(refusal(error), items=[NotifyButton(resolved[0])])
        return None

    await respond(interaction, action, on_domain_error=explain)


class ClaimButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"cd:claim:" + CAMPAIGN_ID,
):
    """The drop message's Claim button; works for any campaign id, across restarts."""

    def __init__(self, campaign_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=t("claim.button"),
                style=discord.ButtonStyle.success,
                custom_id=f"cd:claim:{campaign_id}",
                emoji="🎁",
            )
        )
        self.campaign_id = campaign_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ClaimButton:
        return cls(match["cid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await claim_for(interaction, self.campaign_id)


class PlatformSelect(
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=r"cd:platform:" + CAMPAIGN_ID,
):
    """Asks which platform before claiming, when a campaign serves several."""

    def __init__(self, campaign_id: str, platforms: list[str] | None = None) -> None:
        options = [discord.SelectOption(label=p, value=p) for p in (platforms or ["any"])[:25]]
        super().__init__(
            discord.ui.Select(
                custom_id=f"cd:platform:{campaign_id}",
                placeholder=t("claim.pick_platform"),
                options=options,
                min_values=1,
                max_values=1,
            )
        )
        self.campaign_id = campaign_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PlatformSelect:
        return cls(match["cid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        data = cast("dict[str, Any]", interaction.data or {})
        values = [str(v) for v in data.get("values", [])]
        await claim_for(interaction, self.campaign_id, platform=values[0] if values else None)


class NotifyButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"cd:notify:" + CAMPAIGN_ID,
):
    """Sold out: join the waitlist; the member is DMed when codes return."""

    def __init__(self, campaign_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=t("waitlist.offer"),
                style=discord.ButtonStyle.secondary,
                custom_id=f"cd:notify:{campaign_id}",
                emoji="🔔",
            )
        )
        self.campaign_id = campaign_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> NotifyButton:
        return cls(match["cid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            claimant = claimant_of(interaction.user)
            joined = await waitlist.join(
                campaign_id=self.campaign_id,
                claimant=claimant,
                channel=CHANNEL,
                contact=str(interaction.user.id),
            )
            return Answer(t("waitlist.joined" if joined else "waitlist.already"))

        await respond(interaction, action)


DYNAMIC_ITEMS = (ClaimButton, PlatformSelect, NotifyButton)


class Members(commands.Cog):
    """/claim and /mycodes."""

    def __init__(self, bot: CodedropBot) -> None:
        self.bot = bot

    @app_commands.command(name="claim", description="Get a code privately (only you see it)")
    @app_commands.describe(campaign="The campaign to claim from")
    @app_commands.guild_only()
    async def claim(self, interaction: discord.Interaction, campaign: str) -> None:
        guild_id = str(interaction.guild_id)

        async def resolve() -> str:
            # inside respond(): a failing lookup still answers the member instead of "thinking…"
            found = await posts.resolve_in(provider=NAMESPACE, guild_id=guild_id, text=campaign)
            if found is None:
                raise CampaignNotFound()
            return found

        await claim_resolved(interaction, resolve)

    @claim.autocomplete("campaign")
    async def claim_campaigns(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await posts.campaigns_in(
            provider=NAMESPACE, guild_id=str(interaction.guild_id), text=current
        )
        return [app_commands.Choice(name=c.name[:100], value=c.campaign_id) for c in found]

    @app_commands.command(name="mycodes", description="The codes you received (only you see it)")
    async def mycodes(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            claimant = claimant_of(interaction.user)
            return Answer(my_codes_message(await claims.my_codes(claimant_key=claimant.key)))

        await respond(interaction, action)
