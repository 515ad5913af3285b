"""Idempotency keys: the stored answer to a request, replayed when the same request comes again.

A client that did not hear the answer (a timeout, a dropped connection, a crashed proxy)
retries with the same `Idempotency-Key`. Within the retention window (24 h by default):
- the same key with the same request gets the first answer back, byte for byte;
- the same key with a different request is refused (`IdempotencyMismatch`), never run.

Only successful answers are stored: a refusal changed nothing, so running it again is safe and
tells the client the current truth (a paused campaign may have resumed). The record is written
AFTER the operation, never as an in-progress marker before it: a process killed mid-request or
a database that drops mid-request cannot leave a marker behind that blocks the client's retries.
Two concurrent first attempts both run (claims are idempotent per claimant and key by
themselves, imports skip codes already present), the first record wins, and the second attempt
answers with the winner's stored answer, so the client sees one answer whatever the timing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain import clock
from domain.coalesce import Coalescer
from domain.errors import IdempotencyMismatch, ValidationFailed
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


async def lookup(*, scope: str, key: str, request_hash: str, ttl: timedelta) -> StoredAnswer | None:
    """The stored answer for this key, None when there is none (or it expired).

    Raises `IdempotencyMismatch` when the key was used for a different request.
    """
    record = await READS.submit(None, (scope, key))
    if record is None:
        return None
    if record.created_at < clock.now() - ttl:
        # expired: forget it so the key can serve a new request (the cleanup job sweeps the rest)
        await IdempotencyRecord.filter(id=record.id, created_at=record.created_at).delete()
        return None
    if record.request_hash != request_hash:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request; use a new key"
            " for a new request.",
            field="Idempotency-Key",
        )
    return _answer(record)


async def _read_together(_: None, wanted: list[tuple[str, str]]) -> list[IdempotencyRecord | None]:
    """The records of several (scope, key) pairs in one query (lookups that arrive together)."""
    rows = await IdempotencyRecord.filter(
        scope__in=sorted({scope for scope, _ in wanted}), key__in=sorted({key for _, key in wanted})
    )
    found = {(r.scope, r.key): r for r in rows}
    return [found.get(pair) for pair in wanted]


READS: Coalescer[None, tuple[str, str], IdempotencyRecord | None] = Coalescer(
    _read_together, max_batch=200
)


async def remember(
    *, scope: str, key: str, request_hash: str, answer: StoredAnswer, ttl: timedelta
) -> StoredAnswer:
    """Store `answer` for the key; returns the answer to give (an earlier one if it won the race).

    Records that arrive together are inserted together (one commit for the lot, as claims
    are); a conflict in a batch sends each of its records down the one-by-one path.
    Raises `IdempotencyMismatch` when a concurrent request stored a different request under
    the same key first.
    """
    if await WRITES.submit(None, _new_record(scope, key, request_hash, answer)):
        return answer
    return await _remember_one(
        scope=scope, key=key, request_hash=request_hash, answer=answer, ttl=ttl
    )


def _new_record(scope: str, key: str, request_hash: str, answer: StoredAnswer) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=scope,
        key=key,
        request_hash=request_hash,
        status_code=answer.status_code,
        response={"body": answer.body, "media_type": answer.media_type, "headers": answer.headers},
        created_at=clock.now(),
    )


async def _write_together(_: None, records: list[IdempotencyRecord]) -> list[bool]:
    """Insert records in one multi-row INSERT and commit; all False if any key was taken."""
    try:
        async with in_transaction():
            await IdempotencyRecord.bulk_create(records)
    except IntegrityError:
        return [False] * len(records)
    return [True] * len(records)


WRITES: Coalescer[None, IdempotencyRecord, bool] = Coalescer(
    _write_together, max_batch=200, linger=0.003
)


async def _remember_one(
    *, scope: str, key: str, request_hash: str, answer: StoredAnswer, ttl: timedelta
) -> StoredAnswer:
    try:
        await _new_record(scope, key, request_hash, answer).save()
        return answer
    except IntegrityError:
        pass
    winner = await lookup(scope=scope, key=key, request_hash=request_hash, ttl=ttl)
    if winner is None:  # it expired in between: ours is the answer now
        return await _remember_one(
            scope=scope, key=key, request_hash=request_hash, answer=answer, ttl=ttl
        )
    log.info("idempotency key raced: answering with the first stored answer")
    return winner
