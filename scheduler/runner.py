"""The scheduler: APScheduler 3 `AsyncIOScheduler` in UTC running the jobs of `scheduler.jobs`.

Jobs have stable ids (their names), `coalesce=True` (missed runs collapse into one) and
`max_instances=1`. Across processes (two replicas by mistake, a rolling deploy) each run
takes two leases through the lease client the process built once (`services.leases`):
`job:<name>@<slot>` (the schedule slot, kept after success so a second process firing for
the same slot skips it) and `job:<name>` (held while running, so a slow run never overlaps
the next one or a manual `codedrop jobs run`). The work itself is idempotent, so a lease
lost at a slot boundary costs time, not correctness.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import Counter, Histogram

from domain import clock, job_runs
from domain.adapters.bootstrap import Services
from domain.leases import holding, new_owner
from domain.notify import Notifier
from domain.settings import Settings
from scheduler import jobs
from scheduler.jobs import JobContext
from scheduler.mail import waitlist_mail

log = logging.getLogger(__name__)

JobFunction = Callable[[JobContext], Awaitable[dict[str, Any]]]

JOBS: dict[str, JobFunction] = {
    "archive": jobs.archive,
    "reports": jobs.reports,
    "lifecycle": jobs.lifecycle,
    "low_stock": jobs.low_stock,
    "expiry": jobs.expiry,
    "cleanup": jobs.cleanup,
    "process_uploads": jobs.process_uploads,
    "waitlist_mail": waitlist_mail,
}

DAY = 24 * 3600

JOB_RUNS = Counter(
    "codedrop_job_runs_total",
    "Scheduled job firings by outcome (ran, skipped: another process had it, failed)",
    ["job", "status"],
)
JOB_SECONDS = Histogram(
    "codedrop_job_seconds",
    "Duration of scheduled job runs",
    ["job"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job fires, and the length of the slot one run covers (seconds)."""

    trigger: BaseTrigger
    period: int
    description: str


def schedules(settings: Settings) -> dict[str, Schedule]:
    """Each job's trigger, from settings (all times UTC)."""

    def every(seconds: int) -> IntervalTrigger:
        return IntervalTrigger(seconds=seconds, timezone=UTC)

    lifecycle = settings.lifecycle_interval_seconds
    cleanup = settings.cleanup_interval_minutes * 60
    uploads = settings.upload_poll_seconds
    mail = settings.waitlist_mail_poll_seconds
    return {
        "archive": Schedule(
            CronTrigger(hour=settings.archive_hour, minute=0, timezone=UTC),
            DAY,
            f"daily at {settings.archive_hour:02d}:00 UTC",
        ),
        "reports": Schedule(
            CronTrigger(hour=settings.report_hour, minute=5, timezone=UTC),
            DAY,
            f"daily at {settings.report_hour:02d}:05 UTC",
        ),
        "lifecycle": Schedule(every(lifecycle), lifecycle, f"every {lifecycle} s"),
        "low_stock": Schedule(every(lifecycle), lifecycle, f"every {lifecycle} s"),
        "expiry": Schedule(every(lifecycle), lifecycle, f"every {lifecycle} s"),
        "cleanup": Schedule(every(cleanup), cleanup, f"every {cleanup // 60} min"),
        "process_uploads": Schedule(every(uploads), uploads, f"every {uploads} s"),
        "waitlist_mail": Schedule(every(mail), mail, f"every {mail} s"),
    }


def next_run(schedule: Schedule, last: datetime | None, now: datetime) -> datetime | None:
    """When the job fires next, as far as can be told from outside the scheduler process.

    A daily job fires at its hour whatever happens; an interval job fires `period` seconds
    after its last run while a scheduler runs (None: none has run it within a period).
    """
    if isinstance(schedule.trigger, CronTrigger):
        fire: datetime | None = schedule.trigger.get_next_fire_time(None, now)
        return fire
    if last is None:
        return None
    upcoming = last + timedelta(seconds=schedule.period)
    return upcoming if upcoming > now else None


