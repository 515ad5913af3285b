"""Developers: /campaign create|list|pause|resume|end|reopen|archive|stats|identity, /drop,
/link, /join and /register.

Managing a campaign needs a Discord account linked to a developer (`/register` or
`/link <token>`; `owners.developer_of` refuses everyone else), and the domain scopes every
call to the campaigns that developer may manage: another tenant's campaign answers exactly
like an unknown id. The status subcommands are `domain.campaign_state.Action`s applied by
`campaigns.act`; a move the lifecycle does not allow is refused with what is possible.
Posting a drop needs the Manage Server permission too, and a campaign the caller manages (or
one already dropped in this server). The same role as `bots/telegram/handlers/developers.py`.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.claiming import drop_view
from bots.discord.mapping import NAMESPACE, lang_of
from bots.discord.owners import developer_of, linked_developer, owned_choices
from bots.discord.render import campaign_line, campaigns_message, drop_embed, stats_message
from bots.discord.replies import Answer, Refusal, respond
from bots.discord.texts import command, text
from domain import access, analytics, campaigns, developers, posts
from domain.access import Role
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.errors import CampaignNotFound
from domain.values import IdentityMode, Platform

PLATFORM_CHOICES = [app_commands.Choice(name=p.value, value=p.value) for p in Platform]
IDENTITY_CHOICES = [
    app_commands.Choice(name=command(f"choice.identity.{m.value}"), value=m.value)
    for m in (IdentityMode.ANONYMOUS, IdentityMode.VERIFIED)
]
LIST_LIMIT = 20


def eligibility_rules(
    required_role: discord.Role | None,
    min_account_age_days: int | None,
    min_member_days: int | None,
) -> dict[str, object]:
    """The campaign's eligibility from /campaign create's options (only checkable in Discord)."""
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
    return rules


class Developers(commands.Cog):
    """Campaign management for linked developers."""

    campaign = app_commands.Group(name="campaign", description=command("command.campaign"))

    def __init__(self, services: Services) -> None:
        self.services = services

    @campaign.command(name="create", description=command("command.create"))
    @app_commands.describe(
        **{
            option: command(f"command.create.{option}")
            for option in (
                "name",
                "platform",
                "description",
                "required_role",
                "min_account_age_days",
                "min_member_days",
                "per_member",
                "low_stock_alert",
                "identity",
            )
        }
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
        lang = lang_of(interaction)

        async def action() -> Answer:
            dev = await developer_of(interaction)
            view = await campaigns.create_campaign(
                owner_id=dev.id,
                name=name,
                description=description,
                platform=platform,
                per_claimant_limit=per_member,
                low_stock_threshold=low_stock_alert,
                eligibility=eligibility_rules(required_role, min_account_age_days, min_member_days),
                identity=identity,
            )
            return Answer(text("created", lang, campaign=campaign_line(view, lang)))

        await respond(interaction, action)

    @campaign.command(name="list", description=command("command.list"))
    async def list_(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction)
            found, total = await campaigns.list_campaigns(owner_id=dev.id, limit=LIST_LIMIT)
            return Answer(campaigns_message(found, total, lang_of(interaction)))

        await respond(interaction, action)

    async def _act(self, interaction: discord.Interaction, campaign: str, action: Action) -> None:
        """Apply a lifecycle `Action` to the caller's campaign (`campaigns.act`)."""

        async def work() -> Answer:
            dev = await developer_of(interaction)
            view = await campaigns.act(
                developer_id=dev.id,
                campaign_id=campaign,
                action=action,
                events_bus=self.services.events,
            )
            lang = lang_of(interaction)
            return Answer(text("done", lang, campaign=campaign_line(view, lang)))

        await respond(interaction, work)

    @campaign.command(name="pause", description=command("command.pause"))
    @app_commands.autocomplete(campaign=owned_choices)
    async def pause(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._act(interaction, campaign, Action.PAUSE)

    @campaign.command(name="resume", description=command("command.resume"))
    @app_commands.autocomplete(campaign=owned_choices)
    async def resume(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._act(interaction, campaign, Action.RESUME)

    @campaign.command(name="end", description=command("command.end"))
    @app_commands.autocomplete(campaign=owned_choices)
    async def end(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._act(interaction, campaign, Action.END)

    @campaign.command(name="reopen", description=command("command.reopen"))
    @app_commands.autocomplete(campaign=owned_choices)
    async def reopen(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._act(interaction, campaign, Action.REOPEN)

    @campaign.command(name="archive", description=command("command.archive"))
    @app_commands.autocomplete(campaign=owned_choices)
    async def archive(self, interaction: discord.Interaction, campaign: str) -> None:
        await self._act(interaction, campaign, Action.ARCHIVE)

    @campaign.command(name="stats", description=command("command.stats"))
    @app_commands.autocomplete(campaign=owned_choices)
    async def stats(self, interaction: discord.Interaction, campaign: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction)
            view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign)
            numbers = await analytics.campaign_analytics(owner_id=dev.id, campaign_id=campaign)
            return Answer(stats_message(numbers, view.name, lang_of(interaction)))

        await respond(interaction, action)

    @campaign.command(name="identity", description=command("command.identity"))
    @app_commands.describe(
        campaign=command("command.identity.campaign"), mode=command("command.identity.mode")
    )
    @app_commands.autocomplete(campaign=owned_choices)
    @app_commands.choices(mode=IDENTITY_CHOICES)
    async def identity(self, interaction: discord.Interaction, campaign: str, mode: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction)
            view = await campaigns.update_campaign(
                owner_id=dev.id,
                campaign_id=campaign,
                changes={"identity": mode},
                events_bus=self.services.events,
            )
            lang = lang_of(interaction)
            line = campaign_line(view, lang)
            return Answer(text("identity.done", lang, campaign=line, identity=view.identity))

        await respond(interaction, action)

    # -- /drop -----------------------------------------------------------------------------------

    @app_commands.command(name="drop", description=command("command.drop"))
    @app_commands.describe(campaign=command("command.drop.campaign"))
    @app_commands.autocomplete(campaign=owned_choices)
    @app_commands.guild_only()
    async def drop(self, interaction: discord.Interaction, campaign: str) -> None:
        lang = lang_of(interaction)

        async def action() -> Answer:
            await self._may_drop(interaction, campaign)
            channel = interaction.channel
            if channel is None or not isinstance(channel, discord.abc.Messageable):
                raise Refusal(text("drop.no_channel", lang))
            card = await campaigns.public_card(campaign_id=campaign)
            try:
                message = await channel.send(embed=drop_embed(card), view=drop_view(card))
            except discord.Forbidden as exc:
                raise Refusal(text("drop.forbidden", lang)) from exc
            await posts.record_post(
                campaign_id=card.id,
                provider=NAMESPACE,
                guild_id=str(interaction.guild_id),
                channel_id=str(message.channel.id),
                message_id=str(message.id),
                posted_by=str(interaction.user.id),
            )
            # before the start the card counts down with its button locked; unlock it on time
            opener = getattr(interaction.client, "card_opener", None)
            if card.state == "not_started" and card.starts_at is not None and opener:
                opener(card.id, card.starts_at)
            return Answer(text("drop.done", lang, name=card.name, url=message.jump_url))

        await respond(interaction, action)

    async def _may_drop(self, interaction: discord.Interaction, campaign: str) -> None:
        """Posting a drop needs Manage Server and a campaign the caller manages or already here.

        Another tenant's campaign reads exactly like an unknown id, so ids cannot be probed.
        """
        dev = await linked_developer(interaction.user)
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
            raise Refusal(text("drop.needs_manage_server", lang_of(interaction)))

    # -- /link, /join and /register --------------------------------------------------------------

    @app_commands.command(name="link", description=command("command.link"))
    @app_commands.describe(token=command("command.link.token"))
    async def link(self, interaction: discord.Interaction, token: str) -> None:
        async def action() -> Answer:
            dev = await developers.link_identity(
                token=token,
                provider=NAMESPACE,
                external_id=str(interaction.user.id),
                chat_id=str(interaction.user.id),
            )
            return Answer(text("link.done", lang_of(interaction), name=dev.name))

        await respond(interaction, action)

    @app_commands.command(name="join", description=command("command.join"))
    @app_commands.describe(token=command("command.join.token"))
    async def join(self, interaction: discord.Interaction, token: str) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction)
            joined = await access.accept(token=token, developer_id=dev.id)
            return Answer(
                text("join.done", lang_of(interaction), name=joined.campaign_name, role=joined.role)
            )

        await respond(interaction, action)

    @app_commands.command(name="register", description=command("command.register"))
    async def register(self, interaction: discord.Interaction) -> None:
        async def action() -> Answer:
            dev, key = await developers.register_via_chat(
                provider=NAMESPACE,
                external_id=str(interaction.user.id),
                name=interaction.user.display_name,
                chat_id=str(interaction.user.id),
                settings=self.services.settings,
            )
            lang = lang_of(interaction)
            if key is None:
                return Answer(text("register.already", lang, name=dev.name))
            return Answer(text("register.done", lang, name=dev.name, key=key.key))

        await respond(interaction, action)
