"""Code import: CSV (header with `code`, optional `platform`, `metadata`, `expires_at`) or one
code per line.

The file is spooled to a temporary file as it arrives (never held in memory), parsed line by
line, validated row by row, and inserted in multi-row batches with INSERT IGNORE, so memory
stays flat and re-uploading the same file adds nothing. Every row ends up counted exactly once:
rows = imported + duplicates + invalid. The first 100 problems are reported with line numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import secrets
import tempfile
import warnings
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from domain import audit, clock, events, outbox
from domain.access import Role, require
from domain.adapters.db import is_mysql_connection
from domain.audit import Action
from domain.campaigns import forget_card, reopen_if_sold_out
from domain.errors import FileTooLarge, InvalidCSV, UnknownPlatform, UploadNotFound
from domain.events import Event, EventBus
from domain.expiry import parse_expiry, ttl_expiry
from domain.models import Campaign, PromoCode, Upload
from domain.ratelimits import RateLimitState, enforce

if TYPE_CHECKING:
    from domain.adapters.bootstrap import Services

from domain.values import (
    CampaignStatus,
    CodeStatus,
    ImportProblem,
    ImportReport,
    Platform,
    is_public_id,
    parse_platform,
)

log = logging.getLogger(__name__)

AVAILABLE = CodeStatus.AVAILABLE.value
CODE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
MIN_LEN, MAX_LEN = 4, 64
MAX_METADATA = 1024
MAX_PROBLEMS = 100
DUPLICATE_IN_FILE = "duplicate of an earlier line"
DUPLICATE_IN_CAMPAIGN = "already in the campaign"
MAX_LINE_BYTES = 64 * 1024
MAX_COLUMNS = 100
CODE_HEADERS = {"code", "codes", "promo_code", "promocode", "promo code", "key", "coupon"}
EXPIRY_HEADERS = {"expires_at", "expires", "expiry", "expires at", "expiration"}
csv.field_size_limit(MAX_LINE_BYTES)
# aiomysql turns MariaDB's note on each row INSERT IGNORE skips into a Python warning quoting
# the full code; a skipped duplicate is counted and reported, never printed
warnings.filterwarnings("ignore", message="Duplicate entry ", category=Warning)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    code: str
    platform: str
    metadata: str | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    reason: str
    value: str | None = None


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _delimiters(raw: bytes) -> int:
    return max(raw.count(b","), raw.count(b";"), raw.count(b"\t"))


def check_code(raw: str) -> str | None:
    """Why a code is refused, or None when it is fine."""
    code = raw.strip()
    if not code:
        return "empty code"
    if len(code) < MIN_LEN:
        return f"code too short ({len(code)} characters, at least {MIN_LEN})"
    if len(code) > MAX_LEN:
        return f"code too long ({len(code)} characters, at most {MAX_LEN})"
    if not CODE_RE.match(code):
        bad = next(ch for ch in code if not (ch.isascii() and (ch.isalnum() or ch in "-_")))
        return f"character {bad!r} not allowed (letters, digits, '-' and '_' only)"
    return None


class Parser:
    """Reads a spooled upload and yields `Row`s and `Problem`s with 1-based line numbers."""

    def __init__(self, handle: IO[bytes], campaign_platform: str) -> None:
        self.handle = handle
        self.campaign_platform = campaign_platform
        self.line = 0
        self.format_known = False  # until the first line with content decided it

    def _raw_lines(self) -> Iterator[tuple[bytes | None, int, int]]:
        """(line, its length, its delimiters) per line; a line over `MAX_LINE_BYTES` comes as
        None and is skipped a bounded piece at a time, so no line is ever held whole."""
        while True:
            raw = self.handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
                yield raw, len(raw), 0
                continue
            length, delimiters = len(raw), _delimiters(raw)
            while not raw.endswith(b"\n"):
                raw = self.handle.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                length += len(raw)
                delimiters += _delimiters(raw)
            yield None, length, delimiters

    def _lines(self) -> Iterator[str]:
        """Decoded lines; a line that is not UTF-8 or too long becomes a problem, not a crash."""
        first = True
        for raw, length, delimiters in self._raw_lines():
            self.line += 1
            if raw is None:
                if not self.format_known and delimiters + 1 > MAX_COLUMNS:
                    raise InvalidCSV(
                        f"Line {self.line}: a header of {delimiters + 1:,} columns (at most"
                        f" {MAX_COLUMNS}).",
                        line=self.line,
                    )
                self._bad_lines.append(
                    Problem(
                        self.line, f"line too long ({length:,} bytes, at most {MAX_LINE_BYTES:,})"
                    )
                )
                yield ""
                continue
            if first:
                raw = raw.removeprefix(codecs.BOM_UTF8)
                first = False
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._bad_lines.append(Problem(self.line, "not UTF-8 text"))
                yield ""
                continue
            yield text

    def rows(self) -> Iterator[Row | Problem]:
        self._bad_lines: list[Problem] = []
        lines = self._lines()
        delimiter = ","
        code_at, platform_at, metadata_at = 0, -1, -1
        self.expires_at = -1
        # the first non-empty line decides the format; lines that could not be read before it
        # are reported, and a file made only of such lines is refused for its first one
        unreadable: Problem | None = None
        for text in lines:
            if self._bad_lines:
                unreadable = unreadable or self._bad_lines[0]
                yield from self._drain()
                continue
            if not text.strip():
                continue
            self.format_known = True
            delimiter = max(",;\t", key=text.count) if any(d in text for d in ",;\t") else ","
            try:
                fields = next(csv.reader([text], delimiter=delimiter))
            except csv.Error as exc:
                # e.g. a bare CR inside the first line (old Mac line endings): refuse the
                # file with the reason instead of failing the request
                raise InvalidCSV(
                    f"Line {self.line}: unreadable CSV ({exc}); save the file with Windows or"
                    " Unix line endings.",
                    line=self.line,
                ) from None
            if len(fields) > MAX_COLUMNS:
                raise InvalidCSV(
                    f"Line {self.line}: a header of {len(fields):,} columns (at most"
                    f" {MAX_COLUMNS}).",
                    line=self.line,
                )
            names = [f.strip().lower() for f in fields]
            found = [i for i, n in enumerate(names) if n in CODE_HEADERS]
            if found:
                code_at = found[0]
                platform_at = names.index("platform") if "platform" in names else -1
                metadata_at = names.index("metadata") if "metadata" in names else -1
                self.expires_at = next((i for i, n in enumerate(names) if n in EXPIRY_HEADERS), -1)
            elif len(fields) > 1:
                raise InvalidCSV(
                    f"Line {self.line}: no `code` column in the header (found: "
                    + ", ".join(_short(n, 20) for n in names[:10])
                    + "). Add a header row with a `code` column, or upload one code per line.",
                    line=self.line,
                )
            else:
                yield self._row(self.line, fields, 0, -1, -1)
            break
        else:
            if self._bad_lines:
                unreadable = unreadable or self._bad_lines[0]
            if unreadable is not None:
                raise InvalidCSV(
                    f"Line {unreadable.line}: {unreadable.reason}; no line of the file could be"
                    " read.",
                    line=unreadable.line,
                )
            raise InvalidCSV("The file has no codes (it is empty or blank).")

        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield Problem(self.line, f"unreadable CSV ({exc})")
                continue
            if self._bad_lines:
                yield from self._drain()
                continue
            if not fields or all(not f.strip() for f in fields):
                continue
            yield self._row(self.line, fields, code_at, platform_at, metadata_at)
        yield from self._drain()

    def _drain(self) -> Iterator[Problem]:
        bad, self._bad_lines = self._bad_lines, []
        yield from bad

    def _row(
        self, line: int, fields: list[str], code_at: int, platform_at: int, metadata_at: int
    ) -> Row | Problem:
        if code_at >= len(fields):
            return Problem(line, "missing code field")
        raw = fields[code_at]
        reason = check_code(raw)
        if reason:
            return Problem(line, reason, _short(raw.strip()))
        code = raw.strip()
        platform = ""
        if 0 <= platform_at < len(fields) and fields[platform_at].strip():
            try:
                parsed = parse_platform(fields[platform_at])
            except UnknownPlatform:
                return Problem(
                    line, f"unknown platform {_short(fields[platform_at].strip(), 20)!r}", code
                )
            if self.campaign_platform != Platform.UNIVERSAL:
                if parsed not in (Platform.UNIVERSAL, Platform(self.campaign_platform)):
                    return Problem(
                        line, f"platform {parsed} in a {self.campaign_platform} campaign", code
                    )
            elif parsed and parsed != Platform.UNIVERSAL:
                platform = parsed.value
        metadata = None
        if 0 <= metadata_at < len(fields) and fields[metadata_at].strip():
            metadata = fields[metadata_at].strip()
            if len(metadata) > MAX_METADATA:
                return Problem(line, f"metadata over {MAX_METADATA} characters", code)
        expires_at = None
        if 0 <= self.expires_at < len(fields) and fields[self.expires_at].strip():
            raw_expiry = fields[self.expires_at].strip()
            try:
                expires_at = parse_expiry(raw_expiry)
            except ValueError as exc:
                return Problem(
                    line,
                    f"expires_at {_short(raw_expiry, 30)!r}: {exc} (use e.g. 2027-01-31"
                    " or 2027-01-31T18:00:00Z)",
                    code,
                )
        return Row(line, code, platform, metadata, expires_at)


async def spool(chunks: AsyncIterable[bytes], *, max_bytes: int, into: IO[bytes]) -> int:
    """Copy an incoming stream to a temporary file, refusing it past `max_bytes`."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(
                f"The file is over the {max_bytes:,}-byte limit; split it or use the large-upload"
                " flow (POST /api/campaigns/{id}/uploads).",
                limit=max_bytes,
            )
        into.write(chunk)
    into.seek(0)
    return size


