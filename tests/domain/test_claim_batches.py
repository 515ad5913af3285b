"""Claims committed together (domain.claims BATCHING), on both databases.

The batch is the launch-day path: it must keep every rule of the single claim (one code per
claimant, never one code twice, repeats handed back, changed terms honoured) and send what it
cannot settle to the single-claim path.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain import campaigns, claims, clock
from domain.adapters.bootstrap import Services
from domain.errors import CampaignNotActive
from domain.models import Campaign, Claim, PromoCode
from domain.values import Claimant, parse_platform
from tests import factories


async def _row(public_id: str) -> Campaign:
    return await Campaign.get(public_id=public_id)


def _ask(c: Campaign, who: str, platform: str | None = None, **extra: Any) -> claims._Ask:
    claimant = Claimant.of("web", who)
    candidates, served = claims._admit(c, claimant, "web", parse_platform(platform), clock.now())
    return claims._Ask(
        campaign=c,
        claimant=claimant.key,
        channel="web",
        candidates=tuple(candidates),
        served_platform=served,
        idempotency_key=extra.get("idempotency_key"),
    )


async def test_concurrent_claims_share_transactions_and_never_share_a_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(80))
    before = (claims.BATCHING.batches, claims.BATCHING.items)

    results = await asyncio.gather(
        *(
            claims.claim(campaign_id=c.id, claimant=Claimant.of("web", f"u{i}"), channel="web")
            for i in range(60)
        )
    )

    batches = claims.BATCHING.batches - before[0]
    items = claims.BATCHING.items - before[1]
    assert items == 60 and batches < 60, (batches, items)  # they really went together
    assert len({r.code for r in results}) == 60
    assert not any(r.repeated for r in results)
    rows = await Claim.filter(campaign__public_id=c.id).values_list("claimant", "code")
    assert sorted(rows) == sorted((r.claimant, r.code) for r in results)
    assert await PromoCode.filter(campaign__public_id=c.id, status="claimed").count() == 60


async def test_a_batch_hands_back_held_codes_and_sends_a_double_alone(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(10))
    earlier = await claims.claim(campaign_id=c.id, claimant=Claimant.of("web", "b"), channel="web")
    row = await _row(c.id)

    outcomes = await claims._claim_batch(
        row.id, [_ask(row, "a"), _ask(row, "a"), _ask(row, "b"), _ask(row, "c")]
    )

    kinds = [kind for kind, _, _ in outcomes]
    assert kinds == [
        claims._Kind.TAKEN,
        claims._Kind.ALONE,
        claims._Kind.REPEAT,
        claims._Kind.TAKEN,
    ]
    repeat = outcomes[2][1]
    assert repeat is not None and repeat.code == earlier.code
    taken = [held.code for kind, held, _ in outcomes if kind is claims._Kind.TAKEN and held]
    assert len(set([*taken, earlier.code])) == 3
    # the two claims of the batch share one stock check
    assert outcomes[0][2] is outcomes[3][2]
    holders = dict(await Claim.filter(campaign_id=row.id).values_list("claimant", "code"))
    assert holders == {"web:a": taken[0], "web:b": earlier.code, "web:c": taken[1]}


async def test_a_batch_admitted_on_old_terms_takes_nothing(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(10))
    row = await _row(c.id)  # read while active
    await campaigns.update_campaign(owner_id=dev.id, campaign_id=c.id, changes={"status": "paused"})

    outcomes = await claims._claim_batch(row.id, [_ask(row, "x"), _ask(row, "y")])

    assert [kind for kind, _, _ in outcomes] == [claims._Kind.ALONE] * 2
    assert await Claim.filter(campaign_id=row.id).count() == 0
    assert await PromoCode.filter(campaign_id=row.id, status="available").count() == 10


async def test_a_batch_short_of_codes_sends_the_rest_alone(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    row = await _row(c.id)

    outcomes = await claims._claim_batch(row.id, [_ask(row, f"s{i}") for i in range(5)])

    kinds = [kind for kind, _, _ in outcomes]
    assert kinds.count(claims._Kind.TAKEN) == 3 and kinds.count(claims._Kind.ALONE) == 2
    assert await PromoCode.filter(campaign_id=row.id, status="available").count() == 0


async def test_a_universal_batch_never_gives_an_ios_claim_an_android_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="universal")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2, "DROID", "android"))
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2, "APPLE", "ios"))
    row = await _row(c.id)

    outcomes = await claims._claim_batch(
        row.id,
        [_ask(row, "i1", "ios"), _ask(row, "a1", "android"), _ask(row, "i2", "ios")],
    )

    got = [(held.code[:5], held.platform) for _, held, _ in outcomes if held]
    assert got == [("APPLE", "ios"), ("DROID", "android"), ("APPLE", "ios")]


async def test_a_campaign_paused_elsewhere_refuses_at_once_despite_a_recent_read(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    await claims.claim(campaign_id=c.id, claimant=Claimant.of("web", "early"), channel="web")
    # another process pauses it: this process's recent read of the row still says active
    await Campaign.filter(public_id=c.id).update(status="paused")

    with pytest.raises(CampaignNotActive):
        await claims.claim(campaign_id=c.id, claimant=Claimant.of("web", "late"), channel="web")
    assert await Claim.filter(campaign__public_id=c.id).count() == 1


async def test_a_campaign_resumed_elsewhere_serves_at_once_despite_a_recent_read(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    await campaigns.update_campaign(owner_id=dev.id, campaign_id=c.id, changes={"status": "paused"})
    with pytest.raises(CampaignNotActive):
        await claims.claim(campaign_id=c.id, claimant=Claimant.of("web", "w"), channel="web")
    # resumed by another process: the recent read says paused, the database says active
    await Campaign.filter(public_id=c.id).update(status="active")

    got = await claims.claim(campaign_id=c.id, claimant=Claimant.of("web", "w"), channel="web")
    assert got.code and not got.repeated


async def test_a_campaign_with_a_window_and_rules_is_still_served_in_batches(
    services: Services,
) -> None:
    from datetime import timedelta

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
    row = await _row(c.id)  # what a claim is admitted on: the ORM's read of the row

    outcomes = await claims._claim_batch(row.id, [_ask(row, "w1"), _ask(row, "w2")])

    # the terms read back raw inside the batch equal the ORM's (times, microseconds, rules)
    assert [kind for kind, _, _ in outcomes] == [claims._Kind.TAKEN] * 2


async def test_a_retry_that_runs_alone_still_finds_its_key_after_a_release(
    services: Services,
) -> None:
    from domain import codes

    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, per_claimant_limit=2)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(6))
    member = Claimant.of("web", "keeper")

    async def ask(key: str) -> str:
        got = await claims.claim(
            campaign_id=c.id, claimant=member, channel="web", idempotency_key=key
        )
        return got.code

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
