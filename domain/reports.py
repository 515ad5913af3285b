"""Daily reports: per developer, what each campaign handed out yesterday and how long its
stock will last at the current pace.

Run once a day by the scheduler for the previous UTC day. Each report is written as CSV to
object storage, recorded in `reports` (unique per developer and day, so a second runner
writes nothing twice and only the runner that created the row delivers it), and sent as a
short message to the developer's linked Telegram/Discord chats through the bots' `Notifier`s.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from domain import clock
from domain.adapters.db import read_connection
from domain.campaigns import stock_of
from domain.codes import spreadsheet_safe
from domain.developers import chats_of
from domain.errors import NotFound
from domain.models import Campaign, Claim, Report
from domain.notify import Notifier
from domain.storage import ObjectStore
from domain.values import CampaignStatus, is_row_id

log = logging.getLogger(__name__)

PACE_DAYS = 7
CSV_HEADER = (
    "campaign_id",
    "campaign",
    "status",
    "claims",
    "claims_by_channel",
    "claims_by_platform",
    "available",
    "claims_per_day_7d",
    "days_of_stock_left",
)


class ReportNotFound(NotFound):
    code = "report_not_found"
    title = "Report not found"


@dataclass(slots=True)
class CampaignLine:
    campaign_id: str
    name: str
    status: str
    claims: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_platform: dict[str, int] = field(default_factory=dict)
    available: int = 0
    per_day: float = 0.0
    days_left: float | None = None


@dataclass(slots=True)
class ReportView:
    id: int
    period: str
    created_at: datetime
    summary: dict[str, Any]


def _view(row: Report) -> ReportView:
    return ReportView(id=row.id, period=row.period, created_at=row.created_at, summary=row.summary)


def report_day(now: datetime | None = None) -> date:
    """The day a run at `now` reports on: the previous UTC day."""
    return ((now or clock.now()).astimezone(UTC) - timedelta(days=1)).date()


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


async def _campaigns_by_owner(day: date) -> dict[int, list[Campaign]]:
    """Campaigns worth reporting: running ones, and completed ones with claims that day."""
    start, end = _bounds(day)
    replica = read_connection()
    running = await Campaign.filter(
        status__in=[CampaignStatus.ACTIVE, CampaignStatus.PAUSED]
    ).using_db(replica)
    finished = (
        await Campaign.filter(
            status=CampaignStatus.COMPLETED,
            claims__created_at__gte=start,
            claims__created_at__lt=end,
        )
        .distinct()
        .using_db(replica)
    )
    grouped: dict[int, list[Campaign]] = defaultdict(list)
    for c in sorted({c.id: c for c in [*running, *finished]}.values(), key=lambda c: c.id):
        grouped[c.owner_id].append(c)  # type: ignore[attr-defined]
    return grouped


async def campaign_lines(campaigns: Sequence[Campaign], day: date) -> list[CampaignLine]:
    """The report lines of some campaigns for one UTC day."""
    start, end = _bounds(day)
    pks = [c.id for c in campaigns]
    lines = {c.id: CampaignLine(c.public_id, c.name, c.status) for c in campaigns}
    replica = read_connection()  # a report may lag the primary by a moment
    rows = (
        await Claim.filter(
            campaign_id__in=pks, slot__isnull=False, created_at__gte=start, created_at__lt=end
        )
        .using_db(replica)
        .annotate(n=Count("id"))
        .group_by("campaign_id", "channel", "platform")
        .values("campaign_id", "channel", "platform", "n")
    )
    for r in rows:
        line = lines[r["campaign_id"]]
        line.claims += r["n"]
        line.by_channel[r["channel"]] = line.by_channel.get(r["channel"], 0) + r["n"]
        platform = r["platform"] or "any"
        line.by_platform[platform] = line.by_platform.get(platform, 0) + r["n"]
    paced = (
        await Claim.filter(
            campaign_id__in=pks,
            slot__isnull=False,
            created_at__gte=end - timedelta(days=PACE_DAYS),
            created_at__lt=end,
        )
        .using_db(replica)
        .annotate(n=Count("id"))
        .group_by("campaign_id")
        .values("campaign_id", "n")
    )
    for r in paced:
        lines[r["campaign_id"]].per_day = round(r["n"] / PACE_DAYS, 2)
    stocks = await stock_of(pks)
    for pk, line in lines.items():
        line.available = stocks[pk].available
        if line.per_day > 0:
            line.days_left = round(line.available / line.per_day, 1)
    return [lines[pk] for pk in pks]


def _counts(values: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))


def report_csv_text(lines: Sequence[CampaignLine]) -> str:
    """The CSV of a report (spreadsheet-safe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow(
            (
                line.campaign_id,
                spreadsheet_safe(line.name),
                line.status,
                line.claims,
                _counts(line.by_channel),
                _counts(line.by_platform),
                line.available,
                line.per_day,
                "" if line.days_left is None else line.days_left,
            )
        )
    return out.getvalue()


def report_text(period: str, lines: Sequence[CampaignLine], report_id: int) -> str:
    """The chat message of a report (plain text, no codes)."""
    total = sum(line.claims for line in lines)
    parts = [f"Daily report for {period} (UTC): {total:,} claims in {len(lines)} campaign(s)."]
    for line in lines:
        text = f"• {line.name}: {line.claims:,} claims"
        if line.by_channel:
            channels = sorted(line.by_channel.items(), key=lambda kv: (-kv[1], kv[0]))
            text += " (" + ", ".join(f"{k} {v:,}" for k, v in channels) + ")"
        text += f", {line.available:,} codes left"
        if line.days_left is not None:
            text += f", about {line.days_left:g} days at the current pace"
        parts.append(text + ".")
    parts.append(f"Full CSV: GET /api/reports/{report_id}/csv")
    return "\n".join(parts)


@dataclass(slots=True)
class ReportsResult:
    period: str
    created: int = 0
    skipped: int = 0
    delivered: int = 0
    undelivered: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def object_key(developer_id: int, period: str) -> str:
    return f"reports/{developer_id}/{period}.csv"


async def _deliver(developer_id: int, text: str, notifiers: Sequence[Notifier]) -> list[str]:
    """Send to every linked chat with a notifier for its provider; where it arrived."""
    by_provider = {n.provider: n for n in notifiers}
    arrived: list[str] = []
    for provider, chat_id in await chats_of(developer_id=developer_id):
        notifier = by_provider.get(provider)
        if notifier is None:
            continue
        try:
            if await notifier.send(chat_id, text):
                arrived.append(provider)
        except Exception:
            log.exception(
                "report delivery to a %s chat of developer %d failed", provider, developer_id
            )
    return arrived


async def run_daily_reports(
    *, store: ObjectStore, notifiers: Sequence[Notifier], day: date | None = None
) -> ReportsResult:
    """Write (once) and deliver every developer's report for `day` (default: yesterday)."""
    day = day or report_day()
    period = day.isoformat()
    result = ReportsResult(period=period)
    for developer_id, campaigns in (await _campaigns_by_owner(day)).items():
        if await Report.exists(developer_id=developer_id, period=period):
            result.skipped += 1
            continue
        lines = await campaign_lines(campaigns, day)
        key = object_key(developer_id, period)
        # the object first (same key on a retry), then the row that claims the delivery
        await store.put(key, report_csv_text(lines).encode(), content_type="text/csv")
        summary: dict[str, Any] = {
            "period": period,
            "claims": sum(line.claims for line in lines),
            "campaigns": [asdict(line) for line in lines],
        }
        try:
            row = await Report.create(
                developer_id=developer_id, period=period, object_key=key, summary=summary
            )
        except IntegrityError:
            result.skipped += 1
            continue
        result.created += 1
        arrived = await _deliver(developer_id, report_text(period, lines, row.id), notifiers)
        if arrived:
            result.delivered += 1
            row.summary = {**summary, "delivered_to": arrived}
            await row.save(update_fields=["summary"])
        else:
            result.undelivered += 1
    log.info(
        "reports for %s: created=%d skipped=%d delivered=%d",
        period,
        result.created,
        result.skipped,
        result.delivered,
    )
    return result


async def list_reports(*, developer_id: int, limit: int = 60) -> list[ReportView]:
    """A developer's reports, newest first."""
    rows = (
        await Report.filter(developer_id=developer_id)
        .using_db(read_connection())
        .order_by("-period")
        .limit(limit)
    )
    return [_view(r) for r in rows]


async def _report(developer_id: int, report_id: int) -> Report | None:
    if not is_row_id(report_id):
        return None  # past what the id column holds: names no report
    return await Report.get_or_none(id=report_id, developer_id=developer_id)


async def get_report(*, developer_id: int, report_id: int) -> ReportView:
    """One of the developer's reports; another developer's is `ReportNotFound`."""
    row = await _report(developer_id, report_id)
    if row is None:
        raise ReportNotFound(f"No report {report_id}.")
    return _view(row)


async def report_file(
    *, developer_id: int, report_id: int, store: ObjectStore
) -> tuple[str, AsyncIterator[bytes]]:
    """(file name, byte stream) of a report's CSV."""
    row = await _report(developer_id, report_id)
    if row is None or await store.size(row.object_key) is None:
        raise ReportNotFound(f"No report {report_id}.")
    return f"codedrop-report-{row.period}.csv", store.stream(row.object_key)
