"""The claim: one code to one claimant, atomically, whatever the concurrency.

The promise (DESIGN.md) rests on the database alone:
- a code is taken by a conditional UPDATE (`status='available'` in its WHERE), so two
  transactions can never take the same row: the loser's UPDATE matches the next row instead
  (a batch locks its codes first, SKIP LOCKED, and checks the UPDATE's row count);
- the claim row's unique `(campaign, claimant, slot)` makes a second claim by the same
  claimant impossible; a duplicate-key error rolls the code back and returns the first claim;
- both happen in one transaction, so an acknowledged claim is committed with its code.
No application lock, Redis or isolation level is needed for correctness.

Claims that arrive together for one campaign in one process are committed together
(`BATCHING`, group commit); whatever a batch cannot settle takes the single-claim path.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import clock, events, outbox
from domain.adapters.db import is_mysql_connection
from domain.campaigns import forget_card, public_row, recent_public_row
from domain.claimants import loggable
from domain.coalesce import Coalescer
from domain.eligibility import judge, parse_rules
from domain.errors import (
    CampaignEnded,
    CampaignNotActive,
    CampaignNotFound,
    CampaignNotStarted,
    ClaimRefused,
    PlatformNotServed,
    PlatformRequired,
    ServiceUnavailable,
    SoldOut,
    ValidationFailed,
)
from domain.events import Event, EventBus
from domain.expiry import UNEXPIRED_SQL as UNEXPIRED
from domain.expiry import db_time
from domain.models import Campaign, Claim, PromoCode
from domain.ratelimits import ClaimRateLimit, enforce
from domain.signin import require_identity
from domain.values import (
    CampaignStatus,
    Claimant,
    ClaimResult,
    CodeStatus,
    Platform,
    mask_code,
    parse_platform,
)

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 128
# a claim may reuse this process's read of the campaign this recent (seconds); the batch
# re-checks the terms that matter inside its transaction
CAMPAIGN_FRESH_WITHIN = 1.0
ATTEMPTS = 5
RETRYABLE = ("1213", "1205", "Deadlock", "Lock wait timeout", "database is locked")


def is_retryable(exc: BaseException) -> bool:
    """A deadlock victim or a lock timeout: the transaction rolled back and may run again."""
    return any(sign in str(exc) for sign in RETRYABLE)


@dataclass(frozen=True, slots=True)
class MyCode:
    campaign_id: str
    campaign_name: str
    code: str
    platform: str
    claimed_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class Held:
    """A claim the claimant already holds (a plain row, read without the ORM)."""

    slot: int
    code: str
    platform: str
    channel: str
    idempotency_key: str | None
    created_at: datetime


def _result(c: Campaign, claimant: str, row: Held, *, repeated: bool) -> ClaimResult:
    return ClaimResult(
        campaign_id=c.public_id,
        campaign_name=c.name,
        claimant=claimant,
        code=row.code,
        platform=row.platform or c.platform,
        channel=row.channel,
        claimed_at=row.created_at,
        repeated=repeated,
        slot=row.slot,
    )


def _sql(conn: Any, query: str) -> str:
    """Queries are written with `?`; aiomysql wants `%s`."""
    return query.replace("?", "%s") if is_mysql_connection(conn) else query


def _when(value: object) -> datetime:
    """A datetime read by raw SQL: naive UTC from MySQL, ISO text from SQLite."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _held(c: Campaign, claimant_key: str) -> list[Held]:
    """What one claimant holds in the campaign, by slot."""
    held = await _held_many(get_connection("default"), c.id, [claimant_key])
    return held.get(claimant_key, [])


def _pick_existing(held: Sequence[Held], idempotency_key: str | None, limit: int) -> Held | None:
    """The earlier claim to hand back, if this request must not take a new code."""
    if idempotency_key:
        for row in held:
            if row.idempotency_key == idempotency_key:
                return row
    if len(held) >= limit:
        return held[-1]
    return None


def free_slot(held: Sequence[Held] | None, limit: int) -> int:
    """The lowest slot (1..limit) the claimant does not fill (a released claim frees its slot)."""
    taken = {h.slot for h in held or ()}
    return next((n for n in range(1, limit + 1) if n not in taken), limit + 1)


