"""The Discord front as the `codedrop` command runs it: `DiscordFront(services).run()`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bots.discord.bot import CodedropBot
from bots.discord.notices import Notices
from bots.discord.sender import use_api_url
from domain.adapters.bootstrap import Services

log = logging.getLogger(__name__)


class DiscordFront:
    """Logs in, connects to the gateway, syncs commands and serves until cancelled."""

    def __init__(self, services: Services, *, card_refresh_interval: float = 2.0) -> None:
        token = services.settings.discord_bot_token
        if token is None or not token.get_secret_value():
            raise ValueError("CODEDROP_DISCORD_BOT_TOKEN is not set")
        self.services = services
        self.bot = CodedropBot(services)
        self.notices = Notices(self.bot, refresh_interval=card_refresh_interval)
        self._listener: asyncio.Task[None] | None = None

    @property
    def ready(self) -> asyncio.Event:
        """Set once the bot is connected, commands synced and guilds received."""
        return self.bot.ready_event

    async def run(self) -> None:
        """Serve until cancelled or closed."""
        settings = self.services.settings
        use_api_url(settings)
        assert settings.discord_bot_token is not None
        self._listener = asyncio.create_task(self.notices.run(), name="discord-notices")
        try:
            await self.bot.start(settings.discord_bot_token.get_secret_value())
        finally:
            await self.close()

    def healthy(self) -> bool:
        """Connected to the gateway with a live heartbeat."""
        return self.bot.is_ready() and not self.bot.is_closed() and self.bot.latency < 60

    async def stop(self) -> None:
        """Graceful stop: leave the gateway with a close frame (1000), so Discord delivers no
        more interactions, then answer every interaction in flight; `close` follows."""
        for shard in self.bot.shards.values():
            await shard.disconnect()
        log.info("discord: gateway closed; answering %d interactions", self.bot.in_flight.count)
        await self.bot.in_flight.wait_idle()

    async def close(self) -> None:
        """Disconnect and stop listening to events."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if not self.bot.is_closed():
            await self.bot.close()