def _sniff_binary(handle: IO[bytes], piece: int = 1 << 20) -> None:
    """Refuse an empty file, or one with a NUL byte anywhere (checked before any row is
    imported, so a binary tail never leaves half a file in the campaign)."""
    offset = 0
    while chunk := handle.read(piece):
        at = chunk.find(b"\x00")
        if at >= 0:
            handle.seek(0)
            raise InvalidCSV(
                f"The file looks binary (a NUL byte at offset {offset + at:,}); upload a CSV"
                " or a text file.",
            )
        offset += len(chunk)
    handle.seek(0)
    if offset == 0:
        raise InvalidCSV("The file is empty (0 bytes).")


def _sql_time(moment: datetime | None) -> str:
    """A datetime literal for the MySQL multi-row INSERT (digits only: nothing to escape)."""
    if moment is None:
        return "NULL"
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"


def _sqlite_time(moment: datetime | None) -> datetime | None:
    """In UTC, stored as tortoise stores datetimes in SQLite (ISO text, comparable as text)."""
    return moment.astimezone(UTC) if moment is not None else None


async def _insert_batch(
    campaign_pk: int, upload_pk: int, rows: list[Row], default_expiry: datetime | None = None
) -> int:
    """Insert a batch, skipping codes already in the campaign; returns how many went in.

    A row without its own `expires_at` gets `default_expiry` (the campaign's code TTL).
    """
    if not rows:
        return 0
    async with in_transaction() as conn, conn.acquire_connection() as raw:
        if is_mysql_connection(conn):
            # ONE multi-row INSERT. Only the text fields go through the driver's escaping:
            # executemany escaped all six columns of every row, a quarter of the upload's time
            # (100,000 codes: 5.8 s). Codes are letters, digits, '-' and '_' (check_code), and
            # escape() quotes platform and metadata, so nothing unescaped reaches the SQL.
            escape = raw.escape
            fixed_head, fixed_tail = f"({int(campaign_pk)},", f",'{AVAILABLE}',{int(upload_pk)})"
            values = ",".join(
                fixed_head
                + escape(r.code)
                + ","
                + (escape(r.platform) if r.platform else "''")
                + ","
                + (escape(r.metadata) if r.metadata is not None else "NULL")
                + ","
                + _sql_time(r.expires_at or default_expiry)
                + fixed_tail
                for r in rows
            )
            async with raw.cursor() as cur:
                await cur.execute(
                    "INSERT IGNORE INTO promo_codes"
                    " (campaign_id, code, platform, metadata, expires_at, status, upload_id)"
                    " VALUES " + values
                )
                return int(cur.rowcount)
        before = raw.total_changes
        await raw.executemany(
            "INSERT OR IGNORE INTO promo_codes"
            " (campaign_id, code, platform, metadata, expires_at, status, upload_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    campaign_pk,
                    r.code,
                    r.platform,
                    r.metadata,
                    _sqlite_time(r.expires_at or default_expiry),
                    AVAILABLE,
                    upload_pk,
                )
                for r in rows
            ],
        )
        return int(raw.total_changes - before)


