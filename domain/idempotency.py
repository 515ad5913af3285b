"""Idempotency keys: a key belongs to the first request made with it; retries replay its answer.

A client that did not hear the answer (a timeout, a dropped connection, a crashed proxy)
retries with the same `Idempotency-Key`. Within the retention window (24 h by default):
- the same key with the same request gets the first answer back, byte for byte;
- the same key with a different request is refused (`IdempotencyMismatch`) and never runs,
  also when the two arrive at the same moment.

`begin` takes the key for the request BEFORE it runs: one row per (scope, key) holding the
request's fingerprint, inserted under the unique key, so of several requests racing with one
key exactly one row wins and a request with another fingerprint is refused before it runs.
`finish` then stores a successful answer on that row. Only successful answers are stored: a
refusal changed nothing, so `release` frees the key again, and a retry runs again and tells
the current truth (a paused campaign may have resumed). A row without an answer (the request
is still running, or its process died before it could answer or release) never blocks a
retry of the same request: it runs again (claims are idempotent per claimant and key by
themselves, imports skip codes already present); it only keeps the key from serving a
different request until it expires.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from domain import clock
from domain.adapters.db import is_mysql_connection
from domain.claims import ATTEMPTS, is_retryable
from domain.claims.coalesce import Coalescer
from domain.claims.keys import key_reused
from domain.errors import ServiceUnavailable, ValidationFailed
from domain.models import IdempotencyRecord

log = logging.getLogger(__name__)

MAX_KEY = 128
# visible ASCII, spaces inside only: what survives an HTTP header unchanged (a server strips
# the ends of a header value, and non-ASCII bytes decode differently from client to client)
KEY_PATTERN = r"^[!-~]([ -~]{0,126}[!-~])?$"
_KEY_RE = re.compile(KEY_PATTERN)
SCOPE_CHARS = 100


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A remembered answer: status, body and the headers worth replaying."""

    status_code: int
    body: Any
    media_type: str
    headers: dict[str, str]


def check_key(key: str) -> str:
    """The key itself, or `ValidationFailed` unless it is 1-128 visible ASCII characters
    (spaces inside allowed)."""
    if not _KEY_RE.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1-128 visible ASCII characters.", field="Idempotency-Key"
        )
    return key


