"""Turns Discord users and members into the domain's `Claimant` (facts the domain judges)."""

from __future__ import annotations

import discord

from domain.values import Channel, Claimant

NAMESPACE = "discord"
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
