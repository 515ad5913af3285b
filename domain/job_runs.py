"""The last run of each scheduled job, kept in the database so any process can tell it.

The scheduler records every run it makes (scheduled or `codedrop jobs run`); `codedrop jobs
list` reads them back. Skipped firings (another process holds the slot) are not recorded:
the process that ran the slot did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.models import JobRun

RAN = "ran"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LastRun:
    name: str
    status: str
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any]


async def record(
    *, name: str, status: str, started_at: datetime, finished_at: datetime, summary: dict[str, Any]
) -> None:
    """Keep this run as the job's last one."""
    await JobRun.update_or_create(
        defaults={
            "status": status,
            "started_at": started_at,
            "finished_at": finished_at,
            "summary": summary,
        },
        name=name,
    )


async def last_runs() -> dict[str, LastRun]:
    """Each job's last recorded run, by job name."""
    return {
        r.name: LastRun(r.name, r.status, r.started_at, r.finished_at, r.summary or {})
        for r in await JobRun.all()
    }
