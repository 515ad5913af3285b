"""Generated codes: cryptographically random codes from a pattern, unique within the campaign.

A pattern is literal characters and placeholders: `#` a digit, `?` a letter (A-Z), `*` either
(`PROMO-####-????`). `exclude_lookalikes` leaves out the characters people misread
(`LOOKALIKES`: 0 O 1 I L). The randomness is `secrets.token_bytes` mapped onto each alphabet by
rejection sampling (bytes past the largest multiple of the alphabet's size are dropped, so
every character is equally likely), done by `bytes.translate` in C: a million codes cost about
a second of Python.

Uniqueness is the database's: codes go in through the upload's multi-row `INSERT IGNORE`
(`domain.uploads.insert_codes`) and the unique (campaign, code) key drops a collision, which
is generated again. A request whose count would fill more than `MAX_FILL` of the pattern's
space (counting the codes the campaign already has) is refused, so collisions stay rare and
the codes stay hard to guess. Each generation is an `Upload` row (filename `generated:…`), so
its progress and report read like an upload's.

Every front goes through `admit_generation` first (the campaign is the developer's to manage,
one hit on the upload rate limit: a generation fills a campaign like an upload does), and
`start_generation` / `generate_codes` take only what it admitted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from domain import audit, clock
from domain.access import Role, require
from domain.audit import Action
from domain.errors import UploadNotFound, ValidationFailed
from domain.events import EventBus
from domain.expiry import ttl_expiry
from domain.large_uploads import UploadProgress
from domain.models import ArchivedCode, Campaign, PromoCode, Upload
from domain.ratelimits import RateLimitState
from domain.uploads import (
    CODE_RE,
    MAX_LEN,
    MIN_LEN,
    after_import,
    check_admission,
    insert_codes,
    new_upload_id,
    record_completed,
    report_of,
)
from domain.values import ImportReport

if TYPE_CHECKING:
    from domain.adapters.bootstrap import Services

log = logging.getLogger(__name__)

MAX_COUNT = 1_000_000
MAX_FILL = 0.10
BATCH = 10_000
# a request generating more than this runs in the background (progress like a large upload)
INLINE_COUNT = 100_000
MAX_ROUNDS = 20
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOOKALIKES = frozenset("0O1IL")
PLACEHOLDERS = "#?*"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed pattern: the columns of a code, each a literal or an alphabet."""

    text: str
    prefix: str
    suffix: str
    columns: tuple[tuple[bool, str], ...]  # (is_placeholder, literal or alphabet)

    @property
    def space(self) -> int:
        """How many distinct codes the pattern can make."""
        return math.prod(len(a) for random, a in self.columns if random)

    @property
    def length(self) -> int:
        return len(self.columns)


def _alphabet(kind: str, exclude_lookalikes: bool) -> str:
    chars = {"#": DIGITS, "?": LETTERS, "*": DIGITS + LETTERS}[kind]
    return "".join(c for c in chars if c not in LOOKALIKES) if exclude_lookalikes else chars


def _literal(text: str, field: str) -> str:
    if text and not CODE_RE.match(text):
        bad = next(ch for ch in text if not (ch.isascii() and (ch.isalnum() or ch in "-_")))
        raise ValidationFailed(
            f"{field} may hold letters, digits, '-' and '_' only (found {bad!r}).", field=field
        )
    return text


def parse_pattern(
    pattern: str, *, prefix: str = "", suffix: str = "", exclude_lookalikes: bool = False
) -> Pattern:
    """Check and parse a pattern (`#` digit, `?` letter, `*` either, the rest literal)."""
    if not any(ch in PLACEHOLDERS for ch in pattern):
        raise ValidationFailed(
            "The pattern needs at least one placeholder: # (digit), ? (letter) or * (either).",
            field="pattern",
        )
    _literal("".join(ch for ch in pattern if ch not in PLACEHOLDERS), "pattern")
    _literal(prefix, "prefix")
    _literal(suffix, "suffix")
    columns: list[tuple[bool, str]] = [(False, ch) for ch in prefix]
    for ch in pattern:
        if ch in PLACEHOLDERS:
            columns.append((True, _alphabet(ch, exclude_lookalikes)))
        else:
            columns.append((False, ch))
    columns += [(False, ch) for ch in suffix]
    if not MIN_LEN <= len(columns) <= MAX_LEN:
        raise ValidationFailed(
            f"Codes would be {len(columns)} characters long; codes are {MIN_LEN}-{MAX_LEN}"
            " characters (prefix + pattern + suffix).",
            field="pattern",
        )
    return Pattern(text=pattern, prefix=prefix, suffix=suffix, columns=tuple(columns))


