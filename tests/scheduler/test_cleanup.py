"""Cleanup: uploaded files 24 h after import, stale upload sessions, idempotency records,
expired leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.adapters.bootstrap import Services
from domain.cleanup import run_cleanup
from domain.clock import frozen_at, now
from domain.large_uploads import (
    admit_large_upload,
    complete_upload,
    process_upload,
    receive_content,
    start_upload,
)
from domain.models import IdempotencyRecord, JobLease, Upload
from domain.uploads import bytes_chunks
from tests import factories
from tests.scheduler.conftest import RecordingEvents

TTL = {
    "upload_object_ttl": timedelta(hours=24),
    "upload_session_ttl": timedelta(hours=24),
    "idempotency_ttl": timedelta(hours=24),
}


async def test_cleanup_removes_only_what_outlived_its_keep_time(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    start = datetime.now(UTC)
    with frozen_at(start):
        done = await start_upload(
            svc,
            await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id),
            filename="a.csv",
        )
        await receive_content(
            upload_id=done.upload_id,
            token=done.url.split("token=")[1],
            chunks=bytes_chunks(b"code\nAAAA1111\n"),
            services=svc,
        )
        await complete_upload(
            owner_id=dev.id, campaign_id=c.id, upload_id=done.upload_id, services=svc
        )
        await process_upload(upload_id=done.upload_id, services=svc)
        abandoned = await start_upload(
            svc,
            await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id),
            filename="b.csv",
        )
        await IdempotencyRecord.create(scope="k", key="old", request_hash="h", created_at=now())
    key = (await Upload.get(public_id=done.upload_id)).object_key
    assert key is not None and await svc.store.size(key) is not None
    await JobLease.create(name="job:gone", owner="x", expires_at=start - timedelta(hours=1))

    with frozen_at(start + timedelta(hours=23)):
        early = await run_cleanup(store=svc.store, **TTL)
    assert (early.upload_objects_deleted, early.upload_sessions_expired) == (0, 0)
    assert early.idempotency_records_deleted == 0 and early.leases_purged == 1

    with frozen_at(start + timedelta(hours=25)):
        await IdempotencyRecord.create(scope="k", key="fresh", request_hash="h", created_at=now())
        late = await run_cleanup(store=svc.store, **TTL)
        again = await run_cleanup(store=svc.store, **TTL)

    assert late.as_dict() == {
        "upload_objects_deleted": 1,
        "upload_sessions_expired": 1,
        "idempotency_records_deleted": 1,
        "leases_purged": 0,
        "dashboard_sessions_expired": 0,
        "waitlist_entries_deleted": 0,
    }
    assert await svc.store.size(key) is None
    assert (await Upload.get(public_id=abandoned.upload_id)).status == "expired"
    assert (await Upload.get(public_id=done.upload_id)).status == "done"
    assert await IdempotencyRecord.filter(key="fresh").exists()
    assert again.upload_objects_deleted == again.upload_sessions_expired == 0
