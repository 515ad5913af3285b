"""Webhooks end to end on both databases: the outbox, the dispatcher, a real receiver.

The receiver (tests/fakes/webhook_receiver.py) is a real HTTP server that verifies every
signature with the `standardwebhooks` library. The domain's clock is moved (frozen ahead)
to step past a subscription's start and past retry backoffs without waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from domain import campaigns, claims, clock, codes, outbox, webhooks
from domain.adapters.bootstrap import Services
from domain.adapters.webhook_http import WebhookSender
from domain.campaign_state import Action
from domain.models import Campaign, Claim, OutboxEvent, WebhookDelivery
from domain.values import Claimant
from domain.webhook_dispatch import (
    FIRST_DELAY,
    MAX_ATTEMPTS,
    MAX_DELAY,
    backoff,
    dispatch_once,
    fan_out,
)
from tests import factories
from tests.fakes.webhook_receiver import WebhookReceiver

LATER = timedelta(seconds=outbox.TAKES_EFFECT_AFTER + 1)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.up()
    try:
        yield r
    finally:
        await r.down()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    s = WebhookSender(timeout=5.0)
    try:
        yield s
    finally:
        await s.close()


async def _subscribe(owner_id: int, url: str, events: list[str]) -> webhooks.IssuedWebhook:
    return await webhooks.create_webhook(
        owner_id=owner_id, url=url, events=events, allow_private=True
    )


async def _drain(sender: WebhookSender, passes: int = 50) -> None:
    """Dispatch passes until nothing is left to fan out or due."""
    for _ in range(passes):
        result = await dispatch_once(sender, allow_private=True)
        if not result.busy:
            return
    raise AssertionError("the dispatcher kept finding work")


async def _claim(campaign_id: str, who: str, services: Services | None = None) -> None:
    await claims.claim(
        campaign_id=campaign_id,
        claimant=Claimant.of("web", who),
        channel="web",
        events_bus=services.events if services else factories.BUS,
    )


async def test_a_thousand_claims_reach_the_receiver_as_a_thousand_signed_events_each_once(
    services: Services, receiver: WebhookReceiver, sender: WebhookSender
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(1000))
    issued = await _subscribe(dev.id, receiver.url, ["claim.created"])
    receiver.secret = issued.secret

    with clock.frozen_at(clock.now() + LATER):
        await asyncio.gather(*(_claim(c.id, f"u{i}") for i in range(1000)))
        await _drain(sender)

    assert receiver.bad_signatures == 0
    assert len(receiver.received) == 1000
    assert len(set(receiver.ids())) == 1000
    assert {r.type for r in receiver.received} == {"claim.created"}
    claimants = {r.body["data"]["claimant"] for r in receiver.received}
    assert claimants == set(
        await Claim.filter(campaign__public_id=c.id).values_list("claimant", flat=True)
    )
    assert await WebhookDelivery.filter(status="delivered").count() == 1000


async def test_a_receiver_down_then_back_gets_every_event_after_the_backoff(
    services: Services, receiver: WebhookReceiver, sender: WebhookSender
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(30))
    issued = await _subscribe(dev.id, receiver.url, ["claim.created"])
    receiver.secret = issued.secret
    start = clock.now() + LATER

    await receiver.down()
    with clock.frozen_at(start):
        await asyncio.gather(*(_claim(c.id, f"d{i}") for i in range(20)))
        first = await dispatch_once(sender, allow_private=True)
    assert (first.sent, first.delivered) == (20, 0)
    rows = await WebhookDelivery.all()
    assert {r.status for r in rows} == {"pending"}
    assert {r.attempts for r in rows} == {1}
    assert all(r.last_error.startswith("ConnectError") for r in rows)
    # retried about a minute later, not before
    waits = [(r.next_attempt_at - start).total_seconds() for r in rows]
    assert all(FIRST_DELAY * 0.8 - 1 <= w <= FIRST_DELAY * 1.2 + 1 for w in waits), waits
    with clock.frozen_at(start + timedelta(seconds=30)):
        assert (await dispatch_once(sender, allow_private=True)).sent == 0

    await receiver.up()
    with clock.frozen_at(start + timedelta(seconds=FIRST_DELAY * 1.2 + 2)):
        await _drain(sender)

    assert receiver.bad_signatures == 0
    assert sorted(receiver.ids()) == sorted(
        await OutboxEvent.all().values_list("event_id", flat=True)
    )
    assert len(receiver.received) == 20
    assert await WebhookDelivery.filter(status="delivered", attempts=2).count() == 20


async def test_a_receiver_that_answers_500_sees_the_same_event_id_on_the_retry(
    services: Services, receiver: WebhookReceiver, sender: WebhookSender
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    issued = await _subscribe(dev.id, receiver.url, ["claim.created"])
    receiver.secret = issued.secret
    receiver.answer_status = 500
    start = clock.now() + LATER
    with clock.frozen_at(start):
        await _claim(c.id, "x")
        await dispatch_once(sender, allow_private=True)
    d = await WebhookDelivery.get()
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 500)
    assert d.last_response == "receiver failing on purpose"

    receiver.answer_status = 204
    with clock.frozen_at(start + timedelta(hours=1)):
        await _drain(sender)
    event = await OutboxEvent.get()
    assert receiver.ids() == [event.event_id]
    await d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code) == ("delivered", 2, 204)


async def test_claims_write_no_event_row_when_the_owner_has_no_webhook(services: Services) -> None:
    dev, _ = await factories.developer()
    other, _ = await factories.developer("Other")
    await _subscribe(other.id, "http://127.0.0.1:9/x", ["claim.created"])
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(10))
    await asyncio.gather(*(_claim(c.id, f"n{i}") for i in range(10)))
    assert await OutboxEvent.filter(owner_id=dev.id).count() == 0


async def test_a_webhook_subscribed_to_other_events_gets_no_claim_rows(services: Services) -> None:
    dev, _ = await factories.developer()
    await _subscribe(dev.id, "http://127.0.0.1:9/x", ["campaign.sold_out"])
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    with clock.frozen_at(clock.now() + LATER):
        await _claim(c.id, "a", services)
        await _claim(c.id, "b", services)
    names = await OutboxEvent.filter(owner_id=dev.id).values_list("name", flat=True)
    assert "claim.created" not in names
    assert names.count("campaign.sold_out") == 1


async def test_an_event_written_in_a_rolled_back_transaction_is_not_there(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    await _subscribe(dev.id, "http://127.0.0.1:9/x", ["code.used"])
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await outbox.record(conn, dev.id, outbox.CODE_USED, "cmp", {"code": "AB***YZ"})
            raise RuntimeError("the change failed")
    assert await OutboxEvent.filter(owner_id=dev.id).count() == 0


async def test_a_subscription_a_stale_cache_missed_is_not_owed_the_events_it_skipped(
    services: Services,
) -> None:
    """The outbox rule: a cache that says "nobody listens" only skips events that happened
    before a new subscription takes effect, and those are not owed to it."""
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    assert await outbox.subscribed(dev.id) == frozenset()
    stale = outbox._cache[dev.id]  # what another process still holds
    issued = await _subscribe(dev.id, "http://127.0.0.1:9/x", ["claim.created"])
    outbox._cache[dev.id] = stale

    await _claim(c.id, "early")  # within the cache's second: no row
    assert await OutboxEvent.filter(owner_id=dev.id).count() == 0
    w = await webhooks.get_webhook(owner_id=dev.id, webhook_id=issued.webhook.id)
    assert w.events == ["claim.created"]

    # the cache ages out; from the subscription's start every claim has its row, and it is owed
    await asyncio.sleep(outbox.SUBSCRIPTIONS_FRESH_WITHIN)
    with clock.frozen_at(clock.now() + LATER):
        await _claim(c.id, "later")
        events, made = await fan_out()
    assert (events, made) == (1, 1)


async def test_an_event_before_the_subscription_took_effect_is_not_delivered(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    await _subscribe(dev.id, "http://127.0.0.1:9/x", ["claim.created"])
    await _claim(c.id, "too-early")  # a row is written (the cache is fresh) but not owed
    assert await fan_out() == (1, 0)
    assert await OutboxEvent.filter(fanned_out=False).count() == 0


async def test_each_change_writes_its_event_in_its_own_transaction(services: Services) -> None:
    dev, _ = await factories.developer()
    await _subscribe(dev.id, "http://127.0.0.1:9/x", list(outbox.EVENT_TYPES))
    with clock.frozen_at(clock.now() + LATER):
        c = await factories.campaign(dev.id, low_stock_threshold=2)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
        await _claim(c.id, "a", services)
        await _claim(c.id, "b", services)
        row = await Campaign.get(public_id=c.id)
        code = (await Claim.get(campaign_id=row.id, claimant="web:a")).code
        await codes.release(owner_id=dev.id, campaign_id=c.id, code=code)
        await codes.mark_used(owner_id=dev.id, campaign_id=c.id, codes=[code])
        await campaigns.act(
            events_bus=factories.BUS, developer_id=dev.id, campaign_id=c.id, action=Action.PAUSE
        )
    names = await OutboxEvent.filter(owner_id=dev.id).order_by("id").values_list("name", flat=True)
    assert names == [
        "upload.completed",
        "claim.created",
        "campaign.low_stock",
        "claim.created",
        "code.released",
        "code.used",
        "campaign.status_changed",
    ]


async def test_a_campaign_that_sells_out_reports_it_and_its_status_change(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    await _subscribe(
        dev.id, "http://127.0.0.1:9/x", ["campaign.sold_out", "campaign.status_changed"]
    )
    with clock.frozen_at(clock.now() + LATER):
        c = await factories.campaign(dev.id)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(1))
        await _claim(c.id, "last", services)
        await fan_out()
    names = await OutboxEvent.filter(owner_id=dev.id).order_by("id").values_list("name", flat=True)
    assert names == ["campaign.sold_out", "campaign.status_changed"]
    assert await WebhookDelivery.all().count() == 2


def test_backoff_starts_near_a_minute_doubles_and_stops_at_a_day() -> None:
    rng = random.Random(7)
    first = [backoff(1, rng=rng).total_seconds() for _ in range(200)]
    assert min(first) >= FIRST_DELAY * 0.8 and max(first) <= FIRST_DELAY * 1.2
    assert len({round(x) for x in first}) > 20  # jittered, not one value
    assert 0.8 * 4 * FIRST_DELAY <= backoff(3, rng=rng).total_seconds() <= 1.2 * 4 * FIRST_DELAY
    assert all(backoff(n, rng=rng).total_seconds() <= MAX_DELAY for n in range(1, MAX_ATTEMPTS + 5))
    assert backoff(MAX_ATTEMPTS, rng=rng).total_seconds() >= MAX_DELAY * 0.8


async def test_a_delivery_gives_up_after_the_last_attempt_and_a_manual_retry_sends_it(
    services: Services, receiver: WebhookReceiver, sender: WebhookSender
) -> None:
    dev, _ = await factories.developer()
    issued = await _subscribe(dev.id, receiver.url, ["claim.created"])
    receiver.secret = issued.secret
    d = await webhooks.ping(owner_id=dev.id, webhook_id=issued.webhook.id)
    receiver.answer_status = 503
    at = clock.now()
    for _ in range(MAX_ATTEMPTS):
        with clock.frozen_at(at):
            await dispatch_once(sender, allow_private=True)
        at += timedelta(seconds=MAX_DELAY + 1)
    row = await WebhookDelivery.get(id=d.id)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)

    receiver.answer_status = 200
    await webhooks.retry_delivery(owner_id=dev.id, webhook_id=issued.webhook.id, delivery_id=d.id)
    await _drain(sender)
    await row.refresh_from_db()
    assert row.status == "delivered"
    assert [r.type for r in receiver.received] == ["webhook.ping"]


async def test_a_delivery_to_a_name_that_now_resolves_to_loopback_is_refused(
    services: Services, receiver: WebhookReceiver, sender: WebhookSender
) -> None:
    """Created while private targets were allowed, sent by a dispatcher that refuses them:
    the address is checked at delivery time, not only at creation."""
    dev, _ = await factories.developer()
    issued = await _subscribe(
        dev.id, f"http://localhost:{receiver.port}/hooks/codedrop", ["claim.created"]
    )
    receiver.secret = issued.secret
    await webhooks.ping(owner_id=dev.id, webhook_id=issued.webhook.id)
    result = await dispatch_once(sender, allow_private=False)
    assert (result.sent, result.delivered) == (1, 0)
    row = await WebhookDelivery.get()
    assert row.last_error.startswith("refused:") and "loopback" in row.last_error
    assert receiver.received == []


async def test_two_dispatchers_share_one_lease_and_send_each_event_once(
    services: Services, receiver: WebhookReceiver
) -> None:
    """As in two `codedrop scheduler` replicas: both run, one sends, nothing goes twice."""
    from domain.adapters.leases import DatabaseLeases
    from domain.webhook_dispatch import run_dispatcher

    dev, _ = await factories.developer()
    issued = await _subscribe(dev.id, receiver.url, ["claim.created"])
    receiver.secret = issued.secret
    for _ in range(30):
        await webhooks.ping(owner_id=dev.id, webhook_id=issued.webhook.id)
    stop = asyncio.Event()
    senders = [WebhookSender(timeout=5), WebhookSender(timeout=5)]
    runners = [
        asyncio.create_task(
            run_dispatcher(
                leases=DatabaseLeases(), sender=s, allow_private=True, poll_seconds=0.05, stop=stop
            )
        )
        for s in senders
    ]
    try:
        for _ in range(200):
            if await WebhookDelivery.filter(status="delivered").count() == 30:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*runners)
        for s in senders:
            await s.close()
    assert len(receiver.received) == 30
    assert len(set(receiver.ids())) == 30
    assert receiver.bad_signatures == 0


async def test_the_fault_checker_finds_a_claim_without_its_event_and_an_event_without_its_claim(
    services: Services,
) -> None:
    from tests.invariants import outbox_violations

    dev, _ = await factories.developer()
    issued = await _subscribe(dev.id, "http://127.0.0.1:9/x", ["claim.created"])
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    await _claim(c.id, "a")
    await _claim(c.id, "b")
    row = await Campaign.get(public_id=c.id)
    acknowledged = [
        (str(w), str(k))
        for w, k in await Claim.filter(campaign_id=row.id).values_list("claimant", "code")
    ]
    problems, events = await outbox_violations(
        campaign_pk=row.id, campaign_id=c.id, acknowledged=acknowledged
    )
    assert (problems, events) == ([], 2)

    await webhooks.update_webhook(
        owner_id=dev.id, webhook_id=issued.webhook.id, changes={"active": False}
    )
    await _claim(c.id, "unheard")  # no subscription: no event row
    code_b = dict(acknowledged)["web:b"]
    await codes.release(owner_id=dev.id, campaign_id=c.id, code=code_b)  # b's claim is gone
    problems, _ = await outbox_violations(
        campaign_pk=row.id, campaign_id=c.id, acknowledged=[("web:a", dict(acknowledged)["web:a"])]
    )
    assert problems == [
        "event for a claim of web:b (slot 1) that is not in the database",
        "claim of web:unheard (slot 1) has no claim.created event",
    ]


async def test_finished_deliveries_and_their_events_are_pruned_after_retention_pending_ones_stay(
    services: Services, receiver: WebhookReceiver, sender: WebhookSender
) -> None:
    from domain.webhook_dispatch import prune_history

    dev, _ = await factories.developer()
    issued = await _subscribe(dev.id, receiver.url, ["claim.created"])
    receiver.secret = issued.secret
    sent = await webhooks.ping(owner_id=dev.id, webhook_id=issued.webhook.id)
    await _drain(sender)
    await receiver.down()
    waiting = await webhooks.ping(owner_id=dev.id, webhook_id=issued.webhook.id)
    await dispatch_once(sender, allow_private=True)  # fails: stays pending

    assert await prune_history(older_than=timedelta(days=30)) == 0
    with clock.frozen_at(clock.now() + timedelta(days=31)):
        pruned = await prune_history(older_than=timedelta(days=30))
    assert pruned == 2  # the delivered delivery and its event
    assert await WebhookDelivery.filter(id=sent.id).count() == 0
    assert await WebhookDelivery.filter(id=waiting.id, status="pending").count() == 1
    assert await OutboxEvent.filter(event_id=waiting.event_id).count() == 1
    assert await OutboxEvent.filter(event_id=sent.event_id).count() == 0
