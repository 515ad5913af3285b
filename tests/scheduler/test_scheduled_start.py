"""A scheduled campaign opens at `starts_at` to the second by itself; the lifecycle job only
announces it, once. On SQLite and MariaDB, with the domain's clock moved by the tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain import claims, events
from domain.adapters.bootstrap import Services
from domain.campaign_state import Openness, openness
from domain.clock import frozen_at
from domain.errors import CampaignNotStarted
from domain.lifecycle import advance_campaigns
from domain.models import Campaign
from domain.values import Claimant
from tests import factories
from tests.scheduler.conftest import RecordingEvents

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
END = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


async def _scheduled(owner_id: int) -> str:
    """An active campaign with three codes whose window opens at START."""
    with frozen_at(START - timedelta(days=1)):
        c = await factories.campaign(owner_id, starts_at=START, ends_at=END)
        await factories.upload_codes(owner_id, c.id, factories.codes_csv(3))
    return c.id


async def _claim(campaign_id: str, who: str) -> claims.ClaimResult:
    return await claims.claim(
        events_bus=factories.BUS,
        campaign_id=campaign_id,
        claimant=Claimant.of("web", who),
        channel="web",
    )


async def test_openness_says_not_started_until_the_start_second_then_open() -> None:
    c = Campaign(status="active", starts_at=START, ends_at=END)
    assert openness(c, START - SECOND) is Openness.NOT_STARTED
    assert openness(c, START - timedelta(microseconds=1)) is Openness.NOT_STARTED
    assert openness(c, START) is Openness.OPEN


async def test_a_claim_a_second_early_is_refused_and_at_the_start_succeeds_without_the_job(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    campaign_id = await _scheduled(dev.id)

    with frozen_at(START - SECOND), pytest.raises(CampaignNotStarted) as refused:
        await _claim(campaign_id, "early")
    assert refused.value.code == "campaign_not_started"

    # no lifecycle run in between: the claim itself reads the window
    with frozen_at(START):
        result = await _claim(campaign_id, "on-time")
    assert result.code
    assert bus.published == []
    row = await Campaign.get(public_id=campaign_id)
    assert (row.status, row.start_announced_at) == ("active", None)


async def test_the_job_announces_a_start_once_and_only_after_it_came(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    campaign_id = await _scheduled(dev.id)

    with frozen_at(START - SECOND):
        assert (await advance_campaigns(events_bus=bus)).announced == []
    with frozen_at(START + SECOND):
        assert (await advance_campaigns(events_bus=bus)).announced == [campaign_id]
    with frozen_at(START + timedelta(minutes=1)):
        assert (await advance_campaigns(events_bus=bus)).announced == []

    [event] = bus.named(events.CAMPAIGN_STATUS_CHANGED)
    assert event.campaign_id == campaign_id
    assert event.data == {
        "from": "active",
        "to": "active",
        "reason": "started",
        "name": "Launch week",
    }
    row = await Campaign.get(public_id=campaign_id)
    assert row.start_announced_at == START


async def test_two_runners_at_the_start_announce_it_once(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    campaign_id = await _scheduled(dev.id)

    with frozen_at(START + SECOND):
        first, second = await asyncio.gather(
            advance_campaigns(events_bus=bus), advance_campaigns(events_bus=bus)
        )
    assert sorted(first.announced + second.announced) == [campaign_id]
    assert len(bus.named(events.CAMPAIGN_STATUS_CHANGED)) == 1


async def test_a_moved_start_is_announced_again_when_it_comes(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    campaign_id = await _scheduled(dev.id)
    with frozen_at(START + SECOND):
        await advance_campaigns(events_bus=bus)
    later = START + timedelta(hours=2)
    await Campaign.filter(public_id=campaign_id).update(starts_at=later)

    with frozen_at(later - SECOND):
        assert (await advance_campaigns(events_bus=bus)).announced == []
    with frozen_at(later):
        assert (await advance_campaigns(events_bus=bus)).announced == [campaign_id]
    assert len(bus.named(events.CAMPAIGN_STATUS_CHANGED)) == 2


async def test_a_start_older_than_a_day_is_not_announced_late(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    await _scheduled(dev.id)
    with frozen_at(START + timedelta(days=2)):
        assert (await advance_campaigns(events_bus=bus)).announced == []


async def test_a_draft_published_by_the_job_is_not_announced_twice(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START - timedelta(days=1)):
        c = await factories.campaign(dev.id, status="draft", starts_at=START, ends_at=END)
    with frozen_at(START):
        assert (await advance_campaigns(events_bus=bus)).started == [c.id]
    with frozen_at(START + timedelta(minutes=1)):
        assert (await advance_campaigns(events_bus=bus)).announced == []
    assert len(bus.named(events.CAMPAIGN_STATUS_CHANGED)) == 1
