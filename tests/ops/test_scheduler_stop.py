"""A stop lets the running job finish its current step: archival ends after the batch it is
moving (committed whole), and the next run resumes where it stopped."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from domain import codes
from domain.adapters.bootstrap import Services
from domain.clock import frozen_at
from domain.models import ArchivedCode, PromoCode
from scheduler.runner import Scheduler, _fire
from tests import factories

CODES = 20_000
BATCH = 100


async def test_stopping_the_scheduler_ends_archival_after_its_current_batch(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, name="Archive me")
    text = factories.codes_csv(CODES, prefix="OLD")
    with frozen_at(datetime.now(UTC) - timedelta(days=40)):
        await factories.upload_codes(dev.id, c.id, text)
        names = text.splitlines()[1:]
        for start in range(0, CODES, 1000):
            await codes.mark_used(
                owner_id=dev.id, campaign_id=c.id, codes=names[start : start + 1000]
            )
    settings = services.settings.model_copy(update={"archive_batch_size": BATCH})
    svc = Services(
        settings, services.events, services.limiter, services.store, services.leases, services.mail
    )
    jobs = Scheduler(svc, [])

    running = asyncio.create_task(_fire("archive", svc, [], jobs))
    deadline = time.monotonic() + 60
    while await ArchivedCode.all().count() == 0:  # the job is moving batches
        assert time.monotonic() < deadline and not running.done()
        await asyncio.sleep(0.01)
    assert jobs.running == {running}
    stopped_at = time.monotonic()
    await asyncio.wait_for(jobs.stop(), 30)
    took = time.monotonic() - stopped_at
    await jobs.close()

    assert running.done() and not running.cancelled()  # finished, not cancelled mid-step
    archived = await ArchivedCode.all().count()
    left = await PromoCode.filter(campaign__public_id=c.id).count()
    assert 0 < archived < CODES, archived  # it stopped early...
    assert archived % BATCH == 0 and archived + left == CODES  # ...after a whole batch
    assert took < 5, took

    # the next run resumes and finishes the work
    again = Scheduler(svc, [])
    await _fire("archive", svc, [], again)
    assert await ArchivedCode.all().count() == CODES
