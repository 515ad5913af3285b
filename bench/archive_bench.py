"""Archival benchmark: prints figures, asserts nothing.

    python -m bench.archive_bench [--backend sqlite|mariadb] [--rows 1000000] [--batch 2000]

Seeds a fresh database (the real migrations) with `--rows` codes used 40 days ago (raw
multi-row INSERTs: seeding is not what is measured), then runs the archival in a separate
process exactly as the scheduler does (`domain.archive.archive_used_codes`, local object
store) and prints rows/s and that process's peak RSS. The final state is checked: every
code is in `archived_codes` once and the export holds every row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql

from domain.adapters.db import close_db, init_db, run_migrations
from domain.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def settings_for(url: str, storage: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", database_url=url, storage_dir=storage
    )


async def seed(settings: Settings, rows: int) -> None:
    from tortoise.connection import get_connection

    from domain import campaigns, developers

    await run_migrations(settings)
    await init_db(settings)
    dev = await developers.create_developer(name="Bench", email=f"b{secrets.token_hex(3)}@x.io")
    c = await campaigns.create_campaign(owner_id=dev.id, name="Archive bench")
    from domain.models import Campaign

    pk = (await Campaign.get(public_id=c.id)).id
    used_at = datetime.now(UTC) - timedelta(days=40)
    conn = get_connection("default")
    mysql = settings.is_mysql
    stamp: object = used_at.replace(tzinfo=None) if mysql else used_at
    ph = "%s" if mysql else "?"
    sql = (
        "INSERT INTO promo_codes (campaign_id, code, platform, status, claimant, claimed_at,"
        f" used_at) VALUES ({ph}, {ph}, '', 'used', {ph}, {ph}, {ph})"
    )
    started = time.perf_counter()
    for start in range(0, rows, 10_000):
        values = [
            (pk, f"ARCH{i:08d}", f"web:u{i}", stamp, stamp)
            for i in range(start, min(rows, start + 10_000))
        ]
        await conn.execute_many(sql, values)
    print(f"seeded {rows:,} used codes in {time.perf_counter() - started:.1f}s")
    await close_db()


async def archive(settings: Settings, batch: int) -> dict[str, object]:
    from domain.adapters.storage import LocalObjectStore
    from domain.archive import archive_used_codes

    await init_db(settings)
    try:
        result = await archive_used_codes(
            store=LocalObjectStore(settings.storage_dir),
            older_than=timedelta(days=30),
            batch_size=batch,
        )
    finally:
        await close_db()
    return result.as_dict()


async def check(settings: Settings, rows: int) -> None:
    from domain.models import ArchivedCode, PromoCode

    await init_db(settings)
    try:
        archived = await ArchivedCode.all().count()
        left = await PromoCode.filter(status="used").count()
        distinct = len(set(await ArchivedCode.all().values_list("original_id", flat=True)))
    finally:
        await close_db()
    print(f"check: archived={archived:,} distinct={distinct:,} left in promo_codes={left:,}")
    assert archived == distinct == rows and left == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:  # the measured archival process
        url, storage = args.child.split("|", 1)
        result = asyncio.run(archive(settings_for(url, Path(storage)), args.batch))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"result": result, "peak_rss_kib": peak}))
        return

    tmp = Path(tempfile.mkdtemp(prefix="codedrop-archive-bench-"))
    database = None
    if args.backend == "mariadb":
        database = f"codedrop_bench_{os.getpid()}"
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        url = f"mysql://root:@127.0.0.1:3306/{database}"
    else:
        url = f"sqlite://{tmp / 'bench.sqlite3'}"
    settings = settings_for(url, tmp / "objects")
    try:
        asyncio.run(seed(settings, args.rows))
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.archive_bench",
                "--batch",
                str(args.batch),
                "--child",
                f"{url}|{tmp / 'objects'}",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        result = figures["result"]
        seconds = float(result["seconds"])
        print(
            f"archival ({args.backend}, batch {args.batch:,}): {result['moved']:,} codes moved"
            f" and {result['exported']:,} exported in {seconds:.1f}s ="
            f" {result['moved'] / seconds:,.0f} rows/s;"
            f" peak RSS of the archival process {figures['peak_rss_kib'] / 1024:.0f} MiB"
        )
        for key in result["objects"]:
            size = (tmp / "objects" / key).stat().st_size
            print(f"export: {key} ({size / 1024 / 1024:.1f} MiB gzip)")
        asyncio.run(check(settings, args.rows))
    finally:
        if database:
            admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
