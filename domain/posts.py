"""Campaign cards posted in chats (Discord drop messages): where they are, and what they open.

A post is recorded when a developer or server admin drops a campaign into a channel. The bots
use it to keep the card's count current and to know which campaigns a server may claim from
(`/claim` autocomplete): the ones dropped there. A card posted before its campaign starts
shows a countdown and a locked button; `awaiting_start` tells a bot which cards to unlock at
which moment (after a restart too).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError

from domain import clock
from domain.campaigns import public_row
from domain.models import Campaign, ChatPost
from domain.values import CampaignStatus

LISTED = (CampaignStatus.ACTIVE, CampaignStatus.PAUSED, CampaignStatus.COMPLETED)


@dataclass(frozen=True, slots=True)
class PostRef:
    campaign_id: str
    guild_id: str
    channel_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Choice:
    campaign_id: str
    name: str
    status: str


async def record_post(
    *,
    campaign_id: str,
    provider: str,
    guild_id: str,
    channel_id: str,
    message_id: str,
    posted_by: str = "",
) -> PostRef:
    """Remember that a campaign card now lives in this channel message."""
    c = await public_row(campaign_id)
    # the same message recorded twice: nothing new to remember
    with contextlib.suppress(IntegrityError):
        await ChatPost.create(
            campaign_id=c.id,
            provider=provider,
            guild_id=str(guild_id),
            channel_id=str(channel_id),
            message_id=str(message_id),
            posted_by=posted_by[:64],
        )
    return PostRef(c.public_id, str(guild_id), str(channel_id), str(message_id))


async def posts_of(*, campaign_id: str, provider: str, limit: int = 50) -> list[PostRef]:
    """The newest posts of a campaign on one provider (the cards to refresh)."""
    rows = (
        await ChatPost.filter(campaign__public_id=campaign_id, provider=provider)
        .order_by("-id")
        .limit(limit)
    )
    return [PostRef(campaign_id, r.guild_id, r.channel_id, r.message_id) for r in rows]


async def forget_post(*, provider: str, channel_id: str, message_id: str) -> bool:
    """Drop a post whose message is gone; True when one was removed."""
    deleted = await ChatPost.filter(
        provider=provider, channel_id=str(channel_id), message_id=str(message_id)
    ).delete()
    return bool(deleted)


async def campaigns_in(
    *, provider: str, guild_id: str, text: str = "", limit: int = 25
) -> list[Choice]:
    """Published campaigns dropped in this server whose name contains `text`, newest first."""
    ids = await ChatPost.filter(provider=provider, guild_id=str(guild_id)).values_list(
        "campaign_id", flat=True
    )
    if not ids:
        return []
    query = Campaign.filter(id__in=set(ids), status__in=LISTED)
    if text.strip():
        query = query.filter(name__icontains=text.strip())
    rows = await query.order_by("-id").limit(limit)
    return [Choice(r.public_id, r.name, r.status) for r in rows]


async def resolve_in(*, provider: str, guild_id: str, text: str) -> str | None:
    """The public id a member meant: a picked autocomplete id, or an exact name in this server."""
    text = text.strip()
    if not text:
        return None
    choices = await campaigns_in(provider=provider, guild_id=guild_id, limit=100)
    for choice in choices:
        if choice.campaign_id == text:
            return choice.campaign_id
    for choice in choices:
        if choice.name.lower() == text.lower():
            return choice.campaign_id
    return None


async def posted_in(*, campaign_id: str, provider: str, guild_id: str) -> bool:
    """True when this campaign has already been dropped in this server."""
    return await ChatPost.filter(
        campaign__public_id=campaign_id, provider=provider, guild_id=str(guild_id)
    ).exists()


async def awaiting_start(*, provider: str) -> list[tuple[str, datetime]]:
    """Campaigns with cards on `provider` that are published and not started yet, with their
    start: the moments a bot unlocks those cards."""
    ids = await ChatPost.filter(provider=provider).values_list("campaign_id", flat=True)
    if not ids:
        return []
    rows = await Campaign.filter(
        id__in=set(ids), status=CampaignStatus.ACTIVE, starts_at__gt=clock.now()
    ).values_list("public_id", "starts_at")
    return [(str(public_id), clock.as_utc(starts_at)) for public_id, starts_at in rows]  # type: ignore[misc]
