"""Archival of used codes: batches, a crash between them, resumption, export, analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import analytics, codes
from domain.adapters.bootstrap import Services
from domain.adapters.s3 import S3ObjectStore
from domain.archive import (
    WATERMARK_KEY,
    archive_used_codes,
    export_archived,
    read_archive_csv,
    read_state,
)
from domain.clock import frozen_at
from domain.models import ArchivedCode, PromoCode
from domain.settings import Settings
from domain.storage import ObjectStore
from tests import factories
from tests.scheduler.conftest import RecordingEvents

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=10)
N = 100_000


class InjectedCrash(Exception):
    pass


async def _used_codes(owner_id: int, campaign_id: str, n: int, prefix: str, at: datetime) -> None:
    """Upload `n` codes and mark them used at `at`, through the domain."""
    text = factories.codes_csv(n, prefix=prefix)
    with frozen_at(at):
        await factories.upload_codes(owner_id, campaign_id, text)
        names = [line for line in text.splitlines()[1:]]
        for start in range(0, n, codes.MAX_BULK):
            done = await codes.mark_used(
                owner_id=owner_id, campaign_id=campaign_id, codes=names[start : start + 1000]
            )
            assert done.updated == len(names[start : start + 1000])


async def _all_rows(store: ObjectStore, keys: list[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for key in keys:
        rows.extend(await read_archive_csv(store, key))
    return rows


@pytest.mark.slow
async def test_archival_of_100000_codes_survives_a_crash_between_batches(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    services, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, name="Big launch")
    await _used_codes(dev.id, c.id, N, "OLD", OLD)
    await _used_codes(dev.id, c.id, 10, "NEW", RECENT)  # used too recently: stays
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5, prefix="AVL"))
    old_ids = set(await PromoCode.filter(code__startswith="OLD").values_list("id", flat=True))
    assert len(old_ids) == N
    before = await analytics.campaign_analytics(owner_id=dev.id, campaign_id=c.id)

    async def crash_after_17(batch: int) -> None:
        if batch == 17:
            raise InjectedCrash

    with frozen_at(NOW), pytest.raises(InjectedCrash):
        await archive_used_codes(
            store=services.store,
            older_than=timedelta(days=30),
            batch_size=2_000,
            after_batch=crash_after_17,
        )

    # exactly the committed batches moved; nothing exported yet; nothing lost
    assert await ArchivedCode.all().count() == 17 * 2_000
    assert await PromoCode.filter(code__startswith="OLD").count() == N - 17 * 2_000
    assert await services.store.size(WATERMARK_KEY) is None

    with frozen_at(NOW):
        resumed = await archive_used_codes(
            store=services.store, older_than=timedelta(days=30), batch_size=2_000
        )

    assert resumed.moved == N - 17 * 2_000
    archived = await ArchivedCode.all().values_list("original_id", flat=True)
    assert len(archived) == N and set(archived) == old_ids  # nothing lost, nothing twice
    assert await PromoCode.filter(code__startswith="OLD").count() == 0
    assert await PromoCode.filter(code__startswith="NEW", status="used").count() == 10
    assert await PromoCode.filter(code__startswith="AVL", status="available").count() == 5

    # the export holds every archived code once, including the crashed run's
    assert resumed.exported == N
    rows = await _all_rows(services.store, resumed.object_keys)
    assert len(rows) == N
    assert {r["code"] for r in rows} == {f"OLD{i:06d}" for i in range(N)}
    assert {r["campaign"] for r in rows} == {c.id}
    assert (await read_state(services.store))["exported_through_id"] == max(
        await ArchivedCode.all().values_list("id", flat=True)
    )

    # analytics still count archived codes
    after = await analytics.campaign_analytics(owner_id=dev.id, campaign_id=c.id)
    assert (after.used, after.total, after.archived) == (before.used, before.total, N)

    with frozen_at(NOW):
        again = await archive_used_codes(store=services.store, older_than=timedelta(days=30))
    assert (again.moved, again.exported, again.object_keys) == (0, 0, [])


async def test_an_export_interrupted_before_its_watermark_is_redone_for_the_same_range(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    services, _ = recorded
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await _used_codes(dev.id, c.id, 30, "OLD", OLD)
    with frozen_at(NOW):
        first = await archive_used_codes(store=services.store, older_than=timedelta(days=30))
    [key] = first.object_keys
    # the state an export leaves when it dies after writing the file: range still pending
    state = await read_state(services.store)
    top = state["exported_through_id"]
    await services.store.put(
        WATERMARK_KEY,
        f'{{"exported_through_id": {top - 30}, "pending_through_id": {top}}}'.encode(),
    )
    await _used_codes(dev.id, c.id, 20, "MORE", OLD)
    with frozen_at(NOW):
        second = await archive_used_codes(store=services.store, older_than=timedelta(days=30))

    assert second.object_keys[0] == key  # the same range overwrote the same object
    assert len(second.object_keys) == 2
    rows = await _all_rows(services.store, second.object_keys)
    assert len(rows) == 50 and len({r["code"] for r in rows}) == 50


async def test_archives_go_to_s3_as_gzip_csv(db: Settings, s3_store: S3ObjectStore) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await _used_codes(dev.id, c.id, 1_500, "S3X", OLD)

    with frozen_at(NOW):
        result = await archive_used_codes(
            store=s3_store, older_than=timedelta(days=30), batch_size=500
        )

    assert (result.moved, result.batches, result.exported) == (1_500, 3, 1_500)
    [key] = result.object_keys
    assert key.startswith("archives/2026/06/01/archived-") and key.endswith(".csv.gz")
    rows = await read_archive_csv(s3_store, key)
    assert [r["code"] for r in rows] == [f"S3X{i:06d}" for i in range(1_500)]
    assert rows[0]["used_at"].startswith(OLD.date().isoformat())
    assert (await export_archived(store=s3_store)).rows == 0
