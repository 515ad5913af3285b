"""Restock notices by e-mail: every confirmed address is told once each time a campaign it
waits on becomes claimable again.

One pass (`send_pass`, run every `waitlist_mail_poll_seconds` by the scheduler) does three
things, each safe to run in two processes at once:

1. **Restocks.** For each campaign with confirmed e-mail waiters, the pass compares the
   campaign's public state with its latest `waitlist_restocks` row. Open (claimable) with no
   open restock row: a new row with the next `seq` is inserted; the unique (campaign, seq)
   key lets one process win. No longer open: the open row is closed and notices still
   pending for it are skipped (codes that sold out again are no news). So a restock is a
   period in which the campaign is claimable, as the database shows it; a restock and a
   reopening (CODES_RESTOCKED, a status change to active) both start one, and a restock that
   sells out again between two passes is not announced.
2. **Fan-out.** Each confirmed waiter of an open restock without a notice row for it gets
   one (`waitlist_notices`, unique (entry, restock); a repeated insert is ignored). An
   address confirmed while its campaign is open is told at the next pass.
3. **Sending.** A due notice is claimed by one conditional UPDATE, `pending -> sending`
   (with `attempts + 1`), whose row count says whether this process won it; only the winner
   hands the mail to SMTP. The send is recorded as `sent`; a temporary failure (the server
   away, busy, a 4xx) returns the row to `pending` with a doubling, jittered back-off; a
   permanent one (5xx) or `MAX_ATTEMPTS` marks it `failed`.

Never twice to one address for one restock: one row per (address, restock), and only the
process whose UPDATE moved that row out of `pending` may send it. A process that dies
between the claim and the SMTP answer leaves the row in `sending`, and no pass resends it:
at most once, by design (a missed "codes are back" mail is better than a repeated one).
Sending is paced by the shared `RateLimiter` under `waitlist_mail_rate` (Redis when
configured, so all processes together keep to it); a pass that hits the limit stops and the
next one continues. Nothing is sent, or marked sent, while no mail transport is configured.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Subquery

from domain import campaigns, clock
from domain.errors import CampaignNotFound
from domain.mail import Mail, MailDeferred, MailRefused
from domain.models import Campaign, WaitlistEntry, WaitlistNotice, WaitlistRestock
from domain.ratelimits import RateLimiter
from domain.values import Channel
from domain.waitlist import MailSetup

log = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"

FIRST_DELAY = 60.0
MAX_DELAY = 6 * 3600.0
JITTER = 0.2
# 1, 2, 4 … 64 min, then 2 h: about four hours of trying
MAX_ATTEMPTS = 8
SEND_BATCH = 200
FAN_OUT_BATCH = 1000
RATE_KEY = "waitlist-mail"


@dataclass(slots=True)
class NoticePass:
    restocks_opened: int = 0
    restocks_closed: int = 0
    notices_made: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    rate_limited: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failed attempt: a minute, doubling, capped, ±20 %."""
    base = min(FIRST_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return timedelta(seconds=base * (1 + (rng or random).uniform(-JITTER, JITTER)))


def _confirmed() -> Any:
    return WaitlistEntry.filter(channel=Channel.WEB, confirmed_at__isnull=False)


async def _is_open(public_id: str) -> bool:
    try:
        card = await campaigns.public_card(campaign_id=public_id)
    except CampaignNotFound:
        return False
    return card.state == "open"


async def track_restocks(result: NoticePass, now: datetime) -> None:
    """Open a restock for each waited-on campaign that became claimable; close the restocks
    of campaigns that no longer are."""
    waited = set(await _confirmed().distinct().values_list("campaign_id", flat=True))
    waited |= set(
        await WaitlistRestock.filter(closed_at__isnull=True).values_list("campaign_id", flat=True)
    )
    if not waited:
        return
    rows = await Campaign.filter(id__in=list(waited)).values_list("id", "public_id")
    for campaign_pk, public_id in rows:
        latest = await WaitlistRestock.filter(campaign_id=campaign_pk).order_by("-seq").first()
        is_open = await _is_open(public_id)
        if is_open and (latest is None or latest.closed_at is not None):
            seq = 1 if latest is None else latest.seq + 1
            try:
                await WaitlistRestock.create(campaign_id=campaign_pk, seq=seq, opened_at=now)
            except IntegrityError:
                continue  # another process recorded this restock
            result.restocks_opened += 1
            log.info("waitlist: campaign %s restocked (#%d)", public_id, seq)
        elif not is_open and latest is not None and await _close(latest.id, now):
            result.restocks_closed += 1


async def _close(restock_id: int, now: datetime) -> bool:
    """Close a restock (True for the one process that did) and skip its pending notices."""
    if not await WaitlistRestock.filter(id=restock_id, closed_at__isnull=True).update(
        closed_at=now
    ):
        return False
    await WaitlistNotice.filter(restock_id=restock_id, status=PENDING).update(status=SKIPPED)
    return True


async def fan_out(result: NoticePass, now: datetime) -> None:
    """One notice row per confirmed waiter of each open restock (made once: unique key)."""
    for restock in await WaitlistRestock.filter(closed_at__isnull=True):
        while True:
            told = WaitlistNotice.filter(restock_id=restock.id).values("entry_id")
            ids = (
                await _confirmed()
                .filter(campaign_id=restock.campaign_id)  # type: ignore[attr-defined]
                .exclude(id__in=Subquery(told))
                .order_by("id")
                .limit(FAN_OUT_BATCH)
                .values_list("id", flat=True)
            )
            if not ids:
                break
            made = [
                WaitlistNotice(entry_id=i, restock_id=restock.id, next_attempt_at=now) for i in ids
            ]
            await WaitlistNotice.bulk_create(made, ignore_conflicts=True)
            result.notices_made += len(made)
            if len(ids) < FAN_OUT_BATCH:
                break


def notice_mail(setup: MailSetup, c: Campaign, entry: WaitlistEntry) -> Mail:
    """The restock notice: where to claim, and how to leave the list."""
    link = f"{setup.public_url.rstrip('/')}/c/{c.public_id}"
    assert entry.mail_key is not None
    return Mail(
        to=entry.contact,
        subject=f"Codes are back: {c.name}",
        text=(
            f"{c.name} has codes again. Claim yours while they last:\n{link}\n\n"
            "You get this because you joined its waitlist. Leave it with one click:\n"
            f"{setup.unsubscribe_url(c.public_id, entry.mail_key)}\n"
        ),
        headers=setup.list_headers(c.public_id, entry.mail_key),
    )


async def _send_one(setup: MailSetup, n: WaitlistNotice, result: NoticePass) -> None:
    """Claim notice `n` (pending -> sending) and, when this process won it, send it."""
    now = clock.now()
    claimed = await WaitlistNotice.filter(id=n.id, status=PENDING).update(
        status=SENDING, attempts=F("attempts") + 1, last_attempt_at=now
    )
    if not claimed:
        return  # another process has it
    attempts = n.attempts + 1
    entry: WaitlistEntry = n.entry
    c: Campaign = n.restock.campaign
    try:
        await setup.mailer.send(notice_mail(setup, c, entry))
    except MailDeferred as exc:
        if attempts >= MAX_ATTEMPTS:
            status, result.failed = FAILED, result.failed + 1
        else:
            status, result.deferred = PENDING, result.deferred + 1
        await WaitlistNotice.filter(id=n.id, status=SENDING).update(
            status=status,
            next_attempt_at=clock.now() + retry_delay(attempts),
            last_error=str(exc)[:300],
        )
        log.info("waitlist notice %s attempt %d deferred: %s", n.id, attempts, exc)
        return
    except MailRefused as exc:
        result.failed += 1
        await WaitlistNotice.filter(id=n.id, status=SENDING).update(
            status=FAILED, last_error=str(exc)[:300]
        )
        log.info("waitlist notice %s refused: %s", n.id, exc)
        return
    result.sent += 1
    await WaitlistNotice.filter(id=n.id, status=SENDING).update(status=SENT, sent_at=clock.now())


async def send_due(setup: MailSetup, limiter: RateLimiter, rate: str, result: NoticePass) -> None:
    """Send the notices that are due, one rate-limiter hit each, oldest first."""
    due = (
        await WaitlistNotice.filter(status=PENDING, next_attempt_at__lte=clock.now())
        .order_by("next_attempt_at", "id")
        .limit(SEND_BATCH)
        .select_related("entry", "restock__campaign")
    )
    for n in due:
        if not (await limiter.hit(rate, RATE_KEY)).allowed:
            result.rate_limited = True
            return
        await _send_one(setup, n, result)


async def send_pass(*, setup: MailSetup, limiter: RateLimiter, rate: str) -> NoticePass:
    """Record restocks, owe their notices, send what is due (see the module docstring)."""
    result = NoticePass()
    if not setup.mailer.sends:
        return result
    now = clock.now()
    await track_restocks(result, now)
    await fan_out(result, now)
    await send_due(setup, limiter, rate, result)
    if result.restocks_opened or result.sent or result.deferred or result.failed:
        log.info("waitlist notices: %s", result.as_dict())
    return result