def check_open(c: Campaign, now: datetime) -> None:
    """Raise the reason a campaign does not serve claims right now."""
    if c.status == CampaignStatus.PAUSED:
        raise CampaignNotActive("This campaign is paused; try again later.", status=c.status)
    if c.status in (CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED):
        if c.completed_reason == "sold_out":
            raise SoldOut()
        raise CampaignEnded(c.ends_at)
    if c.status != CampaignStatus.ACTIVE:
        raise CampaignNotActive("This campaign is not published yet.", status=c.status)
    if c.starts_at and now < c.starts_at:
        raise CampaignNotStarted(c.starts_at)
    if c.ends_at and now >= c.ends_at:
        raise CampaignEnded(c.ends_at)


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


async def _take_code(
    conn: Any, campaign_pk: int, platform: str, claimant: str, now: datetime
) -> tuple[int, str] | None:
    """Mark the next available code claimed in ONE statement; (id, code) or None if none left."""
    if is_mysql_connection(conn):
        # LAST_INSERT_ID(id) hands the updated row's id back in the OK packet (0: no row).
        code_id = await conn.execute_insert(
            # FORCE INDEX: with one campaign's codes all 'available', MariaDB's optimizer
            # prefers the (status, used_at) index plus a filesort over 100,000 rows
            "UPDATE promo_codes FORCE INDEX (promo_next_available)"
            " SET status='claimed', claimant=%s, claimed_at=%s, id=LAST_INSERT_ID(id)"
            " WHERE campaign_id=%s AND status='available' AND platform=%s"
            f" AND {UNEXPIRED.replace('?', '%s')} ORDER BY id LIMIT 1",
            [claimant, now.replace(tzinfo=None), campaign_pk, platform, now.replace(tzinfo=None)],
        )
        if not code_id:
            return None
        _, rows = await conn.execute_query("SELECT code FROM promo_codes WHERE id=%s", [code_id])
        return int(code_id), str(rows[0]["code"])
    _, rows = await conn.execute_query(
        "UPDATE promo_codes SET status='claimed', claimant=?, claimed_at=?"
        " WHERE id=(SELECT id FROM promo_codes"
        f" WHERE campaign_id=? AND status='available' AND platform=? AND {UNEXPIRED}"
        " ORDER BY id LIMIT 1) AND status='available' RETURNING id, code",
        [claimant, now, campaign_pk, platform, now],
    )
    if not rows:
        return None
    return int(rows[0]["id"]), str(rows[0]["code"])


async def _record(conn: Any, c: Campaign, claimant: str, code_id: int, row: Held) -> None:
    """Insert the claim row; its unique (campaign, claimant, slot) is the final arbiter."""
    created = row.created_at.replace(tzinfo=None) if is_mysql_connection(conn) else row.created_at
    await conn.execute_insert(
        _sql(
            conn,
            "INSERT INTO claims (campaign_id, claimant, slot, code_id, code, channel, platform,"
            " idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        [
            c.id,
            claimant,
            row.slot,
            code_id,
            row.code,
            row.channel,
            row.platform,
            row.idempotency_key,
            created,
        ],
    )


class _StaleRead(Exception):
    """A code the batch read as available was taken before its UPDATE (SQLite, other process)."""


class _Kind(enum.Enum):
    TAKEN = "taken"  # a new code, committed with its batch
    REPEAT = "repeat"  # the claimant already holds what they asked for: handed back
    ALONE = "alone"  # this one goes through the single-claim path


@dataclass(eq=False, slots=True)
class _Batch:
    """What the claims committed together share."""

    stock_checked: bool = False


@dataclass(frozen=True, slots=True)
class _Ask:
    """One claim waiting for its batch (the campaign already judged open and the claimant eligible)."""

    campaign: Campaign
    claimant: str
    channel: str
    candidates: tuple[str, ...]
    served_platform: str
    idempotency_key: str | None


_Outcome = tuple[_Kind, Held | None, _Batch | None]
_ALONE: _Outcome = (_Kind.ALONE, None, None)


