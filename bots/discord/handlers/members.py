"""Community members: /claim (with autocomplete over the campaigns dropped in the server) and
/mycodes. The buttons of a drop message live in `bots/discord/claiming.py`.

The same role as `bots/telegram/handlers/members.py`.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.claiming import claim_resolved
from bots.discord.mapping import NAMESPACE, claimant_of, lang_of
from bots.discord.render import my_codes_message
from bots.discord.replies import Answer, respond
from bots.discord.texts import command
from domain import claims, posts
from domain.errors import CampaignNotFound


class Members(commands.Cog):
    """/claim and /mycodes."""

    @app_commands.command(name="claim", description=command("command.claim"))
    @app_commands.describe(campaign=command("command.claim.campaign"))
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

    @app_commands.command(name="mycodes", description=command("command.mycodes"))
    async def mycodes(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            claimant = claimant_of(interaction.user)
            codes = await claims.my_codes(claimant_key=claimant.key)
            return Answer(my_codes_message(codes, lang_of(interaction)))

        await respond(interaction, action)
