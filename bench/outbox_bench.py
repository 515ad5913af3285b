"""What the webhook outbox costs the claim: the domain phase of bench.claims, with and
without a subscribed webhook. Prints figures, asserts nothing.

    python -m bench.outbox_bench [--claims 20000] [--repeat 3] [--pool 4]

On a fresh MariaDB database (migrated by `codedrop migrate`), --repeat times each and
alternating: a campaign of --claims codes claimed by 1,000 concurrent tasks through
`domain.claims.claim` (bench.claims.domain_phase) while the owner has no webhook, and the
same with a webhook subscribed to `claim.created` (so every batch also writes its outbox
rows). Medians with their range; outbox rows and double claims are counted at the end.
Nothing is delivered (no dispatcher runs): this measures the write side only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys

from bench.claims import ROOT, admin, check_no_double, domain_phase


async def _setup(url: str, codes: int, subscribe: bool) -> str:
    """A developer (with a webhook when `subscribe`) and a campaign of `codes` codes."""
    from domain import campaigns, developers, uploads
    from domain.adapters import db
    from domain.adapters.bootstrap import bootstrap
    from domain.settings import Settings

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    await db.init_db(settings)
    try:
        dev = await developers.create_developer(
            name="Bench", email=f"bench-{secrets.token_hex(4)}@example.com"
        )
        if subscribe:
            from domain import webhooks

            await webhooks.create_webhook(
                owner_id=dev.id,
                url="http://127.0.0.1:9/never-called",
                events=["claim.created"],
                allow_private=True,
            )
        c = await campaigns.create_campaign(owner_id=dev.id, name="outbox bench", platform="ios")
        data = ("code\n" + "".join(f"OBX{i:08d}\n" for i in range(codes))).encode()
        services = bootstrap(
            settings.model_copy(
                update={"upload_max_bytes": len(data) + 1, "upload_max_codes": codes}
            )
        )
        admitted = await uploads.admit_upload(services, developer_id=dev.id, campaign_id=c.id)
        await uploads.import_stream(services, admitted, chunks=uploads.bytes_chunks(data))
        return c.id
    finally:
        await db.close_db()


def _outbox_rows(database: str) -> int:
    tables = admin("SHOW TABLES LIKE 'webhook_events'", database)
    if not tables:
        return -1  # code without the outbox (a "before" run)
    return int(admin("SELECT COUNT(*) FROM webhook_events", database)[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=20_000, help="claims per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant")
    parser.add_argument("--pool", type=int, default=4, help="database connections")
    parser.add_argument(
        "--no-webhook-only", action="store_true", help="skip the subscribed variant"
    )
    args = parser.parse_args()

    database = f"codedrop_obench_{secrets.token_hex(3)}"
    admin(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    url = f"mysql://root:@127.0.0.1:3306/{database}"
    env = {**os.environ, "CODEDROP_DATABASE_URL": url, "CODEDROP_LOG_LEVEL": "WARNING"}
    variants = ["none"] if args.no_webhook_only else ["none", "webhook"]
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    doubles = 0
    try:
        subprocess.run(
            [sys.executable, "-m", "cli", "migrate"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        for _ in range(args.repeat):
            for variant in variants:
                cid = asyncio.run(_setup(url, args.claims, variant == "webhook"))
                runs[variant].append(asyncio.run(domain_phase(url, cid, args.claims, args.pool)))
                n, codes, claimants, rows = check_no_double(database, cid)
                doubles += int(not (n == codes == claimants == rows == args.claims))
        outbox = _outbox_rows(database)
    finally:
        admin(f"DROP DATABASE IF EXISTS `{database}`")

    print(
        f"\noutbox cost: MariaDB, {os.cpu_count()} cores, pool {args.pool}, 1000 tasks,"
        f" {args.claims:,} claims per run; medians of {args.repeat} [min-max]"
    )
    print("| owner | claims/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    for variant, label in (("none", "no webhook"), ("webhook", "webhook on claim.created")):
        if variant not in runs:
            continue
        rs = runs[variant]

        def med(key: str, rs: list[dict[str, float]] = rs) -> str:
            values = [r[key] for r in rs]
            return f"{statistics.median(values):,.0f} [{min(values):,.0f}-{max(values):,.0f}]"

        print(f"| {label} | {med('rps')} | {med('p50')} | {med('p99')} | {med('errors')} |")
    print(
        f"outbox rows written: {outbox:,} (-1: no outbox table); runs with a double claim: {doubles}"
    )


if __name__ == "__main__":
    main()
