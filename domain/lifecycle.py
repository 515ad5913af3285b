"""Campaign lifecycle over time: announced starts, ends, sold-out completion, low stock.

Run every minute by the scheduler. It never gates a claim: a scheduled (active) campaign
opens at `starts_at` to the second by `campaign_state.openness`, and this job only announces
it afterwards (`announce_start`). It finds the campaigns the clock or the stock has moved and
asks `domain.campaign_state` to move them (`Move.STARTED` for drafts given a start,
`Move.ENDED`, `mark_sold_out`) and to raise or re-arm the low-stock flag; every write there
is one conditional UPDATE, so two runners, or a runner racing an owner's edit, change or
announce a campaign once and publish one event. The window's edges are `openness`'s: open
from `starts_at` inclusive to `ends_at` exclusive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tortoise.connection import get_connection
from tortoise.expressions import F, Q

from domain import campaign_state, clock
from domain.adapters.db import is_mysql_connection
from domain.campaign_state import Move
from domain.claims import available_count
from domain.events import EventBus
from domain.expiry import db_time
from domain.models import Campaign
from domain.values import CampaignStatus

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LifecycleResult:
    """Public ids of the campaigns each rule changed in one run."""

    started: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    sold_out: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "started": len(self.started),
            "announced": len(self.announced),
            "ended": len(self.ended),
            "sold_out": len(self.sold_out),
        }


SOLD_OUT_SQL = (
    "SELECT c.id FROM campaigns c WHERE c.status = 'active'"
    " AND NOT EXISTS (SELECT 1 FROM promo_codes p"
    " WHERE p.campaign_id = c.id AND p.status = 'available'"
    " AND (p.expires_at IS NULL OR p.expires_at > ?))"
    " AND (EXISTS (SELECT 1 FROM promo_codes p WHERE p.campaign_id = c.id)"
    " OR EXISTS (SELECT 1 FROM archived_codes a WHERE a.campaign_id = c.id))"
)


async def _sold_out_ids() -> list[int]:
    """Active campaigns that had codes and have none available and unexpired."""
    conn = get_connection("default")
    query = SOLD_OUT_SQL.replace("?", "%s") if is_mysql_connection(conn) else SOLD_OUT_SQL
    _, rows = await conn.execute_query(query, [db_time(conn, clock.now())])
    return [int(r["id"]) for r in rows]


async def advance_campaigns(*, events_bus: EventBus) -> LifecycleResult:
    """Announce scheduled starts, publish drafts at their start, end campaigns past `ends_at`,
    complete sold-out ones."""
    now = clock.now()
    result = LifecycleResult()

    # scheduled drafts whose start has come (and whose window has not already passed)
    due = await Campaign.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        status=CampaignStatus.DRAFT,
        starts_at__lte=now,
    )
    for c in due:
        if await campaign_state.move(c, Move.STARTED, events_bus):
            result.started.append(c.public_id)

    # published campaigns whose start has come: already open, announce it once
    opened = await Campaign.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        Q(start_announced_at__isnull=True) | ~Q(start_announced_at=F("starts_at")),
        status=CampaignStatus.ACTIVE,
        starts_at__lte=now,
        starts_at__gt=now - campaign_state.ANNOUNCE_WITHIN,
    )
    for c in opened:
        if await campaign_state.announce_start(c, events_bus):
            result.announced.append(c.public_id)

    # past their end: running, paused, or scheduled drafts the scheduler never saw open
    over = await Campaign.filter(
        Q(status__in=[CampaignStatus.ACTIVE, CampaignStatus.PAUSED])
        | Q(status=CampaignStatus.DRAFT, starts_at__isnull=False),
        ends_at__lte=now,
    )
    for c in over:
        if await campaign_state.move(c, Move.ENDED, events_bus):
            result.ended.append(c.public_id)

    # sold out: active, has had codes, none available (a campaign still waiting for its first
    # upload is not sold out). One query, each NOT EXISTS is a seek on promo_next_available.
    for c in await Campaign.filter(id__in=await _sold_out_ids()):
        if await campaign_state.mark_sold_out(c, events_bus):
            result.sold_out.append(c.public_id)

    if result.started or result.announced or result.ended or result.sold_out:
        log.info(
            "lifecycle: started=%d announced=%d ended=%d sold_out=%d",
            len(result.started),
            len(result.announced),
            len(result.ended),
            len(result.sold_out),
        )
    return result


@dataclass(slots=True)
class LowStockResult:
    alerted: list[str] = field(default_factory=list)
    rearmed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"alerted": len(self.alerted), "rearmed": len(self.rearmed)}


async def check_low_stock(*, events_bus: EventBus) -> LowStockResult:
    """One `low_stock` alert per crossing under the threshold; re-arm once stock is back above.

    Claims raise the alert as they happen (`domain.claims.check_stock`); this catches the
    crossings they cannot see (a threshold raised above the stock, codes released or
    uploaded, codes that expired unclaimed).
    """
    result = LowStockResult()
    watched = await Campaign.filter(
        status__in=[CampaignStatus.ACTIVE, CampaignStatus.PAUSED], low_stock_threshold__gt=0
    )
    for c in watched:
        left = await available_count(c.id, at_most=c.low_stock_threshold + 1)
        if left > c.low_stock_threshold:
            if c.low_stock_alerted and await campaign_state.rearm_low_stock(c, available=left):
                result.rearmed.append(c.public_id)
        elif (
            left > 0
            and not c.low_stock_alerted
            and await campaign_state.alert_low_stock(c, left, events_bus)
        ):
            result.alerted.append(c.public_id)
    return result