async def _claim_batch(campaign_pk: int, asks: list[_Ask]) -> list[_Outcome]:
    """The claims that arrived together for one campaign, in ONE transaction.

    The same statements as one claim, each for the whole batch: read what the claimants
    already hold, lock the next free codes (SKIP LOCKED: concurrent batches take different
    rows instead of queueing on the same one), mark them claimed, insert the claim rows.
    The unique `(campaign, claimant, slot)` still decides: if a claimant's request elsewhere
    committed first, the batch rolls back whole and each ask runs the single-claim path.
    Asks it cannot serve (a claimant twice in one batch, codes locked by others at the end of
    the stock) also run alone, where a claim waits for locked codes and explains a sell-out.
    """
    for attempt in range(ATTEMPTS):
        try:
            return await _claim_batch_once(campaign_pk, asks)
        except IntegrityError:
            return [_ALONE] * len(asks)
        except (OperationalError, _StaleRead) as exc:
            if isinstance(exc, OperationalError) and not is_retryable(exc):
                raise
            if attempt == ATTEMPTS - 1:
                return [_ALONE] * len(asks)
            log.info("claim batch retried after %s", type(exc).__name__)
    return [_ALONE] * len(asks)  # pragma: no cover (the loop returns)


async def _claim_batch_once(campaign_pk: int, asks: list[_Ask]) -> list[_Outcome]:
    now = clock.now()
    # one cached look per batch; no query unless the owner's entry is older than a second
    notify = await outbox.wanted(asks[0].campaign.owner_id, outbox.CLAIM_CREATED)  # type: ignore[attr-defined]
    outcomes: list[_Outcome] = [_ALONE] * len(asks)
    first: dict[str, int] = {}
    for i, ask in enumerate(asks):
        # a claimant twice in one batch: the later ask runs alone and finds the first's claim
        first.setdefault(ask.claimant, i)
    new_rows: dict[int, tuple[int, Held]] = {}
    async with in_transaction() as conn:
        # the asks were admitted on a campaign row that may be a second old: one whose terms
        # have changed since runs alone, on a fresh read
        current = await _terms_now(conn, campaign_pk)
        for claimant, i in list(first.items()):
            if _terms(asks[i].campaign) != current:
                del first[claimant]
        held_by = await _held_many(conn, campaign_pk, list(first))
        slots: dict[int, int] = {}
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in first.values():
            ask = asks[i]
            limit = ask.campaign.per_claimant_limit
            held = held_by.get(ask.claimant, [])
            existing = _pick_existing(held, ask.idempotency_key, limit)
            if existing is not None:
                outcomes[i] = (_Kind.REPEAT, existing, None)
                continue
            slots[i] = free_slot(held, limit)
            groups.setdefault(ask.candidates, []).append(i)
        for candidates, waiting in groups.items():
            for stored in candidates:
                if not waiting:
                    break
                found = await _next_codes(conn, campaign_pk, stored, len(waiting), now)
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
            await _mark_claimed(
                conn, [(code_id, asks[i].claimant) for i, (code_id, _) in new_rows.items()], now
            )
            await _record_many(
                conn, campaign_pk, [(asks[i].claimant, *taken) for i, taken in new_rows.items()]
            )
            if notify:
                # the batch's events: one multi-row INSERT in the same transaction
                await outbox.write(
                    conn,
                    asks[0].campaign.owner_id,  # type: ignore[attr-defined]
                    [
                        claim_event(asks[i].campaign, asks[i].claimant, row)
                        for i, (_, row) in new_rows.items()
                    ],
                    now,
                )
    batch = _Batch()
    for i, (_, row) in new_rows.items():
        outcomes[i] = (_Kind.TAKEN, row, batch)
    return outcomes


def claim_event(c: Campaign, claimant: str, row: Held) -> outbox.OutboxEntry:
    """The `claim.created` event of a new claim (the code masked, as in every listing)."""
    return outbox.OutboxEntry(
        outbox.CLAIM_CREATED,
        c.public_id,
        {
            "campaign_id": c.public_id,
            "claimant": claimant,
            "slot": row.slot,
            "channel": row.channel,
            "platform": row.platform,
            "code": mask_code(row.code),
            "claimed_at": row.created_at.isoformat(),
        },
    )