def random_chars(
    alphabet: str, n: int, *, token_bytes: Callable[[int], bytes] | None = None
) -> str:
    """`n` characters drawn uniformly from `alphabet` with `secrets` randomness."""
    draw = token_bytes or secrets.token_bytes
    size = len(alphabet)
    limit = 256 - 256 % size  # bytes >= limit would favour the alphabet's first characters
    table = bytes(ord(alphabet[b % size]) if b < limit else 0 for b in range(256))
    rejected = bytes(range(limit, 256))
    out: list[bytes] = []
    have = 0
    while have < n:
        want = n - have
        chunk = draw(want * 256 // limit + 64).translate(table, rejected)[:want]
        out.append(chunk)
        have += len(chunk)
    return b"".join(out).decode("ascii")


def make_codes(p: Pattern, n: int) -> set[str]:
    """Up to `n` distinct random codes of the pattern (fewer only if the batch collided)."""
    streams: list[object] = []
    for random, value in p.columns:
        streams.append(random_chars(value, n) if random else repeat(value, n))
    return set(map("".join, zip(*streams, strict=False)))


def _draw(p: Pattern, n: int) -> list[str]:
    """Up to `n` distinct codes, sorted (inserted in key order, the unique index's pages are
    visited once each)."""
    return sorted(make_codes(p, n))


def check_space(p: Pattern, *, count: int, existing: int) -> None:
    """Refuse a count that would fill more than MAX_FILL of the pattern's space."""
    room = int(p.space * MAX_FILL)
    if existing + count > room:
        raise ValidationFailed(
            f"The pattern {p.prefix}{p.text}{p.suffix} makes {p.space:,} codes; {count:,} more"
            f" (with the {existing:,} codes already in the campaign) would fill over"
            f" {MAX_FILL:.0%} of them, at most {max(room - existing, 0):,} can be generated."
            " Make the pattern longer or use * placeholders.",
            field="count",
            space=p.space,
            existing=existing,
            at_most=max(room - existing, 0),
        )


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    count: int
    pattern: str
    prefix: str = ""
    suffix: str = ""
    exclude_lookalikes: bool = False


@dataclass(frozen=True, slots=True)
class GenerationPass:
    """A generation admitted by `admit_generation`; `start_generation` takes nothing else, so
    no front can skip the checks."""

    developer_id: int
    campaign_id: str
    rate: RateLimitState | None  # for the API's RateLimit headers; None when limits are off


async def admit_generation(
    services: Services, *, developer_id: int, campaign_id: str
) -> GenerationPass:
    """Admit one generation: the campaign must be theirs to manage, and the developer within
    `rate_limit_upload` (the bucket uploads draw on)."""
    rate = await check_admission(services, developer_id=developer_id, campaign_id=campaign_id)
    return GenerationPass(developer_id=developer_id, campaign_id=campaign_id, rate=rate)


async def start_generation(
    admitted: GenerationPass, *, request: GenerateRequest
) -> tuple[Campaign, Pattern, Upload]:
    """Check the request against the campaign and open its `Upload` row (nothing inserted)."""
    if not 1 <= request.count <= MAX_COUNT:
        raise ValidationFailed(f"count must be 1 to {MAX_COUNT:,}.", field="count")
    owner_id = admitted.developer_id
    campaign = await require(
        campaign_id=admitted.campaign_id, developer_id=owner_id, role=Role.MANAGER
    )
    p = parse_pattern(
        request.pattern,
        prefix=request.prefix,
        suffix=request.suffix,
        exclude_lookalikes=request.exclude_lookalikes,
    )
    existing = (
        await PromoCode.filter(campaign_id=campaign.id).count()
        + await ArchivedCode.filter(campaign_id=campaign.id).count()
    )
    check_space(p, count=request.count, existing=existing)
    async with in_transaction() as conn:
        upload = await Upload.create(
            public_id=new_upload_id(),
            campaign_id=campaign.id,
            filename=f"{GENERATED}{p.prefix}{p.text}{p.suffix}"[:255],
            status="processing",
            expected_rows=request.count,
            using_db=conn,
        )
        # audited when asked for, with the upload that reports it (the codes commit in batches)
        await audit.record(
            Action.CODES_GENERATE,
            actor_id=owner_id,
            campaign=campaign,
            target=f"upload:{upload.public_id}",
            detail={"count": request.count, "pattern": f"{p.prefix}{p.text}{p.suffix}"},
            using_db=conn,
        )
    return campaign, p, upload


async def _archived_among(campaign_pk: int, codes: set[str]) -> set[str]:
    """Which of `codes` the campaign used and archived long ago (never issued again)."""
    found = await ArchivedCode.filter(campaign_id=campaign_pk, code__in=list(codes)).values_list(
        "code", flat=True
    )
    return {str(c) for c in found}


async def run_generation(
    *,
    campaign: Campaign,
    pattern: Pattern,
    upload: Upload,
    count: int,
    events_bus: EventBus,
    batch_size: int | None = None,
) -> ImportReport:
    """Generate and insert `count` codes in batches; collisions are generated again.

    Memory holds one batch. `upload` counts progress (`rows` = codes in so far) and ends
    `done` with `imported == count` (or `failed` if the space ran dry, which MAX_FILL makes
    practically impossible). One loop on purpose: the batch, its retry of collisions and the
    progress row are one unit of work, checkpointed together.
    """
    expires_at = ttl_expiry(campaign.code_ttl_days, clock.now())
    has_archive = await ArchivedCode.filter(campaign_id=campaign.id).exists()
    size = batch_size or BATCH
    done = collisions = rounds_without_progress = 0
    undrawn = count  # codes still to draw; a batch's collisions come back here
    flight: tuple[asyncio.Task[int], int] | None = None
    try:
        while undrawn or flight:
            # the next batch is drawn (in a thread) while the previous one is being inserted, so
            # the database and Python work at the same time; one INSERT at a time, so batches
            # never wait on each other's unique-key locks
            batch: list[str] = []
            if undrawn:
                n = min(size, undrawn)
                batch = (
                    await asyncio.to_thread(_draw, pattern, n) if n >= 1000 else _draw(pattern, n)
                )
                if has_archive:
                    old = await _archived_among(campaign.id, set(batch))
                    batch = [code for code in batch if code not in old]
                undrawn -= len(batch)
            if flight is not None:
                task, sent = flight
                flight = None
                inserted = await task
                done += inserted
                collisions += sent - inserted
                undrawn += sent - inserted
                rounds_without_progress = 0 if inserted else rounds_without_progress + 1
                upload.rows = upload.imported = done
                await upload.save(update_fields=["rows", "imported"])
                if rounds_without_progress >= MAX_ROUNDS:
                    break
            if batch:
                flight = (
                    asyncio.create_task(insert_codes(campaign.id, upload.id, batch, expires_at)),
                    len(batch),
                )
    finally:
        if flight is not None:  # stopped by an error: the batch in flight rolls back
            flight[0].cancel()
            await asyncio.gather(flight[0], return_exceptions=True)
    upload.rows = upload.imported = done
    upload.status = "done" if done == count else "failed"
    if done < count:
        upload.errors = [
            {"line": 0, "reason": f"only {done:,} distinct codes could be made", "value": None}
        ]
    upload.finished_at = clock.now()
    report = report_of(upload)
    async with in_transaction() as conn:
        await upload.save(
            update_fields=["rows", "imported", "status", "errors", "finished_at"], using_db=conn
        )
        await record_completed(conn, campaign, report)
    await after_import(campaign, report, events_bus)
    log.info(
        "generated %d codes campaign=%s upload=%s collisions=%d",
        done,
        campaign.public_id,
        upload.public_id,
        collisions,
    )
    return report


async def generate_in_background(
    *,
    campaign: Campaign,
    pattern: Pattern,
    upload: Upload,
    count: int,
    events_bus: EventBus,
) -> None:
    """`run_generation` from a request's background task; a failure marks the record failed
    (what went in stays: the codes are valid, the report says how many)."""
    try:
        await run_generation(
            campaign=campaign, pattern=pattern, upload=upload, count=count, events_bus=events_bus
        )
    except Exception:
        log.exception("generation %s failed", upload.public_id)
        upload.status = "failed"
        upload.errors = [{"line": 0, "reason": "generation stopped; retry", "value": None}]
        upload.finished_at = clock.now()
        await upload.save(update_fields=["status", "errors", "finished_at"])


GENERATED = "generated:"


async def generation_progress(*, owner_id: int, campaign_id: str, upload_id: str) -> UploadProgress:
    """Status of a generation: codes in so far out of the count, and its report."""
    campaign = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    u = await Upload.get_or_none(
        public_id=upload_id, campaign_id=campaign.id, filename__startswith=GENERATED
    )
    if u is None:
        raise UploadNotFound(f"No code generation {upload_id!r} in this campaign.")
    return UploadProgress(
        upload_id=u.public_id,
        status=u.status,
        rows_done=u.rows,
        rows_total=u.expected_rows,
        report=report_of(u),
    )


async def generate_codes(
    services: Services, *, owner_id: int, campaign_id: str, request: GenerateRequest
) -> ImportReport:
    """Admit, then generate codes into a campaign and return the report (the whole job, in
    this call: the bots)."""
    admitted = await admit_generation(services, developer_id=owner_id, campaign_id=campaign_id)
    campaign, p, upload = await start_generation(admitted, request=request)
    return await run_generation(
        campaign=campaign,
        pattern=p,
        upload=upload,
        count=request.count,
        events_bus=services.events,
    )
