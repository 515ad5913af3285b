"""Every statement a claim runs, for MariaDB and SQLite, and the plain rows they return.

Queries are written with `?` placeholders (`dialect` turns them into aiomysql's `%s`) and
read without the ORM: the claim is the hot path, and a conditional UPDATE whose row count
is checked is what keeps one code to one claimant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.connection import get_connection

from domain import clock
from domain.adapters.db import is_mysql_connection
from domain.expiry import UNEXPIRED_SQL as UNEXPIRED
from domain.expiry import db_time

ATTEMPTS = 5  # a transaction chosen as a deadlock victim runs again, this many times at most
RETRYABLE = ("1213", "1205", "Deadlock", "Lock wait timeout", "database is locked")

CLAIM_COLUMNS = (
    "campaign_id, claimant, slot, code_id, code, channel, platform, idempotency_key, created_at"
)
ONE_CLAIM_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"

# MariaDB: one statement takes the next code; LAST_INSERT_ID(id) hands the updated row's id
# back in the OK packet (0: no row). FORCE INDEX: with one campaign's codes all 'available',
# MariaDB's optimizer prefers the (status, used_at) index plus a filesort over 100,000 rows.
TAKE_CODE_MYSQL = (
    "UPDATE promo_codes FORCE INDEX (promo_next_available)"
    " SET status='claimed', claimant=?, claimed_at=?, id=LAST_INSERT_ID(id)"
    f" WHERE campaign_id=? AND status='available' AND platform=? AND {UNEXPIRED}"
    " ORDER BY id LIMIT 1"
)
CODE_BY_ID = "SELECT code FROM promo_codes WHERE id=?"
# SQLite: the same in one statement, with RETURNING
TAKE_CODE_SQLITE = (
    "UPDATE promo_codes SET status='claimed', claimant=?, claimed_at=?"
    " WHERE id=(SELECT id FROM promo_codes"
    f" WHERE campaign_id=? AND status='available' AND platform=? AND {UNEXPIRED}"
    " ORDER BY id LIMIT 1) AND status='available' RETURNING id, code"
)
# a batch: lock the next codes, passing over those another batch holds (MariaDB) ...
NEXT_CODES_MYSQL = (
    "SELECT id, code FROM promo_codes FORCE INDEX (promo_next_available)"
    f" WHERE campaign_id=? AND status='available' AND platform=? AND {UNEXPIRED}"
    " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED"
)
# ... or read them (SQLite has one writer at a time; MARK_CLAIMED re-checks the status)
NEXT_CODES_SQLITE = (
    "SELECT id, code FROM promo_codes"
    f" WHERE campaign_id=? AND status='available' AND platform=? AND {UNEXPIRED}"
    " ORDER BY id LIMIT ?"
)
MARK_CLAIMED = (
    "UPDATE promo_codes SET status='claimed', claimed_at=?, claimant=CASE id {cases} END"
    " WHERE id IN ({ids}) AND status='available'"
)
HELD = (
    "SELECT claimant, slot, code, platform, channel, idempotency_key, created_at"
    " FROM claims WHERE campaign_id=? AND claimant IN ({marks}) AND slot IS NOT NULL"
    " ORDER BY slot"
)
TERMS_COLUMNS = (
    "status, completed_reason, starts_at, ends_at, per_claimant_limit, platform, eligibility,"
    " identity"
)
TERMS = f"SELECT {TERMS_COLUMNS} FROM campaigns WHERE id=?"
# refusals confirmed in ONE read: the campaign's terms now, beside what the claimants hold
# (a LEFT JOIN, so claimants who hold nothing still read the terms)
TERMS_AND_HELD = (
    "SELECT c.status, c.completed_reason, c.starts_at, c.ends_at, c.per_claimant_limit,"
    " c.platform, c.eligibility, c.identity, h.claimant, h.slot, h.code,"
    " h.platform AS held_platform, h.channel, h.idempotency_key, h.created_at"
    " FROM campaigns c LEFT JOIN claims h"
    " ON h.campaign_id=c.id AND h.claimant IN ({marks}) AND h.slot IS NOT NULL"
    " WHERE c.id=? ORDER BY h.slot"
)
AVAILABLE_COUNT = (
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM promo_codes"
    f" WHERE campaign_id=? AND status='available' AND {UNEXPIRED} LIMIT ?) AS head"
)


def is_retryable(exc: BaseException) -> bool:
    """A deadlock victim or a lock timeout: the transaction rolled back and may run again."""
    return any(sign in str(exc) for sign in RETRYABLE)


class StaleRead(Exception):
    """A code the batch read as available was taken before its UPDATE (SQLite, other process)."""


@dataclass(frozen=True, slots=True)
class Held:
    """A claim the claimant holds, or is about to (a plain row, read without the ORM)."""

    slot: int
    code: str
    platform: str
    channel: str
    idempotency_key: str | None
    created_at: datetime


# what a claim was admitted on: status (and why completed), window, limit, platform,
# eligibility rules, identity
Terms = tuple[str, str | None, datetime | None, datetime | None, int, str, Any, str]


def dialect(conn: Any, query: str) -> str:
    """Queries are written with `?`; aiomysql wants `%s`."""
    return query.replace("?", "%s") if is_mysql_connection(conn) else query


def _when(value: object) -> datetime:
    """A datetime read by raw SQL: naive UTC from MySQL, ISO text from SQLite."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stored(conn: Any, moment: datetime) -> datetime:
    """A datetime as the connection stores it (MySQL: naive UTC)."""
    return moment.replace(tzinfo=None) if is_mysql_connection(conn) else moment


