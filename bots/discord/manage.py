"""The developer side: /campaign create|list|pause|resume|end|stats|identity, /codes upload|generate,
/drop, /link and /register.

Managing a campaign needs its owner: the Discord account must be linked to a developer
(`/register` or `/link <token>`), and the domain scopes every call to that developer's own
campaigns. Posting a drop needs the Manage Server permission too, and a campaign the caller
owns (or one already dropped in this server). Everyone else gets a plain refusal; another
tenant's campaign answers exactly like an unknown id.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.claiming import ClaimButton
from bots.discord.mapping import NAMESPACE
from bots.discord.render import (
    campaign_line,
    campaigns_message,
    drop_embed,
    stats_message,
    upload_message,
)
from bots.discord.replies import Answer, Refusal, respond
from bots.texts import t
from domain import access, analytics, audit, campaigns, developers, generate, posts, uploads
from domain.access import Role
from domain.audit import AuditChannel
from domain.campaigns import STATE_LABELS
from domain.developers import DeveloperView
from domain.errors import CampaignNotFound
from domain.values import CampaignStatus, IdentityMode, Platform

if TYPE_CHECKING:
    from bots.discord.bot import CodedropBot

log = logging.getLogger(__name__)

PLATFORM_CHOICES = [app_commands.Choice(name=p.value, value=p.value) for p in Platform]
IDENTITY_CHOICES = [
    app_commands.Choice(name="anonymous: anyone may claim", value=IdentityMode.ANONYMOUS.value),
    app_commands.Choice(
        name="verified: signed-in Discord/Telegram members only", value=IdentityMode.VERIFIED.value
    ),
]


async def developer_of(user: discord.abc.User) -> DeveloperView:
    """The developer this Discord account acts for, or a refusal telling how to link."""
    audit.set_channel(AuditChannel.BOT)
    dev = await developers.developer_for_identity(provider=NAMESPACE, external_id=str(user.id))
    if dev is None:
        raise Refusal(t("manage.not_linked"))
    return dev


async def owned_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over the caller's own campaigns (nothing for unlinked accounts)."""
    dev = await developers.developer_for_identity(
        provider=NAMESPACE, external_id=str(interaction.user.id)
    )
    if dev is None:
        return []
    found = await campaigns.find_campaigns(owner_id=dev.id, text=current)
    return [
        app_commands.Choice(name=f"{c.name} ({STATE_LABELS[c.state]})"[:100], value=c.id)
        for c in found
    ]


