"""Large uploads: the file goes to object storage first, then is imported in the background.

1. `admit_large_upload` applies the domain's own limits before anything is stored (the
   campaign is the developer's to manage, a declared size within `large_upload_max_bytes`,
   one hit on `rate_limit_upload`); `start_upload` takes only the admitted upload, creates it
   (status `pending`) and hands out where to PUT the file: a presigned S3 URL, or on the
   embedded default a URL on our own API carrying a signed, expiring token
   (`receive_content` stores what arrives there, within `large_upload_max_bytes`).
2. `complete_upload` checks the object arrived and queues it (`uploaded`).
3. `process_upload` (started right after completion, and by the scheduler's
   `process_uploads` tick) streams the object to a temporary file, counts its lines for the
   progress total, and runs the normal import (`domain.uploads.import_file`) under a lease,
   (`services.leases`, built once per process), so one process imports each file. A process that dies midway leaves the upload
   `processing` with an expired lease; the next tick restarts it: INSERT IGNORE skips what
   the first attempt inserted, and the counts are corrected so the report still adds up.
4. `upload_progress` reports status, rows done / total and the final import report.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from tortoise.transactions import in_transaction

from domain import audit, clock
from domain.adapters.bootstrap import Services
from domain.audit import Action
from domain.errors import (
    Conflict,
    FileTooLarge,
    InvalidCSV,
    Unauthorized,
    UploadNotFound,
    ValidationFailed,
)
from domain.leases import holding
from domain.models import Campaign, PromoCode, Upload
from domain.ratelimits import RateLimitState
from domain.roles import Role, require
from domain.settings import Settings
from domain.uploads import (
    DUPLICATE_IN_CAMPAIGN,
    DUPLICATE_IN_FILE,
    check_admission,
    import_file,
    new_upload_id,
    report_of,
    spool,
)
from domain.values import ImportReport, is_public_id

log = logging.getLogger(__name__)

PENDING, UPLOADED, PROCESSING, DONE, FAILED, EXPIRED = (
    "pending",
    "uploaded",
    "processing",
    "done",
    "failed",
    "expired",
)


@dataclass(frozen=True, slots=True)
class LargeUploadPass:
    """A large upload admitted by `admit_large_upload`; `start_upload` takes nothing else, so
    no front can skip the checks."""

    developer_id: int
    campaign_id: str
    rate: RateLimitState | None  # for the API's RateLimit headers; None when limits are off


@dataclass(frozen=True, slots=True)
class UploadTicket:
    """Where and how to send the file of a new large upload."""

    upload_id: str
    method: str
    url: str
    direct_to_storage: bool
    expires_at: datetime
    max_bytes: int


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """Status of a large upload: rows done out of the file's line count, and the report."""

    upload_id: str
    status: str
    rows_done: int
    rows_total: int | None
    report: ImportReport

    @property
    def percent(self) -> float | None:
        if self.status == DONE:
            return 100.0
        if not self.rows_total:
            return None
        return round(min(100.0, 100.0 * self.rows_done / self.rows_total), 1)


def _progress(u: Upload) -> UploadProgress:
    return UploadProgress(
        upload_id=u.public_id,
        status=u.status,
        rows_done=u.rows,
        rows_total=u.expected_rows,
        report=report_of(u),
    )


def object_key_for(campaign: Campaign, upload_id: str) -> str:
    return f"uploads/{campaign.public_id}/{upload_id}.csv"


# --- the signed token of our own upload URL -------------------------------------------


