"""Low-stock alerts: one per crossing under the threshold, never one per claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import campaigns, claims, codes, events
from domain.adapters.bootstrap import Services
from domain.clock import frozen_at
from domain.lifecycle import check_low_stock
from domain.values import Claimant, ClaimResult
from tests import factories
from tests.scheduler.conftest import RecordingEvents

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _claim(campaign_id: str, who: str, bus: RecordingEvents) -> ClaimResult:
    return await claims.claim(
        campaign_id=campaign_id, claimant=Claimant.of("web", who), channel="web", events_bus=bus
    )


async def test_claims_falling_under_the_threshold_alert_once_per_crossing(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, low_stock_threshold=3)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(6, prefix="A"))

    for i in range(5):  # 6 -> 1 left: crosses under 3 once
        await _claim(c.id, f"u{i}", bus)
    await check_low_stock(events_bus=bus)
    await check_low_stock(events_bus=bus)

    [alert] = bus.named(events.LOW_STOCK)
    assert alert.data["available"] == 3 and alert.data["threshold"] == 3

    # a restock lifts the stock above the threshold: the next crossing alerts again
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5, prefix="B"))
    for i in range(5, 9):  # 6 -> 2 left
        await _claim(c.id, f"u{i}", bus)
    await check_low_stock(events_bus=bus)

    assert [e.data["available"] for e in bus.named(events.LOW_STOCK)] == [3, 3]


async def test_the_job_alerts_for_crossings_no_claim_reported(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START):
        c = await factories.campaign(dev.id, low_stock_threshold=2, code_ttl_days=1)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(3, prefix="SOON"))
    with frozen_at(START + timedelta(hours=12)):
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(1, prefix="LATER"))

    # a day on, three codes expired unclaimed: no claim saw the stock fall to 1
    with frozen_at(START + timedelta(days=1, hours=1)):
        first = await check_low_stock(events_bus=bus)
        second = await check_low_stock(events_bus=bus)

    assert first.alerted == [c.id] and second.alerted == []
    [alert] = bus.named(events.LOW_STOCK)
    assert (alert.campaign_id, alert.owner_id, alert.data["available"]) == (c.id, dev.id, 1)


async def test_raising_the_threshold_above_the_stock_alerts_at_the_next_tick(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(10))
    assert (await check_low_stock(events_bus=bus)).alerted == []

    await campaigns.update_campaign(
        events_bus=factories.BUS,
        owner_id=dev.id,
        campaign_id=c.id,
        changes={"low_stock_threshold": 20},
    )

    assert (await check_low_stock(events_bus=bus)).alerted == [c.id]
    assert (await check_low_stock(events_bus=bus)).alerted == []
    assert len(bus.named(events.LOW_STOCK)) == 1


async def test_codes_returned_to_the_pool_rearm_the_alert(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, low_stock_threshold=2)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    taken = await _claim(c.id, "x", bus)  # 2 left: the claim itself alerts
    assert len(bus.named(events.LOW_STOCK)) == 1
    assert (await check_low_stock(events_bus=bus)).alerted == []

    await codes.release(owner_id=dev.id, campaign_id=c.id, code=taken.code)  # 3 left again
    assert (await check_low_stock(events_bus=bus)).rearmed == [c.id]

    await _claim(c.id, "y", bus)  # the next crossing alerts again
    assert len(bus.named(events.LOW_STOCK)) == 2
    assert (await check_low_stock(events_bus=bus)).alerted == []
