"""The concurrency proof: many claimers, separate connections and processes, fewer codes.

500 claimers (some repeating themselves) race for 200 codes; afterwards the checker reads the
database and the acknowledged answers: exactly 200 codes claimed by 200 distinct winners, no
code with two claimants, nobody above the limit, every acknowledged claim present.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from domain import claims
from domain.errors import DomainError
from domain.models import Campaign, PromoCode
from domain.settings import Settings
from domain.values import Claimant
from tests import factories, invariants

ROOT = Path(__file__).resolve().parents[2]


async def _campaign_with(dev_id: int, n: int) -> tuple[str, int]:
    c = await factories.campaign(dev_id)
    report = await factories.upload_codes(dev_id, c.id, factories.codes_csv(n, "RACE"))
    assert report.imported == n
    pk = (await Campaign.get(public_id=c.id)).id
    return c.id, pk


async def test_500_concurrent_claimers_share_200_codes_without_a_double(db: Settings) -> None:
    dev, _ = await factories.developer()
    cid, pk = await _campaign_with(dev.id, 200)
    acknowledged: list[tuple[str, str]] = []
    refusals: list[str] = []

    async def one(i: int) -> None:
        who = Claimant.of("web", f"m{i // 2 if i % 5 == 0 else i}")
        try:
            got = await claims.claim(
                events_bus=factories.BUS, campaign_id=cid, claimant=who, channel="web"
            )
            acknowledged.append((who.key, got.code))
        except DomainError as exc:
            refusals.append(exc.code)

    await asyncio.gather(*(one(i) for i in range(500)))

    assert (
        await invariants.violations(
            campaign_pk=pk, acknowledged=acknowledged, limit=1, uploaded=200
        )
        == []
    )
    claimed = await PromoCode.filter(campaign_id=pk, status="claimed").values_list(
        "claimant", flat=True
    )
    assert len(claimed) == 200 and len(set(claimed)) == 200
    assert set(refusals) == {"sold_out"}
    # repeats got their code back rather than a refusal or a second code
    distinct_winners = {who for who, _ in acknowledged}
    assert len(distinct_winners) == 200


async def test_two_processes_racing_never_hand_out_a_code_twice(db: Settings) -> None:
    dev, _ = await factories.developer()
    cid, pk = await _campaign_with(dev.id, 200)

    async def worker(prefix: str) -> dict[str, object]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.domain.claim_worker",
            db.database_url,
            cid,
            "300",
            prefix,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()[-2000:]
        return json.loads(out.decode().strip().splitlines()[-1])

    results = await asyncio.gather(worker("p1-"), worker("p2-"))
    acknowledged = [tuple(pair) for r in results for pair in r["acknowledged"]]  # type: ignore[attr-defined]
    errors = [e for r in results for e in r["errors"]]  # type: ignore[attr-defined]

    assert (
        await invariants.violations(
            campaign_pk=pk,
            acknowledged=acknowledged,
            limit=1,
            uploaded=200,  # type: ignore[arg-type]
        )
        == []
    )
    claimed = await PromoCode.filter(campaign_id=pk, status="claimed").values_list(
        "claimant", flat=True
    )
    assert len(claimed) == 200 and len(set(claimed)) == 200, errors[:3]
    assert {who for who, _ in acknowledged} == set(claimed)
