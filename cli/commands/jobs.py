"""`codedrop jobs`: the scheduled jobs, listed with their schedules and last results, or one
run now (under its lease, with the process's services and the chat notifiers of reports)."""

from __future__ import annotations

from typing import Any

import click

from cli.commands.config import load_settings, setup_logging
from cli.parts import build_notifiers, close_notifiers
from cli.runtime import Process, run_once


@click.group()
def jobs() -> None:
    """Scheduled jobs (list, run)."""


@jobs.command(name="list")
def jobs_list() -> None:
    """List the jobs: schedule, next run, last run and its result (times in UTC)."""
    from domain import clock, job_runs
    from scheduler.runner import next_run, schedules

    settings = load_settings()

    async def last_runs(_: Process) -> dict[str, Any]:
        return await job_runs.last_runs()

    last = run_once(settings, last_runs)
    now = clock.now()
    rows = [("job", "schedule", "next run", "last run", "last result")]
    for name, schedule in schedules(settings).items():
        run = last.get(name)
        upcoming = next_run(schedule, run.started_at if run else None, now)
        rows.append(
            (
                name,
                schedule.description,
                f"{upcoming:%Y-%m-%d %H:%M:%S}" if upcoming else "when a scheduler runs",
                f"{run.started_at:%Y-%m-%d %H:%M:%S}" if run else "never",
                _result_line(run) if run else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[4]]))


def _result_line(run: Any) -> str:
    seconds = (run.finished_at - run.started_at).total_seconds()
    details = ", ".join(f"{k}={v}" for k, v in run.summary.items())
    return f"{run.status} in {seconds:.2f} s" + (f": {details}" if details else "")


@jobs.command(name="run")
@click.argument("name")
def jobs_run(name: str) -> None:
    """Run one job now (under its lease) and print what it did."""
    from scheduler.runner import JOBS, run_job

    settings = load_settings()
    setup_logging(settings)
    if name not in JOBS:
        raise click.ClickException(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")

    async def work(process: Process) -> dict[str, Any]:
        notifiers = build_notifiers(settings)
        try:
            return await run_job(name, process.services, notifiers)
        finally:
            await close_notifiers(notifiers)

    for key, value in run_once(settings, work).items():
        click.echo(f"{key}: {value}")
