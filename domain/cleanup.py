"""Cleanup: what is kept only for a while.

- uploaded files leave object storage 24 h (configurable) after their import finished;
- large-upload sessions whose file never arrived expire (and any partial object goes);
- stored `Idempotency-Key` answers expire;
- expired job leases are purged (the per-slot leases would pile up otherwise);
- dashboard sessions past their expiry are deleted;
- waitlists (addresses, chat ids, their notices) go 30 days (configurable) after their
  campaign ended (`domain.waitlist.forget_after_end`; deleting a campaign deletes its
  waitlist at once, by foreign key).
Every step is a conditional update or a delete of rows past a cut-off, so running it twice,
or on two processes, does no harm.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import clock, developers, waitlist
from domain.models import IdempotencyRecord, JobLease, Upload
from domain.storage import ObjectStore

log = logging.getLogger(__name__)

BATCH = 500
FINISHED = ("done", "failed")
WAITING = ("pending",)


@dataclass(slots=True)
class CleanupResult:
    upload_objects_deleted: int = 0
    upload_sessions_expired: int = 0
    idempotency_records_deleted: int = 0
    leases_purged: int = 0
    dashboard_sessions_expired: int = 0
    waitlist_entries_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def delete_processed_uploads(*, store: ObjectStore, older_than: timedelta) -> int:
    """Delete uploaded files whose import finished more than `older_than` ago."""
    cutoff = clock.now() - older_than
    deleted = 0
    while True:
        rows = (
            await Upload.filter(
                object_key__isnull=False,
                object_deleted_at__isnull=True,
                status__in=FINISHED,
                finished_at__lt=cutoff,
            )
            .order_by("id")
            .limit(BATCH)
        )
        if not rows:
            return deleted
        for u in rows:
            assert u.object_key is not None
            await store.delete(u.object_key)
            deleted += await Upload.filter(id=u.id, object_deleted_at__isnull=True).update(
                object_deleted_at=clock.now()
            )


async def expire_upload_sessions(*, store: ObjectStore, older_than: timedelta) -> int:
    """Expire large-upload sessions still waiting for their file after `older_than`."""
    cutoff = clock.now() - older_than
    expired = 0
    while True:
        rows = await Upload.filter(status__in=WAITING, created_at__lt=cutoff).limit(BATCH)
        if not rows:
            return expired
        for u in rows:
            changed = await Upload.filter(id=u.id, status__in=WAITING).update(
                status="expired", finished_at=clock.now(), object_deleted_at=clock.now()
            )
            if changed and u.object_key:
                await store.delete(u.object_key)
            expired += changed


async def expire_idempotency_records(*, older_than: timedelta) -> int:
    """Delete stored Idempotency-Key answers older than `older_than` (in batches)."""
    cutoff = clock.now() - older_than
    total = 0
    while True:
        ids = (
            await IdempotencyRecord.filter(created_at__lt=cutoff)
            .limit(5 * BATCH)
            .values_list("id", flat=True)
        )
        if not ids:
            return total
        total += await IdempotencyRecord.filter(id__in=list(ids)).delete()


async def purge_expired_leases(*, grace: timedelta = timedelta(minutes=5)) -> int:
    """Delete job lease rows that expired more than `grace` ago (wall clock, like leases)."""
    return await JobLease.filter(expires_at__lt=datetime.now(UTC) - grace).delete()


async def run_cleanup(
    *,
    store: ObjectStore,
    upload_object_ttl: timedelta,
    upload_session_ttl: timedelta,
    idempotency_ttl: timedelta,
    waitlist_ttl: timedelta = timedelta(days=30),
) -> CleanupResult:
    """Every cleanup step, once."""
    result = CleanupResult(
        upload_objects_deleted=await delete_processed_uploads(
            store=store, older_than=upload_object_ttl
        ),
        upload_sessions_expired=await expire_upload_sessions(
            store=store, older_than=upload_session_ttl
        ),
        idempotency_records_deleted=await expire_idempotency_records(older_than=idempotency_ttl),
        leases_purged=await purge_expired_leases(),
        dashboard_sessions_expired=await developers.forget_expired_sessions(),
        waitlist_entries_deleted=await waitlist.forget_after_end(older_than=waitlist_ttl),
    )
    log.info("cleanup: %s", result.as_dict())
    return result