class Manage(commands.Cog):
    """Campaign management for linked developers."""

    campaign = app_commands.Group(name="campaign", description="Manage your campaigns")
    codes = app_commands.Group(name="codes", description="Manage the codes of your campaigns")

    def __init__(self, bot: CodedropBot) -> None:
        self.bot = bot

    # -- /campaign -----------------------------------------------------------------------------

    @campaign.command(name="create", description="Create a campaign")
    @app_commands.describe(
        name="Shown to members",
        platform="Where the codes are redeemed",
        description="Shown on the drop message",
        required_role="Members need this role to claim",
        min_account_age_days="Minimum Discord account age",
        min_member_days="Minimum time in this server",
        per_member="Codes one member may get (default 1)",
        low_stock_alert="DM me when this few codes are left (0: never)",
        identity="Who may claim on the web page and the API (default anonymous)",
    )
    @app_commands.choices(platform=PLATFORM_CHOICES, identity=IDENTITY_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction,
        name: str,
        platform: str = Platform.UNIVERSAL.value,
        description: str = "",
        required_role: discord.Role | None = None,
        min_account_age_days: app_commands.Range[int, 0, 36500] | None = None,
        min_member_days: app_commands.Range[int, 0, 36500] | None = None,
        per_member: app_commands.Range[int, 1, 100] = 1,
        low_stock_alert: app_commands.Range[int, 0, 1_000_000] = 0,
        identity: str = IdentityMode.ANONYMOUS.value,
    ) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            rules: dict[str, object] = {}
            if required_role is not None:
                rules["required_roles"] = [str(required_role.id)]
            if min_account_age_days:
                rules["min_account_age_days"] = min_account_age_days
            if min_member_days:
                rules["min_member_days"] = min_member_days
            if rules:
                # these rules can only be checked in Discord (domain.eligibility.CHECKABLE_ON)
                rules["channels"] = ["discord"]
            view = await campaigns.create_campaign(
                owner_id=dev.id,
                name=name,
                description=description,
                platform=platform,
                per_claimant_limit=per_member,
                low_stock_threshold=low_stock_alert,
                eligibility=rules,
                identity=identity,
            )
            return Answer(
                f"Created {campaign_line(view)}.\nUpload codes with /codes upload, then post it"
                " with /drop."
            )

        await respond(interaction, action)

    @campaign.command(name="list", description="Your campaigns and their stock")
    async def list_(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            views, total = await campaigns.list_campaigns(owner_id=dev.id, limit=20)
            return Answer(campaigns_message(views, total))

        await respond(interaction, action)

    async def _status(self, interaction: discord.Interaction, campaign: str, status: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            view = await campaigns.set_status(
                owner_id=dev.id,
                campaign_id=campaign,
                status=status,
                events_bus=self.bot.services.events,
            )
            return Answer(f"Done: {campaign_line(view)}")

        await respond(interaction, action)

    @campaign.command(name="pause", description="Stop handing out codes for now")
    @app_commands.autocomplete(campaign=owned_choices)
    async def pause(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._status(interaction, campaign, CampaignStatus.PAUSED)

    @campaign.command(name="resume", description="Hand out codes again")
    @app_commands.autocomplete(campaign=owned_choices)
    async def resume(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._status(interaction, campaign, CampaignStatus.ACTIVE)

    @campaign.command(name="end", description="End a campaign (no more claims)")
    @app_commands.autocomplete(campaign=owned_choices)
    async def end(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._status(interaction, campaign, CampaignStatus.COMPLETED)

    @campaign.command(name="stats", description="Stock and claims of a campaign")
    @app_commands.autocomplete(campaign=owned_choices)
    async def stats(self, interaction: discord.Interaction, campaign: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign)
            numbers = await analytics.campaign_analytics(owner_id=dev.id, campaign_id=campaign)
            return Answer(stats_message(numbers, view.name))

        await respond(interaction, action)

    @campaign.command(name="identity", description="Who may claim on the web page and the API")
    @app_commands.describe(
        campaign="Your campaign",
        mode="verified: the claim page asks for Sign in with Discord or Telegram; anonymous API"
        " calls are refused",
    )
    @app_commands.autocomplete(campaign=owned_choices)
    @app_commands.choices(mode=IDENTITY_CHOICES)
    async def identity(self, interaction: discord.Interaction, campaign: str, mode: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            view = await campaigns.update_campaign(
                owner_id=dev.id, campaign_id=campaign, changes={"identity": mode}
            )
            return Answer(f"Done: {campaign_line(view)} · identity {view.identity}")

        await respond(interaction, action)

    # -- /codes upload ---------------------------------------------------------------------------

    @codes.command(name="upload", description="Import codes from a CSV or text file")
    @app_commands.describe(
        campaign="Campaign to add the codes to",
        file="CSV with a `code` column (optional `platform`, `metadata`) or one code per line",
    )
    @app_commands.autocomplete(campaign=owned_choices)
    async def upload(
        self, interaction: discord.Interaction, campaign: str, file: discord.Attachment
    ) -> None:
        services = self.bot.services

        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            # admitted before the download: the size Discord declares and the upload limit
            admitted = await uploads.admit_upload(
                services, developer_id=dev.id, campaign_id=campaign, declared_size=file.size
            )
            data = await file.read()
            report = await uploads.import_stream(
                services, admitted, chunks=uploads.bytes_chunks(data), filename=file.filename
            )
            return Answer(upload_message(report))

        await respond(interaction, action)

    @codes.command(name="generate", description="Generate random codes from a pattern")
    @app_commands.describe(
        campaign="Campaign to add the codes to",
        count="How many codes (1 to 1,000,000)",
        pattern="# a digit, ? a letter, * either; e.g. PROMO-####-????",
        prefix="Put before every code",
        suffix="Put after every code",
        exclude_lookalikes="Leave out 0 O 1 I L (default: yes)",
    )
    @app_commands.autocomplete(campaign=owned_choices)
    async def generate(
        self,
        interaction: discord.Interaction,
        campaign: str,
        count: app_commands.Range[int, 1, 1_000_000],
        pattern: str,
        prefix: str = "",
        suffix: str = "",
        exclude_lookalikes: bool = True,
    ) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign)
            report = await generate.generate_codes(
                owner_id=dev.id,
                campaign_id=campaign,
                request=generate.GenerateRequest(
                    count=count,
                    pattern=pattern,
                    prefix=prefix,
                    suffix=suffix,
                    exclude_lookalikes=exclude_lookalikes,
                ),
                events_bus=self.bot.services.events,
            )
            return Answer(
                t(
                    "owner.generated",
                    generated=report.imported,
                    pattern=f"{prefix}{pattern}{suffix}",
                    campaign=view.name,
                )
            )

        await respond(interaction, action)

    # -- /drop -----------------------------------------------------------------------------------

    @app_commands.command(name="drop", description="Post a campaign here with a Claim button")
    @app_commands.describe(campaign="The campaign to post (yours, or its id)")
    @app_commands.autocomplete(campaign=owned_choices)
    @app_commands.guild_only()
    async def drop(self, interaction: discord.Interaction, campaign: str) -> None:
        async def action() -> Answer:
            await self._may_drop(interaction, campaign)
            channel = interaction.channel
            if channel is None or not isinstance(channel, discord.abc.Messageable):
                raise Refusal("I can't post in this channel.")
            card = await campaigns.public_card(campaign_id=campaign)
            view = discord.ui.View(timeout=None)
            view.add_item(ClaimButton(card.id))
            try:
                message = await channel.send(embed=drop_embed(card), view=view)
            except discord.Forbidden as exc:
                raise Refusal(
                    "I'm not allowed to post in this channel; give me Send Messages and"
                    " Embed Links here."
                ) from exc
            await posts.record_post(
                campaign_id=card.id,
                provider=NAMESPACE,
                guild_id=str(interaction.guild_id),
                channel_id=str(message.channel.id),
                message_id=str(message.id),
                posted_by=str(interaction.user.id),
            )
            return Answer(f"Posted **{card.name}**: {message.jump_url}")

        await respond(interaction, action)

    async def _may_drop(self, interaction: discord.Interaction, campaign: str) -> None:
        """Posting a drop needs Manage Server and a campaign the caller owns or already here.

        Another tenant's campaign reads exactly like an unknown id, so ids cannot be probed.
        """
        dev = await developers.developer_for_identity(
            provider=NAMESPACE, external_id=str(interaction.user.id)
        )
        mine = False
        if dev is not None:
            try:
                await access.require(campaign_id=campaign, developer_id=dev.id, role=Role.MANAGER)
                mine = True
            except CampaignNotFound:
                pass
        if not mine:
            here = await posts.posted_in(
                campaign_id=campaign, provider=NAMESPACE, guild_id=str(interaction.guild_id)
            )
            if not here:
                raise CampaignNotFound(campaign)
        if not interaction.permissions.manage_guild:
            raise Refusal("Posting a drop in a server needs the Manage Server permission.")

    # -- /link and /register ---------------------------------------------------------------------

    @app_commands.command(
        name="link", description="Link this Discord account to your developer account"
    )
    @app_commands.describe(token="The one-time token from the API or CLI (lnk_…)")  # noqa: S106
    async def link(self, interaction: discord.Interaction, token: str) -> None:
        async def action() -> Answer:
            dev = await developers.link_identity(
                token=token,
                provider=NAMESPACE,
                external_id=str(interaction.user.id),
                chat_id=str(interaction.user.id),
            )
            return Answer(
                f"Linked to developer **{dev.name}**. You can now manage your campaigns here,"
                " and I'll DM you stock alerts."
            )

        await respond(interaction, action)

    @app_commands.command(name="join", description="Join a campaign with an invitation token")
    @app_commands.describe(token="The one-time invitation token from the campaign's owner (cdi_…)")  # noqa: S106
    async def join(self, interaction: discord.Interaction, token: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction.user)
            joined = await access.accept(token=token, developer_id=dev.id)
            return Answer(f"You joined **{joined.campaign_name}** as {joined.role}.")

        await respond(interaction, action)

    @app_commands.command(name="register", description="Create a developer account for yourself")
    async def register(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            dev, key = await developers.register_via_chat(
                provider=NAMESPACE,
                external_id=str(interaction.user.id),
                name=interaction.user.display_name,
                chat_id=str(interaction.user.id),
                settings=self.bot.services.settings,
            )
            if key is None:
                return Answer(f"You're already registered as **{dev.name}**.")
            return Answer(
                f"Welcome, **{dev.name}**. Your API key (shown once, keep it secret):\n"
                f"```\n{key.key}\n```\nCreate a campaign with /campaign create."
            )

        await respond(interaction, action)
