"""Archival: used codes older than N days move from `promo_codes` to `archived_codes`, and so
do expired codes N days past their `expires_at` (kept with status `expired`).

Each batch is one short transaction that copies up to `batch_size` rows (INSERT … SELECT,
ignoring rows already archived) and deletes the same rows, then checks the counts: the rows
deleted, the rows now present in `archived_codes` and the rows selected must all agree, or
the batch rolls back. So a crash between batches (or inside one) loses nothing and
duplicates nothing, and the next run simply carries on.

What was archived is also written to object storage as gzip CSV. The export follows a
watermark (the last exported `archived_codes.id`, kept in the object store next to the
files), so rows moved by a run that crashed before its export are exported by the next run.
Analytics keep counting archived codes (`domain.campaigns.stock_of`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from domain import clock
from domain.adapters.db import is_mysql_connection
from domain.codes import spreadsheet_safe
from domain.errors import DomainError
from domain.models import ArchivedCode, Campaign
from domain.storage import ObjectStore

log = logging.getLogger(__name__)

WATERMARK_KEY = "archives/_exported.json"
EXPORT_PAGE = 5_000
CSV_HEADER = (
    "archived_id",
    "original_id",
    "campaign",
    "code",
    "platform",
    "claimant",
    "claimed_at",
    "used_at",
    "archived_at",
    "status",
    "expires_at",
)
# what is archived: a status and the time it counts from
MOVED = (("used", "used_at"), ("expired", "expires_at"))


class ArchiveMismatch(DomainError):
    """A batch's counts did not agree; it was rolled back."""

    code = "archive_mismatch"
    status = 500


@dataclass(slots=True)
class ArchiveResult:
    """What one archival run did."""

    cutoff: datetime
    moved: int = 0
    batches: int = 0
    exported: int = 0
    object_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "moved": self.moved,
            "batches": self.batches,
            "exported": self.exported,
            "objects": self.object_keys,
            "seconds": round(self.seconds, 3),
        }


def _param(conn: Any, moment: datetime) -> Any:
    """A datetime as each backend stores it (MariaDB: naive UTC; SQLite: tortoise's text)."""
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if is_mysql_connection(conn) else moment


async def _move_batch(
    batch_size: int, cutoff: datetime, archived_at: datetime, status: str = "used"
) -> int:
    """Move one batch in one transaction; returns how many rows moved (0 when done)."""
    since = dict(MOVED)[status]
    async with in_transaction() as conn:
        mysql = is_mysql_connection(conn)
        ph = "%s" if mysql else "?"
        lock = " FOR UPDATE" if mysql else ""
        _, rows = await conn.execute_query(
            f"SELECT id FROM promo_codes WHERE status = '{status}' AND {since} < "
            f"{ph} ORDER BY {since}, id LIMIT {int(batch_size)}{lock}",
            [_param(conn, cutoff)],
        )
        ids = [int(r["id"]) for r in rows]
        if not ids:
            return 0
        id_list = ",".join(str(i) for i in ids)
        ignore = "INSERT IGNORE" if mysql else "INSERT OR IGNORE"
        await conn.execute_query(
            f"{ignore} INTO archived_codes (original_id, campaign_id, code, platform, claimant,"
            " claimed_at, used_at, archived_at, status, expires_at)"
            " SELECT id, campaign_id, code, platform, claimant, claimed_at, used_at, "
            f"{ph}, status, expires_at FROM promo_codes WHERE id IN ({id_list})"
            f" AND status = '{status}'",
            [_param(conn, archived_at)],
        )
        deleted, _ = await conn.execute_query(
            f"DELETE FROM promo_codes WHERE id IN ({id_list}) AND status = '{status}'"
        )
        _, counted = await conn.execute_query(
            f"SELECT COUNT(*) AS n FROM archived_codes WHERE original_id IN ({id_list})"
        )
        present = int(counted[0]["n"])
        if not (deleted == present == len(ids)):
            raise ArchiveMismatch(
                f"archival batch rolled back: selected {len(ids)}, deleted {deleted},"
                f" archived {present}",
            )
        return len(ids)