async def insert_codes(
    campaign_pk: int, upload_pk: int, codes: list[str], expires_at: datetime | None
) -> int:
    """Insert bare codes (generated ones: no platform, no metadata) with the upload's multi-row
    INSERT IGNORE; returns how many went in (the others were already in the campaign).

    The codes are checked as one string against CODE_RE (letters, digits, '-', '_': nothing
    to escape), so the VALUES list is one `str.join` instead of a Python loop per row.
    """
    if not codes:
        return 0
    lengths = list(map(len, codes))
    if not CODE_RE.match("".join(codes)) or min(lengths) < MIN_LEN or max(lengths) > MAX_LEN:
        raise ValueError("insert_codes takes well-formed codes only")
    async with in_transaction() as conn, conn.acquire_connection() as raw:
        if is_mysql_connection(conn):
            head = f"({int(campaign_pk)},'"
            tail = f"','',NULL,{_sql_time(expires_at)},'{AVAILABLE}',{int(upload_pk)})"
            values = head + (tail + "," + head).join(codes) + tail
            async with raw.cursor() as cur:
                await cur.execute(
                    "INSERT IGNORE INTO promo_codes"
                    " (campaign_id, code, platform, metadata, expires_at, status, upload_id)"
                    " VALUES " + values
                )
                return int(cur.rowcount)
        before = raw.total_changes
        when = _sqlite_time(expires_at)
        await raw.executemany(
            "INSERT OR IGNORE INTO promo_codes"
            " (campaign_id, code, platform, metadata, expires_at, status, upload_id)"
            " VALUES (?, ?, '', NULL, ?, ?, ?)",
            [(campaign_pk, code, when, AVAILABLE, upload_pk) for code in codes],
        )
        return int(raw.total_changes - before)


