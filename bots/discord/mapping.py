"""Discord to the domain: a Discord user or member to a `Claimant` (facts the domain judges).

The same role as `bots/telegram/mapping.py`: `NAMESPACE` is the claimant namespace and the
provider of linked developer accounts, `CHANNEL` the claim channel, `lang_of` the member's
language for the texts.
"""

from __future__ import annotations

import discord

from bots.i18n import negotiate
from domain import claimants
from domain.values import Channel, Claimant

NAMESPACE = claimants.DISCORD
CHANNEL = Channel.DISCORD.value


def claimant_of(user: discord.User | discord.Member) -> Claimant:
    """The claimant for a Discord user, with roles, account age and time in the server."""
    roles: frozenset[str] = frozenset()
    member_since = None
    if isinstance(user, discord.Member):
        roles = frozenset(str(role.id) for role in user.roles if not role.is_default())
        member_since = user.joined_at
    return Claimant.of(
        NAMESPACE,
        user.id,
        display_name=user.display_name,
        # Discord ids are snowflakes: the account's creation time is inside the id
        account_created_at=discord.utils.snowflake_time(user.id),
        member_since=member_since,
        roles=roles,
    )


def lang_of(interaction: discord.Interaction) -> str:
    """The catalogue locale for the member's client language (`es-ES` -> `es`, `pt-BR` ->
    `pt_BR`; English for a language not translated)."""
    return negotiate(interaction.locale.value)
