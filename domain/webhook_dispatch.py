"""The webhook dispatcher: outbox rows to deliveries, deliveries to signed HTTP requests.

One pass (`dispatch_once`) first fans out: each outbox event not yet fanned out becomes one
delivery per webhook owed it (domain/outbox.py's rule), all in one transaction with the
event's `fanned_out` flag, and the unique (webhook, event) key makes a repeated fan-out
harmless. Then it sends the deliveries that are due. A delivery is marked delivered only
after a 2xx answer, so a crash in between sends it again: at least once, with the event id
as `webhook-id` for receivers to de-duplicate on. A failed attempt waits about a minute,
doubling up to a day (with ±20 % jitter so a recovering receiver is not hit by a wave), and
gives up after `MAX_ATTEMPTS` (a developer can retry by hand).

`run_dispatcher` loops passes under the lease `webhooks:dispatcher`, so one process of a
deployment sends at a time (`codedrop run` and `codedrop scheduler` both run it). Scheduling
uses the domain's clock (tests move it past a backoff); the signature's timestamp is real
wall time, which receivers compare with their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from standardwebhooks import Webhook as Signer
from tortoise.transactions import in_transaction

from domain import clock
from domain.errors import WebhookTargetRefused
from domain.leases import Leases, holding
from domain.models import OutboxEvent, Webhook, WebhookDelivery
from domain.webhooks import DeliveryStatus, check_target

log = logging.getLogger(__name__)

FIRST_DELAY = 60.0
MAX_DELAY = 24 * 3600.0
JITTER = 0.2
# 1, 2, 4 … 1024 min, then daily: about four and a half days of trying
MAX_ATTEMPTS = 15
FAN_OUT_BATCH = 500
SEND_BATCH = 200
SEND_CONCURRENCY = 16
RESPONSE_KEPT = 500
PRUNE_BATCH = 2_000
LEASE = "webhooks:dispatcher"
LEASE_TTL = 30.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: a status code and the start of the body, or an error."""

    status_code: int | None
    body: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender(Protocol):
    """Sends one request to an address already checked (domain/adapters/webhook_http.py)."""

    async def send(
        self, url: str, address: str, body: bytes, headers: dict[str, str]
    ) -> Answer: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class PassResult:
    fanned_out: int = 0
    deliveries: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.fanned_out or self.sent)


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failed attempt: ~1 min doubling, capped at 24 h."""
    base = min(FIRST_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return timedelta(seconds=min(base * factor, MAX_DELAY))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_owed(w: Webhook, e: OutboxEvent) -> bool:
    """Whether webhook `w` is owed event `e` (domain/outbox.py's rule)."""
    since = (w.events or {}).get(e.name)
    return since is not None and _utc(e.created_at) >= _utc(datetime.fromisoformat(since))


async def fan_out(limit: int = FAN_OUT_BATCH) -> tuple[int, int]:
    """Turn waiting outbox events into deliveries; (events, deliveries made)."""
    waiting = await OutboxEvent.filter(fanned_out=False).order_by("id").limit(limit)
    if not waiting:
        return 0, 0
    owners = {e.owner_id for e in waiting}
    hooks: dict[int, list[Webhook]] = {}
    for w in await Webhook.filter(owner_id__in=owners, active=True):
        hooks.setdefault(w.owner_id, []).append(w)  # type: ignore[attr-defined]
    now = clock.now()
    made = [
        WebhookDelivery(webhook_id=w.id, event_id=e.id, next_attempt_at=now)
        for e in waiting
        for w in hooks.get(e.owner_id, [])
        if is_owed(w, e)
    ]
    async with in_transaction() as conn:
        if made:
            await WebhookDelivery.bulk_create(made, ignore_conflicts=True, using_db=conn)
        await (
            OutboxEvent.filter(id__in=[e.id for e in waiting])
            .using_db(conn)
            .update(fanned_out=True)
        )
    return len(waiting), len(made)


def body_of(e: OutboxEvent) -> bytes:
    """The JSON body of an event: the same bytes on every attempt."""
    return json.dumps(
        {
            "type": e.name,
            "timestamp": _utc(e.created_at).isoformat(),
            "data": json.loads(e.payload),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def signed_headers(secret: str, event_id: str, body: bytes) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` (Standard Webhooks, v1)."""
    sent_at = datetime.now(UTC)  # real time: receivers check it against their clock
    signature = Signer(secret).sign(event_id, sent_at, body.decode())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }


async def attempt(d: WebhookDelivery, sender: Sender, *, allow_private: bool) -> Answer:
    """One attempt of delivery `d` (with its webhook and event loaded); the row is updated."""
    w: Webhook = d.webhook
    e: OutboxEvent = d.event
    try:
        addresses = await check_target(w.url, allow_private=allow_private)
    except WebhookTargetRefused as exc:
        answer = Answer(None, "", f"refused: {exc.detail}"[:300])
    else:
        body = body_of(e)
        answer = await sender.send(
            w.url, str(addresses[0]), body, signed_headers(w.secret, e.event_id, body)
        )
    now = clock.now()
    d.attempts += 1
    d.last_attempt_at = now
    d.last_status_code = answer.status_code
    d.last_response = answer.body[:RESPONSE_KEPT]
    d.last_error = answer.error[:300]
    if answer.ok:
        d.status = DeliveryStatus.DELIVERED
        d.delivered_at = now
    elif d.attempts >= MAX_ATTEMPTS:
        d.status = DeliveryStatus.FAILED
    else:
        d.status = DeliveryStatus.PENDING
        d.next_attempt_at = now + backoff(d.attempts)
    await d.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "last_status_code",
            "last_response",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    if not answer.ok:
        log.info(
            "webhook %s delivery %s attempt %d failed: %s",
            w.public_id,
            d.id,
            d.attempts,
            answer.status_code or answer.error[:80],
        )
    return answer


async def send_due(
    sender: Sender, *, allow_private: bool, limit: int = SEND_BATCH
) -> tuple[int, int, int]:
    """Attempt the deliveries that are due, to active webhooks; (sent, delivered, failed)."""
    due: Sequence[WebhookDelivery] = (
        await WebhookDelivery.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=clock.now(),
            webhook__active=True,
        )
        .order_by("next_attempt_at", "id")
        .limit(limit)
        .select_related("webhook", "event")
    )
    if not due:
        return 0, 0, 0
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(d: WebhookDelivery) -> bool:
        async with gate:
            return (await attempt(d, sender, allow_private=allow_private)).ok

    results = await asyncio.gather(*(one(d) for d in due))
    delivered = sum(results)
    return len(due), delivered, len(due) - delivered


async def dispatch_once(sender: Sender, *, allow_private: bool) -> PassResult:
    """One pass: fan out waiting events, then send what is due."""
    result = PassResult()
    result.fanned_out, result.deliveries = await fan_out()
    result.sent, result.delivered, result.failed = await send_due(
        sender, allow_private=allow_private
    )
    return result


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_dispatcher(
    *,
    leases: Leases,
    sender: Sender,
    allow_private: bool,
    poll_seconds: float,
    stop: asyncio.Event | None = None,
) -> None:
    """Dispatch until `stop` is set, in the one process that holds the dispatcher's lease."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await _dispatch_while_held(leases, sender, allow_private, poll_seconds, stop)
        except Exception:
            # the database or Redis away: the outbox keeps the events until we are back
            log.exception("webhook dispatcher interrupted; trying again")
            await _pause(stop, max(poll_seconds, 1.0))


async def _dispatch_while_held(
    leases: Leases, sender: Sender, allow_private: bool, poll_seconds: float, stop: asyncio.Event
) -> None:
    async with holding(leases, LEASE, ttl=LEASE_TTL) as held:
        if held is None:
            await _pause(stop, LEASE_TTL / 3)
            return
        log.info("webhook dispatcher: this process sends")
        while not stop.is_set() and not held.lost:
            try:
                busy = (await dispatch_once(sender, allow_private=allow_private)).busy
            except Exception:
                log.exception("webhook dispatch pass failed; trying again")
                busy = False
            if not busy:
                await _pause(stop, poll_seconds)


async def prune_history(*, older_than: timedelta) -> int:
    """Delete deliveries that finished (delivered or failed) and were made before the cut-off,
    then fanned-out events that old with no delivery left; pending ones stay. Rows deleted."""
    cutoff = clock.now() - older_than
    total = 0
    while True:
        ids = (
            await WebhookDelivery.filter(
                status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
                created_at__lt=cutoff,
            )
            .limit(PRUNE_BATCH)
            .values_list("id", flat=True)
        )
        if not ids:
            break
        total += await WebhookDelivery.filter(id__in=list(ids)).delete()
    after = 0
    while True:
        rows = (
            await OutboxEvent.filter(fanned_out=True, created_at__lt=cutoff, id__gt=after)
            .order_by("id")
            .limit(PRUNE_BATCH)
            .values_list("id", flat=True)
        )
        events = cast(list[int], rows)  # flat values_list: the ids themselves
        if not events:
            return total
        after = max(events)
        owed = set(
            await WebhookDelivery.filter(event_id__in=events).values_list("event_id", flat=True)
        )
        done = [e for e in events if e not in owed]
        if done:
            total += await OutboxEvent.filter(id__in=done).delete()
