"""Cogs of the Discord bot, one per feature; `cogs()` builds them for one bot.

The same role as `bots/telegram/handlers/`: members (/claim, /mycodes), developers (/campaign,
/drop, /link, /join, /register) and uploads (/codes). They take the services they need and
type the client as `replies.FrontClient`, so nothing here imports the bot.
"""

from __future__ import annotations

from discord.ext import commands

from bots.discord.handlers.developers import Developers
from bots.discord.handlers.members import Members
from bots.discord.handlers.uploads import Uploads
from domain.adapters.bootstrap import Services


def cogs(services: Services) -> list[commands.Cog]:
    """Fresh cogs for one bot."""
    return [Members(), Developers(services), Uploads(services)]
