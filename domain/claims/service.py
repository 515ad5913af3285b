"""`claim()`: who may claim, which codes they may take, and the answer once a code is theirs.

A claim is admitted here (campaign open, claimant identified and eligible, platform served),
submitted to its campaign's batch (domain/claims/batch.py) and, for what the batch does not
settle, the single-claim path (domain/claims/single.py). After commit it publishes
`code_claimed` and looks at the stock (domain/claims/stock.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from domain import campaign_state, clock, events
from domain.campaign_reads import forget_card, public_row, recent_public_row
from domain.claimants import loggable
from domain.claims.batch import BATCHING, Ask, Batch, Kind, terms_of
from domain.claims.coalesce import Coalescer
from domain.claims.holdings import pick_existing, result_of
from domain.claims.keys import KeyedAnswer
from domain.claims.single import claim_alone
from domain.claims.sql import Held, Terms, terms_and_held
from domain.claims.stock import check_stock
from domain.eligibility import judge, parse_rules
from domain.errors import CampaignNotFound, ClaimRefused, PlatformNotServed, ValidationFailed
from domain.events import Event, EventBus
from domain.models import Campaign
from domain.ratelimits import ClaimRateLimit, enforce
from domain.signin import require_identity
from domain.values import Claimant, ClaimResult, Platform, mask_code, parse_platform

log = logging.getLogger(__package__)  # "domain.claims", the name log pipelines filter on

MAX_IDEMPOTENCY_KEY = 128
# a claim may reuse this process's read of the campaign this recent (seconds); the batch
# re-checks the terms that matter inside its transaction
CAMPAIGN_FRESH_WITHIN = 1.0


@dataclass(slots=True)
class Paths:
    """How this process's claims were settled: in their batch, or alone (for metrics)."""

    batched: int = 0
    alone: int = 0


PATHS = Paths()


async def _confirm_together(
    campaign_pk: int, claimants: list[str]
) -> list[tuple[Terms | None, list[Held]]]:
    terms, held = await terms_and_held(campaign_pk, sorted(set(claimants)))
    return [(terms, held.get(who, [])) for who in claimants]


# refusals decided on a recent row, confirmed together: a sold-out campaign's storm costs one
# read per batch of refusals instead of one per claim (each batch's read starts after its
# refusals were decided, so it is fresh for all of them)
CONFIRMS: Coalescer[int, str, tuple[Terms | None, list[Held]]] = Coalescer(
    _confirm_together, max_batch=200, max_inflight=1
)


class _Confirmed(Exception):
    """A refusal already confirmed against the database with the claimant's holdings: raised
    as is, with no further read."""

    def __init__(self, refusal: ClaimRefused) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


async def claim(
    *,
    campaign_id: str,
    claimant: Claimant,
    channel: str,
    events_bus: EventBus,
    platform: str | None = None,
    idempotency_key: str | None = None,
    for_owner: int | None = None,
    rate_limit: ClaimRateLimit | None = None,
    keyed: KeyedAnswer | None = None,
) -> ClaimResult:
    """Give `claimant` a code of the campaign, or hand back the one they already hold.

    `events_bus` carries `code_claimed`, `low_stock` and `sold_out`; a caller with no
    listeners passes a bus nobody subscribes to. `for_owner` is set when a developer's
    backend claims for its own users with its key: the campaign must be theirs (another
    tenant's campaign is a `CampaignNotFound`). `rate_limit` (from
    `Services.claim_rate_limit()`) counts this request against the claimant's own limit
    first, so every front shares one bucket per claimant. `keyed` (with `idempotency_key`):
    the front's Idempotency-Key row and answer, written in the transaction of a new claim
    (domain/claims/keys.py); `IdempotencyMismatch` when another request committed the key.

    Raises a `ClaimRefused` subclass (paused, not started, ended, sold out, not eligible,
    platform) when no code can be given; never gives one code to two claimants.
    """
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed("Idempotency keys are 1-128 characters.", field="Idempotency-Key")
    if rate_limit is not None:
        await enforce(rate_limit.limiter, rate_limit.rule, "claimant", claimant.key, what="claims")
    requested = parse_platform(platform)
    started = time.monotonic()
    c, reused = await recent_public_row(campaign_id, fresh_within=CAMPAIGN_FRESH_WITHIN)
    if for_owner is not None and c.owner_id != for_owner:  # type: ignore[attr-defined]
        raise CampaignNotFound(campaign_id)
    try:
        # what the claimant already holds is read by the batch, for all its claimants at once
        return await _claim_new(
            c, claimant, channel, requested, idempotency_key, events_bus, reused, started, keyed
        )
    except _Confirmed as confirmed:
        raise confirmed.refusal from None
    except ClaimRefused:
        # a member who already holds a code sees it again, even when the campaign has since
        # paused, ended, sold out or stopped admitting them
        key = claimant.key
        _, held = await CONFIRMS.submit(c.id, key)  # one read for the refusals of a moment
        existing = pick_existing(held, idempotency_key, c.per_claimant_limit)
        if existing is not None:
            return result_of(c, key, existing, repeated=True)
        raise