class _Report:
    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.rows = self.imported = self.duplicates = self.invalid = 0
        self.started = clock.now()
        self.problems: list[ImportProblem] = []

    def problem(self, line: int, reason: str, value: str | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ImportProblem(line=line, reason=reason, value=value))

    def to_report(self, status: str) -> ImportReport:
        u = self.upload
        return ImportReport(
            upload_id=u.public_id,
            status=status,
            rows=self.rows,
            imported=self.imported,
            duplicates=self.duplicates,
            invalid=self.invalid,
            errors=list(self.problems),
            filename=u.filename,
            total_bytes=u.total_bytes,
        )


async def _stored(campaign_pk: int, codes: list[str]) -> dict[str, int | None]:
    """Which of `codes` the campaign already has: code -> its upload (None: archived).

    One raw query per batch (the ORM spent a sixth of an upload building its IN lists). A
    code used and archived long ago is still the campaign's: it is never imported again.
    """
    conn = get_connection("default")
    mark = "%s" if is_mysql_connection(conn) else "?"
    marks = ", ".join([mark] * len(codes))
    _, rows = await conn.execute_query(
        f"SELECT code, upload_id FROM promo_codes WHERE campaign_id={mark} AND code IN ({marks})"
        " UNION ALL SELECT code, NULL FROM archived_codes"
        f" WHERE campaign_id={mark} AND code IN ({marks})",
        [campaign_pk, *codes, campaign_pk, *codes],
    )
    stored: dict[str, int | None] = {}
    for r in rows:
        code, upload = str(r["code"]), r["upload_id"]
        if upload is not None or code not in stored:
            stored[code] = None if upload is None else int(upload)
    return stored


async def _flush(c: Campaign, rep: _Report, batch: dict[str, Row]) -> None:
    """Insert one batch; codes already stored are duplicates (of this file or the campaign)."""
    stored = await _stored(c.id, list(batch))
    fresh = [r for code, r in batch.items() if code not in stored]
    for code, upload_pk in stored.items():
        rep.duplicates += 1
        same_file = upload_pk == rep.upload.id
        rep.problem(
            batch[code].line, DUPLICATE_IN_FILE if same_file else DUPLICATE_IN_CAMPAIGN, code
        )
    inserted = await _insert_batch(
        c.id, rep.upload.id, fresh, ttl_expiry(c.code_ttl_days, rep.started)
    )
    rep.imported += inserted
    # a concurrent upload of the same codes: INSERT IGNORE skipped them
    rep.duplicates += len(fresh) - inserted