def _sign(settings: Settings, upload_id: str, expires: int) -> str:
    key = settings.secret_key.get_secret_value().encode()
    mac = hmac.new(key, f"upload-content:{upload_id}:{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def content_token(settings: Settings, upload_id: str, expires_at: datetime) -> str:
    """A token that lets its bearer PUT the file of one upload until `expires_at`."""
    expires = int(expires_at.timestamp())
    return f"{expires}.{_sign(settings, upload_id, expires)}"


def check_content_token(settings: Settings, upload_id: str, token: str) -> None:
    """Raise `Unauthorized` unless `token` was issued for this upload and is still valid."""
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or not signature:
        raise Unauthorized("The upload URL is malformed; start a new upload.")
    expected = _sign(settings, upload_id, int(expires_text))
    if not hmac.compare_digest(expected, signature):
        raise Unauthorized("The upload URL is not valid for this upload.")
    if datetime.fromtimestamp(int(expires_text), UTC) < clock.now():
        raise Unauthorized("The upload URL has expired; start a new upload.")


# --- the flow ---------------------------------------------------------------------------


async def admit_large_upload(
    services: Services, *, developer_id: int, campaign_id: str, declared_size: int | None = None
) -> LargeUploadPass:
    """Admit one large upload before it starts: the campaign must be theirs to manage, the
    file (when the front knows its size) within `large_upload_max_bytes`, and the developer
    within `rate_limit_upload` (the same bucket as in-request uploads)."""
    rate = await check_admission(
        services,
        developer_id=developer_id,
        campaign_id=campaign_id,
        declared_size=declared_size,
        max_bytes=services.settings.large_upload_max_bytes,
    )
    return LargeUploadPass(developer_id=developer_id, campaign_id=campaign_id, rate=rate)


async def start_upload(
    services: Services, admitted: LargeUploadPass, *, filename: str
) -> UploadTicket:
    """Create a pending upload and say where to PUT its file (S3 directly, or our API)."""
    settings = services.settings
    owner_id = admitted.developer_id
    campaign = await require(
        campaign_id=admitted.campaign_id, developer_id=owner_id, role=Role.MANAGER
    )
    filename = check_filename(filename)
    upload_id = new_upload_id()
    key = object_key_for(campaign, upload_id)
    async with in_transaction() as conn:
        await Upload.create(
            public_id=upload_id,
            campaign_id=campaign.id,
            filename=filename,
            object_key=key,
            status=PENDING,
            using_db=conn,
        )
        await audit.record(
            Action.UPLOAD_START,
            actor_id=owner_id,
            campaign=campaign,
            target=f"upload:{upload_id}",
            detail={"filename": filename},
            using_db=conn,
        )
    expires_at = clock.now() + timedelta(seconds=settings.presign_expiry_seconds)
    url = await services.store.presigned_put_url(key, expires_in=settings.presign_expiry_seconds)
    direct = url is not None
    if url is None:
        token = content_token(settings, upload_id, expires_at)
        url = f"{settings.public_url.rstrip('/')}/api/uploads/{upload_id}/content?token={token}"
    log.info(
        "large upload %s started for campaign %s (%s)",
        upload_id,
        campaign.public_id,
        "presigned" if direct else "own URL",
    )
    return UploadTicket(
        upload_id=upload_id,
        method="PUT",
        url=url,
        direct_to_storage=direct,
        expires_at=expires_at,
        max_bytes=settings.large_upload_max_bytes,
    )


async def receive_content(
    *, upload_id: str, token: str, chunks: AsyncIterable[bytes], services: Services
) -> int:
    """Store the file PUT to our own upload URL (embedded default); returns its size."""
    check_content_token(services.settings, upload_id, token)
    u = await Upload.get_or_none(public_id=upload_id) if is_public_id(upload_id) else None
    if u is None or u.object_key is None:
        raise UploadNotFound(f"No upload {upload_id!r}.")
    if u.status != PENDING:
        raise Conflict(f"This upload is {u.status}; its file can no longer be replaced.")
    with tempfile.NamedTemporaryFile(prefix="codedrop-upload-") as handle:
        size = await spool(chunks, max_bytes=services.settings.large_upload_max_bytes, into=handle)
        handle.flush()
        await services.store.put_file(u.object_key, Path(handle.name))
    return size


async def _owned_upload(owner_id: int, campaign_id: str, upload_id: str, role: Role) -> Upload:
    campaign = await require(campaign_id=campaign_id, developer_id=owner_id, role=role)
    if not is_public_id(upload_id):
        raise UploadNotFound("No such large upload in this campaign.")
    u = await Upload.get_or_none(public_id=upload_id, campaign_id=campaign.id)
    if u is None or u.object_key is None:
        raise UploadNotFound(f"No large upload {upload_id!r} in this campaign.")
    return u


async def complete_upload(
    *, owner_id: int, campaign_id: str, upload_id: str, services: Services
) -> UploadProgress:
    """Confirm the file arrived and queue it for import (a repeat call is harmless)."""
    u = await _owned_upload(owner_id, campaign_id, upload_id, Role.MANAGER)
    if u.status == EXPIRED:
        raise Conflict("This upload expired before its file arrived; start a new upload.")
    if u.status != PENDING:
        return _progress(u)
    assert u.object_key is not None
    size = await services.store.size(u.object_key)
    if size is None:
        raise Conflict(
            "The file has not arrived yet: PUT it to the upload URL, then complete the upload."
        )
    limit = services.settings.large_upload_max_bytes
    if size > limit or size == 0:
        await _fail(u, "The file is empty (0 bytes)." if size == 0 else f"over {limit:,} bytes")
        await services.store.delete(u.object_key)
        if size == 0:
            raise InvalidCSV("The file is empty (0 bytes).")
        raise FileTooLarge(f"The file is over the {limit:,}-byte limit.", limit=limit)
    await Upload.filter(id=u.id, status=PENDING).update(status=UPLOADED, total_bytes=size)
    await u.refresh_from_db()
    return _progress(u)


async def upload_progress(*, owner_id: int, campaign_id: str, upload_id: str) -> UploadProgress:
    """Status, rows done / total, and (once done) the import report."""
    return _progress(await _owned_upload(owner_id, campaign_id, upload_id, Role.VIEWER))


async def _fail(u: Upload, reason: str, line: int = 0) -> None:
    u.status = FAILED
    u.errors = [{"line": line, "reason": reason, "value": None}]
    u.finished_at = clock.now()
    await u.save(update_fields=["status", "errors", "finished_at"])


async def _spool_object(services: Services, key: str, into: IO[bytes]) -> tuple[int, int]:
    """Copy the object to a local file in chunks; (bytes, lines)."""
    size = lines = 0
    last = b""
    async for chunk in services.store.stream(key, chunk_size=1024 * 1024):
        into.write(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    into.seek(0)
    return size, lines


SKIPPED = (DUPLICATE_IN_CAMPAIGN, DUPLICATE_IN_FILE)


async def _correct_after_restart(u: Upload) -> None:
    """Count codes an interrupted attempt inserted as imported, not as duplicates."""
    own = await PromoCode.filter(upload_id=u.id).count()
    extra = own - u.imported
    if extra <= 0:
        return
    flagged = [e["value"] for e in u.errors if e.get("reason") in SKIPPED and e.get("value")]
    ours = set(
        await PromoCode.filter(upload_id=u.id, code__in=flagged).values_list("code", flat=True)
    )
    u.imported += extra
    u.duplicates = max(0, u.duplicates - extra)
    u.errors = [e for e in u.errors if not (e.get("reason") in SKIPPED and e.get("value") in ours)]
    await u.save(update_fields=["imported", "duplicates", "errors"])


async def process_in_background(upload_id: str, services: Services) -> None:
    """Import a completed upload from a request's background task.

    A failure is logged and the upload stays queued/processing: the scheduler's next tick
    retries it."""
    try:
        await process_upload(upload_id=upload_id, services=services)
    except Exception:
        log.exception("background import of upload %s failed", upload_id)


async def process_upload(*, upload_id: str, services: Services) -> UploadProgress | None:
    """Import one uploaded file, once (under the `upload:<id>` lease of the process's
    `services.leases`); None when another process is importing it."""
    ttl = float(services.settings.job_lease_seconds)
    async with holding(services.leases, f"upload:{upload_id}", ttl=ttl) as held:
        if held is None:
            return None
        u = await Upload.get_or_none(public_id=upload_id)
        if u is None:
            raise UploadNotFound(f"No upload {upload_id!r}.")
        if u.status not in (UPLOADED, PROCESSING) or u.object_key is None:
            return _progress(u)
        restarted = u.status == PROCESSING
        if restarted:
            log.warning("upload %s was interrupted midway; importing it again", upload_id)
        campaign = await Campaign.get(id=u.campaign_id)  # type: ignore[attr-defined]
        with tempfile.TemporaryFile(prefix="codedrop-import-") as handle:
            size, lines = await _spool_object(services, u.object_key, handle)
            u.status, u.total_bytes, u.expected_rows = PROCESSING, size, lines
            await u.save(update_fields=["status", "total_bytes", "expected_rows"])
            try:
                await import_file(
                    campaign=campaign,
                    upload=u,
                    handle=handle,
                    max_codes=services.settings.large_upload_max_codes,
                    batch_size=services.settings.upload_batch_size,
                    events_bus=services.events,
                )
            except InvalidCSV as exc:
                await _fail(u, exc.detail, int(exc.extra.get("line") or 0))
                return _progress(u)
        if restarted:
            await _correct_after_restart(u)
        log.info(
            "large upload %s imported: rows=%d imported=%d duplicates=%d invalid=%d",
            upload_id,
            u.rows,
            u.imported,
            u.duplicates,
            u.invalid,
        )
        return _progress(u)


async def process_waiting_uploads(*, services: Services, limit: int = 20) -> dict[str, int]:
    """Import queued files and restart interrupted ones (the scheduler's tick)."""
    ids = (
        await Upload.filter(status__in=[UPLOADED, PROCESSING], object_key__isnull=False)
        .order_by("id")
        .limit(limit)
        .values_list("public_id", flat=True)
    )
    done = busy = 0
    for upload_id in ids:
        if await process_upload(upload_id=str(upload_id), services=services):
            done += 1
        else:
            busy += 1
    return {"processed": done, "busy_elsewhere": busy}


def check_filename(filename: str) -> str:
    """A file name fit for the upload record (the path part dropped)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if len(name) > 255:
        raise ValidationFailed("The file name is over 255 characters.", field="filename")
    return name
