"""Audit log listing benchmark: prints figures, asserts nothing.

    python -m bench.audit_bench [--backend sqlite|mariadb] [--rows 200000] [--developers 1000]

Seeds a fresh database (the real migrations) with `--rows` audit rows spread over
`--developers` developers, one campaign each (raw multi-row INSERTs), makes one developer a
viewer of 20 other campaigns, then times `domain.audit.list_entries` for that developer: the
first page of everything it may see, a page filtered by campaign, and a page filtered by
`since`. Prints the median and the 95th percentile of 50 calls each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql

from domain.adapters.db import close_db, init_db, run_migrations
from domain.settings import Settings


def settings_for(url: str, storage: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", database_url=url, storage_dir=storage
    )


async def run(settings: Settings, rows: int, devs: int) -> None:
    from tortoise.connection import get_connection

    from domain import audit
    from domain.models import Campaign, CampaignMember, Developer

    await run_migrations(settings)
    await init_db(settings)
    try:
        await Developer.bulk_create(
            [Developer(name=f"d{i}", email=f"d{i}@bench.io") for i in range(devs)]
        )
        dev_ids = await Developer.all().order_by("id").values_list("id", flat=True)
        await Campaign.bulk_create(
            [Campaign(owner_id=d, public_id=f"bench{d:08d}", name=f"c{d}") for d in dev_ids]
        )
        camps = await Campaign.all().order_by("id").values_list("id", "owner_id", "public_id")
        viewer = dev_ids[0]
        await CampaignMember.bulk_create(
            [
                CampaignMember(campaign_id=c[0], developer_id=viewer, role="viewer")
                for c in camps[1:21]
            ]
        )
        conn = get_connection("default")
        mysql = settings.is_mysql
        ph = "%s" if mysql else "?"
        sql = (
            "INSERT INTO audit_log (actor_id, channel, action, campaign_pk, campaign_public_id,"
            f" owner_id, target, detail, created_at) VALUES ({ph}, 'api', 'campaign.update',"
            f" {ph}, {ph}, {ph}, 'campaign', '{{}}', {ph})"
        )
        start_at = datetime.now(UTC) - timedelta(days=30)
        started = time.perf_counter()
        for first in range(0, rows, 10_000):
            values = []
            for i in range(first, min(rows, first + 10_000)):
                pk, owner, public = camps[i % len(camps)]
                at = start_at + timedelta(seconds=i * 10)
                values.append((owner, pk, public, owner, at.replace(tzinfo=None) if mysql else at))
            await conn.execute_many(sql, values)
        print(
            f"seeded {rows:,} audit rows over {devs:,} developers in {time.perf_counter() - started:.1f}s"
        )

        async def timed(label: str, **kw: object) -> None:
            spent = []
            found = 0
            for _ in range(50):
                t = time.perf_counter()
                items, _next = await audit.list_entries(viewer_id=viewer, limit=50, **kw)  # type: ignore[arg-type]
                spent.append((time.perf_counter() - t) * 1000)
                found = len(items)
            spent.sort()
            print(
                f"{label:<28} {found:>3} rows  median {statistics.median(spent):6.1f} ms"
                f"  p95 {spent[int(len(spent) * 0.95) - 1]:6.1f} ms"
            )

        await timed("everything visible")
        await timed("one member campaign", campaign_id=camps[5][2])
        await timed("since 10 days ago", since=datetime.now(UTC) - timedelta(days=10))
    finally:
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--developers", type=int, default=1_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="codedrop-audit-bench-"))
    database = None
    if args.backend == "mariadb":
        database = f"codedrop_audit_bench_{os.getpid()}"
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        url = f"mysql://root:@127.0.0.1:3306/{database}"
    else:
        url = f"sqlite://{tmp / 'bench.sqlite3'}"
    try:
        asyncio.run(run(settings_for(url, tmp / "objects"), args.rows, args.developers))
    finally:
        if database:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE `{database}`")


if __name__ == "__main__":
    main()
