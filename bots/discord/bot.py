"""The discord.py bot: least-privilege intents, the cogs, persistent items, command sync.

The same role as `bots/telegram/bot.py` (the platform client codedrop builds). It imports the
handlers; they see it only as `replies.FrontClient`, so there is no import circle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import discord
from discord.ext import commands

from bots.discord.claiming import DYNAMIC_ITEMS
from bots.discord.handlers import cogs
from bots.discord.texts import CatalogueTranslator
from bots.inflight import InFlight
from domain.adapters.bootstrap import Services

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """Only `guilds` (roles and channels); no message content, no members, no presences."""
    return discord.Intents(guilds=True)


class CodedropBot(commands.AutoShardedBot):
    """Shards as Discord recommends (`GET /gateway/bot`); slash commands only."""

    def __init__(self, services: Services) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            chunk_guilds_at_startup=False,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.services = services
        self.ready_event = asyncio.Event()
        # a few more than the database pool: enough to keep it busy, not enough to starve
        # the acknowledgements of new interactions
        self.work_slots = asyncio.Semaphore(services.settings.database_pool_size * 2)
        self.in_flight = InFlight()  # interactions being answered (bots/discord/replies.py)
        # unlocks a drop card at its campaign's start (set by `notices.Notices`)
        self.card_opener: Callable[[str, datetime], None] | None = None

    async def setup_hook(self) -> None:
        for cog in cogs(self.services):
            await self.add_cog(cog)
        # the Claim/Notify/platform templates: buttons posted before a restart keep working
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        # command and option descriptions in every language the catalogue has
        await self.tree.set_translator(CatalogueTranslator())
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """To the test guild when `CODEDROP_DISCORD_GUILD_ID` is set (instant), else globally."""
        guild_id = self.services.settings.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("discord: %d commands synced to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("discord: %d commands synced globally", len(synced))

    async def on_ready(self) -> None:
        log.info("discord: connected as %s in %d servers", self.user, len(self.guilds))
        self.ready_event.set()