async def import_file(
    *,
    campaign: Campaign,
    upload: Upload,
    handle: IO[bytes],
    max_codes: int,
    batch_size: int,
    events_bus: EventBus | None = None,
    progress_every: int = 10,
) -> ImportReport:
    """Parse a spooled file and import its codes into `campaign`, updating `upload` as it goes."""
    _sniff_binary(handle)
    rep = _Report(upload)
    # duplicates inside a batch are caught here; across batches the database finds them (each
    # row carries its upload id), so memory stays flat whatever the number of codes
    batch: dict[str, Row] = {}
    accepted = 0
    parser = Parser(handle, campaign.platform)
    upload.status = "processing"
    await upload.save(update_fields=["status"])
    batches = 0
    for item in parser.rows():
        rep.rows += 1
        if isinstance(item, Problem):
            rep.invalid += 1
            rep.problem(item.line, item.reason, item.value)
            continue
        first = batch.get(item.code)
        if first is not None:
            rep.duplicates += 1
            rep.problem(item.line, f"duplicate of line {first.line}", item.code)
            continue
        if accepted >= max_codes:
            rep.invalid += 1
            rep.problem(item.line, f"over the limit of {max_codes:,} codes per upload", item.code)
            continue
        accepted += 1
        batch[item.code] = item
        if len(batch) >= batch_size:
            await _flush(campaign, rep, batch)
            batch = {}
            batches += 1
            if batches % progress_every == 0:
                await _save_progress(rep, "processing")
    if batch:
        await _flush(campaign, rep, batch)
    report = await _save_progress(rep, "done", finished=True, campaign=campaign)
    await after_import(campaign, report, events_bus)
    return report


async def _save_progress(
    rep: _Report, status: str, *, finished: bool = False, campaign: Campaign | None = None
) -> ImportReport:
    u = rep.upload
    u.status = status
    u.rows, u.imported, u.duplicates, u.invalid = (
        rep.rows,
        rep.imported,
        rep.duplicates,
        rep.invalid,
    )
    u.errors = [{"line": p.line, "reason": p.reason, "value": p.value} for p in rep.problems]
    fields = ["status", "rows", "imported", "duplicates", "invalid", "errors"]
    if finished:
        u.finished_at = clock.now()
        fields.append("finished_at")
    report = rep.to_report(status)
    async with in_transaction() as conn:
        await u.save(update_fields=fields, using_db=conn)
        if finished and campaign is not None:
            await record_completed(conn, campaign, report)
    return report


async def record_completed(conn: Any, campaign: Campaign, report: ImportReport) -> None:
    """`upload.completed` in `conn`'s transaction (the one that marks the upload finished)."""
    await outbox.record(
        conn,
        campaign.owner_id,  # type: ignore[attr-defined]
        outbox.UPLOAD_COMPLETED,
        campaign.public_id,
        {
            "campaign_id": campaign.public_id,
            "upload_id": report.upload_id,
            "status": report.status,
            "rows": report.rows,
            "imported": report.imported,
            "duplicates": report.duplicates,
            "invalid": report.invalid,
        },
    )


async def after_import(c: Campaign, report: ImportReport, events_bus: EventBus | None) -> None:
    """Reopen a sold-out campaign, re-arm the low-stock alert, tell listeners."""
    forget_card(c.public_id)
    if report.imported:
        now = clock.now()
        report.reopened = await reopen_if_sold_out(c, now)
        available = await PromoCode.filter(campaign_id=c.id, status=CodeStatus.AVAILABLE).count()
        if (
            not report.reopened
            and c.status == CampaignStatus.ACTIVE
            and available <= report.imported
        ):
            # sold out but not yet marked so (the lifecycle job marks it within a minute):
            # members saw "Sold out" until these codes came
            report.reopened = await (
                PromoCode.filter(campaign_id=c.id).exclude(status=CodeStatus.AVAILABLE).exists()
            )
        if available > c.low_stock_threshold:
            await Campaign.filter(id=c.id).update(low_stock_alerted=False)
    if events_bus is None:
        return
    owner_id: int = c.owner_id  # type: ignore[attr-defined]
    await events_bus.publish(
        Event(
            events.UPLOAD_FINISHED,
            c.public_id,
            owner_id,
            {"upload_id": report.upload_id, "imported": report.imported, "rows": report.rows},
        )
    )
    if report.imported:
        await events_bus.publish(
            Event(events.CODES_RESTOCKED, c.public_id, owner_id, {"imported": report.imported})
        )


def new_upload_id() -> str:
    return "upl_" + secrets.token_urlsafe(12)


@dataclass(frozen=True, slots=True)
class UploadPass:
    """An upload admitted by `admit_upload`: counted against the developer's upload limit,
    its campaign writable by them, its declared size (when the front knew it) within the
    limit. `import_stream` takes nothing else, so no front can skip the checks."""

    developer_id: int
    campaign_id: str
    rate: RateLimitState | None  # for the API's RateLimit headers; None when limits are off


