"""The dispatcher task `codedrop run` and `codedrop scheduler` start (scheduler/webhooks.py),
and the scheduled lifecycle's status changes reaching a webhook."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from domain import clock, outbox, webhooks
from domain.adapters.bootstrap import Services
from domain.lifecycle import advance_campaigns
from domain.models import WebhookDelivery
from scheduler.webhooks import run_webhooks
from tests import factories
from tests.fakes.webhook_receiver import WebhookReceiver


async def test_the_process_task_delivers_a_scheduled_start_to_the_webhook(
    services: Services,
) -> None:
    receiver = WebhookReceiver()
    await receiver.up()
    stop = asyncio.Event()
    task = asyncio.create_task(run_webhooks(services, stop))
    try:
        dev, _ = await factories.developer()
        issued = await webhooks.create_webhook(
            owner_id=dev.id,
            url=receiver.url,
            events=["campaign.status_changed"],
            allow_private=True,
        )
        receiver.secret = issued.secret
        start = clock.now() + timedelta(seconds=outbox.TAKES_EFFECT_AFTER + 5)
        c = await factories.campaign(dev.id, status="draft", starts_at=start)
        with clock.frozen_at(start):
            assert (
                await advance_campaigns(
                    events_bus=factories.BUS,
                )
            ).started == [c.id]
            for _ in range(100):
                if receiver.received:
                    break
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await receiver.down()
    assert receiver.bad_signatures == 0
    (got,) = receiver.received
    assert got.type == "campaign.status_changed"
    assert got.body["data"] == {
        "campaign_id": c.id,
        "name": c.name,
        "from": "draft",
        "to": "active",
        "reason": "started",
    }
    assert await WebhookDelivery.filter(status="delivered").count() == 1