_Terms = tuple[str, datetime | None, datetime | None, int, str, Any, str]


def _terms(c: Campaign) -> _Terms:
    """What a claim was admitted on: status, window, limit, platform, eligibility rules,
    identity mode."""
    return (
        str(c.status),
        c.starts_at,
        c.ends_at,
        c.per_claimant_limit,
        c.platform,
        c.eligibility,
        str(c.identity),
    )


async def _terms_now(conn: Any, campaign_pk: int) -> _Terms | None:
    _, rows = await conn.execute_query(
        _sql(
            conn,
            "SELECT status, starts_at, ends_at, per_claimant_limit, platform, eligibility,"
            " identity FROM campaigns WHERE id=?",
        ),
        [campaign_pk],
    )
    if not rows:
        return None
    r = rows[0]
    rules = r["eligibility"]
    return (
        str(r["status"]),
        _when(r["starts_at"]) if r["starts_at"] is not None else None,
        _when(r["ends_at"]) if r["ends_at"] is not None else None,
        int(r["per_claimant_limit"]),
        str(r["platform"]),
        json.loads(rules) if isinstance(rules, (str, bytes)) else rules,
        str(r["identity"]),
    )


async def _held_many(conn: Any, campaign_pk: int, claimants: list[str]) -> dict[str, list[Held]]:
    """What each of these claimants holds in the campaign, by slot (one query for the batch)."""
    if not claimants:
        return {}
    marks = ", ".join("?" * len(claimants))
    _, rows = await conn.execute_query(
        _sql(
            conn,
            "SELECT claimant, slot, code, platform, channel, idempotency_key, created_at"
            f" FROM claims WHERE campaign_id=? AND claimant IN ({marks}) AND slot IS NOT NULL"
            " ORDER BY slot",
        ),
        [campaign_pk, *claimants],
    )
    held: dict[str, list[Held]] = {}
    for r in rows:
        held.setdefault(str(r["claimant"]), []).append(
            Held(
                slot=int(r["slot"]),
                code=str(r["code"]),
                platform=str(r["platform"]),
                channel=str(r["channel"]),
                idempotency_key=r["idempotency_key"],
                created_at=_when(r["created_at"]),
            )
        )
    return held


async def _next_codes(
    conn: Any, campaign_pk: int, platform: str, n: int, now: datetime
) -> list[tuple[int, str]]:
    """Up to `n` available, unexpired codes of a campaign, oldest first; on MariaDB locked
    for this batch."""
    if is_mysql_connection(conn):
        # SKIP LOCKED: codes another batch holds are passed over, not waited for
        query = (
            "SELECT id, code FROM promo_codes FORCE INDEX (promo_next_available)"
            " WHERE campaign_id=%s AND status='available' AND platform=%s"
            f" AND {UNEXPIRED.replace('?', '%s')} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
        )
    else:
        # SQLite has one writer at a time; _mark_claimed re-checks the status it read
        query = (
            "SELECT id, code FROM promo_codes"
            f" WHERE campaign_id=? AND status='available' AND platform=? AND {UNEXPIRED}"
            " ORDER BY id LIMIT ?"
        )
    _, rows = await conn.execute_query(query, [campaign_pk, platform, db_time(conn, now), n])
    return [(int(r["id"]), str(r["code"])) for r in rows]


async def _mark_claimed(conn: Any, taken: list[tuple[int, str]], now: datetime) -> None:
    """Mark the batch's codes claimed by their claimants in one UPDATE."""
    cases = " ".join("WHEN ? THEN ?" for _ in taken)
    ids = ", ".join("?" * len(taken))
    mysql = is_mysql_connection(conn)
    changed, _ = await conn.execute_query(
        _sql(
            conn,
            f"UPDATE promo_codes SET status='claimed', claimed_at=?, claimant=CASE id {cases} END"
            f" WHERE id IN ({ids}) AND status='available'",
        ),
        [
            now.replace(tzinfo=None) if mysql else now,
            *(value for pair in taken for value in pair),
            *(code_id for code_id, _ in taken),
        ],
    )
    if changed != len(taken):
        raise _StaleRead(f"{len(taken) - changed} of {len(taken)} codes were taken meanwhile")