def code_platforms(c: Campaign, requested: Platform | None) -> list[str]:
    """The stored `platform` values a claim may take, most specific first.

    Codes of a single-platform campaign are stored with platform '' (any); a universal
    campaign's codes carry their own platform or ''.
    """
    if c.platform != Platform.UNIVERSAL:
        if requested not in (None, Platform.UNIVERSAL, Platform(c.platform)):
            raise PlatformNotServed(
                f"This campaign has codes for {c.platform} only.", available=[c.platform]
            )
        return [""]
    if requested in (None, Platform.UNIVERSAL):
        return [""]
    assert requested is not None
    return [requested.value, ""]


def _admit(
    c: Campaign,
    claimant: Claimant,
    channel: str,
    requested: Platform | None,
    idempotency_key: str | None,
    now: datetime,
    keyed: KeyedAnswer | None = None,
) -> Ask:
    """Judge the campaign open and the claimant eligible: the claim as its batch takes it."""
    campaign_state.check_open(c, now)
    require_identity(c.identity, claimant)
    judge(parse_rules(c.eligibility), claimant, channel=channel, now=now)
    served_platform = (
        requested.value if requested and requested != Platform.UNIVERSAL else c.platform
    )
    return Ask(
        campaign=c,
        claimant=claimant.key,
        channel=channel,
        candidates=tuple(code_platforms(c, requested)),
        served_platform=served_platform,
        idempotency_key=idempotency_key,
        keyed=keyed,
    )


async def _claim_new(
    c: Campaign,
    claimant: Claimant,
    channel: str,
    requested: Platform | None,
    idempotency_key: str | None,
    events_bus: EventBus,
    reused: bool,
    started: float,
    keyed: KeyedAnswer | None,
) -> ClaimResult:
    """Take a code for a claimant who may not hold one yet: in a batch, else alone.

    `reused`: `c` was read up to CAMPAIGN_FRESH_WITHIN ago. A refusal is then confirmed
    by ONE read of the terms now and the claimants' holdings, shared by the refusals that
    arrive together (a sold-out campaign answers its storm without a write), a changed campaign is read again and decides, and a batch
    re-checks the terms in its transaction, so a reused row never decides alone.
    """
    key = claimant.key
    now = clock.now()
    try:
        ask = _admit(c, claimant, channel, requested, idempotency_key, now, keyed)
    except ClaimRefused as refusal:
        if not reused:
            raise
        current, held = await CONFIRMS.submit(c.id, key)
        if current == terms_of(c):  # the same terms decide the same: the refusal stands
            existing = pick_existing(held, idempotency_key, c.per_claimant_limit)
            if existing is not None:
                return result_of(c, key, existing, repeated=True)
            raise _Confirmed(refusal) from None
        c, reused = await public_row(c.public_id, read_since=started), False
        ask = _admit(c, claimant, channel, requested, idempotency_key, now, keyed)

    kind, row, batch = await BATCHING.submit(c.id, ask)
    if kind is Kind.REPEAT:
        assert row is not None
        return result_of(c, key, row, repeated=True)
    if kind is Kind.TAKEN:
        assert row is not None and batch is not None
        PATHS.batched += 1
        return await _acknowledge(c, key, row, events_bus, batch)

    PATHS.alone += 1
    if reused:  # the single-claim path decides on a fresh read
        c = await public_row(c.public_id, read_since=started)
        ask = _admit(c, claimant, channel, requested, idempotency_key, now, keyed)
    row, repeated = await claim_alone(ask, requested, now, events_bus)
    if repeated:
        return result_of(c, key, row, repeated=True)
    return await _acknowledge(c, key, row, events_bus, None)


async def _acknowledge(
    c: Campaign, claimant: str, row: Held, events_bus: EventBus, batch: Batch | None
) -> ClaimResult:
    """A committed new claim: log it, publish `code_claimed`, check the stock once per batch."""
    forget_card(c.public_id)
    result = result_of(c, claimant, row, repeated=False)
    log.info(
        "claim campaign=%s claimant=%s channel=%s code=%s",
        c.public_id,
        loggable(claimant),
        row.channel,
        mask_code(row.code),
    )
    owner_id: int = c.owner_id  # type: ignore[attr-defined]
    await events_bus.publish(
        Event(
            events.CODE_CLAIMED,
            c.public_id,
            owner_id,
            {"channel": result.channel, "platform": result.platform, "code": mask_code(row.code)},
        )
    )
    # the claims of one batch left the stock where one count tells; the first to get here
    # counts for all of them
    if batch is None or not batch.stock_checked:
        if batch is not None:
            batch.stock_checked = True
        await check_stock(c, events_bus)
    return result