def fingerprint(*parts: bytes | str) -> str:
    """A stable hash of what makes two requests "the same request"."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def scope_of(principal: str, operation: str) -> str:
    """The namespace a key lives in: who asks (a key hash or `anon`) and which operation."""
    op = hashlib.sha256(operation.encode()).hexdigest()[:32]
    return f"{principal[:60]}:{op}"[:SCOPE_CHARS]


def _answer(record: IdempotencyRecord) -> StoredAnswer:
    data = record.response or {}
    return StoredAnswer(
        status_code=int(record.status_code or 200),
        body=data.get("body"),
        media_type=str(data.get("media_type") or "application/json"),
        headers=dict(data.get("headers") or {}),
    )


@dataclass(frozen=True, slots=True)
class Held:
    """The key is this request's: `answer` is the stored answer to replay, None when there is
    none yet (a new key, or the same request refused, in flight or cut short)."""

    answer: StoredAnswer | None


# a key whose row expired and was swept while we looked goes round again; bounded, never deep
BEGIN_ATTEMPTS = 3


async def begin(*, scope: str, key: str, request_hash: str, ttl: timedelta) -> Held:
    """Take `key` for this request before it runs (see the module docstring).

    Raises `IdempotencyMismatch` when the key belongs to a different request, however close
    in time the two came. Keys that arrive together are inserted together (one multi-row
    INSERT, as claims are); a conflict in a batch sends each of its keys down the one-by-one
    path, which reads the row that holds the key.
    """
    if await TAKES.submit(None, _new_record(scope, key, request_hash)):
        return Held(answer=None)
    for _ in range(BEGIN_ATTEMPTS):
        try:
            await _new_record(scope, key, request_hash).save()
            return Held(answer=None)
        except IntegrityError:
            pass
        record = await IdempotencyRecord.get_or_none(scope=scope, key=key)
        if record is None:
            continue  # swept between our INSERT and our read: try to take it again
        if record.created_at < clock.now() - ttl:
            # expired: forget it so the key can serve a new request (the cleanup job sweeps
            # the rest); the next round takes it
            await IdempotencyRecord.filter(id=record.id, created_at=record.created_at).delete()
            continue
        if record.request_hash != request_hash:
            raise key_reused()
        return Held(answer=_answer(record) if record.status_code is not None else None)
    raise ServiceUnavailable("The Idempotency-Key could not be taken; retry the request.")


async def lookup(*, scope: str, key: str, request_hash: str, ttl: timedelta) -> Held | None:
    """The key's state before a claim that writes its own row (domain/claims/keys.py): None
    when the key is free, its stored answer when this request holds it; `IdempotencyMismatch`
    when another request does. A read, shared by the lookups that arrive together (an
    expired row is deleted)."""
    for _ in range(BEGIN_ATTEMPTS):
        found = await LOOKUPS.submit(None, (scope, key))
        if found is None:
            return None
        row_id, held_by, status_code, response, created_at = found
        if created_at < clock.now() - ttl:
            await IdempotencyRecord.filter(id=row_id, created_at=created_at).delete()
            continue
        if held_by != request_hash:
            raise key_reused()
        if status_code is None:
            return Held(answer=None)
        data = response or {}
        return Held(
            answer=StoredAnswer(
                status_code=int(status_code),
                body=data.get("body"),
                media_type=str(data.get("media_type") or "application/json"),
                headers=dict(data.get("headers") or {}),
            )
        )
    raise ServiceUnavailable("The Idempotency-Key could not be read; retry the request.")


# a key's row as `lookup` reads it: id, request hash, status code, response, created at
_Row = tuple[int, str, int | None, Any, datetime]


async def _look_up_together(_lane: None, keys: list[tuple[str, str]]) -> list[_Row | None]:
    """The rows of these keys, in ONE query (a keyed burst used to queue a read per request
    on the pool, beside the claims' batches)."""
    conn = get_connection("default")
    mysql = is_mysql_connection(conn)
    quote = "`key`" if mysql else '"key"'
    unique = sorted(set(keys))
    match = " OR ".join([f"(scope = ? AND {quote} = ?)"] * len(unique))
    query = (
        f"SELECT id, scope, {quote} AS k, request_hash, status_code, response, created_at"
        f" FROM idempotency_records WHERE {match}"
    )
    _, rows = await conn.execute_query(
        query.replace("?", "%s") if mysql else query, [v for pair in unique for v in pair]
    )
    found: dict[tuple[str, str], _Row] = {}
    for r in rows:
        response = r["response"]
        created = r["created_at"]
        created = created if isinstance(created, datetime) else datetime.fromisoformat(created)
        found[(str(r["scope"]), str(r["k"]))] = (
            int(r["id"]),
            str(r["request_hash"]),
            r["status_code"],
            json.loads(response) if isinstance(response, (str, bytes)) else response,
            created if created.tzinfo else created.replace(tzinfo=UTC),
        )
    return [found.get(k) for k in keys]


LOOKUPS: Coalescer[None, tuple[str, str], _Row | None] = Coalescer(_look_up_together, max_batch=200)


def _new_record(
    scope: str, key: str, request_hash: str, answer: StoredAnswer | None = None
) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=scope,
        key=key,
        request_hash=request_hash,
        status_code=answer.status_code if answer else None,
        response=payload_of(answer) if answer else None,
        created_at=clock.now(),
    )


def payload_of(answer: StoredAnswer) -> dict[str, Any]:
    """An answer as its row keeps it (the `response` column)."""
    return {"body": answer.body, "media_type": answer.media_type, "headers": answer.headers}


async def _take_together(_: None, records: list[IdempotencyRecord]) -> list[bool]:
    """Insert records in one multi-row INSERT and commit; all False if any key was taken."""
    try:
        async with in_transaction():
            await IdempotencyRecord.bulk_create(records)
    except IntegrityError:
        return [False] * len(records)
    return [True] * len(records)


