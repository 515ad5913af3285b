"""Code expiry: when a code stops being handed out, the sweep, and the expiring-soon notice.

A code may carry `expires_at` (a CSV column, or the campaign's `code_ttl_days` applied at
import). Two guards keep an expired code from a claimant:
- every claim's SELECT/UPDATE adds `expires_at IS NULL OR expires_at > now` (`UNEXPIRED_SQL`),
  filtered on the rows the `promo_next_available` seek reads, so a code that expired a
  second ago is passed over even before the sweep sees it;
- the sweep (`sweep_expired`, run by the scheduler's `expiry` job) moves expired available
  codes to status `expired`, out of that index range, so the seek never wades through them.
Sold-out checks count only codes that are available and not expired. Once a day per campaign
the owner hears of available codes that expire within `EXPIRING_WITHIN` (`EXPIRING_SOON`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import Q

from domain import clock, events
from domain.adapters.db import is_mysql_connection
from domain.campaign_reads import forget_card
from domain.events import Event, EventBus
from domain.models import Campaign
from domain.values import CampaignStatus

log = logging.getLogger(__name__)

EXPIRING_WITHIN = timedelta(days=3)
SWEEP_BATCH = 1000
MAX_TTL_DAYS = 3650
# the condition a code must also meet to be handed out or counted as stock (one `?`: now)
UNEXPIRED_SQL = "(expires_at IS NULL OR expires_at > ?)"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def db_time(conn: Any, moment: datetime) -> Any:
    """A moment as the driver stores it: naive UTC for MySQL, aware for SQLite (as tortoise)."""
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if is_mysql_connection(conn) else moment


def parse_expiry(text: str) -> datetime:
    """An ISO 8601 date or date-time, in UTC; raises ValueError with the reason.

    A date alone (`2027-01-31`) means the code is good through that day (UTC): it expires at
    the next midnight. A date-time without an offset is taken as UTC.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty")
    if _DATE_ONLY.match(value):
        day = date.fromisoformat(value)
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError("not an ISO 8601 date or date-time") from None
    return clock.as_utc(moment) or moment


def ttl_expiry(ttl_days: int | None, now: datetime) -> datetime | None:
    """When a code imported `now` expires under the campaign's `code_ttl_days` (None: never)."""
    return now + timedelta(days=ttl_days) if ttl_days else None


@dataclass(slots=True)
class ExpiryResult:
    """One run of the expiry job: codes moved to `expired` per campaign, notices sent."""

    expired: dict[str, int] = field(default_factory=dict)
    noticed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"expired": sum(self.expired.values()), "noticed": len(self.noticed)}


async def sweep_expired(*, now: datetime | None = None) -> dict[int, int]:
    """Move available codes past their `expires_at` to `expired`; moved codes per campaign pk.

    Batches of `SWEEP_BATCH` found on the (status, expires_at) index; each UPDATE re-checks
    the status, so a code claimed meanwhile stays claimed.
    """
    now = now or clock.now()
    conn = get_connection("default")
    mark = "%s" if is_mysql_connection(conn) else "?"
    at = db_time(conn, now)
    moved: Counter[int] = Counter()
    while True:
        _, rows = await conn.execute_query(
            "SELECT id, campaign_id FROM promo_codes WHERE status='available'"
            f" AND expires_at <= {mark} ORDER BY expires_at LIMIT {SWEEP_BATCH}",
            [at],
        )
        if not rows:
            break
        by_campaign: dict[int, list[int]] = {}
        for r in rows:
            by_campaign.setdefault(int(r["campaign_id"]), []).append(int(r["id"]))
        for campaign_pk, ids in by_campaign.items():
            marks = ", ".join([mark] * len(ids))
            changed, _ = await conn.execute_query(
                f"UPDATE promo_codes SET status='expired' WHERE id IN ({marks})"
                f" AND status='available' AND expires_at <= {mark}",
                [*ids, at],
            )
            moved[campaign_pk] += int(changed)
        if len(rows) < SWEEP_BATCH:
            break
    return dict(moved)


async def expiring_soon(*, now: datetime | None = None) -> dict[int, tuple[int, datetime]]:
    """Available codes expiring within `EXPIRING_WITHIN`, per campaign pk: (count, first)."""
    now = now or clock.now()
    conn = get_connection("default")
    mark = "%s" if is_mysql_connection(conn) else "?"
    _, rows = await conn.execute_query(
        "SELECT campaign_id, COUNT(*) AS n, MIN(expires_at) AS first FROM promo_codes"
        f" WHERE status='available' AND expires_at > {mark} AND expires_at <= {mark}"
        " GROUP BY campaign_id",
        [db_time(conn, now), db_time(conn, now + EXPIRING_WITHIN)],
    )
    found: dict[int, tuple[int, datetime]] = {}
    for r in rows:
        first = r["first"]
        moment = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
        found[int(r["campaign_id"])] = (int(r["n"]), clock.as_utc(moment) or moment)
    return found


async def notify_expiring(*, events_bus: EventBus, now: datetime | None = None) -> list[str]:
    """Publish `expiring_soon` for running campaigns with codes about to expire, once a day each.

    "Once" is a conditional UPDATE of the campaign's `expiry_noticed_on`: two runners, or
    every minute's run, flip it once per UTC day.
    """
    now = now or clock.now()
    today = now.astimezone(UTC).date()
    soon = await expiring_soon(now=now)
    if not soon:
        return []
    noticed: list[str] = []
    running = await Campaign.filter(
        id__in=list(soon), status__in=[CampaignStatus.ACTIVE, CampaignStatus.PAUSED]
    )
    for c in running:
        flipped = await Campaign.filter(
            Q(expiry_noticed_on__isnull=True) | Q(expiry_noticed_on__lt=today), id=c.id
        ).update(expiry_noticed_on=today)
        if not flipped:
            continue
        noticed.append(c.public_id)
        count, first = soon[c.id]
        await events_bus.publish(
            Event(
                events.EXPIRING_SOON,
                c.public_id,
                c.owner_id,  # type: ignore[attr-defined]
                {
                    "name": c.name,
                    "count": count,
                    "first_expires_at": first.isoformat(),
                    "within_days": EXPIRING_WITHIN.days,
                },
            )
        )
    return noticed


async def run_expiry(*, events_bus: EventBus, now: datetime | None = None) -> ExpiryResult:
    """The scheduler's `expiry` job: sweep expired codes, then the expiring-soon notices."""
    now = now or clock.now()
    result = ExpiryResult()
    moved = await sweep_expired(now=now)
    if moved:
        ids = dict(await Campaign.filter(id__in=list(moved)).values_list("id", "public_id"))
        for pk, n in moved.items():
            public_id = str(ids.get(pk, pk))
            result.expired[public_id] = n
            forget_card(public_id)
        log.info("expiry: %d codes expired in %d campaigns", sum(moved.values()), len(moved))
    result.noticed = await notify_expiring(events_bus=events_bus, now=now)
    return result
