"""Claims committed together (domain.claims BATCHING), on both databases, through `claim()`.

The batch is the launch-day path: it must keep every rule of the single claim (one code per
claimant, never one code twice, repeats handed back, changed terms honoured) and send what it
cannot settle to the single-claim path. Claims started together with `asyncio.gather` after
one claim has read the campaign go into one batch: none of them waits on I/O before it is
queued. `claims.PATHS` counts how each claim was settled.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from domain import campaigns, claims, clock, codes
from domain.adapters.bootstrap import Services
from domain.errors import CampaignNotActive, SoldOut
from domain.models import Campaign, Claim, PromoCode
from domain.values import Claimant, ClaimResult
from tests import factories


async def _claim(campaign_id: str, who: str, **extra: Any) -> ClaimResult:
    return await claims.claim(
        campaign_id=campaign_id,
        claimant=Claimant.of("web", who),
        channel="web",
        events_bus=factories.BUS,
        **extra,
    )


async def _together(campaign_id: str, *asks: tuple[str, dict[str, Any]]) -> list[Any]:
    """Claims started at once; each answer, or the refusal it raised."""
    return await asyncio.gather(
        *(_claim(campaign_id, who, **extra) for who, extra in asks), return_exceptions=True
    )


def _counts() -> tuple[int, int, int, int]:
    return (
        claims.BATCHING.batches,
        claims.BATCHING.items,
        claims.PATHS.batched,
        claims.PATHS.alone,
    )


def _since(before: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    now = _counts()
    return (now[0] - before[0], now[1] - before[1], now[2] - before[2], now[3] - before[3])


async def test_concurrent_claims_share_transactions_and_never_share_a_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(80))
    before = _counts()

    results = await _together(c.id, *((f"u{i}", {}) for i in range(60)))

    batches, items, batched, alone = _since(before)
    assert items == 60 and batches < 60, (batches, items)  # they really went together
    assert (batched, alone) == (60, 0)
    assert len({r.code for r in results}) == 60
    assert not any(r.repeated for r in results)
    rows = await Claim.filter(campaign__public_id=c.id).values_list("claimant", "code")
    assert sorted(rows) == sorted((r.claimant, r.code) for r in results)
    assert await PromoCode.filter(campaign__public_id=c.id, status="claimed").count() == 60


async def test_a_batch_hands_back_held_codes_and_a_double_gets_the_same_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(10))
    earlier = await _claim(c.id, "b")  # also reads the campaign: the next claims queue at once
    before = _counts()

    a1, a2, b, cc = await _together(c.id, ("a", {}), ("a", {}), ("b", {}), ("c", {}))

    assert _since(before)[:2] == (1, 4)  # one batch carried all four
    # the second "a" ran alone and found the first's claim: one code, handed back
    assert a1.code == a2.code and sorted([a1.repeated, a2.repeated]) == [False, True]
    assert b.repeated and b.code == earlier.code
    assert not cc.repeated and len({a1.code, b.code, cc.code}) == 3
    holders = dict(await Claim.filter(campaign__public_id=c.id).values_list("claimant", "code"))
    assert holders == {"web:a": a1.code, "web:b": earlier.code, "web:c": cc.code}


async def test_claims_admitted_on_old_terms_take_nothing(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(10))
    await _claim(c.id, "early")  # this process now holds a recent read: active
    # another process pauses it
    await Campaign.filter(public_id=c.id).update(status="paused")

    answers = await _together(c.id, ("x", {}), ("y", {}))

    assert all(isinstance(a, CampaignNotActive) for a in answers), answers
    assert await Claim.filter(campaign__public_id=c.id).count() == 1
    assert await PromoCode.filter(campaign__public_id=c.id, status="available").count() == 9


async def test_a_batch_short_of_codes_sends_the_rest_alone_to_sell_out(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(4))
    await _claim(c.id, "s-first")
    before = _counts()

    answers = await _together(c.id, *((f"s{i}", {}) for i in range(5)))

    served = [a for a in answers if not isinstance(a, BaseException)]
    assert len(served) == 3 and len({a.code for a in served}) == 3
    assert [type(a) for a in answers if isinstance(a, BaseException)] == [SoldOut, SoldOut]
    assert _since(before)[2:] == (3, 2)  # three in the batch, two alone
    assert await PromoCode.filter(campaign__public_id=c.id, status="available").count() == 0
    row = await Campaign.get(public_id=c.id)
    assert (row.status, row.completed_reason) == ("completed", "sold_out")


async def test_a_universal_batch_never_gives_an_ios_claim_an_android_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="universal")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2, "DROID", "android"))
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3, "APPLE", "ios"))
    await _claim(c.id, "warm", platform="ios")
    before = _counts()

    answers = await _together(
        c.id,
        ("i1", {"platform": "ios"}),
        ("a1", {"platform": "android"}),
        ("i2", {"platform": "ios"}),
    )

    assert _since(before)[:3] == (1, 3, 3)
    got = [(a.code[:5], a.platform) for a in answers]
    assert got == [("APPLE", "ios"), ("DROID", "android"), ("APPLE", "ios")]


async def test_a_campaign_paused_elsewhere_refuses_at_once_despite_a_recent_read(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    await _claim(c.id, "early")
    # another process pauses it: this process's recent read of the row still says active
    await Campaign.filter(public_id=c.id).update(status="paused")

    with pytest.raises(CampaignNotActive):
        await _claim(c.id, "late")
    assert await Claim.filter(campaign__public_id=c.id).count() == 1


async def test_a_campaign_resumed_elsewhere_serves_at_once_despite_a_recent_read(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    await campaigns.update_campaign(
        owner_id=dev.id, campaign_id=c.id, changes={"status": "paused"}, events_bus=factories.BUS
    )
    with pytest.raises(CampaignNotActive):
        await _claim(c.id, "w")
    # resumed by another process: the recent read says paused, the database says active
    await Campaign.filter(public_id=c.id).update(status="active")

    got = await _claim(c.id, "w")
    assert got.code and not got.repeated


async def test_a_campaign_with_a_window_and_rules_is_still_served_in_batches(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    now = clock.now()
    c = await factories.campaign(
        dev.id,
        starts_at=now - timedelta(hours=1, microseconds=123_457),
        ends_at=now + timedelta(days=3, microseconds=654_321),
        per_claimant_limit=2,
        eligibility={"channels": ["web", "telegram"], "allowed_countries": []},
    )
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(4))
    await _claim(c.id, "w0")
    before = _counts()

    answers = await _together(c.id, ("w1", {}), ("w2", {}))

    # the terms read back raw inside the batch equal the ORM's (times, microseconds, rules):
    # had they differed, both claims would have gone alone
    assert _since(before) == (1, 2, 2, 0)
    assert len({a.code for a in answers}) == 2


async def test_a_retry_that_runs_alone_still_finds_its_key_after_a_release(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, per_claimant_limit=2)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(6))

    async def ask(key: str) -> str:
        return (await _claim(c.id, "keeper", idempotency_key=key)).code

    first = await ask("K1")
    second = await ask("K2")
    await codes.release(owner_id=dev.id, campaign_id=c.id, code=first)  # slot 1 is free again
    # two retries of K2 at once: one is settled in the batch, the other runs alone; both must
    # get K2's code back, not a new code in the freed slot
    again = await asyncio.gather(ask("K2"), ask("K2"))
    assert again == [second, second]
    held = await Claim.filter(campaign__public_id=c.id, slot__isnull=False).values_list(
        "code", flat=True
    )
    assert list(held) == [second]