async def archive_used_codes(
    *,
    store: ObjectStore,
    older_than: timedelta,
    batch_size: int = 2_000,
    max_batches: int | None = None,
    after_batch: Callable[[int], Awaitable[None]] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ArchiveResult:
    """Move codes used (or expired) more than `older_than` ago into `archived_codes`, then export
    them.

    `after_batch(n)` runs after the n-th committed batch (operators' progress, tests'
    crash injection); `max_batches` bounds one run (the rest waits for the next run).
    `should_stop()` is asked after each batch: true (the process is shutting down) ends the
    run there; the next run resumes and exports.
    """
    started = time.perf_counter()
    now = clock.now()
    result = ArchiveResult(cutoff=now - older_than)
    for status, _ in MOVED:
        while max_batches is None or result.batches < max_batches:
            moved = await _move_batch(batch_size, result.cutoff, now, status)
            if not moved:
                break
            result.moved += moved
            result.batches += 1
            if after_batch is not None:
                await after_batch(result.batches)
            if should_stop is not None and should_stop():
                log.info("archival: stopping after batch %d (shutdown)", result.batches)
                result.seconds = time.perf_counter() - started
                return result
    exported = await export_archived(store=store)
    result.exported = exported.rows
    result.object_keys.extend(exported.object_keys)
    result.seconds = time.perf_counter() - started
    log.info(
        "archival: moved %d codes used before %s in %d batches, exported %d (%.1fs)",
        result.moved,
        result.cutoff.isoformat(timespec="seconds"),
        result.batches,
        result.exported,
        result.seconds,
    )
    return result


@dataclass(slots=True)
class Export:
    rows: int = 0
    object_keys: list[str] = field(default_factory=list)


async def read_state(store: ObjectStore) -> dict[str, Any]:
    """The export state: `exported_through_id` and, during an export, `pending_through_id`."""
    if await store.size(WATERMARK_KEY) is None:
        return {"exported_through_id": 0}
    raw = b"".join([chunk async for chunk in store.stream(WATERMARK_KEY)])
    return dict(json.loads(raw))


async def _write_state(store: ObjectStore, state: dict[str, Any]) -> None:
    await store.put(WATERMARK_KEY, json.dumps(state).encode(), content_type="application/json")


def _iso(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.isoformat())


async def _export_range(store: ObjectStore, after: int, through: int) -> tuple[int, str | None]:
    """Write archived rows with after < id <= through to one gzip CSV; (rows, key).

    The key depends only on the range (and the day its first row was archived), so
    exporting the same range again overwrites the same object. One function: the temporary
    file, the gzip stream and the upload share one lifetime that must close in order.
    """
    conn = get_connection("default")
    ph = "%s" if is_mysql_connection(conn) else "?"
    written = 0
    first = 0
    first_day = ""
    campaigns: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="codedrop-archive-") as tmp:
        path = Path(tmp) / "archive.csv.gz"
        with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(CSV_HEADER)
            cursor = after
            while True:
                _, rows = await conn.execute_query(
                    "SELECT id, original_id, campaign_id, code, platform, claimant, claimed_at,"
                    " used_at, archived_at, status, expires_at"
                    f" FROM archived_codes WHERE id > {ph} AND id <= {ph}"
                    f" ORDER BY id LIMIT {EXPORT_PAGE}",
                    [cursor, through],
                )
                if not rows:
                    break
                missing = {int(r["campaign_id"]) for r in rows} - campaigns.keys()
                if missing:
                    found = dict(
                        await Campaign.filter(id__in=missing).values_list("id", "public_id")
                    )
                    campaigns.update({pk: str(found.get(pk, "")) for pk in missing})
                for r in rows:
                    archived_at = _iso(r["archived_at"])
                    writer.writerow(
                        (
                            r["id"],
                            r["original_id"],
                            campaigns[int(r["campaign_id"])],
                            spreadsheet_safe(r["code"]),
                            r["platform"],
                            spreadsheet_safe(r["claimant"]),
                            _iso(r["claimed_at"]),
                            _iso(r["used_at"]),
                            archived_at,
                            r["status"],
                            _iso(r["expires_at"]),
                        )
                    )
                if not first:
                    first, first_day = int(rows[0]["id"]), _iso(rows[0]["archived_at"])[:10]
                written += len(rows)
                cursor = int(rows[-1]["id"])
        if not written:
            return 0, None
        expected = await ArchivedCode.filter(id__gt=after, id__lte=through).count()
        if expected != written:
            raise ArchiveMismatch(
                f"archive export wrote {written} rows but ids {after + 1}..{through} hold {expected}"
            )
        key = f"archives/{first_day.replace('-', '/')}/archived-{first:012d}-{through:012d}.csv.gz"
        await store.put_file(key, path)
    return written, key


async def export_archived(*, store: ObjectStore) -> Export:
    """Export every archived row past the watermark as gzip CSV, then move the watermark.

    The range about to be exported is recorded first (`pending_through_id`), so an export
    interrupted by a crash is redone for exactly that range (same object) by the next run.
    """
    state = await read_state(store)
    done = int(state.get("exported_through_id", 0))
    result = Export()
    pending = state.get("pending_through_id")
    top = await ArchivedCode.all().order_by("-id").limit(1).values_list("id", flat=True)
    newest = int(str(top[0])) if top else 0
    targets = [int(pending)] if pending else []
    if newest > max([done, *targets]):
        targets.append(newest)
    for through in targets:
        await _write_state(store, {"exported_through_id": done, "pending_through_id": through})
        rows, key = await _export_range(store, done, through)
        result.rows += rows
        if key:
            result.object_keys.append(key)
        done = through
        await _write_state(store, {"exported_through_id": done, "object_key": key})
    return result


async def read_archive_csv(store: ObjectStore, key: str) -> list[dict[str, str]]:
    """The rows of one archive object (operators' checks and tests; small archives only)."""
    raw = b"".join([chunk async for chunk in store.stream(key)])
    text = gzip.decompress(raw).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))
