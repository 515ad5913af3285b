"""Importing a spooled file into a campaign: multi-row `INSERT IGNORE` batches, the running
report, and what follows a finished import (the outbox record, the card cache, reopening a
sold-out campaign, the events).

Every row ends up counted exactly once: rows = imported + duplicates + invalid. Progress is
saved on the `Upload` row after each batch, so a large upload's progress reads it.
"""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime
from typing import IO, Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from domain import clock, events, outbox
from domain.adapters.db import is_mysql_connection
from domain.campaign_state import rearm_low_stock
from domain.campaigns import forget_card, reopen_if_sold_out
from domain.events import Event, EventBus
from domain.expiry import ttl_expiry
from domain.models import Campaign, PromoCode, Upload
from domain.uploads.csv_reader import (
    AVAILABLE,
    CODE_RE,
    DUPLICATE_IN_CAMPAIGN,
    DUPLICATE_IN_FILE,
    MAX_LEN,
    MAX_PROBLEMS,
    MIN_LEN,
    Parser,
    Problem,
    Row,
    sniff_binary,
)
from domain.values import (
    CampaignStatus,
    CodeStatus,
    ImportProblem,
    ImportReport,
)

log = logging.getLogger(__name__)

# aiomysql turns MariaDB's note on each row INSERT IGNORE skips into a Python warning quoting
# the full code; a skipped duplicate is counted and reported, never printed
warnings.filterwarnings("ignore", message="Duplicate entry ", category=Warning)


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
    events_bus: EventBus,
    progress_every: int = 10,
) -> ImportReport:
    """Parse a spooled file and import its codes into `campaign`, updating `upload` as it goes."""
    sniff_binary(handle)
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


async def after_import(c: Campaign, report: ImportReport, events_bus: EventBus) -> None:
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
        await rearm_low_stock(c, available=available)
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
