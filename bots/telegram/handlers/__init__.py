"""Routers of the Telegram bot, one per feature; `routers()` returns them in dispatch order."""

from __future__ import annotations

from aiogram import Router

from bots.telegram.handlers import developers, members, uploads, wizard


def routers() -> list[Router]:
    """Wizard first: a conversation in progress gets its answers before other handlers."""
    return [wizard.router, uploads.router, developers.router, members.router]
