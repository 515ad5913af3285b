"""The scheduled jobs: module-level async functions, one domain call each.

Each takes a `JobContext` (the process's services, leases included, and the bots' notifiers) and
returns a small JSON-able summary. The rules live in the domain modules they call; the
work is idempotent, so a run repeated after a lost lease does no harm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain.adapters.bootstrap import Services
from domain.archive import archive_used_codes
from domain.cleanup import run_cleanup
from domain.expiry import run_expiry
from domain.large_uploads import process_waiting_uploads
from domain.lifecycle import advance_campaigns, check_low_stock
from domain.notify import Notifier
from domain.reports import run_daily_reports
from domain.webhook_dispatch import prune_history


@dataclass(frozen=True, slots=True)
class JobContext:
    services: Services
    notifiers: Sequence[Notifier]
    # set when the process shuts down: a job of several steps stops after its current one
    stopping: asyncio.Event | None = None

    def should_stop(self) -> bool:
        return self.stopping is not None and self.stopping.is_set()


async def archive(ctx: JobContext) -> dict[str, Any]:
    """Move codes used or expired over `archive_after_days` ago to `archived_codes`; export."""
    s = ctx.services.settings
    result = await archive_used_codes(
        store=ctx.services.store,
        older_than=timedelta(days=s.archive_after_days),
        batch_size=s.archive_batch_size,
        should_stop=ctx.should_stop,
    )
    return result.as_dict()


async def reports(ctx: JobContext) -> dict[str, Any]:
    """Write and deliver yesterday's report of every developer with running campaigns."""
    result = await run_daily_reports(store=ctx.services.store, notifiers=ctx.notifiers)
    return result.as_dict()


async def lifecycle(ctx: JobContext) -> dict[str, Any]:
    """Start scheduled campaigns, end expired ones, complete sold-out ones."""
    return (await advance_campaigns(events_bus=ctx.services.events)).as_dict()


async def expiry(ctx: JobContext) -> dict[str, Any]:
    """Move expired available codes to `expired`; tell owners of codes expiring soon (daily)."""
    return (await run_expiry(events_bus=ctx.services.events)).as_dict()


async def low_stock(ctx: JobContext) -> dict[str, Any]:
    """Alert owners once per crossing under their low-stock threshold."""
    return (await check_low_stock(events_bus=ctx.services.events)).as_dict()


async def cleanup(ctx: JobContext) -> dict[str, Any]:
    """Delete processed upload files, expire stale sessions, idempotency records, leases,
    and webhook deliveries and events past their retention."""
    s = ctx.services.settings
    result = await run_cleanup(
        store=ctx.services.store,
        upload_object_ttl=timedelta(hours=s.upload_object_ttl_hours),
        upload_session_ttl=timedelta(hours=s.upload_session_ttl_hours),
        idempotency_ttl=timedelta(hours=s.idempotency_ttl_hours),
        waitlist_ttl=timedelta(days=s.waitlist_keep_days),
    )
    pruned = await prune_history(older_than=timedelta(days=s.webhook_retention_days))
    return result.as_dict() | {"webhook_rows_pruned": pruned}


async def process_uploads(ctx: JobContext) -> dict[str, Any]:
    """Import large uploads that arrived, and restart ones a dead process left midway."""
    return await process_waiting_uploads(services=ctx.services)
