"""What code expiry costs a claim, on MariaDB: prints figures and query plans, asserts nothing.

    python -m bench.expiry_claims [--claims 20000] [--repeat 3]

Runs `bench.claims`' domain phase (1,000 concurrent tasks calling `domain.claims.claim`) on
fresh campaigns of --claims codes, --repeat times each, alternating:
- `none`: codes without `expires_at` (what every campaign had before expiry existed);
- `future`: every code with an `expires_at` a month ahead (the condition is evaluated per row);
- `stale head`: 20 % more codes, first in line, expired and not swept yet (the worst
  case between two sweeps: the seek reads past them), the rest without a date;
- `swept`: the same after `domain.expiry.sweep_expired` moved them to `expired`.
Prints the medians and the EXPLAIN of the batch's SELECT … FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
from datetime import timedelta

from bench.claims import domain_phase
from bench.generate import HOST, PORT, USER, admin

KINDS = ("none", "future", "stale head", "swept")


async def _campaign(url: str, codes: int, kind: str) -> str:
    from domain import campaigns, clock, developers, expiry, uploads
    from domain.adapters import db
    from domain.adapters.bootstrap import bootstrap
    from domain.settings import Settings

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    await db.init_db(settings)
    try:
        try:
            dev = await developers.find_developer(email="bench@example.com")
        except Exception:
            dev = await developers.create_developer(name="Bench", email="bench@example.com")
        c = await campaigns.create_campaign(owner_id=dev.id, name=kind, platform="ios")
        now = clock.now()
        stale = codes // 5 if kind in ("stale head", "swept") else 0
        month = (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        when = month if kind == "future" else ""
        past = "2020-01-01"  # expired, still `available` until a sweep
        rows = [f"X{i:08d},{past if i < stale else when}\n" for i in range(codes + stale)]
        data = ("code,expires_at\n" + "".join(rows)).encode()
        services = bootstrap(
            settings.model_copy(
                update={"upload_max_bytes": len(data) + 1, "upload_max_codes": codes + stale}
            )
        )
        admitted = await uploads.admit_upload(services, developer_id=dev.id, campaign_id=c.id)
        await uploads.import_stream(services, admitted, chunks=uploads.bytes_chunks(data))
        if kind == "swept":
            await expiry.sweep_expired()
        return c.id
    finally:
        await db.close_db()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=20_000, help="claims (and codes) per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind")
    parser.add_argument("--pool", type=int, default=4, help="database connections")
    args = parser.parse_args()
    database = f"codedrop_expbench_{secrets.token_hex(3)}"
    admin(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    url = f"mysql://{USER}:@{HOST}:{PORT}/{database}"
    results: dict[str, list[dict[str, float]]] = {k: [] for k in KINDS}
    try:
        from domain.adapters import db
        from domain.settings import Settings

        asyncio.run(db.run_migrations(Settings(_env_file=None, database_url=url)))  # type: ignore[call-arg]
        for _ in range(args.repeat):
            for kind in KINDS:
                cid = asyncio.run(_campaign(url, args.claims, kind))
                results[kind].append(asyncio.run(domain_phase(url, cid, args.claims, args.pool)))
        plan = admin(
            "EXPLAIN SELECT id, code FROM promo_codes FORCE INDEX (promo_next_available)"
            " WHERE campaign_id=1 AND status='available' AND platform=''"
            " AND (expires_at IS NULL OR expires_at > NOW()) ORDER BY id LIMIT 100"
            " FOR UPDATE SKIP LOCKED",
            database,
        )
    finally:
        admin(f"DROP DATABASE `{database}`")
    print(f"\ncode expiry and the claim: MariaDB, domain function, 1000 tasks, pool {args.pool}")
    print("| codes | claims/s, median [min-max] | p99 ms, median | errors |\n|---|---|---|---|")
    for kind, runs in results.items():
        rps = [r["rps"] for r in runs]
        print(
            f"| {kind} | {statistics.median(rps):,.0f} [{min(rps):,.0f}-{max(rps):,.0f}]"
            f" | {statistics.median(r['p99'] for r in runs):,.0f}"
            f" | {sum(r['errors'] for r in runs):.0f} |"
        )
    print("\nEXPLAIN of the batch's select:", *plan, sep="\n")


if __name__ == "__main__":
    main()
