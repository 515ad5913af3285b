"""The batch transaction: the claims that arrived together for one campaign, committed as one.

`BATCHING` (a `Coalescer`) gathers, per campaign and process, the claims that arrive while
the campaign's batch is in flight; a lone claim runs at once as a batch of one. The batch
runs the same statements as one claim would, each once for all its claims (domain/claims/
sql.py), and answers each claim with an `Outcome`: a new code (`TAKEN`), the code the
claimant already holds (`REPEAT`), or `ALONE`, for what a batch does not settle and the
single-claim path does (domain/claims/single.py).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from domain import clock, outbox
from domain.claims import sql
from domain.claims.coalesce import Coalescer
from domain.claims.holdings import claim_event, free_slot, pick_existing, result_of
from domain.claims.keys import KeyedAnswer, KeyTaken, write_answers
from domain.claims.sql import ATTEMPTS, Held, StaleRead, Terms, is_retryable
from domain.models import Campaign

log = logging.getLogger(__package__)  # "domain.claims", the name log pipelines filter on


class Kind(enum.Enum):
    TAKEN = "taken"  # a new code, committed with its batch
    REPEAT = "repeat"  # the claimant already holds what they asked for: handed back
    ALONE = "alone"  # this one goes through the single-claim path


@dataclass(eq=False, slots=True)
class Batch:
    """What the claims committed together share: one stock check after them all."""

    stock_checked: bool = False


@dataclass(frozen=True, slots=True)
class Ask:
    """One claim waiting for its batch (the campaign already judged open and the claimant eligible)."""

    campaign: Campaign
    claimant: str
    channel: str
    candidates: tuple[str, ...]
    served_platform: str
    idempotency_key: str | None
    keyed: KeyedAnswer | None = None  # the key's answer, written with the claim


Outcome = tuple[Kind, Held | None, Batch | None]
_ALONE: Outcome = (Kind.ALONE, None, None)


def terms_of(c: Campaign) -> Terms:
    """The terms a claim was admitted on, as `sql.terms_now` reads them back."""
    return (
        str(c.status),
        c.completed_reason,
        c.starts_at,
        c.ends_at,
        c.per_claimant_limit,
        c.platform,
        c.eligibility,
        str(c.identity),
    )


async def claim_batch(campaign_pk: int, asks: list[Ask]) -> list[Outcome]:
    """The claims that arrived together for one campaign, in ONE transaction.

    Read what the claimants already hold, lock the next free codes (SKIP LOCKED: concurrent
    batches take different rows instead of queueing on the same one), mark them claimed,
    insert the claim rows. The unique `(campaign, claimant, slot)` still decides: if a
    claimant's request elsewhere committed first, the batch rolls back whole and each ask
    runs alone. Asks it cannot serve (a claimant twice in one batch, codes locked by others
    at the end of the stock, terms changed since admission) also run alone, where a claim
    waits for locked codes and explains a sell-out.
    """
    for attempt in range(ATTEMPTS):
        try:
            return await _claim_batch_once(campaign_pk, asks)
        except (IntegrityError, KeyTaken):
            return [_ALONE] * len(asks)
        except (OperationalError, StaleRead) as exc:
            if isinstance(exc, OperationalError) and not is_retryable(exc):
                raise
            if attempt == ATTEMPTS - 1:
                return [_ALONE] * len(asks)
            log.info("claim batch retried after %s", type(exc).__name__)
    return [_ALONE] * len(asks)  # pragma: no cover (the loop returns)


def _first_asks(asks: list[Ask]) -> dict[str, int]:
    """Each claimant's first ask in the batch; a later one, or a later one with a key an
    earlier ask writes, runs alone and finds the first's claim (or is refused the key)."""
    first: dict[str, int] = {}
    keys: set[tuple[str, str]] = set()
    for i, ask in enumerate(asks):
        if ask.keyed is not None:
            if (ask.keyed.scope, ask.keyed.key) in keys:
                continue
            keys.add((ask.keyed.scope, ask.keyed.key))
        first.setdefault(ask.claimant, i)
    return first