async def _record_many(conn: Any, campaign_pk: int, rows: list[tuple[str, int, Held]]) -> None:
    """Insert the batch's claim rows in one multi-row INSERT (the unique key still arbitrates)."""
    mysql = is_mysql_connection(conn)
    values: list[Any] = []
    for claimant, code_id, row in rows:
        values += [
            campaign_pk,
            claimant,
            row.slot,
            code_id,
            row.code,
            row.channel,
            row.platform,
            row.idempotency_key,
            row.created_at.replace(tzinfo=None) if mysql else row.created_at,
        ]
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    await conn.execute_query(
        _sql(
            conn,
            "INSERT INTO claims (campaign_id, claimant, slot, code_id, code, channel, platform,"
            f" idempotency_key, created_at) VALUES {marks}",
        ),
        values,
    )


MAX_CLAIM_BATCH = 100
# under load (the previous batch carried several claims) a batch waits this long to fill; a
# lone claim never waits. Paced bench, p99: 97/51 ms with it, 157/82 ms without.
CLAIM_BATCH_LINGER = 0.003
# per process: claims for one campaign that arrive while its batch is in flight go together in
# the next one, up to MAX_CLAIM_BATCH. One batch in flight per campaign and process measured
# best (bench/claims.py, 2 workers: p99 ~150 ms at 1,000 claims/s against ~230-310 ms with
# two): fewer, fuller transactions. Batches of other processes run beside it, SKIP LOCKED
# keeping them on different codes.
BATCHING: Coalescer[int, _Ask, _Outcome] = Coalescer(
    _claim_batch, max_batch=MAX_CLAIM_BATCH, max_inflight=1, linger=CLAIM_BATCH_LINGER
)


async def claim(
    *,
    campaign_id: str,
    claimant: Claimant,
    channel: str,
    platform: str | None = None,
    idempotency_key: str | None = None,
    events_bus: EventBus | None = None,
    for_owner: int | None = None,
    rate_limit: ClaimRateLimit | None = None,
) -> ClaimResult:
    """Give `claimant` a code of the campaign, or hand back the one they already hold.

    `for_owner` is set when a developer's backend claims for its own users with its key: the
    campaign must be theirs (another tenant's campaign is a `CampaignNotFound`).
    `rate_limit` (from `Services.claim_rate_limit()`) counts this request against the
    claimant's own limit first, so every front shares one bucket per claimant.

    Raises a `ClaimRefused` subclass (paused, not started, ended, sold out, not eligible,
    platform) when no code can be given; never gives one code to two claimants.
    """
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed("Idempotency keys are 1-128 characters.", field="Idempotency-Key")
    if rate_limit is not None:
        await enforce(rate_limit.limiter, rate_limit.rule, "claimant", claimant.key, what="claims")
    requested = parse_platform(platform)
    c, reused = await recent_public_row(campaign_id, fresh_within=CAMPAIGN_FRESH_WITHIN)
    if for_owner is not None and c.owner_id != for_owner:  # type: ignore[attr-defined]
        raise CampaignNotFound(campaign_id)
    try:
        # what the claimant already holds is read by the batch, for all its claimants at once
        return await _claim_new(
            c, claimant, channel, requested, idempotency_key, events_bus, reused=reused
        )
    except ClaimRefused:
        # a member who already holds a code sees it again, even when the campaign has since
        # paused, ended, sold out or stopped admitting them
        key = claimant.key
        existing = _pick_existing(await _held(c, key), idempotency_key, c.per_claimant_limit)
        if existing is not None:
            return _result(c, key, existing, repeated=True)
        raise


def _admit(
    c: Campaign, claimant: Claimant, channel: str, requested: Platform | None, now: datetime
) -> tuple[list[str], str]:
    """Judge the campaign open and the claimant eligible; the stored platforms to take from
    and the platform the claim is for."""
    check_open(c, now)
    require_identity(c.identity, claimant)
    judge(parse_rules(c.eligibility), claimant, channel=channel, now=now)
    served_platform = (
        requested.value if requested and requested != Platform.UNIVERSAL else c.platform
    )
    return code_platforms(c, requested), served_platform


