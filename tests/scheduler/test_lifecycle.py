"""Campaign lifecycle at the edges of its window, on SQLite and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import campaigns, claims, events
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.clock import frozen_at
from domain.errors import CampaignEnded
from domain.lifecycle import advance_campaigns
from domain.models import Campaign
from domain.values import Claimant
from tests import factories
from tests.scheduler.conftest import RecordingEvents

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
END = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


async def _status(public_id: str) -> tuple[str, str | None]:
    row = await Campaign.get(public_id=public_id)
    return row.status, row.completed_reason


async def test_a_scheduled_draft_opens_exactly_at_its_start(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START - timedelta(days=1)):
        c = await factories.campaign(dev.id, status="draft", starts_at=START, ends_at=END)

    with frozen_at(START - TICK):
        assert (await advance_campaigns(events_bus=bus)).started == []
    assert await _status(c.id) == ("draft", None)

    with frozen_at(START):
        result = await advance_campaigns(events_bus=bus)
    assert result.started == [c.id]
    assert await _status(c.id) == ("active", None)
    [event] = bus.named(events.CAMPAIGN_STATUS_CHANGED)
    assert (event.campaign_id, event.owner_id) == (c.id, dev.id)
    assert event.data["from"] == "draft" and event.data["to"] == "active"


async def test_an_active_campaign_completes_exactly_at_its_end(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START):
        c = await factories.campaign(dev.id, starts_at=START, ends_at=END)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))

    with frozen_at(END - TICK):
        assert (await advance_campaigns(events_bus=bus)).ended == []
        assert await _status(c.id) == ("active", None)

    with frozen_at(END):
        assert (await advance_campaigns(events_bus=bus)).ended == [c.id]
        assert await _status(c.id) == ("completed", "ended")
        with pytest.raises(CampaignEnded):
            await claims.claim(
                events_bus=factories.BUS,
                campaign_id=c.id,
                claimant=Claimant.of("web", "u1"),
                channel="web",
            )
    [event] = bus.named(events.CAMPAIGN_STATUS_CHANGED)
    assert event.data == {"from": "active", "to": "completed", "reason": "ended", "name": c.name}


async def test_a_paused_campaign_past_its_end_completes_too(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START):
        c = await factories.campaign(dev.id, ends_at=END)
        await campaigns.act(
            developer_id=dev.id, campaign_id=c.id, action=Action.PAUSE, events_bus=factories.BUS
        )
    with frozen_at(END + timedelta(hours=1)):
        assert (await advance_campaigns(events_bus=bus)).ended == [c.id]
    assert await _status(c.id) == ("completed", "ended")


async def test_a_draft_whose_whole_window_passed_ends_without_ever_opening(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START - timedelta(days=1)):
        c = await factories.campaign(dev.id, status="draft", starts_at=START, ends_at=END)
    with frozen_at(END):
        result = await advance_campaigns(events_bus=bus)
    assert (result.started, result.ended) == ([], [c.id])
    assert await _status(c.id) == ("completed", "ended")


async def test_a_draft_without_a_start_time_stays_a_draft(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, status="draft")
    with frozen_at(datetime.now(UTC) + timedelta(days=400)):
        await advance_campaigns(events_bus=bus)
    assert await _status(c.id) == ("draft", None)
    assert bus.published == []


async def test_a_campaign_whose_last_codes_expired_unclaimed_completes_as_sold_out(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START):
        sold = await factories.campaign(dev.id, name="Sold", code_ttl_days=1)
        empty = await factories.campaign(dev.id, name="Waiting for codes")
        await factories.upload_codes(dev.id, sold.id, factories.codes_csv(2))
        # a claim leaves one code: it sees stock, so it completes nothing
        await claims.claim(
            events_bus=bus, campaign_id=sold.id, claimant=Claimant.of("web", "u"), channel="web"
        )
    assert bus.named(events.SOLD_OUT) == []

    # the other code expires unclaimed: no claim sees the campaign run out, the job must
    with frozen_at(START + timedelta(days=2)):
        result = await advance_campaigns(events_bus=bus)

    assert result.sold_out == [sold.id]
    assert await _status(sold.id) == ("completed", "sold_out")
    assert await _status(empty.id) == ("active", None)
    assert [e.campaign_id for e in bus.named(events.SOLD_OUT)] == [sold.id]


async def test_a_second_run_changes_nothing_and_publishes_nothing(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    _svc, bus = recorded
    dev, _ = await factories.developer()
    with frozen_at(START - timedelta(days=1)):
        await factories.campaign(dev.id, status="draft", starts_at=START, ends_at=END)
        await factories.campaign(dev.id, ends_at=START)
    with frozen_at(START):
        first = await advance_campaigns(events_bus=bus)
        second = await advance_campaigns(events_bus=bus)
    assert (len(first.started), len(first.ended)) == (1, 1)
    assert second.as_dict() == {"started": 0, "announced": 0, "ended": 0, "sold_out": 0}
    assert len(bus.published) == 2
