"""The stock after claims: `low_stock` once per crossing, and the campaign completes at zero.

The flags themselves are `domain.campaign_state`'s (`alert_low_stock`, `mark_sold_out`); this
is when a claim looks at them: once per committed batch, by its first claim to answer.
"""

from __future__ import annotations

from domain import campaign_state
from domain.campaign_reads import forget_row
from domain.claims.sql import available_count
from domain.events import EventBus
from domain.models import Campaign


async def check_stock(c: Campaign, events_bus: EventBus) -> None:
    """After claims: `low_stock` once per crossing, and the campaign completes at zero."""
    left = await available_count(c.id, at_most=max(c.low_stock_threshold, 0) + 1)
    if left == 0:
        await campaign_state.mark_sold_out(c, events_bus)
        forget_row(c.public_id)  # the next claim here reads "sold out" and refuses on a read
    elif c.low_stock_threshold and left <= c.low_stock_threshold:
        await campaign_state.alert_low_stock(c, left, events_bus)