async def _claim_batch_once(campaign_pk: int, asks: list[Ask]) -> list[Outcome]:
    now = clock.now()
    owner_id: int = asks[0].campaign.owner_id  # type: ignore[attr-defined]
    # one cached look per batch; no query unless the owner's entry is older than a second
    notify = await outbox.wanted(owner_id, outbox.CLAIM_CREATED)
    outcomes: list[Outcome] = [_ALONE] * len(asks)
    first = _first_asks(asks)
    new_rows: dict[int, tuple[int, Held]] = {}
    async with in_transaction() as conn:
        # the asks were admitted on a campaign row that may be a second old: one whose terms
        # have changed since runs alone, on a fresh read
        current = await sql.terms_now(conn, campaign_pk)
        first = {who: i for who, i in first.items() if terms_of(asks[i].campaign) == current}
        held_by = await sql.held_by(conn, campaign_pk, list(first))
        slots: dict[int, int] = {}
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in first.values():
            ask = asks[i]
            limit = ask.campaign.per_claimant_limit
            held = held_by.get(ask.claimant, [])
            existing = pick_existing(held, ask.idempotency_key, limit)
            if existing is not None:
                outcomes[i] = (Kind.REPEAT, existing, None)
                continue
            slots[i] = free_slot(held, limit)
            groups.setdefault(ask.candidates, []).append(i)
        for candidates, waiting in groups.items():
            for stored in candidates:
                if not waiting:
                    break
                found = await sql.next_codes(conn, campaign_pk, stored, len(waiting), now)
                for i, (code_id, code) in zip(waiting, found, strict=False):
                    ask = asks[i]
                    new_rows[i] = (
                        code_id,
                        Held(
                            slot=slots[i],
                            code=code,
                            platform=stored or ask.served_platform,
                            channel=ask.channel,
                            idempotency_key=ask.idempotency_key,
                            created_at=now,
                        ),
                    )
                waiting = waiting[len(found) :]
        if new_rows:
            taken = [(asks[i].claimant, *row) for i, row in new_rows.items()]
            await sql.mark_claimed(conn, [(code_id, who) for who, code_id, _ in taken], now)
            await sql.record(conn, campaign_pk, taken)
            keyed = [
                (k, result_of(asks[i].campaign, asks[i].claimant, row, repeated=False))
                for i, (_, row) in new_rows.items()
                if (k := asks[i].keyed) is not None
            ]
            if keyed:  # the keys' answers commit with their claims (domain/claims/keys.py)
                await write_answers(conn, keyed, now)
            if notify:  # the batch's events: one multi-row INSERT in the same transaction
                entries = [
                    claim_event(asks[i].campaign, who, row)
                    for i, (who, _, row) in zip(new_rows, taken, strict=True)
                ]
                await outbox.write(conn, owner_id, entries, now)
    batch = Batch()
    for i, (_, row) in new_rows.items():
        outcomes[i] = (Kind.TAKEN, row, batch)
    return outcomes


MAX_CLAIM_BATCH = 100
# under load (the previous batch carried several claims) a batch waits this long to fill; a
# lone claim never waits. Paced bench, p99: 97/51 ms with it, 157/82 ms without.
CLAIM_BATCH_LINGER = 0.003
# per process: claims for one campaign that arrive while its batch is in flight go together in
# the next one, up to MAX_CLAIM_BATCH. One batch in flight per campaign and process measured
# best (bench/claims.py, 2 workers: p99 ~150 ms at 1,000 claims/s against ~230-310 ms with
# two): fewer, fuller transactions. Batches of other processes run beside it, SKIP LOCKED
# keeping them on different codes.
BATCHING: Coalescer[int, Ask, Outcome] = Coalescer(
    claim_batch, max_batch=MAX_CLAIM_BATCH, max_inflight=1, linger=CLAIM_BATCH_LINGER
)
