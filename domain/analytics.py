"""Campaign analytics: stock by status, claims per channel and platform, claims over time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.functions import Count

from domain import claimants, clock
from domain.access import Role, require
from domain.adapters.db import is_mysql_connection, read_connection
from domain.campaigns import stock_of
from domain.errors import ValidationFailed
from domain.models import Claim

BUCKETS = {
    "minute": ("%Y-%m-%d %H:%i:00", "%Y-%m-%d %H:%M:00", timedelta(minutes=1)),
    "hour": ("%Y-%m-%d %H:00:00", "%Y-%m-%d %H:00:00", timedelta(hours=1)),
    "day": ("%Y-%m-%d 00:00:00", "%Y-%m-%d 00:00:00", timedelta(days=1)),
}
MAX_POINTS = 2000
ANONYMOUS_API = "api_anonymous"  # their key in `by_channel`


@dataclass(slots=True)
class Analytics:
    campaign_id: str
    available: int
    claimed: int
    used: int
    archived: int
    total: int
    expired: int
    claims_total: int
    by_channel: dict[str, int] = field(default_factory=dict)
    by_platform: dict[str, int] = field(default_factory=dict)
    available_by_platform: dict[str, int] = field(default_factory=dict)
    bucket: str = "hour"
    over_time: list[tuple[datetime, int]] = field(default_factory=list)
    last_24h: int = 0


async def campaign_analytics(
    *, owner_id: int, campaign_id: str, bucket: str = "hour", since: datetime | None = None
) -> Analytics:
    """Counts for one campaign; `over_time` holds claims per bucket since `since`.

    Long because its queries share the validated range and one replica connection, and
    each is a few lines of SQL that read better side by side than behind helpers."""
    if bucket not in BUCKETS:
        raise ValidationFailed("bucket must be minute, hour or day.", field="bucket")
    c = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    now = clock.now()
    mysql_fmt, sqlite_fmt, step = BUCKETS[bucket]
    since = clock.checked_utc(since, field="since") or now - step * 48
    if (now - since) / step > MAX_POINTS:
        raise ValidationFailed(
            f"That range has over {MAX_POINTS} {bucket}s; pick a larger bucket or a later since.",
            field="since",
        )
    stock = (await stock_of([c.id]))[c.id]
    # the access check above reads the primary; the counts may lag a little (the replica)
    replica = read_connection()
    claims = Claim.filter(campaign_id=c.id, slot__isnull=False).using_db(replica)
    by_channel = {
        r["channel"]: r["n"]
        for r in await claims.annotate(n=Count("id")).group_by("channel").values("channel", "n")
    }
    # anonymous callers of the public API (`anon:` claimants) are counted apart from the
    # channel they came through, so "web" means the claim page's visitors only
    anonymous = (
        await claims.filter(claimant__startswith=claimants.ANON + ":")
        .annotate(n=Count("id"))
        .group_by("channel")
        .values("channel", "n")
    )
    for r in anonymous:
        by_channel[r["channel"]] -= r["n"]
        if not by_channel[r["channel"]]:
            del by_channel[r["channel"]]
        by_channel[ANONYMOUS_API] = by_channel.get(ANONYMOUS_API, 0) + r["n"]
    by_platform = {
        (r["platform"] or "any"): r["n"]
        for r in await claims.annotate(n=Count("id")).group_by("platform").values("platform", "n")
    }
    last_24h = await claims.filter(created_at__gte=now - timedelta(hours=24)).count()

    conn = replica
    if is_mysql_connection(conn):
        sql = (
            "SELECT DATE_FORMAT(created_at, %s) AS b, COUNT(*) AS n FROM claims"
            " WHERE campaign_id=%s AND slot IS NOT NULL AND created_at >= %s GROUP BY b ORDER BY b"
        )
        params: list[object] = [mysql_fmt, c.id, since.replace(tzinfo=None)]
    else:
        sql = (
            "SELECT strftime(?, created_at) AS b, COUNT(*) AS n FROM claims"
            " WHERE campaign_id=? AND slot IS NOT NULL AND created_at >= ? GROUP BY b ORDER BY b"
        )
        params = [sqlite_fmt, c.id, since]
    _, rows = await conn.execute_query(sql, params)
    over_time = [
        (datetime.fromisoformat(str(r["b"])).replace(tzinfo=since.tzinfo), int(r["n"]))
        for r in rows
    ]
    return Analytics(
        campaign_id=c.public_id,
        available=stock.available,
        claimed=stock.claimed,
        used=stock.used + stock.archived,
        archived=stock.archived,
        total=stock.total,
        expired=stock.expired,
        claims_total=sum(by_channel.values()),
        by_channel=by_channel,
        by_platform=by_platform,
        available_by_platform=stock.available_by_platform,
        bucket=bucket,
        over_time=over_time,
        last_24h=last_24h,
    )
