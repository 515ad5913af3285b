"""Who manages: the developer behind a Discord account, the refusal for everyone else, and
the autocomplete over a developer's own campaigns.

The same role as `bots/telegram/owners.py`: Discord has no middleware between a slash
command and its handler, so each developer command's work starts with `developer_of`, inside
`replies.respond` (a refusal is then the interaction's private answer).
"""

from __future__ import annotations

import discord
from discord import app_commands

from bots.discord.mapping import NAMESPACE, lang_of
from bots.discord.replies import Refusal
from bots.discord.texts import text
from bots.texts import state_label
from domain import audit, campaigns, developers
from domain.audit import AuditChannel
from domain.developers import DeveloperView


async def linked_developer(user: discord.abc.User) -> DeveloperView | None:
    """The developer this Discord account is linked to, if any."""
    return await developers.developer_for_identity(provider=NAMESPACE, external_id=str(user.id))


async def developer_of(interaction: discord.Interaction) -> DeveloperView:
    """The developer the interacting account acts for, or a refusal telling how to link."""
    audit.set_channel(AuditChannel.BOT)
    dev = await linked_developer(interaction.user)
    if dev is None:
        raise Refusal(text("manage.not_linked", lang_of(interaction)))
    return dev


async def owned_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over the caller's own campaigns (nothing for unlinked accounts)."""
    dev = await linked_developer(interaction.user)
    if dev is None:
        return []
    found = await campaigns.find_campaigns(owner_id=dev.id, text=current)
    lang = lang_of(interaction)
    return [
        app_commands.Choice(name=f"{c.name} ({state_label(c.state, lang)})"[:100], value=c.id)
        for c in found
    ]
