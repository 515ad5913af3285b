"""Large uploads: our own signed URL (embedded) and presigned S3 URLs (moto over HTTP),
background processing with progress, and a restart after a crash midway."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from domain import uploads
from domain.adapters.bootstrap import Services, bootstrap
from domain.adapters.leases import DatabaseLeases
from domain.adapters.ratelimits import MemoryRateLimiter
from domain.adapters.s3 import S3ObjectStore
from domain.clock import now
from domain.errors import CampaignNotFound, Conflict, FileTooLarge, RateLimited, Unauthorized
from domain.large_uploads import (
    admit_large_upload,
    complete_upload,
    content_token,
    process_upload,
    process_waiting_uploads,
    receive_content,
    start_upload,
    upload_progress,
)
from domain.models import Campaign, PromoCode, Upload
from domain.settings import Settings
from domain.uploads import bytes_chunks, import_file
from tests import factories
from tests.scheduler.conftest import RecordingEvents


def _token(url: str) -> str:
    return url.split("token=", 1)[1]


async def test_the_embedded_flow_puts_to_our_own_signed_url_then_imports(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, bus = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    body = (factories.codes_csv(2_500) + "bad code!\nCODE000001\n").encode()

    ticket = await start_upload(
        svc,
        await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id),
        filename="C:\\exports\\codes.csv",
    )
    assert ticket.method == "PUT" and not ticket.direct_to_storage
    assert ticket.url.startswith(
        f"{svc.settings.public_url}/api/uploads/{ticket.upload_id}/content?token="
    )
    pending = await upload_progress(owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id)
    assert pending.status == "pending" and pending.report.filename == "codes.csv"
    with pytest.raises(Conflict):  # nothing arrived yet
        await complete_upload(
            owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=svc
        )

    size = await receive_content(
        upload_id=ticket.upload_id,
        token=_token(ticket.url),
        chunks=bytes_chunks(body, 4096),
        services=svc,
    )
    assert size == len(body)
    queued = await complete_upload(
        owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=svc
    )
    assert queued.status == "uploaded" and queued.report.total_bytes == len(body)

    done = await process_upload(upload_id=ticket.upload_id, services=svc)

    assert done is not None and done.status == "done"
    assert (done.rows_done, done.rows_total, done.percent) == (2_502, 2_503, 100.0)
    report = done.report
    assert (report.rows, report.imported, report.duplicates, report.invalid) == (
        2_502,
        2_500,
        1,
        1,
    )
    assert await PromoCode.filter(campaign_id=(await Campaign.get(public_id=c.id)).id).count() == (
        2_500
    )
    assert [e.name for e in bus.published][:1] == ["upload_finished"]
    # a repeated completion or processing changes nothing
    again = await complete_upload(
        owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=svc
    )
    assert again.status == "done"


async def test_our_upload_url_refuses_a_forged_or_expired_token(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    ticket = await start_upload(
        svc, await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id), filename="a.csv"
    )
    other = await start_upload(
        svc, await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id), filename="b.csv"
    )

    for token in ("", "123.abc", _token(other.url)):
        with pytest.raises(Unauthorized):
            await receive_content(
                upload_id=ticket.upload_id, token=token, chunks=bytes_chunks(b"x"), services=svc
            )
    expired = content_token(svc.settings, ticket.upload_id, now() - timedelta(seconds=1))
    with pytest.raises(Unauthorized):
        await receive_content(
            upload_id=ticket.upload_id, token=expired, chunks=bytes_chunks(b"x"), services=svc
        )


@pytest.fixture
async def s3_services(db: Settings, s3_store: S3ObjectStore) -> AsyncIterator[Services]:
    svc = bootstrap(db, store=s3_store)
    try:
        yield svc
    finally:
        await svc.close()


async def test_the_s3_flow_puts_to_a_presigned_url_with_plain_http(
    s3_services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    body = factories.codes_csv(3_000, prefix="S3U").encode()

    ticket = await start_upload(
        s3_services,
        await admit_large_upload(s3_services, developer_id=dev.id, campaign_id=c.id),
        filename="codes.csv",
    )
    assert ticket.direct_to_storage and "X-Amz-Signature=" in ticket.url
    async with httpx.AsyncClient() as http:
        assert (await http.put(ticket.url, content=body)).status_code == 200
    await complete_upload(
        owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=s3_services
    )

    summary = await process_waiting_uploads(services=s3_services)

    assert summary == {"processed": 1, "busy_elsewhere": 0}
    done = await upload_progress(owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id)
    assert (done.status, done.report.imported, done.rows_total) == ("done", 3_000, 3_001)


async def test_an_upload_interrupted_midway_is_restarted_without_duplicates(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    text = factories.codes_csv(4_000, prefix="RST")
    ticket = await start_upload(
        svc, await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id), filename="c.csv"
    )
    await receive_content(
        upload_id=ticket.upload_id,
        token=_token(ticket.url),
        chunks=bytes_chunks(text.encode()),
        services=svc,
    )
    await complete_upload(
        owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=svc
    )
    # what a process killed midway leaves behind: status `processing`, the first 1,500 codes
    # inserted, its lease expired
    row = await Upload.get(public_id=ticket.upload_id)
    campaign = await Campaign.get(public_id=c.id)
    with tempfile.TemporaryFile() as first_part:
        first_part.write("\n".join(text.splitlines()[:1_501]).encode() + b"\n")
        first_part.seek(0)
        await import_file(
            campaign=campaign,
            upload=row,
            handle=first_part,
            max_codes=10**6,
            batch_size=500,
            events_bus=svc.events,
        )
    await Upload.filter(id=row.id).update(status="processing")
    assert await PromoCode.filter(upload_id=row.id).count() == 1_500

    summary = await process_waiting_uploads(services=svc)

    assert summary["processed"] == 1
    done = await upload_progress(owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id)
    assert done.status == "done"
    assert (done.report.rows, done.report.imported, done.report.duplicates) == (4_000, 4_000, 0)
    assert done.report.errors == []
    assert await PromoCode.filter(campaign_id=campaign.id).count() == 4_000


async def test_an_upload_being_processed_elsewhere_is_left_alone(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    ticket = await start_upload(
        svc, await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id), filename="c.csv"
    )
    await receive_content(
        upload_id=ticket.upload_id,
        token=_token(ticket.url),
        chunks=bytes_chunks(b"code\nAAAA1111\n"),
        services=svc,
    )
    await complete_upload(
        owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=svc
    )
    leases = DatabaseLeases()
    assert await leases.acquire(f"upload:{ticket.upload_id}", owner="api-replica-2", ttl=60)

    assert await process_upload(upload_id=ticket.upload_id, services=svc) is None
    assert (await Upload.get(public_id=ticket.upload_id)).status == "uploaded"
    await leases.release(f"upload:{ticket.upload_id}", owner="api-replica-2")
    done = await process_upload(upload_id=ticket.upload_id, services=svc)
    assert done is not None and done.report.imported == 1


async def test_a_large_upload_declared_over_the_limit_is_refused_before_anything_is_stored(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    limit = svc.settings.large_upload_max_bytes

    with pytest.raises(FileTooLarge) as refused:
        await admit_large_upload(
            svc, developer_id=dev.id, campaign_id=c.id, declared_size=limit + 1
        )
    assert refused.value.extra["limit"] == limit
    admitted = await admit_large_upload(
        svc, developer_id=dev.id, campaign_id=c.id, declared_size=limit
    )
    assert admitted.campaign_id == c.id
    assert await Upload.filter(campaign_id=(await Campaign.get(public_id=c.id)).id).count() == 0


async def test_large_upload_starts_count_against_the_developers_upload_rate_limit(
    db: Settings,
) -> None:
    settings = db.model_copy(update={"rate_limit_upload": "2/minute"})
    svc = bootstrap(settings, limiter=MemoryRateLimiter())
    try:
        dev, _ = await factories.developer()
        c = await factories.campaign(dev.id)
        first = await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id)
        assert first.rate is not None and first.rate.remaining == 1
        # an in-request upload draws on the same bucket
        await uploads.admit_upload(svc, developer_id=dev.id, campaign_id=c.id)
        with pytest.raises(RateLimited):
            await admit_large_upload(svc, developer_id=dev.id, campaign_id=c.id)
    finally:
        await svc.close()


async def test_only_a_manager_of_the_campaign_is_admitted_to_a_large_upload(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    owner, _ = await factories.developer()
    stranger, _ = await factories.developer()
    c = await factories.campaign(owner.id)
    with pytest.raises(CampaignNotFound):
        await admit_large_upload(svc, developer_id=stranger.id, campaign_id=c.id)
