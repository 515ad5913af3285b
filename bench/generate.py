"""Code generation benchmark on MariaDB: prints time and peak memory, asserts nothing.

    python -m bench.generate [--count 1000000] [--pattern PROMO-####-????] [--repeat 1]

Makes a fresh MariaDB database (the real migrations), a developer and a campaign, then
generates --count codes through `domain.generate.generate_codes` (the same call the API's
`POST /api/campaigns/{id}/codes/generate` makes), --repeat times into new campaigns. Prints,
per run, the seconds until every code is committed, the process's resident memory before and
its peak after (`ru_maxrss`), and checks the stored count and that no code appears twice.

The reference, measured in the same run against the same database: --repeat raw multi-row
`INSERT IGNORE`s of --count codes written beforehand (pymysql, the batch size the generator
uses, each batch committed), into campaigns of their own: what the database alone takes to
store that many rows. They run after every generation, so the memory figures are the
generator's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import statistics
import time

import pymysql

HOST, PORT, USER = "127.0.0.1", 3306, "root"


def admin(sql: str, database: str | None = None) -> list[tuple[object, ...]]:
    conn = pymysql.connect(host=HOST, port=PORT, user=USER, password="", database=database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = list(cur.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


def rss_mib() -> float:
    """The current resident set size (MiB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(
    url: str, count: int, pattern: str, repeat: int
) -> tuple[list[float], list[str], list[str]]:
    from domain import campaigns, developers, generate
    from domain.adapters import db
    from domain.adapters.bootstrap import bootstrap
    from domain.settings import Settings

    # the upload rate limit is off: --repeat generations by one developer are the workload
    settings = Settings(_env_file=None, database_url=url, rate_limit_enabled=False)  # type: ignore[call-arg]
    await db.init_db(settings, migrate=True)
    services = bootstrap(settings)
    lines, seconds_each, references = [], [], []
    try:
        dev = await developers.create_developer(name="Bench", email="bench@example.com")
        for n in range(repeat):
            ref = await campaigns.create_campaign(owner_id=dev.id, name=f"raw {n}", platform="ios")
            references.append(ref.id)
        for n in range(repeat):
            c = await campaigns.create_campaign(owner_id=dev.id, name=f"gen {n}", platform="ios")
            before = rss_mib()
            started = time.perf_counter()
            report = await generate.generate_codes(
                services,
                owner_id=dev.id,
                campaign_id=c.id,
                request=generate.GenerateRequest(count=count, pattern=pattern),
            )
            seconds = time.perf_counter() - started
            seconds_each.append(seconds)
            lines.append(
                f"| generate {count:,} codes `{pattern}` (committed) | {seconds:.2f} s,"
                f" {count / seconds:,.0f} codes/s | RSS before {before:.0f} MiB, peak"
                f" {peak_mib():.0f} MiB | imported {report.imported:,}, status {report.status} |"
            )
    finally:
        await services.close()
        await db.close_db()
    return seconds_each, lines, references


def raw_insert(database: str, campaign_public_id: str, count: int, batch: int) -> float:
    """Seconds to store `count` codes with multi-row INSERTs of `batch` rows, each committed."""
    conn = pymysql.connect(host=HOST, port=PORT, user=USER, password="", database=database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM campaigns WHERE public_id = %s", (campaign_public_id,))
            (pk,) = cur.fetchone()  # type: ignore[misc]
            started = time.perf_counter()
            for first in range(0, count, batch):
                rows = ",".join(
                    f"({int(pk)},'RAW-{i:010d}','',NULL,NULL,'available',NULL)"
                    for i in range(first, min(first + batch, count))
                )
                cur.execute(
                    "INSERT IGNORE INTO promo_codes"
                    " (campaign_id, code, platform, metadata, expires_at, status, upload_id)"
                    " VALUES " + rows
                )
                conn.commit()
            return time.perf_counter() - started
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000, help="codes per run")
    parser.add_argument("--pattern", default="PROMO-####-????", help="the code pattern")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each into a new campaign")
    args = parser.parse_args()
    database = f"codedrop_genbench_{secrets.token_hex(3)}"
    admin(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    try:
        from domain.generate import BATCH

        seconds_each, lines, references = asyncio.run(
            run(f"mysql://{USER}:@{HOST}:{PORT}/{database}", args.count, args.pattern, args.repeat)
        )
        raw = [raw_insert(database, ref, args.count, BATCH) for ref in references]
        for seconds in raw:
            lines.append(
                f"| reference: raw multi-row INSERT of {args.count:,} codes written beforehand,"
                f" batches of {BATCH:,}, each committed | {seconds:.2f} s | | |"
            )
        lines.append(
            f"| generation / reference, medians | {statistics.median(seconds_each):.2f} s /"
            f" {statistics.median(raw):.2f} s = {statistics.median(seconds_each) / statistics.median(raw):.2f} | | |"
        )
        (rows, distinct) = admin(
            "SELECT COUNT(*), COUNT(DISTINCT campaign_id, code) FROM promo_codes", database
        )[0]
        print("\ncodedrop generation benchmark: MariaDB, one process (aiomysql)")
        print("| run | time | memory | result |\n|---|---|---|---|")
        print("\n".join(lines))
        print(f"| stored rows | {rows:,}, distinct (campaign, code) {distinct:,} | | |")
    finally:
        admin(f"DROP DATABASE `{database}`")


if __name__ == "__main__":
    main()
