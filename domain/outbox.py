"""The webhook outbox: events written in the same transaction as the change they report.

A change that commits has its event row; a change that rolls back takes its event row with
it. The dispatcher (domain/webhook_dispatch.py) later turns each row into one delivery per
webhook that is owed it, and delivers at least once.

Paying nothing when nobody listens. The claim is the hot path, so an event row is written
only when the campaign's owner has an active webhook subscribed to that event, and whether
they do is read from a per-process cache kept `SUBSCRIPTIONS_FRESH_WITHIN` seconds (one query
per owner and second at most, none on a hit). A cache can be stale two ways:

- it says "subscribed" after the webhook was deactivated or deleted: an extra row is written,
  and the dispatcher, finding no webhook owed it, marks it done. Harmless.
- it says "not subscribed" while a webhook was just created (or re-activated, or given a new
  event) in another process: the row is skipped. That event is not owed to the webhook,
  by this rule: **a webhook is owed an event of type T when the event happened at or after
  the moment its subscription to T took effect, and a subscription takes effect
  `TAKES_EFFECT_AFTER` seconds after it is made** (stored per event type in
  `Webhook.events`, checked by the dispatcher). An event's time is taken before, or a
  moment after, the cache is asked, and an entry is used less than
  `SUBSCRIPTIONS_FRESH_WITHIN` after the read that filled it (it is stamped with the time
  the read began). A subscription the read missed committed after that read, so it takes
  effect more than `TAKES_EFFECT_AFTER` after it: later than any event stamped while the
  entry was used. The margin of `TAKES_EFFECT_AFTER` over the cache's age (4 s) covers the
  subscribing transaction's own length, the moment between check and stamp, and clock skew
  between hosts.

So no event is lost for a subscription that was in effect when the change happened.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain import clock
from domain.adapters.db import is_mysql_connection
from domain.models import Webhook

CLAIM_CREATED = "claim.created"
CODE_USED = "code.used"
CODE_RELEASED = "code.released"
CAMPAIGN_LOW_STOCK = "campaign.low_stock"
CAMPAIGN_SOLD_OUT = "campaign.sold_out"
CAMPAIGN_STATUS_CHANGED = "campaign.status_changed"
UPLOAD_COMPLETED = "upload.completed"
# what a ping sends (never subscribed to: a ping goes to the webhook it was asked for)
WEBHOOK_PING = "webhook.ping"

EVENT_TYPES: tuple[str, ...] = (
    CLAIM_CREATED,
    CODE_USED,
    CODE_RELEASED,
    CAMPAIGN_LOW_STOCK,
    CAMPAIGN_SOLD_OUT,
    CAMPAIGN_STATUS_CHANGED,
    UPLOAD_COMPLETED,
)

SUBSCRIPTIONS_FRESH_WITHIN = 1.0
TAKES_EFFECT_AFTER = 5.0

_cache: dict[int, tuple[float, frozenset[str]]] = {}


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One event to write: its type, the campaign it concerns and its `data`."""

    name: str
    campaign_id: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: new_event_id())


def new_event_id() -> str:
    """A stable, unguessable event id (the `webhook-id` header); lower-case hex, so no
    collation can fold two apart ids together."""
    return "evt_" + secrets.token_hex(12)


async def subscribed(owner_id: int) -> frozenset[str]:
    """The event types some active webhook of `owner_id` subscribes to (cached, see above)."""
    hit = _cache.get(owner_id)
    started = time.monotonic()
    if hit is not None and started - hit[0] < SUBSCRIPTIONS_FRESH_WITHIN:
        return hit[1]
    rows = await Webhook.filter(owner_id=owner_id, active=True).values_list("events", flat=True)
    names = frozenset(name for events in rows for name in (events or {}))
    # stamped with the time before the read: the entry never looks younger than it is
    _cache[owner_id] = (started, names)
    return names


def forget_subscriptions(owner_id: int) -> None:
    """Drop this process's cached subscriptions of `owner_id` (after it changed a webhook)."""
    _cache.pop(owner_id, None)


async def wanted(owner_id: int, name: str) -> bool:
    """Whether an event `name` of `owner_id` must be written (may say yes needlessly)."""
    return name in await subscribed(owner_id)


async def write(conn: Any, owner_id: int, entries: Sequence[OutboxEntry], at: datetime) -> None:
    """Insert `entries` in ONE multi-row INSERT on `conn` (the caller's transaction).

    The caller asked `wanted` no earlier than `at` minus a moment (the cache's age bound is
    what the rule above counts on); entries nobody subscribes to only cost a row.
    """
    if not entries:
        return
    mysql = is_mysql_connection(conn)
    stamp = at.replace(tzinfo=None) if mysql else at
    values: list[Any] = []
    for e in entries:
        values += [e.event_id, owner_id, e.name, e.campaign_id, json.dumps(e.data), stamp]
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, 0)"] * len(entries))
    query = (
        "INSERT INTO webhook_events (event_id, owner_id, name, campaign_id, payload,"
        f" created_at, fanned_out) VALUES {marks}"
    )
    await conn.execute_query(query.replace("?", "%s") if mysql else query, values)


async def record(
    conn: Any, owner_id: int, name: str, campaign_id: str, data: dict[str, Any]
) -> None:
    """Write one event in `conn`'s transaction when the owner subscribes to it."""
    if await wanted(owner_id, name):
        await write(conn, owner_id, [OutboxEntry(name, campaign_id, data)], clock.now())


def status_data(c: Any, old: str, new: str, reason: str) -> dict[str, Any]:
    """The `data` of `campaign.status_changed`."""
    return {
        "campaign_id": c.public_id,
        "name": c.name,
        "from": str(old),
        "to": str(new),
        "reason": reason,
    }


async def record_status(conn: Any, c: Any, old: str, new: str, reason: str) -> None:
    """`campaign.status_changed` for campaign row `c`, in `conn`'s transaction."""
    await record(
        conn, c.owner_id, CAMPAIGN_STATUS_CHANGED, c.public_id, status_data(c, old, new, reason)
    )


async def record_sold_out(conn: Any, c: Any) -> None:
    """A campaign completed for lack of codes: `campaign.sold_out` and its status change."""
    await record(
        conn,
        c.owner_id,
        CAMPAIGN_SOLD_OUT,
        c.public_id,
        {"campaign_id": c.public_id, "name": c.name},
    )
    await record_status(conn, c, "active", "completed", "sold_out")
