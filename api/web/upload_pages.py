"""The dashboard's uploads: a file imported in the request, the background flow for large
files, and an upload's report page.

Files over the in-request limit go through domain.large_uploads: the page starts an upload
here, PUTs the file to the URL it gets (a presigned S3 URL, or the API's own token-signed
URL), completes it here, then polls the progress until the import is done and opens the
report. Start and complete change state: they need the session's CSRF token like every form.
The PUT needs none: its URL carries its own single-upload, expiring signature and no cookie
is involved.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import file_chunks, uploaded_file
from api.web import pages
from api.web.auth import Protected, SignedIn
from api.web.dashboard import page, redirect
from api.web.pages import NO_STORE
from domain import campaigns, large_uploads, uploads
from domain.large_uploads import UploadProgress
from domain.settings import Settings

router = APIRouter(prefix="/dashboard")


@router.post("/c/{campaign_id}/upload", name="campaign_upload")
async def campaign_upload(request: Request, campaign_id: str, signed: Protected) -> Response:
    """Import a CSV/TXT file; the browser shows upload progress, then the report."""
    services = pages.services_of(request)
    dev = signed.developer
    await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    admitted = await uploads.admit_upload(services, developer_id=dev.id, campaign_id=campaign_id)
    file = await uploaded_file(request)  # the body is read after session and limit
    report = await uploads.import_stream(
        services, admitted, chunks=file_chunks(file), filename=file.filename or ""
    )
    url = f"/dashboard/c/{campaign_id}/uploads/{report.upload_id}"
    if report.reopened:  # the report page tells the owner (the row keeps only the counts)
        url += "?reopened=1"
    if pages.wants_json(request):
        return JSONResponse(
            {
                "report_url": url,
                "rows": report.rows,
                "imported": report.imported,
                "duplicates": report.duplicates,
                "invalid": report.invalid,
                "reopened": report.reopened,
            },
            status_code=201,
            headers=NO_STORE,
        )
    return redirect(url)


def upload_origins(settings: Settings) -> list[str]:
    """Origins a browser PUTs presigned files to (for the page's CSP `connect-src`)."""
    if not settings.s3_bucket:
        return []
    endpoint = settings.s3_public_endpoint_url or settings.s3_endpoint_url
    if endpoint:
        parts = urlsplit(endpoint)
        return [f"{parts.scheme}://{parts.netloc}"]
    bucket, region = settings.s3_bucket, settings.s3_region
    return [
        f"https://{bucket}.s3.{region}.amazonaws.com",
        f"https://{bucket}.s3.amazonaws.com",
        f"https://s3.{region}.amazonaws.com",
    ]


def _same_origin(url: str) -> str:
    """Our own upload URL as a path: the page PUTs to the origin it was served from."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _progress_json(campaign_id: str, p: UploadProgress) -> dict[str, Any]:
    r = p.report
    return {
        "upload_id": p.upload_id,
        "status": p.status,
        "rows_done": p.rows_done,
        "rows_total": p.rows_total,
        "percent": p.percent,
        "imported": r.imported,
        "duplicates": r.duplicates,
        "invalid": r.invalid,
        "finished": p.status in (large_uploads.DONE, large_uploads.FAILED, large_uploads.EXPIRED),
        "report_url": f"/dashboard/c/{campaign_id}/uploads/{p.upload_id}",
    }


@router.post("/c/{campaign_id}/large-uploads", name="large_upload_start")
async def large_upload_start(
    request: Request,
    campaign_id: str,
    signed: Protected,
    filename: Annotated[str, Body(max_length=1000, embed=True)] = "",
    size: Annotated[int | None, Body(ge=0, embed=True)] = None,
) -> Response:
    """Start a background upload: where to PUT the file, and where to follow it."""
    services = pages.services_of(request)
    dev = signed.developer
    await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    admitted = await large_uploads.admit_large_upload(
        services, developer_id=dev.id, campaign_id=campaign_id, declared_size=size
    )
    ticket = await large_uploads.start_upload(services, admitted, filename=filename)
    base = f"/dashboard/c/{campaign_id}/large-uploads/{ticket.upload_id}"
    return JSONResponse(
        {
            "upload_id": ticket.upload_id,
            "method": ticket.method,
            "url": ticket.url if ticket.direct_to_storage else _same_origin(ticket.url),
            "direct_to_storage": ticket.direct_to_storage,
            "expires_at": ticket.expires_at.isoformat(),
            "max_bytes": ticket.max_bytes,
            "complete_url": f"{base}/complete",
            "progress_url": base,
            "report_url": f"/dashboard/c/{campaign_id}/uploads/{ticket.upload_id}",
        },
        status_code=201,
        headers=NO_STORE,
    )


@router.post("/c/{campaign_id}/large-uploads/{upload_id}/complete", name="large_upload_complete")
async def large_upload_complete(
    request: Request,
    campaign_id: str,
    upload_id: str,
    signed: Protected,
    background: BackgroundTasks,
) -> Response:
    """The file was PUT: queue its import (it runs in the background; poll the progress)."""
    services = pages.services_of(request)
    dev = signed.developer
    await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    progress = await large_uploads.complete_upload(
        owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id, services=services
    )
    if progress.status == large_uploads.UPLOADED:
        background.add_task(large_uploads.process_in_background, upload_id, services)
    return JSONResponse(_progress_json(campaign_id, progress), status_code=202, headers=NO_STORE)


@router.get("/c/{campaign_id}/large-uploads/{upload_id}", name="large_upload_progress")
async def large_upload_progress(campaign_id: str, upload_id: str, signed: SignedIn) -> Response:
    """Status of a background upload: rows done out of the file's lines, then the counts."""
    dev = signed.developer
    await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    progress = await large_uploads.upload_progress(
        owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id
    )
    return JSONResponse(_progress_json(campaign_id, progress), headers=NO_STORE)


@router.get("/c/{campaign_id}/uploads/{upload_id}", name="upload_report")
async def upload_report(
    request: Request,
    campaign_id: str,
    upload_id: str,
    signed: SignedIn,
    reopened: Annotated[bool, Query(description="the import reopened a sold-out campaign")] = False,
) -> Response:
    """One upload's report with its problem lines."""
    view = await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    report = await uploads.get_upload(
        owner_id=signed.developer.id, campaign_id=campaign_id, upload_id=upload_id
    )
    return page(
        request,
        "upload_report.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "r": report,
            "reopened": reopened,
        },
    )
