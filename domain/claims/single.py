"""The single-claim path: one claim in its own transaction, for what a batch does not settle.

A batch (domain/claims/batch.py) passes over codes other batches hold (SKIP LOCKED), rolls
back whole when one of its claimants committed elsewhere first, and does not serve a
claimant twice in one batch. The claims it sends here take one code with ONE conditional
UPDATE that waits for locked rows, so at the end of the stock "sold out" is said only when
no code is left, and a claimant's concurrent request is found by the unique key.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import NoReturn

from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import campaign_state, clock, outbox
from domain.campaign_reads import forget_row
from domain.claims import sql
from domain.claims.batch import Ask
from domain.claims.holdings import claim_event, free_slot, pick_existing, result_of
from domain.claims.keys import KeyTaken, holder_of, key_reused, write_answers
from domain.claims.sql import ATTEMPTS, Held, is_retryable
from domain.errors import PlatformNotServed, PlatformRequired, ServiceUnavailable, SoldOut
from domain.events import EventBus
from domain.models import Campaign, PromoCode
from domain.values import CodeStatus, Platform

log = logging.getLogger(__package__)  # "domain.claims", the name log pipelines filter on


async def claim_alone(
    ask: Ask, requested: Platform | None, now: datetime, events_bus: EventBus
) -> tuple[Held, bool]:
    """Take a code for `ask` in its own transaction: (the claim, whether it was already held).

    Raises `SoldOut` (completing the campaign) or a platform refusal when no code is left
    for the claim, and `ServiceUnavailable` when concurrent claims kept it from deciding.
    """
    c, key = ask.campaign, ask.claimant
    held: list[Held] | None = None
    if c.per_claimant_limit > 1 or ask.idempotency_key:
        # slot numbers and key matching need what the claimant holds; with a limit of 1 the
        # unique key finds a repeat without this query
        held = await sql.held_now(c.id, key)
        existing = pick_existing(held, ask.idempotency_key, c.per_claimant_limit)
        if existing is not None:
            return existing, True

    notify = await outbox.wanted(c.owner_id, outbox.CLAIM_CREATED)  # type: ignore[attr-defined]
    for attempt in range(ATTEMPTS):
        mine = None
        try:
            async with in_transaction() as conn:
                mine = await _take_one(conn, ask, free_slot(held, c.per_claimant_limit), now)
                if mine is None:
                    break
                if notify:
                    await outbox.write(conn, c.owner_id, [claim_event(c, key, mine)], now)  # type: ignore[attr-defined]
        except KeyTaken:
            # another request committed this Idempotency-Key first (our claim rolled back)
            assert ask.keyed is not None
            holder = await holder_of(ask.keyed)
            if holder is None:
                continue  # swept since: the key is free again
            if holder != ask.keyed.request_hash:
                raise key_reused() from None
            held = await sql.held_now(c.id, key)
            existing = pick_existing(held, ask.idempotency_key, c.per_claimant_limit)
            if existing is not None:
                return existing, True
            ask = replace(ask, keyed=None)  # the same request's key, held without a claim
            continue
        except IntegrityError:
            # The claimant already holds this slot (a repeat, or a concurrent request that
            # committed first); our transaction rolled back and the code returned to the pool.
            held = await sql.held_now(c.id, key)
            existing = pick_existing(held, ask.idempotency_key, c.per_claimant_limit)
            if existing is not None:
                return existing, True
            continue
        except OperationalError as exc:
            # InnoDB may pick this transaction as a deadlock victim under heavy contention;
            # it was rolled back whole, so trying again is safe.
            if not is_retryable(exc) or attempt == ATTEMPTS - 1:
                raise
            log.info("claim retried after %s", type(exc).__name__)
            continue
        else:
            return mine, False
    if mine is not None:
        # every attempt met a claim row it could not see as this claimant's: never report
        # that as "no code left" (codes remain); the client may retry
        raise ServiceUnavailable("This claim met concurrent claims too often; try again.")
    await _no_code_left(c, requested, events_bus)


async def _take_one(conn: object, ask: Ask, slot: int, now: datetime) -> Held | None:
    """Take the next code for `ask` (its platforms in order) and insert its claim row."""
    for stored_platform in ask.candidates:
        taken = await sql.take_code(conn, ask.campaign.id, stored_platform, ask.claimant, now)
        if taken is not None:
            code_id, code = taken
            mine = Held(
                slot=slot,
                code=code,
                platform=stored_platform or ask.served_platform,
                channel=ask.channel,
                idempotency_key=ask.idempotency_key,
                created_at=now,
            )
            await sql.record(conn, ask.campaign.id, [(ask.claimant, code_id, mine)])
            if ask.keyed is not None:  # the key's answer commits with the claim
                result = result_of(ask.campaign, ask.claimant, mine, repeated=False)
                await write_answers(conn, [(ask.keyed, result)], now)
            return mine
    return None


async def _no_code_left(c: Campaign, requested: Platform | None, events_bus: EventBus) -> NoReturn:
    """Explain why nothing was taken: another platform has codes, or the campaign sold out."""
    others = sorted(
        set(
            await PromoCode.filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=clock.now()),
                campaign_id=c.id,
                status=CodeStatus.AVAILABLE,
            )
            .distinct()
            .values_list("platform", flat=True)
        )
    )
    if others:
        if requested in (None, Platform.UNIVERSAL):
            raise PlatformRequired([str(p) for p in others])
        raise PlatformNotServed(
            f"No {requested} codes are left; codes remain for: "
            + ", ".join(map(str, others))
            + ".",
            available=[str(p) for p in others],
        )
    await campaign_state.mark_sold_out(c, events_bus)
    forget_row(c.public_id)  # the next claim here reads "sold out" and refuses on a read
    raise SoldOut()
