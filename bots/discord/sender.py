"""Direct messages to Discord users: the `Notifier` the scheduler uses, and the DM helper.

A member who closed their DMs (Discord error 50007) or blocked the bot is not an error for
us: the send returns False and everything else carries on.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.http import HTTPClient, Route, handle_message_parameters

from domain.settings import Settings

log = logging.getLogger(__name__)

CANNOT_DM = 50007
UNKNOWN_USER = 10013
MAX_MESSAGE = 2000


def use_api_url(settings: Settings) -> None:
    """Point discord.py's REST base at `CODEDROP_DISCORD_API_URL` (testing hook) when set."""
    if settings.discord_api_url:
        Route.BASE = settings.discord_api_url.rstrip("/")


async def send_dm(http: HTTPClient, user_id: int, text: str) -> bool:
    """DM a user; False (logged, not raised) when Discord refuses."""
    try:
        channel = await http.start_private_message(user_id)
        with handle_message_parameters(content=text[:MAX_MESSAGE]) as params:
            await http.send_message(int(channel["id"]), params=params)
    except discord.Forbidden as exc:
        if exc.code == CANNOT_DM:
            log.info("discord user %s does not accept DMs from the bot", user_id)
        else:
            log.warning("discord refused a DM to %s: %s", user_id, exc.code)
        return False
    except discord.NotFound:
        log.info("discord user %s not found", user_id)
        return False
    except discord.HTTPException as exc:
        log.warning("discord DM to %s failed: %s %s", user_id, exc.status, exc.code)
        return False
    return True


class DiscordNotifier:
    """`domain.notify.Notifier` over Discord DMs; `chat_id` is the Discord user id."""

    provider = "discord"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: HTTPClient | None = None
        self._login = asyncio.Lock()

    async def _client(self) -> HTTPClient:
        async with self._login:
            if self._http is None:
                if self.settings.discord_bot_token is None:
                    raise RuntimeError("CODEDROP_DISCORD_BOT_TOKEN is not set")
                use_api_url(self.settings)
                http = HTTPClient(asyncio.get_running_loop())
                await http.static_login(self.settings.discord_bot_token.get_secret_value())
                self._http = http
            return self._http

    async def send(self, chat_id: str, text: str) -> bool:
        """DM `text` to the Discord user `chat_id`; False when it cannot be delivered."""
        try:
            user_id = int(chat_id)
        except ValueError:
            log.warning("not a Discord user id: %r", chat_id[:32])
            return False
        return await send_dm(await self._client(), user_id, text)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
