"""Code import: CSV (header with `code`, optional `platform`, `metadata`, `expires_at`) or one
code per line.

A front admits an upload first (`admit_upload`: the campaign is the developer's to manage,
the declared size within `upload_max_bytes`, the developer within `rate_limit_upload`), then
hands the admitted upload and its byte stream to `import_stream`, which applies the domain's
own limits. The file is spooled to a temporary file as it arrives (never held in memory),
parsed line by line (`domain.uploads.csv_reader`), validated row by row, and inserted in
multi-row batches with INSERT IGNORE (`domain.uploads.importing`), so memory stays flat and
re-uploading the same file adds nothing. Every row ends up counted exactly once:
rows = imported + duplicates + invalid. The first 100 problems are reported with line numbers.
"""

from __future__ import annotations

import io
import logging
import secrets
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain import audit, clock
from domain.audit import Action
from domain.campaign_state import require_changeable
from domain.errors import FileTooLarge, InvalidCSV, UploadNotFound
from domain.models import Campaign, Upload
from domain.ratelimits import RateLimitState, enforce
from domain.roles import Role, require
from domain.uploads.csv_reader import (
    CODE_RE,
    DUPLICATE_IN_CAMPAIGN,
    DUPLICATE_IN_FILE,
    MAX_LEN,
    MIN_LEN,
    Parser,
    Problem,
    Row,
    check_code,
    spool,
)
from domain.uploads.importing import after_import, import_file, insert_codes, record_completed
from domain.values import ImportProblem, ImportReport, is_public_id

if TYPE_CHECKING:
    from domain.adapters.bootstrap import Services

__all__ = [
    "CODE_RE",
    "DUPLICATE_IN_CAMPAIGN",
    "DUPLICATE_IN_FILE",
    "MAX_LEN",
    "MIN_LEN",
    "ImportReport",
    "Parser",
    "Problem",
    "Row",
    "UploadPass",
    "admit_upload",
    "after_import",
    "bytes_chunks",
    "check_admission",
    "check_code",
    "get_upload",
    "import_file",
    "import_stream",
    "insert_codes",
    "list_uploads",
    "new_upload_id",
    "record_completed",
    "report_of",
    "spool",
]

log = logging.getLogger(__name__)


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
    rate = await check_admission(
        services,
        developer_id=developer_id,
        campaign_id=campaign_id,
        declared_size=declared_size,
        max_bytes=services.settings.upload_max_bytes,
        advice="; split it or use the large-upload flow",
    )
    return UploadPass(developer_id=developer_id, campaign_id=campaign_id, rate=rate)


async def check_admission(
    services: Services,
    *,
    developer_id: int,
    campaign_id: str,
    declared_size: int | None = None,
    max_bytes: int = 0,
    advice: str = "",
) -> RateLimitState | None:
    """The checks every upload passes before its file is read (an in-request upload here, a
    large upload in `domain.large_uploads`, a generation in `domain.generate`): the developer
    manages the campaign, the declared size (when there is one) is within `max_bytes`, one hit
    on `rate_limit_upload` (its state; None when limits are off)."""
    settings = services.settings
    require_changeable(
        await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.MANAGER)
    )
    if declared_size is not None and declared_size > max_bytes:
        raise FileTooLarge(
            f"The file is {declared_size:,} bytes, over the {max_bytes:,}-byte limit{advice}.",
            limit=max_bytes,
        )
    if not settings.rate_limit_enabled:
        return None
    return await enforce(
        services.limiter,
        settings.rate_limit_upload,
        "rate_limit_upload",
        f"dev:{developer_id}",
        what="uploads",
    )


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
            await _refused(upload, exc, actor_id=owner_id, campaign=campaign)
            raise
    await _imported(report, actor_id=owner_id, campaign=campaign, filename=upload.filename)
    return report


async def _imported(
    report: ImportReport, *, actor_id: int, campaign: Campaign, filename: str
) -> None:
    """Audit and log a finished import."""
    # the import commits in batches (a million rows is not one transaction): the audit row
    # follows the last batch
    await audit.record(
        Action.UPLOAD,
        actor_id=actor_id,
        campaign=campaign,
        target=f"upload:{report.upload_id}",
        detail={
            "status": report.status,
            "filename": filename,
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


async def _refused(upload: Upload, exc: InvalidCSV, *, actor_id: int, campaign: Campaign) -> None:
    """Mark an upload refused as a whole `failed` with the reason, and audit it."""
    upload.status = "failed"
    upload.errors = [{"line": exc.extra.get("line") or 0, "reason": exc.detail, "value": None}]
    upload.finished_at = clock.now()
    await upload.save(update_fields=["status", "errors", "finished_at"])
    await audit.record(
        Action.UPLOAD,
        actor_id=actor_id,
        campaign=campaign,
        target=f"upload:{upload.public_id}",
        detail={"status": "failed", "filename": upload.filename},
    )


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