TAKES: Coalescer[None, IdempotencyRecord, bool] = Coalescer(
    _take_together, max_batch=200, linger=0.003
)


async def finish(*, scope: str, key: str, request_hash: str, answer: StoredAnswer) -> None:
    """Store the successful answer of the request that holds `key` (the first answer stays).

    Answers that arrive together are written with one statement: an upsert that fills the
    row `begin` inserted, or inserts it again if the cleanup swept it meanwhile, and leaves
    a row alone that already has an answer or belongs to another request.
    """
    await ANSWERS.submit(None, (scope, key, request_hash, answer))


_Answer = tuple[str, str, str, StoredAnswer]


async def _answer_together(_: None, answers: list[_Answer]) -> list[None]:
    conn = get_connection("default")
    mysql = is_mysql_connection(conn)
    now = clock.now()
    values: list[Any] = []
    # one row per key (the first answer wins), in key order so concurrent batches lock alike
    unique = {(scope, key): (scope, key, h, a) for scope, key, h, a in reversed(answers)}
    for scope, key, request_hash, answer in sorted(unique.values(), key=lambda a: a[:2]):
        values += [
            scope,
            key,
            request_hash,
            answer.status_code,
            json.dumps(payload_of(answer), separators=(",", ":")),
            now.replace(tzinfo=None) if mysql else now,
        ]
    rows = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(unique))
    insert = (
        "INSERT INTO idempotency_records (scope, `key`, request_hash, status_code, response,"
        f" created_at) VALUES {rows}"
    )
    if mysql:
        # MariaDB evaluates the assignments in order: `response` first, while status_code is
        # still the old one
        fill = "status_code IS NULL AND request_hash = VALUES(request_hash)"
        query = (
            insert.replace("?", "%s")
            + f" ON DUPLICATE KEY UPDATE response = IF({fill}, VALUES(response), response),"
            f" status_code = IF({fill}, VALUES(status_code), status_code)"
        )
    else:
        query = insert.replace("`key`", '"key"') + (
            ' ON CONFLICT (scope, "key") DO UPDATE SET status_code = excluded.status_code,'
            " response = excluded.response WHERE idempotency_records.status_code IS NULL"
            " AND idempotency_records.request_hash = excluded.request_hash"
        )
    for attempt in range(ATTEMPTS):
        try:
            async with in_transaction() as tx:
                await tx.execute_query(query, values)
            break
        except OperationalError as exc:
            if not is_retryable(exc) or attempt == ATTEMPTS - 1:
                # the request ran and its answer stands; a retry of it will run again
                log.warning("idempotency answers not stored: %s", type(exc).__name__)
                break
    return [None] * len(answers)


async def release(*, scope: str, key: str, request_hash: str) -> None:
    """Free a key whose request was refused (a refusal changed nothing): the row goes unless
    an answer was stored on it meanwhile. Releases that arrive together share one DELETE."""
    await RELEASES.submit(None, (scope, key, request_hash))


async def _release_together(_: None, keys: list[tuple[str, str, str]]) -> list[None]:
    conn = get_connection("default")
    quote = "`key`" if is_mysql_connection(conn) else '"key"'
    unique = sorted(set(keys))
    match = " OR ".join([f"(scope = ? AND {quote} = ? AND request_hash = ?)"] * len(unique))
    query = f"DELETE FROM idempotency_records WHERE status_code IS NULL AND ({match})"
    if is_mysql_connection(conn):
        query = query.replace("?", "%s")
    try:
        await conn.execute_query(query, [value for triple in unique for value in triple])
    except OperationalError as exc:
        # the row stays bound to the refused request until it expires; retries of it still run
        log.warning("idempotency keys not released: %s", type(exc).__name__)
    return [None] * len(keys)


RELEASES: Coalescer[None, tuple[str, str, str], None] = Coalescer(
    _release_together, max_batch=200, linger=0.003
)


ANSWERS: Coalescer[None, _Answer, None] = Coalescer(_answer_together, max_batch=200, linger=0.003)
