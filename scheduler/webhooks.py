"""The webhook dispatcher as a long-running task of `codedrop run` and `codedrop scheduler`.

Every process that runs it competes for one lease, so a deployment sends from one process at
a time; another takes over within the lease's life when that one stops.
"""

from __future__ import annotations

import asyncio

from domain.adapters.bootstrap import Services
from domain.adapters.webhook_http import WebhookSender
from domain.webhook_dispatch import run_dispatcher


async def run_webhooks(services: Services, stop: asyncio.Event | None = None) -> None:
    """Dispatch webhook events until cancelled or `stop` is set."""
    s = services.settings
    sender = WebhookSender(timeout=s.webhook_timeout_seconds)
    try:
        await run_dispatcher(
            leases=services.leases,
            sender=sender,
            allow_private=s.webhook_allow_private,
            poll_seconds=s.webhook_poll_seconds,
            stop=stop,
        )
    finally:
        await sender.close()