async def _claim_new(
    c: Campaign,
    claimant: Claimant,
    channel: str,
    requested: Platform | None,
    idempotency_key: str | None,
    events_bus: EventBus | None,
    *,
    reused: bool,
) -> ClaimResult:
    """Take a code for a claimant who may not hold one yet, in one transaction.

    `reused`: `c` was read up to CAMPAIGN_FRESH_WITHIN ago. A refusal is then confirmed
    against a fresh read, and a batch re-checks the terms in its transaction, so a reused
    row never decides alone.
    """
    key = claimant.key
    now = clock.now()
    try:
        candidates, served_platform = _admit(c, claimant, channel, requested, now)
    except ClaimRefused:
        if not reused:
            raise
        c, reused = await public_row(c.public_id), False
        candidates, served_platform = _admit(c, claimant, channel, requested, now)

    ask = _Ask(
        campaign=c,
        claimant=key,
        channel=channel,
        candidates=tuple(candidates),
        served_platform=served_platform,
        idempotency_key=idempotency_key,
    )
    kind, row, batch = await BATCHING.submit(c.id, ask)
    if kind is _Kind.REPEAT:
        assert row is not None
        return _result(c, key, row, repeated=True)
    if kind is _Kind.TAKEN:
        assert row is not None and batch is not None
        return await _acknowledge(c, key, row, events_bus, batch)

    # _Kind.ALONE: the single-claim path, on a fresh read
    if reused:
        c = await public_row(c.public_id)
        candidates, served_platform = _admit(c, claimant, channel, requested, now)
    held: list[Held] | None = None
    if c.per_claimant_limit > 1 or idempotency_key:
        # slot numbers and key matching need what the claimant holds; with a limit of 1 the
        # unique key finds a repeat without this query
        held = await _held(c, key)
        existing = _pick_existing(held, idempotency_key, c.per_claimant_limit)
        if existing is not None:
            return _result(c, key, existing, repeated=True)

    notify = await outbox.wanted(c.owner_id, outbox.CLAIM_CREATED)  # type: ignore[attr-defined]
    for _attempt in range(ATTEMPTS):
        taken = None
        try:
            async with in_transaction() as conn:
                for stored_platform in candidates:
                    taken = await _take_code(conn, c.id, stored_platform, key, now)
                    if taken:
                        break
                if taken is None:
                    break
                code_id, code = taken
                mine = Held(
                    slot=free_slot(held, c.per_claimant_limit),
                    code=code,
                    platform=stored_platform or served_platform,
                    channel=channel,
                    idempotency_key=idempotency_key,
                    created_at=now,
                )
                await _record(conn, c, key, code_id, mine)
                if notify:
                    await outbox.write(conn, c.owner_id, [claim_event(c, key, mine)], now)  # type: ignore[attr-defined]
        except IntegrityError:
            # The claimant already holds this slot (a repeat, or a concurrent request that
            # committed first); our transaction rolled back and the code returned to the pool.
            held = await _held(c, key)
            existing = _pick_existing(held, idempotency_key, c.per_claimant_limit)
            if existing is not None:
                return _result(c, key, existing, repeated=True)
            continue
        except OperationalError as exc:
            # InnoDB may pick this transaction as a deadlock victim under heavy contention;
            # it was rolled back whole, so trying again is safe.
            if not is_retryable(exc) or _attempt == ATTEMPTS - 1:
                raise
            log.info("claim retried after %s", type(exc).__name__)
            continue
        else:
            return await _acknowledge(c, key, mine, events_bus, None)
    if taken is not None:
        # every attempt met a claim row it could not see as this claimant's: never report
        # that as "no code left" (codes remain); the client may retry
        raise ServiceUnavailable("This claim met concurrent claims too often; try again.")
    await _no_code_left(c, requested, events_bus)


