"""What an owner sees of a campaign: its fields, its stock counts, its state in one word."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.functions import Count

from domain import clock
from domain.access import Role
from domain.adapters.db import read_connection
from domain.campaign_state import owner_state
from domain.models import ArchivedCode, Campaign, PromoCode
from domain.values import CodeStatus, IdentityMode


@dataclass(slots=True)
class Stock:
    available: int = 0
    claimed: int = 0
    used: int = 0
    archived: int = 0
    available_by_platform: dict[str, int] = field(default_factory=dict)
    expired: int = 0  # never handed out: past their expires_at while available

    @property
    def total(self) -> int:
        return self.available + self.claimed + self.used + self.archived + self.expired


@dataclass(slots=True)
class CampaignView:
    id: str
    name: str
    description: str
    platform: str
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    per_claimant_limit: int
    low_stock_threshold: int
    eligibility: dict[str, Any]
    waitlist_enabled: bool
    created_at: datetime
    updated_at: datetime
    stock: Stock
    owner_id: int
    state: str  # one of STATE_LABELS: what the owner and every front call the campaign now
    identity: str = IdentityMode.ANONYMOUS
    code_ttl_days: int | None = None
    role: str = "owner"  # the caller's role on it (viewer, manager, owner)


async def stock_of(campaign_pks: list[int]) -> dict[int, Stock]:
    """Counts per status (and available per platform) for several campaigns in two queries
    (on the read replica when one is configured: counts shown to owners may lag a moment)."""
    result = {pk: Stock() for pk in campaign_pks}
    if not campaign_pks:
        return result
    rows = (
        await PromoCode.filter(campaign_id__in=campaign_pks)
        .using_db(read_connection())
        .annotate(n=Count("id"))
        .group_by("campaign_id", "status", "platform")
        .values("campaign_id", "status", "platform", "n")
    )
    for row in rows:
        stock = result[row["campaign_id"]]
        if row["status"] == CodeStatus.AVAILABLE:
            stock.available += row["n"]
            stock.available_by_platform[row["platform"] or "any"] = row["n"]
        elif row["status"] == CodeStatus.CLAIMED:
            stock.claimed += row["n"]
        elif row["status"] == CodeStatus.EXPIRED:
            stock.expired += row["n"]
        else:
            stock.used += row["n"]
    archived = (
        await ArchivedCode.filter(campaign_id__in=campaign_pks)
        .using_db(read_connection())
        .annotate(n=Count("id"))
        .group_by("campaign_id", "status")
        .values("campaign_id", "status", "n")
    )
    for row in archived:
        if row["status"] == CodeStatus.EXPIRED:
            result[row["campaign_id"]].expired += row["n"]
        else:
            result[row["campaign_id"]].archived += row["n"]
    return result


# One word per state, for every front: the dashboard, both bots and the API (`state`) say


def view_of(c: Campaign, stock: Stock, role: Role = Role.OWNER) -> CampaignView:
    return CampaignView(
        id=c.public_id,
        name=c.name,
        description=c.description,
        platform=c.platform,
        status=c.status,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        per_claimant_limit=c.per_claimant_limit,
        low_stock_threshold=c.low_stock_threshold,
        eligibility=c.eligibility or {},
        waitlist_enabled=c.waitlist_enabled,
        created_at=c.created_at,
        updated_at=c.updated_at,
        stock=stock,
        owner_id=c.owner_id,  # type: ignore[attr-defined]
        state=owner_state(c, stock.available, stock.total, clock.now()),
        identity=c.identity,
        code_ttl_days=c.code_ttl_days,
        role=role.label,
    )
