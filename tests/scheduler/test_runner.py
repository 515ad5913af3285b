"""The runner: scheduler wiring, leases, and two real scheduler processes on one job."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from domain import codes
from domain.adapters.bootstrap import Services
from domain.adapters.leases import DatabaseLeases, RedisLeases
from domain.clock import frozen_at
from domain.leases import Leases, holding
from domain.models import ArchivedCode, PromoCode
from domain.settings import Settings
from scheduler.runner import JOBS, build_scheduler, run_job, run_scheduled
from tests import factories
from tests.conftest import ROOT
from tests.scheduler.conftest import RecordingEvents


async def test_the_scheduler_holds_every_job_under_a_stable_id_in_utc(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    scheduler = build_scheduler(svc, [])

    assert not scheduler.running
    assert str(scheduler.timezone) == "UTC"
    found = {job.id: job for job in scheduler.get_jobs()}
    assert (
        set(found)
        == set(JOBS)
        == {
            "archive",
            "reports",
            "lifecycle",
            "low_stock",
            "expiry",
            "cleanup",
            "process_uploads",
            "waitlist_mail",
        }
    )
    for job in found.values():
        assert job.coalesce is True and job.max_instances == 1
    archive = found["archive"].trigger
    assert isinstance(archive, CronTrigger)
    assert str(archive.fields[5]) == str(svc.settings.archive_hour)  # the hour field
    assert isinstance(found["lifecycle"].trigger, IntervalTrigger)
    assert found["lifecycle"].trigger.interval == timedelta(
        seconds=svc.settings.lifecycle_interval_seconds
    )


async def test_run_job_runs_now_and_returns_a_summary(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    when = datetime.now(UTC)
    with frozen_at(when - timedelta(days=1)):
        await factories.campaign(dev.id, status="draft", starts_at=when - timedelta(hours=1))

    summary = await run_job("lifecycle", svc, [])

    assert summary["job"] == "lifecycle" and summary["status"] == "ran"
    assert summary["result"] == {"started": 1, "announced": 0, "ended": 0, "sold_out": 0}
    with pytest.raises(KeyError):
        await run_job("nope", svc, [])


async def test_a_second_firing_in_the_same_slot_is_skipped(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    at = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    first = await run_scheduled("cleanup", svc, [], at=at)
    second = await run_scheduled("cleanup", svc, [], at=at + timedelta(seconds=5))

    assert first["status"] == "ran" and second["status"] == "skipped"
    assert first["slot"] == second["slot"] == "2030-01-01T12:00:00"


async def _check_leases(leases: Leases) -> None:
    name = f"test:{datetime.now(UTC).timestamp()}"
    assert await leases.acquire(name, owner="a", ttl=30)
    assert not await leases.acquire(name, owner="b", ttl=30)
    assert not await leases.renew(name, owner="b", ttl=30)
    await leases.release(name, owner="b")  # not b's to release
    assert not await leases.acquire(name, owner="b", ttl=30)
    assert await leases.renew(name, owner="a", ttl=30)
    await leases.release(name, owner="a")
    assert await leases.acquire(name, owner="b", ttl=0.2)
    async with holding(leases, name, ttl=30, owner="c") as held:
        assert held is None  # b still holds it


async def test_database_leases_admit_one_holder(db: Settings) -> None:
    await _check_leases(DatabaseLeases())


async def test_redis_leases_admit_one_holder(redis_url: str) -> None:
    leases = RedisLeases(redis_url)
    try:
        await _check_leases(leases)
    finally:
        await leases.close()


async def test_an_expired_database_lease_is_taken_over(db: Settings) -> None:
    leases = DatabaseLeases()
    assert await leases.acquire("job:x", owner="dead", ttl=0.05)
    await asyncio.sleep(0.1)  # lease expiry is wall-clock time passing, nothing to await
    assert await leases.acquire("job:x", owner="alive", ttl=30)
    assert not await leases.renew("job:x", owner="dead", ttl=30)


async def _spawn(
    settings: Settings, storage: Path, redis: str, job: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.scheduler.worker",
        settings.database_url,
        str(storage),
        redis,
        job,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("lease_backend", ["database", "redis"])
async def test_two_scheduler_processes_firing_the_same_job_produce_one_result(
    recorded: tuple[Services, RecordingEvents],
    tmp_path: Path,
    lease_backend: str,
    request: pytest.FixtureRequest,
) -> None:
    redis = request.getfixturevalue("redis_url") if lease_backend == "redis" else ""
    if redis:
        cleaner = RedisLeases(redis)
        await cleaner._client.flushdb()
        await cleaner.close()
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    text = factories.codes_csv(5_000, prefix="TWO")
    with frozen_at(datetime.now(UTC) - timedelta(days=45)):
        await factories.upload_codes(dev.id, c.id, text)
        names = text.splitlines()[1:]
        for start in range(0, len(names), 1000):
            await codes.mark_used(
                owner_id=dev.id, campaign_id=c.id, codes=names[start : start + 1000]
            )
    settings = recorded[0].settings
    storage = tmp_path / "shared-objects"

    workers = [await _spawn(settings, storage, redis, "archive") for _ in range(2)]
    for w in workers:
        assert w.stdin is not None and w.stdout is not None
        assert (await w.stdout.readline()).strip() == b"ready"
    for w in workers:
        assert w.stdin is not None
        w.stdin.write(b"go\n")
        await w.stdin.drain()
    outputs = [await asyncio.wait_for(w.communicate(), timeout=120) for w in workers]
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [w.returncode for w in workers] == [0, 0]

    assert sorted(s["status"] for s in summaries) == ["ran", "skipped"]
    [ran] = [s for s in summaries if s["status"] == "ran"]
    assert ran["result"]["moved"] == 5_000 and ran["result"]["exported"] == 5_000
    archived = await ArchivedCode.all().values_list("original_id", flat=True)
    assert len(archived) == len(set(archived)) == 5_000
    assert await PromoCode.filter(campaign_id__isnull=False, code__startswith="TWO").count() == 0
    assert len(list(storage.rglob("*.csv.gz"))) == 1