async def _no_code_left(
    c: Campaign, requested: Platform | None, events_bus: EventBus | None
) -> NoReturn:
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
    await mark_sold_out(c, events_bus)
    raise SoldOut()


async def mark_sold_out(c: Campaign, events_bus: EventBus | None) -> bool:
    """Complete a campaign that has no code left; True for the one caller that did it."""
    async with in_transaction() as conn:
        changed = (
            await Campaign.filter(id=c.id, status=CampaignStatus.ACTIVE)
            .using_db(conn)
            .update(status=CampaignStatus.COMPLETED, completed_reason="sold_out")
        )
        if changed:
            await outbox.record_sold_out(conn, c)
    forget_card(c.public_id)
    if changed and events_bus is not None:
        await events_bus.publish(
            Event(events.SOLD_OUT, c.public_id, c.owner_id, {"name": c.name})  # type: ignore[attr-defined]
        )
    return bool(changed)


async def available_count(campaign_pk: int, *, at_most: int) -> int:
    """Available, unexpired codes, counting no further than `at_most` (a bounded index range
    scan)."""
    conn = get_connection("default")
    _, rows = await conn.execute_query(
        _sql(
            conn,
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM promo_codes"
            f" WHERE campaign_id=? AND status='available' AND {UNEXPIRED} LIMIT ?) AS head",
        ),
        [campaign_pk, db_time(conn, clock.now()), at_most],
    )
    return int(rows[0]["n"])


async def _acknowledge(
    c: Campaign, claimant: str, row: Held, events_bus: EventBus | None, batch: _Batch | None
) -> ClaimResult:
    """A committed new claim: log it, publish `code_claimed`, check the stock once per batch."""
    forget_card(c.public_id)
    result = _result(c, claimant, row, repeated=False)
    log.info(
        "claim campaign=%s claimant=%s channel=%s code=%s",
        c.public_id,
        loggable(claimant),
        row.channel,
        mask_code(row.code),
    )
    if events_bus is None:
        return result
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


async def check_stock(c: Campaign, events_bus: EventBus) -> None:
    """After claims: `low_stock` once per crossing, and the campaign completes at zero."""
    left = await available_count(c.id, at_most=max(c.low_stock_threshold, 0) + 1)
    if left == 0:
        await mark_sold_out(c, events_bus)
    elif c.low_stock_threshold and left <= c.low_stock_threshold:
        await alert_low_stock(c, left, events_bus)


async def alert_low_stock(c: Campaign, left: int, events_bus: EventBus) -> bool:
    """One `low_stock` event per crossing: the flag flips once until stock is refilled."""
    async with in_transaction() as conn:
        flipped = (
            await Campaign.filter(id=c.id, low_stock_alerted=False)
            .using_db(conn)
            .update(low_stock_alerted=True)
        )
        if flipped:
            await outbox.record(
                conn,
                c.owner_id,  # type: ignore[attr-defined]
                outbox.CAMPAIGN_LOW_STOCK,
                c.public_id,
                {
                    "campaign_id": c.public_id,
                    "name": c.name,
                    "available": left,
                    "threshold": c.low_stock_threshold,
                },
            )
    if flipped:
        await events_bus.publish(
            Event(
                events.LOW_STOCK,
                c.public_id,
                c.owner_id,  # type: ignore[attr-defined]
                {"name": c.name, "available": left, "threshold": c.low_stock_threshold},
            )
        )
    return bool(flipped)


async def my_codes(*, claimant_key: str, limit: int = 50) -> list[MyCode]:
    """The codes a claimant received, newest first (released ones excluded)."""
    rows = (
        await Claim.filter(claimant=claimant_key, slot__isnull=False)
        .order_by("-created_at")
        .limit(limit)
        .select_related("campaign")
    )
    statuses = dict(
        await PromoCode.filter(id__in=[r.code_id for r in rows]).values_list("id", "status")
    )
    return [
        MyCode(
            campaign_id=r.campaign.public_id,
            campaign_name=r.campaign.name,
            code=r.code,
            platform=r.platform,
            claimed_at=r.created_at,
            status=str(statuses.get(r.code_id, CodeStatus.USED)),
        )
        for r in rows
    ]