async def take_code(
    conn: Any, campaign_pk: int, platform: str, claimant: str, now: datetime
) -> tuple[int, str] | None:
    """Mark the next available code claimed in ONE statement; (id, code) or None if none left."""
    when = _stored(conn, now)
    args = [claimant, when, campaign_pk, platform, when]
    if is_mysql_connection(conn):
        code_id = await conn.execute_insert(dialect(conn, TAKE_CODE_MYSQL), args)
        if not code_id:
            return None
        _, rows = await conn.execute_query(dialect(conn, CODE_BY_ID), [code_id])
        return int(code_id), str(rows[0]["code"])
    _, rows = await conn.execute_query(TAKE_CODE_SQLITE, args)
    if not rows:
        return None
    return int(rows[0]["id"]), str(rows[0]["code"])


def _claim_values(conn: Any, campaign_pk: int, claimant: str, code_id: int, row: Held) -> list[Any]:
    return [
        campaign_pk,
        claimant,
        row.slot,
        code_id,
        row.code,
        row.channel,
        row.platform,
        row.idempotency_key,
        _stored(conn, row.created_at),
    ]


async def record(conn: Any, campaign_pk: int, rows: list[tuple[str, int, Held]]) -> None:
    """Insert claim rows (claimant, code id, row) in one INSERT; the unique (campaign,
    claimant, slot) is the final arbiter."""
    values: list[Any] = []
    for claimant, code_id, row in rows:
        values += _claim_values(conn, campaign_pk, claimant, code_id, row)
    marks = ", ".join([ONE_CLAIM_ROW] * len(rows))
    await conn.execute_query(
        dialect(conn, f"INSERT INTO claims ({CLAIM_COLUMNS}) VALUES {marks}"), values
    )


async def terms_now(conn: Any, campaign_pk: int) -> Terms | None:
    """The campaign's terms as the database has them now (None: deleted)."""
    _, rows = await conn.execute_query(dialect(conn, TERMS), [campaign_pk])
    return _terms(rows[0]) if rows else None


def _terms(r: Any) -> Terms:
    rules = r["eligibility"]
    return (
        str(r["status"]),
        r["completed_reason"],
        _when(r["starts_at"]) if r["starts_at"] is not None else None,
        _when(r["ends_at"]) if r["ends_at"] is not None else None,
        int(r["per_claimant_limit"]),
        str(r["platform"]),
        json.loads(rules) if isinstance(rules, (str, bytes)) else rules,
        str(r["identity"]),
    )


async def terms_and_held(
    campaign_pk: int, claimants: list[str]
) -> tuple[Terms | None, dict[str, list[Held]]]:
    """The campaign's terms now and what each claimant holds in it, by slot: ONE read, no
    transaction (what confirms refusals decided on a recent read, several at once)."""
    conn = get_connection("default")
    marks = ", ".join("?" * len(claimants))
    _, rows = await conn.execute_query(
        dialect(conn, TERMS_AND_HELD.format(marks=marks)), [*claimants, campaign_pk]
    )
    if not rows:
        return None, {}
    held: dict[str, list[Held]] = {}
    for r in rows:
        if r["slot"] is None:
            continue
        held.setdefault(str(r["claimant"]), []).append(
            Held(
                slot=int(r["slot"]),
                code=str(r["code"]),
                platform=str(r["held_platform"]),
                channel=str(r["channel"]),
                idempotency_key=r["idempotency_key"],
                created_at=_when(r["created_at"]),
            )
        )
    return _terms(rows[0]), held


async def held_by(conn: Any, campaign_pk: int, claimants: list[str]) -> dict[str, list[Held]]:
    """What each of these claimants holds in the campaign, by slot (one query for them all)."""
    if not claimants:
        return {}
    marks = ", ".join("?" * len(claimants))
    _, rows = await conn.execute_query(
        dialect(conn, HELD.format(marks=marks)), [campaign_pk, *claimants]
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


async def held_now(campaign_pk: int, claimant: str) -> list[Held]:
    """What one claimant holds in the campaign, by slot, outside any transaction."""
    held = await held_by(get_connection("default"), campaign_pk, [claimant])
    return held.get(claimant, [])


async def next_codes(
    conn: Any, campaign_pk: int, platform: str, n: int, now: datetime
) -> list[tuple[int, str]]:
    """Up to `n` available, unexpired codes of a campaign, oldest first; on MariaDB locked
    for this batch (SKIP LOCKED: codes another batch holds are passed over, not waited for)."""
    query = NEXT_CODES_MYSQL if is_mysql_connection(conn) else NEXT_CODES_SQLITE
    _, rows = await conn.execute_query(
        dialect(conn, query), [campaign_pk, platform, db_time(conn, now), n]
    )
    return [(int(r["id"]), str(r["code"])) for r in rows]


async def mark_claimed(conn: Any, taken: list[tuple[int, str]], now: datetime) -> None:
    """Mark codes (id, claimant) claimed by their claimants in one UPDATE; `StaleRead` if any
    was no longer available."""
    cases = " ".join("WHEN ? THEN ?" for _ in taken)
    ids = ", ".join("?" * len(taken))
    changed, _ = await conn.execute_query(
        dialect(conn, MARK_CLAIMED.format(cases=cases, ids=ids)),
        [
            _stored(conn, now),
            *(value for pair in taken for value in pair),
            *(code_id for code_id, _ in taken),
        ],
    )
    if changed != len(taken):
        raise StaleRead(f"{len(taken) - changed} of {len(taken)} codes were taken meanwhile")


async def available_count(campaign_pk: int, *, at_most: int) -> int:
    """Available, unexpired codes, counting no further than `at_most` (a bounded index range
    scan)."""
    conn = get_connection("default")
    _, rows = await conn.execute_query(
        dialect(conn, AVAILABLE_COUNT), [campaign_pk, db_time(conn, clock.now()), at_most]
    )
    return int(rows[0]["n"])