def slot_of(period: int, at: datetime | None = None) -> str:
    """The schedule slot a run at `at` (wall clock) belongs to, e.g. `2026-11-25T00:00`."""
    stamp = (at or datetime.now(UTC)).timestamp()
    start = datetime.fromtimestamp(stamp - stamp % period, UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%S")


def _summary(name: str, status: str, started: float, **extra: Any) -> dict[str, Any]:
    return {"job": name, "status": status, "seconds": round(time.perf_counter() - started, 3)} | (
        extra
    )


async def _run_held(
    name: str,
    services: Services,
    notifiers: Sequence[Notifier],
    owner: str,
    stopping: asyncio.Event | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    started_at = clock.now()
    ttl = float(services.settings.job_lease_seconds)
    async with holding(services.leases, f"job:{name}", ttl=ttl, owner=owner) as running:
        if running is None:
            log.info("job %s skipped: it is running in another process", name)
            return _summary(name, "skipped", started, reason="running elsewhere")
        try:
            result = await JOBS[name](JobContext(services, notifiers, stopping))
        except Exception as exc:
            await _remember(name, job_runs.FAILED, started_at, {"error": _brief(exc)})
            raise
    log.info("job %s done in %.2fs: %s", name, time.perf_counter() - started, result)
    await _remember(name, job_runs.RAN, started_at, result)
    return _summary(name, "ran", started, result=result)


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


async def _remember(name: str, status: str, started_at: datetime, result: dict[str, Any]) -> None:
    """Record the run for `codedrop jobs list`; never let the record hide the run's outcome."""
    try:
        await job_runs.record(
            name=name,
            status=status,
            started_at=started_at,
            finished_at=clock.now(),
            summary=json.loads(json.dumps(result, default=str)),
        )
    except Exception as exc:
        log.warning("job %s: its run could not be recorded: %s", name, _brief(exc))


async def run_job(name: str, services: Services, notifiers: Sequence[Notifier]) -> dict[str, Any]:
    """Run one job now (operators, tests), under its running lease; a summary to print."""
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    return await _run_held(name, services, notifiers, new_owner())


async def run_scheduled(
    name: str,
    services: Services,
    notifiers: Sequence[Notifier],
    *,
    at: datetime | None = None,
    stopping: asyncio.Event | None = None,
) -> dict[str, Any]:
    """One scheduled firing: at most one process runs each slot of each job."""
    period = schedules(services.settings)[name].period
    slot = slot_of(period, at)
    started = time.perf_counter()
    owner = new_owner()
    slot_lease = f"job:{name}@{slot}"
    ttl = float(services.settings.job_lease_seconds)
    leases = services.leases
    async with holding(leases, slot_lease, ttl=ttl, owner=owner, release=False) as held:
        if held is None:
            log.info("job %s slot %s skipped: another process took it", name, slot)
            return _summary(name, "skipped", started, slot=slot, reason="slot taken")
        try:
            summary = await _run_held(name, services, notifiers, owner, stopping)
        except BaseException:
            # let another process (or the next tick) retry this slot
            await leases.release(slot_lease, owner=owner)
            raise
    # (after the renewer stopped) keep a slot that ran for its whole period, so a late
    # replica does not repeat it; free one that was skipped, or cut short by a shutdown
    # (the process that starts next resumes it in the same slot)
    interrupted = stopping is not None and stopping.is_set()
    if summary["status"] == "ran" and not interrupted:
        await leases.renew(slot_lease, owner=owner, ttl=float(period))
    else:
        await leases.release(slot_lease, owner=owner)
    return summary | {"slot": slot}


async def _fire(
    name: str,
    services: Services,
    notifiers: Sequence[Notifier],
    jobs: Scheduler | None = None,
) -> None:
    task = asyncio.current_task()
    if jobs is not None and task is not None:
        jobs.running.add(task)
    started = time.perf_counter()
    status = "failed"
    try:
        summary = await run_scheduled(
            name, services, notifiers, stopping=jobs.stopping if jobs is not None else None
        )
        status = summary["status"]
    except Exception:
        log.exception("job %s failed; it runs again at its next slot", name)
    finally:
        JOB_RUNS.labels(name, status).inc()
        if status == "ran":
            JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
        if jobs is not None and task is not None:
            jobs.running.discard(task)


def build_scheduler(
    services: Services, notifiers: Sequence[Notifier], jobs: Scheduler | None = None
) -> AsyncIOScheduler:
    """An AsyncIOScheduler (UTC, not started) with every job under its stable id."""
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for name, schedule in schedules(services.settings).items():
        scheduler.add_job(
            _fire,
            trigger=schedule.trigger,
            args=[name, services, list(notifiers), jobs],
            id=name,
            name=f"{name} ({schedule.description})",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
        )
    return scheduler


class Scheduler:
    """The jobs of one process: APScheduler fires them; a stop lets the running ones finish.

    APScheduler's own `shutdown()` cancels running asyncio jobs mid-step. `stop()` instead
    pauses the firing, tells running jobs to stop after their current step
    (`JobContext.should_stop`), and waits for them; `close()` then shuts APScheduler down.
    """

    def __init__(self, services: Services, notifiers: Sequence[Notifier]) -> None:
        self.running: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()
        self.aps = build_scheduler(services, notifiers, self)

    def start(self) -> None:
        self.aps.start()
        log.info("scheduler: started with %d jobs", len(self.aps.get_jobs()))

    def healthy(self) -> bool:
        return bool(self.aps.state == STATE_RUNNING)

    async def stop(self) -> None:
        """Fire no more jobs; let the running ones finish their current step."""
        if self.aps.state == STATE_RUNNING:
            self.aps.pause()
        self.stopping.set()
        if self.running:
            log.info("scheduler: waiting for %d running jobs", len(self.running))
        while self.running:
            await asyncio.gather(*list(self.running), return_exceptions=True)

    async def close(self) -> None:
        if self.aps.state != STATE_STOPPED:
            self.aps.shutdown(wait=False)
