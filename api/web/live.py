"""Live campaign stats for the dashboard: a JSON snapshot, and Server-Sent Events that push a
fresh snapshot within moments of every claim.

The stream listens to the domain event bus (`services.events.subscribe()`): in-process by
default, Redis pub/sub when `REDIS_URL` is set, so a claim served by another replica (or a
bot) moves this dashboard too. Events only say "look again"; the numbers always come from the
database (domain.analytics), so a dropped event never leaves a wrong figure on screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.web import pages
from api.web.auth import SignedIn
from api.web.pages import NO_STORE
from domain import access, analytics, campaigns, clock
from domain.access import Role
from domain.events import EventBus
from domain.values import Channel

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dashboard")

WINDOW_MINUTES = 30
HEARTBEAT_S = 15.0
MIN_GAP_S = 0.1  # a burst of claims becomes at most ten snapshots a second


async def snapshot(owner_id: int, campaign_id: str) -> dict[str, Any]:
    """Everything the live panel shows, straight from the database."""
    now = clock.now()
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=WINDOW_MINUTES - 1)
    view = await campaigns.get_campaign(owner_id=owner_id, campaign_id=campaign_id)
    a = await analytics.campaign_analytics(
        owner_id=owner_id, campaign_id=campaign_id, bucket="minute", since=start
    )
    counts = {_minute(t): n for t, n in a.over_time}
    per_minute = []
    for i in range(WINDOW_MINUTES):
        t = start + timedelta(minutes=i)
        per_minute.append({"t": t.strftime("%H:%M"), "n": counts.get(_minute(t), 0)})
    by_channel = {c.value: a.by_channel.get(c.value, 0) for c in Channel}
    by_channel[analytics.ANONYMOUS_API] = a.by_channel.get(analytics.ANONYMOUS_API, 0)
    return {
        "campaign_id": campaign_id,
        "status": view.status,
        "state": view.state,
        "available": a.available,
        "claimed": a.claimed,
        "used": a.used,
        "total": a.total,
        "claims_total": a.claims_total,
        "last_24h": a.last_24h,
        "by_channel": by_channel,
        "by_platform": a.by_platform,
        "per_minute": per_minute,
        "at": now.isoformat(),
    }


def _minute(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


async def _owned(owner_id: int, campaign_id: str) -> None:
    await access.require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)


@router.get("/c/{campaign_id}/stats.json", name="campaign_stats")
async def campaign_stats(campaign_id: str, signed: SignedIn) -> JSONResponse:
    """The live panel's numbers once (the page's first paint and a no-SSE fallback)."""
    await _owned(signed.developer.id, campaign_id)
    return JSONResponse(await snapshot(signed.developer.id, campaign_id), headers=NO_STORE)


async def stats_stream(events: EventBus, owner_id: int, campaign_id: str) -> AsyncIterator[str]:
    """SSE frames: a snapshot now, then one after each event of this campaign, heartbeats."""
    changed = asyncio.Event()

    async def listen() -> None:
        async for event in events.subscribe():
            # access was checked when the stream opened (members see the owner's events)
            if event.campaign_id == campaign_id:
                changed.set()

    listener = asyncio.create_task(listen(), name=f"sse-{campaign_id}")
    # let the listener reach its first await, so it is subscribed before the first snapshot
    await asyncio.sleep(0)
    try:
        yield "retry: 2000\n\n"
        yield _frame(await snapshot(owner_id, campaign_id))
        while True:
            try:
                await asyncio.wait_for(changed.wait(), HEARTBEAT_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            changed.clear()
            yield _frame(await snapshot(owner_id, campaign_id))
            await asyncio.sleep(MIN_GAP_S)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


def _frame(data: dict[str, Any]) -> str:
    return f"event: stats\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/c/{campaign_id}/live", name="campaign_live")
async def campaign_live(request: Request, campaign_id: str, signed: SignedIn) -> StreamingResponse:
    """Server-Sent Events with the campaign's live stats."""
    await _owned(signed.developer.id, campaign_id)
    events = pages.services_of(request).events
    return StreamingResponse(
        stats_stream(events, signed.developer.id, campaign_id),
        media_type="text/event-stream",
        headers={**NO_STORE, "X-Accel-Buffering": "no", "Connection": "keep-alive"},
    )