async def admit_upload(
    services: Services, *, developer_id: int, campaign_id: str, declared_size: int | None = None
) -> UploadPass:
    """Admit one upload before its body is read (a bot before downloading, the API before
    reading the request): the campaign must be theirs to manage, the file (when its size is
    known up front) within `upload_max_bytes`, and the developer within `rate_limit_upload`."""
    settings = services.settings
    await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.MANAGER)
    if declared_size is not None and declared_size > settings.upload_max_bytes:
        raise FileTooLarge(
            f"The file is {declared_size:,} bytes, over the {settings.upload_max_bytes:,}-byte"
            " limit; split it or use the large-upload flow.",
            limit=settings.upload_max_bytes,
        )
    rate = None
    if settings.rate_limit_enabled:
        rate = await enforce(
            services.limiter,
            settings.rate_limit_upload,
            "rate_limit_upload",
            f"dev:{developer_id}",
            what="uploads",
        )
    return UploadPass(developer_id=developer_id, campaign_id=campaign_id, rate=rate)


async def import_stream(
    services: Services,
    admitted: UploadPass,
    *,
    chunks: AsyncIterable[bytes],
    filename: str = "",
) -> ImportReport:
    """Import codes from an incoming stream (a multipart field, a bot's downloaded document).

    Whole-file problems (empty, binary, no code column, too large) raise and import nothing;
    row problems are counted and reported with their line numbers. The limits are the
    domain's own (`upload_max_bytes`, `upload_max_codes`, `upload_batch_size`).
    """
    settings = services.settings
    owner_id, events_bus = admitted.developer_id, services.events
    campaign = await require(
        campaign_id=admitted.campaign_id, developer_id=owner_id, role=Role.MANAGER
    )
    max_codes, batch_size = settings.upload_max_codes, settings.upload_batch_size
    with tempfile.TemporaryFile() as handle:
        size = await spool(chunks, max_bytes=settings.upload_max_bytes, into=handle)
        upload = await Upload.create(
            public_id=new_upload_id(),
            campaign_id=campaign.id,
            filename=filename[:255],
            total_bytes=size,
            status="processing",
        )
        try:
            report = await import_file(
                campaign=campaign,
                upload=upload,
                handle=handle,
                max_codes=max_codes,
                batch_size=batch_size,
                events_bus=events_bus,
            )
        except InvalidCSV as exc:
            upload.status = "failed"
            upload.errors = [
                {"line": exc.extra.get("line") or 0, "reason": exc.detail, "value": None}
            ]
            upload.finished_at = clock.now()
            await upload.save(update_fields=["status", "errors", "finished_at"])
            await audit.record(
                Action.UPLOAD,
                actor_id=owner_id,
                campaign=campaign,
                target=f"upload:{upload.public_id}",
                detail={"status": "failed", "filename": upload.filename},
            )
            raise
    # the import commits in batches (a million rows is not one transaction): the audit row
    # follows the last batch
    await audit.record(
        Action.UPLOAD,
        actor_id=owner_id,
        campaign=campaign,
        target=f"upload:{report.upload_id}",
        detail={
            "status": report.status,
            "filename": upload.filename,
            "rows": report.rows,
            "imported": report.imported,
        },
    )
    log.info(
        "upload %s campaign=%s rows=%d imported=%d duplicates=%d invalid=%d",
        report.upload_id,
        campaign.public_id,
        report.rows,
        report.imported,
        report.duplicates,
        report.invalid,
    )
    return report


async def bytes_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterable[bytes]:
    """An in-memory payload as a chunk stream (tests, small bot documents)."""
    view = io.BytesIO(data)
    while chunk := view.read(size):
        yield chunk


def report_of(u: Upload) -> ImportReport:
    return ImportReport(
        upload_id=u.public_id,
        status=u.status,
        rows=u.rows,
        imported=u.imported,
        duplicates=u.duplicates,
        invalid=u.invalid,
        errors=[ImportProblem(**e) for e in (u.errors or [])],
        filename=u.filename,
        total_bytes=u.total_bytes,
    )


async def get_upload(*, owner_id: int, campaign_id: str, upload_id: str) -> ImportReport:
    campaign = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    if not is_public_id(upload_id):
        raise UploadNotFound("No such upload in this campaign.")
    u = await Upload.get_or_none(public_id=upload_id, campaign_id=campaign.id)
    if u is None:
        raise UploadNotFound(f"No upload {upload_id!r} in this campaign.")
    return report_of(u)


async def list_uploads(*, owner_id: int, campaign_id: str, limit: int = 50) -> list[ImportReport]:
    campaign = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    rows = await Upload.filter(campaign_id=campaign.id).order_by("-id").limit(limit)
    return [report_of(u) for u in rows]
