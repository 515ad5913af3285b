"""Webhooks: a developer's endpoints for events, their deliveries, retries and pings.

Every function is scoped to the caller: another developer's webhook reads as not found.
The secret (`whsec_<base64>`, Standard Webhooks) is shown once, when the webhook is made.
Targets are checked against server-side request forgery here, when a webhook is made or
changed, and again by the dispatcher before every attempt (a name can resolve elsewhere
later): only http and https, and no loopback, private, link-local, multicast, reserved or
unspecified address unless `CODEDROP_WEBHOOK_ALLOW_PRIVATE=true`.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain import audit, clock, outbox
from domain.audit import Action
from domain.errors import (
    DeliveryNotFound,
    ValidationFailed,
    WebhookNotFound,
    WebhookTargetRefused,
)
from domain.models import OutboxEvent, Webhook, WebhookDelivery

MAX_URL = 2000
MAX_DESCRIPTION = 200
MAX_WEBHOOKS_PER_OWNER = 20
DELIVERIES_PAGE = 100

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: str
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedWebhook:
    """A new webhook and its signing secret, shown this once."""

    webhook: WebhookView
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    event_id: str
    event: str
    campaign_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_response: str
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _view(w: Webhook) -> WebhookView:
    return WebhookView(
        id=w.public_id,
        url=w.url,
        description=w.description,
        events=sorted(w.events or {}),
        active=w.active,
        created_at=w.created_at,
        updated_at=w.updated_at,
    )


def _delivery_view(d: WebhookDelivery) -> DeliveryView:
    e: OutboxEvent = d.event
    return DeliveryView(
        id=d.id,
        event_id=e.event_id,
        event=e.name,
        campaign_id=e.campaign_id,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == DeliveryStatus.PENDING else None,
        last_attempt_at=d.last_attempt_at,
        last_status_code=d.last_status_code,
        last_response=d.last_response,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
        created_at=d.created_at,
    )


# ---------------------------------------------------------------- targets (SSRF)


def is_public_address(ip: IPAddress) -> bool:
    """An address on the public internet: not loopback, private, link-local, multicast,
    reserved, unspecified or shared (carrier-grade NAT); IPv4-mapped IPv6 judged as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a well-formed http(s) URL, or `ValidationFailed` on `url`."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise ValidationFailed(f"A webhook URL is 1-{MAX_URL} characters.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed(f"The URL cannot be read: {exc}.", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetRefused("Webhook URLs use http or https.", field="url")
    if not parts.hostname:
        raise ValidationFailed("The URL has no host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            "Put no credentials in the URL; check the signature instead.", field="url"
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to (an address literal is its own answer)."""
    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5
        )
    except (OSError, TimeoutError, UnicodeError, ValueError):
        return []
    found: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in found:
            found.append(ip)
    return found


async def check_target(url: str, *, allow_private: bool) -> list[IPAddress]:
    """The addresses a delivery to `url` may connect to; `WebhookTargetRefused` when none.

    Every address the name resolves to must be public (one private answer is enough for a
    rebinding trick), unless private targets are allowed.
    """
    _, host, port = check_url(url)
    addresses = await resolve(host, port)
    if not addresses:
        raise WebhookTargetRefused(f"The host {host!r} does not resolve.", field="url")
    if not allow_private:
        refused = [str(ip) for ip in addresses if not is_public_address(ip)]
        if refused:
            raise WebhookTargetRefused(
                f"The host {host!r} resolves to a loopback, private or reserved address"
                f" ({', '.join(refused)}); webhooks go to public addresses only.",
                field="url",
            )
    return addresses


# ---------------------------------------------------------------- webhooks


def _check_events(events: list[str] | None) -> list[str]:
    if not events:
        raise ValidationFailed(
            "Subscribe to at least one event: " + ", ".join(outbox.EVENT_TYPES) + ".",
            field="events",
        )
    unknown = sorted({e for e in events if e not in outbox.EVENT_TYPES})
    if unknown:
        raise ValidationFailed(
            f"Unknown event(s) {', '.join(unknown)}; events: "
            + ", ".join(outbox.EVENT_TYPES)
            + ".",
            field="events",
        )
    return sorted(set(events))


def _check_description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed(
            f"A description is at most {MAX_DESCRIPTION} characters.", field="description"
        )
    return text


def _effective_from() -> str:
    """When a subscription made now starts to be owed events (domain/outbox.py's rule)."""
    return (clock.now() + timedelta(seconds=outbox.TAKES_EFFECT_AFTER)).isoformat()


async def _owned(owner_id: int, webhook_id: str) -> Webhook:
    w = await Webhook.get_or_none(public_id=webhook_id, owner_id=owner_id)
    if w is None:
        raise WebhookNotFound(f"No webhook with id {webhook_id!r}.")
    return w


async def _audit(
    action: Action, owner_id: int, w: Webhook, conn: BaseDBAsyncClient, **detail: Any
) -> None:
    """The audit row of a webhook change: its id and host, never its secret."""
    host = urlsplit(w.url).hostname or ""
    await audit.record(
        action,
        actor_id=owner_id,
        owner_id=owner_id,
        target=f"webhook:{w.public_id}",
        detail={"host": host, **detail},
        using_db=conn,
    )


async def create_webhook(
    *,
    owner_id: int,
    url: str,
    events: list[str],
    description: str = "",
    active: bool = True,
    allow_private: bool = False,
) -> IssuedWebhook:
    """Register an endpoint for `events`; its secret is in the answer and never again."""
    names = _check_events(events)
    text = _check_description(description)
    url = url.strip()
    await check_target(url, allow_private=allow_private)
    if await Webhook.filter(owner_id=owner_id).count() >= MAX_WEBHOOKS_PER_OWNER:
        raise ValidationFailed(
            f"At most {MAX_WEBHOOKS_PER_OWNER} webhooks per account; delete one first.",
            field="url",
        )
    since = _effective_from()
    secret = new_secret()
    async with in_transaction() as conn:
        w = await Webhook.create(
            public_id="wh_" + secrets.token_hex(10),
            owner_id=owner_id,
            url=url,
            description=text,
            events={name: since for name in names},
            secret=secret,
            active=active,
            using_db=conn,
        )
        await _audit(Action.WEBHOOK_CREATE, owner_id, w, conn, events=sorted(names))
    outbox.forget_subscriptions(owner_id)
    return IssuedWebhook(webhook=_view(w), secret=secret)


async def list_webhooks(*, owner_id: int) -> list[WebhookView]:
    """The caller's webhooks, oldest first."""
    return [_view(w) for w in await Webhook.filter(owner_id=owner_id).order_by("id")]


async def get_webhook(*, owner_id: int, webhook_id: str) -> WebhookView:
    return _view(await _owned(owner_id, webhook_id))


async def update_webhook(
    *,
    owner_id: int,
    webhook_id: str,
    changes: dict[str, Any],
    allow_private: bool = False,
) -> WebhookView:
    """Change url, events, description or active; new subscriptions take effect as the
    outbox rule says (a re-activated webhook is owed events from then on, not the gap)."""
    w = await _owned(owner_id, webhook_id)
    if "url" in changes and changes["url"] is not None:
        url = str(changes["url"]).strip()
        await check_target(url, allow_private=allow_private)
        w.url = url
    if "description" in changes:
        w.description = _check_description(changes["description"])
    reactivated = changes.get("active") is True and not w.active
    if "active" in changes and changes["active"] is not None:
        w.active = bool(changes["active"])
    current: dict[str, str] = dict(w.events or {})
    if "events" in changes and changes["events"] is not None:
        names = _check_events(list(changes["events"]))
        since = _effective_from()
        current = {name: current.get(name, since) for name in names}
    if reactivated:
        since = _effective_from()
        current = {name: since for name in current}
    w.events = current
    async with in_transaction() as conn:
        await w.save(using_db=conn)
        await _audit(Action.WEBHOOK_UPDATE, owner_id, w, conn, fields=sorted(changes))
    outbox.forget_subscriptions(owner_id)
    return _view(w)


async def delete_webhook(*, owner_id: int, webhook_id: str) -> None:
    """Delete a webhook and its delivery history."""
    w = await _owned(owner_id, webhook_id)
    async with in_transaction() as conn:
        await _audit(Action.WEBHOOK_DELETE, owner_id, w, conn)
        await w.delete(using_db=conn)
    outbox.forget_subscriptions(owner_id)


# ---------------------------------------------------------------- deliveries


async def list_deliveries(
    *, owner_id: int, webhook_id: str, status: str | None = None, limit: int = DELIVERIES_PAGE
) -> list[DeliveryView]:
    """A webhook's deliveries, newest first (status, attempts, last answer)."""
    w = await _owned(owner_id, webhook_id)
    if status is not None and status not in (
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
    ):
        raise ValidationFailed(
            f"Unknown status {status!r}; use pending, delivered or failed.", field="status"
        )
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit is 1-1000.", field="limit")
    query = WebhookDelivery.filter(webhook_id=w.id)
    if status is not None:
        query = query.filter(status=status)
    rows = await query.order_by("-id").limit(limit).select_related("event")
    return [_delivery_view(d) for d in rows]


async def retry_delivery(*, owner_id: int, webhook_id: str, delivery_id: int) -> DeliveryView:
    """Send a delivery again at the dispatcher's next pass (a delivered one is sent again too:
    receivers de-duplicate on the event id)."""
    w = await _owned(owner_id, webhook_id)
    d = await WebhookDelivery.get_or_none(id=delivery_id, webhook_id=w.id)
    if d is None:
        raise DeliveryNotFound(f"No delivery {delivery_id} for webhook {webhook_id!r}.")
    d.status = DeliveryStatus.PENDING
    d.next_attempt_at = clock.now()
    await d.save(update_fields=["status", "next_attempt_at"])
    await d.fetch_related("event")
    return _delivery_view(d)


async def ping(*, owner_id: int, webhook_id: str) -> DeliveryView:
    """Queue a `webhook.ping` test event for this webhook alone (sent at the next pass)."""
    w = await _owned(owner_id, webhook_id)
    now = clock.now()
    async with in_transaction() as conn:
        event = await OutboxEvent.create(
            event_id=outbox.new_event_id(),
            owner_id=owner_id,
            name=outbox.WEBHOOK_PING,
            campaign_id="",
            payload=json.dumps({"webhook_id": w.public_id}),
            created_at=now,
            fanned_out=True,
            using_db=conn,
        )
        d = await WebhookDelivery.create(
            webhook_id=w.id, event_id=event.id, next_attempt_at=now, using_db=conn
        )
    d.event = event
    return _delivery_view(d)
