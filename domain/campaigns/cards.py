"""What anyone may see of a published campaign: the public card (never a code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Count

from domain import clock
from domain.campaign_reads import public_row, recall_card, remember_card
from domain.campaign_state import public_state
from domain.models import PromoCode
from domain.values import CodeStatus, IdentityMode, Platform


@dataclass(slots=True)
class PublicCard:
    """What anyone may see of a campaign: never a code."""

    id: str
    name: str
    description: str
    platform: str
    state: str  # open, not_started, paused, ended, sold_out
    codes_left: int
    platforms: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    waitlist_enabled: bool
    identity: str = IdentityMode.ANONYMOUS


async def public_card(*, campaign_id: str, fresh_within: float = 0.0) -> PublicCard:
    """The public campaign card (name, description, platform, codes left; never a code).

    Counting the available codes scans the campaign's stock, so anonymous page views may
    accept a read up to `fresh_within` seconds old; claims and edits in this process forget
    it at once, so only other processes' changes can lag by that much.
    """
    recent = recall_card(campaign_id, fresh_within=fresh_within)
    if recent is not None:
        row, by_platform = recent
    else:
        row = await public_row(campaign_id)
        rows = (
            await PromoCode.filter(campaign_id=row.id, status=CodeStatus.AVAILABLE)
            .annotate(n=Count("id"))
            .group_by("platform")
            .values("platform", "n")
        )
        by_platform = {r["platform"]: r["n"] for r in rows}
        remember_card(campaign_id, row, by_platform)
    left = sum(by_platform.values())
    platforms = sorted(p for p in by_platform if p)
    if row.platform != Platform.UNIVERSAL:
        platforms = [row.platform]
    return PublicCard(
        id=row.public_id,
        name=row.name,
        description=row.description,
        platform=row.platform,
        state=public_state(row, left, clock.now()),
        codes_left=left,
        platforms=platforms,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        waitlist_enabled=row.waitlist_enabled,
        identity=row.identity,
    )
