"""The claim on both databases: idempotent repeats, refusals, platforms, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import campaigns, claims, clock, events
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.errors import (
    CampaignEnded,
    CampaignNotActive,
    CampaignNotFound,
    CampaignNotStarted,
    NotEligible,
    PlatformNotServed,
    PlatformRequired,
    SoldOut,
)
from domain.values import Claimant
from tests import factories


async def test_a_second_claim_by_the_same_member_returns_the_first_code(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    member = Claimant.of("telegram", 42)

    first = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="telegram"
    )
    second = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="telegram"
    )

    assert first.code == second.code
    assert not first.repeated and second.repeated
    card = await campaigns.public_card(campaign_id=c.id)
    assert card.codes_left == 4


async def test_different_members_get_different_codes_until_sold_out(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    got = [
        (
            await claims.claim(
                events_bus=factories.BUS,
                campaign_id=c.id,
                claimant=Claimant.of("web", f"u{i}"),
                channel="web",
            )
        ).code
        for i in range(3)
    ]
    assert len(set(got)) == 3
    with pytest.raises(SoldOut):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("web", "late"),
            channel="web",
        )
    view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)
    assert view.status == "completed"
    # a member who already holds a code still sees it after the sell-out
    again = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=Claimant.of("web", "u0"), channel="web"
    )
    assert again.code == got[0] and again.repeated


async def test_paused_not_started_and_ended_campaigns_refuse_with_the_reason(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    member = Claimant.of("discord", 7)
    await campaigns.act(
        events_bus=factories.BUS, developer_id=dev.id, campaign_id=c.id, action=Action.PAUSE
    )
    with pytest.raises(CampaignNotActive):
        await claims.claim(
            events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="discord"
        )
    await campaigns.update_campaign(
        events_bus=factories.BUS,
        owner_id=dev.id,
        campaign_id=c.id,
        changes={"status": "active", "starts_at": clock.now() + timedelta(hours=1)},
    )
    with pytest.raises(CampaignNotStarted) as started:
        await claims.claim(
            events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="discord"
        )
    assert "opens at" in started.value.detail
    with clock.frozen_at(clock.now() + timedelta(hours=2)):
        got = await claims.claim(
            events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="discord"
        )
        assert got.code
    await campaigns.update_campaign(
        events_bus=factories.BUS,
        owner_id=dev.id,
        campaign_id=c.id,
        changes={"starts_at": None, "ends_at": clock.now() - timedelta(minutes=1)},
    )
    with pytest.raises(CampaignEnded):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("discord", 8),
            channel="discord",
        )


async def test_a_draft_campaign_looks_like_an_unknown_one(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, status="draft")
    with pytest.raises(CampaignNotFound):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("web", "x1"),
            channel="web",
        )
    with pytest.raises(CampaignNotFound):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id="nope",
            claimant=Claimant.of("web", "x1"),
            channel="web",
        )


async def test_an_ios_claim_never_receives_an_android_code(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="universal")
    await factories.upload_codes(
        dev.id, c.id, factories.codes_csv(2, "DROID", "android") + "APPLE000001,ios\n"
    )
    ios = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "a"),
        channel="web",
        platform="ios",
    )
    assert ios.code == "APPLE000001" and ios.platform == "ios"
    with pytest.raises(PlatformNotServed) as refused:
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("web", "b"),
            channel="web",
            platform="iOS",
        )
    assert refused.value.available == ["android"]
    with pytest.raises(PlatformRequired):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("web", "c"),
            channel="web",
        )
    droid = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "d"),
        channel="web",
        platform="android",
    )
    assert droid.code.startswith("DROID")


async def test_a_single_platform_campaign_refuses_another_platform(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="ios")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    with pytest.raises(PlatformNotServed):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("web", "a"),
            channel="web",
            platform="android",
        )
    got = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=Claimant.of("web", "a"), channel="web"
    )
    assert got.platform == "ios" and got.hint and got.code in got.hint


async def test_a_limit_of_two_gives_two_codes_then_repeats(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, per_claimant_limit=2)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    member = Claimant.of("web", "twice")
    a = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web"
    )
    b = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web"
    )
    c3 = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web"
    )
    assert a.code != b.code and c3.code == b.code and c3.repeated
    mine = await claims.my_codes(claimant_key=member.key)
    assert {m.code for m in mine} == {a.code, b.code}


async def test_eligibility_refusals_name_the_rule_and_when(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(
        dev.id,
        eligibility={
            "min_account_age_days": 30,
            "required_roles": ["111"],
            "channels": ["discord"],
        },
    )
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    young = Claimant.of(
        "discord", 1, account_created_at=clock.now() - timedelta(days=3), roles=frozenset({"111"})
    )
    with pytest.raises(NotEligible) as refused:
        await claims.claim(
            events_bus=factories.BUS, campaign_id=c.id, claimant=young, channel="discord"
        )
    assert refused.value.rule == "min_account_age_days" and refused.value.eligible_at
    no_role = Claimant.of("discord", 2, account_created_at=clock.now() - timedelta(days=90))
    with pytest.raises(NotEligible) as refused2:
        await claims.claim(
            events_bus=factories.BUS, campaign_id=c.id, claimant=no_role, channel="discord"
        )
    assert refused2.value.rule == "required_roles"
    ok = Claimant.of(
        "discord", 3, account_created_at=clock.now() - timedelta(days=90), roles=frozenset({"111"})
    )
    assert (
        await claims.claim(
            events_bus=factories.BUS, campaign_id=c.id, claimant=ok, channel="discord"
        )
    ).code


async def test_low_stock_is_announced_once_per_crossing(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, low_stock_threshold=2)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    seen: list[str] = []

    async def listen() -> None:
        async for e in services.events.subscribe():
            seen.append(e.name)

    import asyncio

    task = asyncio.create_task(listen())
    await asyncio.sleep(0)
    for i in range(5):
        await claims.claim(
            campaign_id=c.id,
            claimant=Claimant.of("web", f"m{i}"),
            channel="web",
            events_bus=services.events,
        )
    await asyncio.sleep(0.05)
    task.cancel()
    assert seen.count(events.CODE_CLAIMED) == 5
    assert seen.count(events.LOW_STOCK) == 1
    assert seen.count(events.SOLD_OUT) == 1


async def test_a_released_slot_is_reused_under_a_limit_above_one(services: Services) -> None:
    from domain import codes

    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, per_claimant_limit=2)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    member = Claimant.of("web", "twice")
    first = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web"
    )
    second = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web"
    )
    await codes.release(owner_id=dev.id, campaign_id=c.id, code=first.code)
    third = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web"
    )
    assert not third.repeated and third.code not in (second.code,)
    assert {m.code for m in await claims.my_codes(claimant_key=member.key)} == {
        second.code,
        third.code,
    }


async def test_a_developer_key_claims_only_from_its_own_campaigns(services: Services) -> None:
    owner, _ = await factories.developer("Owner")
    other, _ = await factories.developer("Other")
    c = await factories.campaign(owner.id)
    await factories.upload_codes(owner.id, c.id, factories.codes_csv(2))
    with pytest.raises(CampaignNotFound):
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("api", f"{other.id}:u"),
            channel="api",
            for_owner=other.id,
        )
    got = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("api", f"{owner.id}:u"),
        channel="api",
        for_owner=owner.id,
    )
    assert got.code


async def test_one_claimant_is_limited_whichever_front_they_ask_through(services: Services) -> None:
    from domain.adapters.ratelimits import MemoryRateLimiter
    from domain.errors import RateLimited
    from domain.ratelimits import ClaimRateLimit

    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    limit = ClaimRateLimit(MemoryRateLimiter(), "2/minute")
    member = Claimant.of("telegram", 99)
    first = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=member,
        channel="telegram",
        rate_limit=limit,
    )
    again = await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=member, channel="web", rate_limit=limit
    )
    assert again.code == first.code
    with pytest.raises(RateLimited) as limited:
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=member,
            channel="discord",
            rate_limit=limit,
        )
    assert limited.value.retry_after >= 1
    other = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("telegram", 100),
        channel="telegram",
        rate_limit=limit,
    )
    assert other.code != first.code
