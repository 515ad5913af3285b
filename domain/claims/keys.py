"""An Idempotency-Key's answer written in the claim's own transaction.

A keyed claim used to cost three write transactions: take the key (`domain.idempotency.begin`),
the claim, then store its answer (`finish`). A claim given a `KeyedAnswer` instead inserts the
key's row, answer included, in the transaction that takes the code: the key and the claim
commit together or not at all. The unique `(scope, key)` still decides between requests
racing with one key: the loser's transaction rolls back whole (its code back in the pool),
and it is refused when its request differs (`IdempotencyMismatch`) or answered with the claim
the winner committed when it is the same request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError

from domain.adapters.db import is_mysql_connection
from domain.errors import IdempotencyMismatch
from domain.values import ClaimResult

# (status code, the stored response: body, media type, headers) of a claim's answer
Answer = tuple[int, dict[str, Any]]

KEY_ROW = "(?, ?, ?, ?, ?, ?)"
ANSWER_OF_KEY = "SELECT request_hash FROM idempotency_records WHERE scope=? AND {key}=?"


@dataclass(frozen=True, slots=True)
class KeyedAnswer:
    """The key a claim's answer is kept under, and how the front renders that answer."""

    scope: str
    key: str
    request_hash: str
    answer_of: Callable[[ClaimResult], Answer]


def key_reused() -> IdempotencyMismatch:
    """The refusal of a request whose key another request holds."""
    return IdempotencyMismatch(
        "This Idempotency-Key was already used with a different request; use a new key for a"
        " new request.",
        field="Idempotency-Key",
    )


class KeyTaken(Exception):
    """Another request committed this key first (this transaction rolled back)."""


def _key_column(conn: Any) -> str:
    return "`key`" if is_mysql_connection(conn) else '"key"'


async def write_answers(
    conn: Any, answers: list[tuple[KeyedAnswer, ClaimResult]], now: datetime
) -> None:
    """Insert the keys' rows with their answers in one INSERT, inside the claim's transaction;
    `KeyTaken` when a key is already held (the caller's transaction must roll back)."""
    mysql = is_mysql_connection(conn)
    values: list[Any] = []
    for keyed, result in answers:
        status_code, response = keyed.answer_of(result)
        values += [
            keyed.scope,
            keyed.key,
            keyed.request_hash,
            status_code,
            json.dumps(response, separators=(",", ":")),
            now.replace(tzinfo=None) if mysql else now,
        ]
    query = (
        f"INSERT INTO idempotency_records (scope, {_key_column(conn)}, request_hash,"
        f" status_code, response, created_at) VALUES {', '.join([KEY_ROW] * len(answers))}"
    )
    try:
        await conn.execute_query(query.replace("?", "%s") if mysql else query, values)
    except IntegrityError as exc:
        raise KeyTaken(str(exc)) from exc


async def holder_of(keyed: KeyedAnswer) -> str | None:
    """The request hash the key is committed to now (None: the key is free)."""
    conn = get_connection("default")
    query = ANSWER_OF_KEY.format(key=_key_column(conn))
    _, rows = await conn.execute_query(
        query.replace("?", "%s") if is_mysql_connection(conn) else query,
        [keyed.scope, keyed.key],
    )
    return str(rows[0]["request_hash"]) if rows else None
