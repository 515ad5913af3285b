"""The waitlist mail job: record restocks, owe their notices, send what is due.

Registered in scheduler/runner.py as `waitlist_mail`, every `waitlist_mail_poll_seconds`.
The runner's leases keep it to one process at a time; the pass does not count on that
(domain/waitlist_notices.py claims each notice in the database).
"""

from __future__ import annotations

from typing import Any

from domain.waitlist_notices import send_pass
from scheduler.jobs import JobContext


async def waitlist_mail(ctx: JobContext) -> dict[str, Any]:
    """Tell confirmed e-mail waiters that their campaign has codes again (once per restock)."""
    s = ctx.services.settings
    result = await send_pass(
        setup=ctx.services.mail, limiter=ctx.services.limiter, rate=s.waitlist_mail_rate
    )
    return result.as_dict()
