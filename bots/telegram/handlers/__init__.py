"""Routers of the Telegram bot, one per feature; `routers()` builds them in dispatch order.

The same role as `bots/discord/handlers/` (cogs): members, developers, uploads, and the /new
wizard. Developer handlers sit behind `owners.Gate`, which hands them the `DeveloperView`.
"""

from __future__ import annotations

from aiogram import Router

from bots.telegram.handlers import developers, members, uploads, wizard


def routers() -> list[Router]:
    """Fresh routers (a router joins one dispatcher only); the wizard first, so a conversation
    in progress gets its answers before other handlers."""
    return [wizard.setup(), uploads.setup(), developers.setup(), members.setup()]
