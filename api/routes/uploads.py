"""Large uploads: start (get a PUT URL), PUT the file, complete, follow the progress.

With S3 the client PUTs straight to a presigned URL; on the embedded default it PUTs to
`/api/uploads/{upload_id}/content?token=…` on this API, authorised by the signed token in
the URL. Completing queues the import; it runs in the background (and the scheduler's
`process_uploads` tick picks up anything a restart interrupted). The limits (the upload rate
limit, `large_upload_max_bytes`) are the domain's: a start is admitted by
`large_uploads.admit_large_upload` before anything is stored. Start and complete honour
`Idempotency-Key` (api/idempotency.py), so a retried start does not open a second upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from pydantic import BaseModel, Field

from api.deps import (
    CampaignId,
    CurrentDeveloper,
    KnownQueryOnly,
    Svc,
    UploadId,
    developer_limit,
    show_rate_limit,
)
from api.idempotency import IdempotentRoute, idempotent
from api.schemas import PROBLEMS, ImportReportOut, Strict
from domain import large_uploads
from domain.large_uploads import UploadProgress

router = APIRouter(
    tags=["codes"], responses=PROBLEMS, route_class=IdempotentRoute, dependencies=[KnownQueryOnly]
)
api_limit = developer_limit("rate_limit_api", "API calls")


class UploadStart(Strict):
    filename: str = Field("", max_length=1000, description="the file's name, for the report")


class UploadTicketOut(BaseModel):
    upload_id: str
    method: str = Field(description="always PUT")
    url: str = Field(description="where to PUT the file body (raw bytes, no multipart)")
    direct_to_storage: bool = Field(description="true when the URL is a presigned S3 URL")
    expires_at: datetime
    max_bytes: int
    complete_url: str = Field(description="POST here once the PUT succeeded")
    progress_url: str


class UploadProgressOut(BaseModel):
    upload_id: str
    status: str = Field(description="pending, uploaded, processing, done, failed or expired")
    rows_done: int
    rows_total: int | None = Field(description="lines in the file, known once processing starts")
    percent: float | None
    report: ImportReportOut

    @classmethod
    def of(cls, p: UploadProgress) -> UploadProgressOut:
        return cls(
            upload_id=p.upload_id,
            status=p.status,
            rows_done=p.rows_done,
            rows_total=p.rows_total,
            percent=p.percent,
            report=ImportReportOut.of(p.report),
        )


class ContentReceived(BaseModel):
    upload_id: str
    bytes: int


def _paths(campaign_id: CampaignId, upload_id: UploadId) -> tuple[str, str]:
    base = f"/api/campaigns/{campaign_id}/uploads/{upload_id}"
    return f"{base}/complete", f"{base}/progress"


@router.post(
    "/api/campaigns/{campaign_id}/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadTicketOut,
)
@idempotent
async def start_upload(
    campaign_id: CampaignId,
    body: UploadStart,
    dev: CurrentDeveloper,
    services: Svc,
    response: Response,
) -> UploadTicketOut:
    """Start a large upload: returns the URL to PUT the file to (presigned S3 or this API)."""
    admitted = await large_uploads.admit_large_upload(
        services, developer_id=dev.id, campaign_id=campaign_id
    )
    show_rate_limit(response, admitted.rate)
    ticket = await large_uploads.start_upload(services, admitted, filename=body.filename)
    complete, progress = _paths(campaign_id, ticket.upload_id)
    return UploadTicketOut(
        upload_id=ticket.upload_id,
        method=ticket.method,
        url=ticket.url,
        direct_to_storage=ticket.direct_to_storage,
        expires_at=ticket.expires_at,
        max_bytes=ticket.max_bytes,
        complete_url=complete,
        progress_url=progress,
    )


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


@router.put(
    "/api/uploads/{upload_id}/content",
    response_model=ContentReceived,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_content(
    upload_id: UploadId,
    request: Request,
    services: Svc,
    token: Annotated[str, Query(max_length=200, description="the signed token from the URL")],
) -> ContentReceived:
    """Receive the file of a large upload (the embedded default's upload URL)."""
    size = await large_uploads.receive_content(
        upload_id=upload_id, token=token, chunks=_body(request), services=services
    )
    return ContentReceived(upload_id=upload_id, bytes=size)


@router.post(
    "/api/campaigns/{campaign_id}/uploads/{upload_id}/complete",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadProgressOut,
    dependencies=[api_limit],
)
@idempotent
async def complete_upload(
    campaign_id: CampaignId,
    upload_id: UploadId,
    dev: CurrentDeveloper,
    services: Svc,
    background: BackgroundTasks,
) -> UploadProgressOut:
    """Confirm the file was PUT; the import starts in the background (poll the progress)."""
    progress = await large_uploads.complete_upload(
        owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id, services=services
    )
    if progress.status == large_uploads.UPLOADED:
        background.add_task(large_uploads.process_in_background, upload_id, services)
    return UploadProgressOut.of(progress)


@router.get(
    "/api/campaigns/{campaign_id}/uploads/{upload_id}/progress",
    response_model=UploadProgressOut,
    dependencies=[api_limit],
)
async def upload_progress(
    campaign_id: CampaignId, upload_id: UploadId, dev: CurrentDeveloper
) -> UploadProgressOut:
    """Status of a large upload: rows done out of the total, and the import report."""
    progress = await large_uploads.upload_progress(
        owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id
    )
    return UploadProgressOut.of(progress)
