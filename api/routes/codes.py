"""Developer routes for codes: upload (multipart), list, mark used, release, export, uploads."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.deps import (
    CampaignId,
    CurrentDeveloper,
    KnownQueryOnly,
    RowId,
    Svc,
    UploadId,
    developer_limit,
    file_chunks,
    show_rate_limit,
    uploaded_file,
)
from api.idempotency import IdempotentRoute, idempotent
from api.schemas import PROBLEMS, BulkOut, CodeIn, CodeOut, CodePage, CodesIn, ImportReportOut
from domain import codes, uploads

router = APIRouter(
    prefix="/api/campaigns/{campaign_id}",
    tags=["codes"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
    dependencies=[KnownQueryOnly],
)

CodeStatusName = Literal["available", "claimed", "used", "expired"]
api_limit = developer_limit("rate_limit_api", "API calls")


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "CSV with a `code` column (optional `platform`,"
                        " `metadata`, `expires_at` as an ISO 8601 date or date-time), or one"
                        " code per line",
                    }
                },
            }
        }
    },
}


@router.post(
    "/codes",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportReportOut,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
@idempotent
async def upload_codes(
    campaign_id: CampaignId,
    request: Request,
    response: Response,
    dev: CurrentDeveloper,
    services: Svc,
) -> ImportReportOut:
    """Import codes from a CSV/TXT file; duplicates and invalid rows are reported by line."""
    admitted = await uploads.admit_upload(services, developer_id=dev.id, campaign_id=campaign_id)
    show_rate_limit(response, admitted.rate)
    # the body is read here, after the key and the upload limit were checked
    file = await uploaded_file(request)
    report = await uploads.import_stream(
        services, admitted, chunks=file_chunks(file), filename=file.filename or ""
    )
    return ImportReportOut.of(report)


@router.get("/codes", response_model=CodePage, dependencies=[api_limit])
async def list_codes(
    campaign_id: CampaignId,
    dev: CurrentDeveloper,
    services: Svc,
    status_: Annotated[CodeStatusName | None, Query(alias="status")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CodePage:
    """A page of the campaign's codes, masked."""
    items, total = await codes.list_codes(
        owner_id=dev.id,
        campaign_id=campaign_id,
        secret_key=services.settings.secret_key.get_secret_value(),
        status=status_,
        offset=offset,
        limit=limit,
    )
    return CodePage(items=[CodeOut.of(v) for v in items], total=total, offset=offset, limit=limit)


@router.post("/codes/used", response_model=BulkOut, dependencies=[api_limit])
async def mark_codes_used(campaign_id: CampaignId, body: CodesIn, dev: CurrentDeveloper) -> BulkOut:
    """Mark codes as used (redeemed), by list."""
    result = await codes.mark_used(owner_id=dev.id, campaign_id=campaign_id, codes=body.codes)
    return BulkOut.of(result)


# Single-code actions take the code in the body or its numeric id (from the listing), never
# the code in the URL: paths end up in proxy access logs and error logs.


@router.post("/codes/release", response_model=CodeOut, dependencies=[api_limit])
async def release_code(campaign_id: CampaignId, body: CodeIn, dev: CurrentDeveloper) -> CodeOut:
    """Return a claimed code to the pool (its claim is released)."""
    return CodeOut.of(await codes.release(owner_id=dev.id, campaign_id=campaign_id, code=body.code))


@router.post("/codes/{code_id}/used", response_model=BulkOut, dependencies=[api_limit])
async def mark_code_used(campaign_id: CampaignId, code_id: RowId, dev: CurrentDeveloper) -> BulkOut:
    """Mark one code as used, by its id in the codes listing."""
    code = await codes.full_code(owner_id=dev.id, campaign_id=campaign_id, code_id=code_id)
    result = await codes.mark_used(owner_id=dev.id, campaign_id=campaign_id, codes=[code])
    return BulkOut.of(result)


@router.post("/codes/{code_id}/release", response_model=CodeOut, dependencies=[api_limit])
async def release_code_by_id(
    campaign_id: CampaignId, code_id: RowId, dev: CurrentDeveloper
) -> CodeOut:
    """Return a claimed code to the pool, by its id in the codes listing."""
    code = await codes.full_code(owner_id=dev.id, campaign_id=campaign_id, code_id=code_id)
    return CodeOut.of(await codes.release(owner_id=dev.id, campaign_id=campaign_id, code=code))


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    dependencies=[api_limit],
    responses={200: {"content": {"text/csv": {}}, "description": "the codes in full, as CSV"}},
)
async def export_codes(
    campaign_id: CampaignId,
    dev: CurrentDeveloper,
    services: Svc,
    status_: Annotated[CodeStatusName | None, Query(alias="status")] = None,
) -> StreamingResponse:
    """Export the campaign's codes in full (owner only; safe to open in a spreadsheet)."""
    stream = await codes.export_csv(
        owner_id=dev.id,
        campaign_id=campaign_id,
        secret_key=services.settings.secret_key.get_secret_value(),
        status=status_,
    )
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="codes-{campaign_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/uploads", response_model=list[ImportReportOut], dependencies=[api_limit])
async def list_uploads(campaign_id: CampaignId, dev: CurrentDeveloper) -> list[ImportReportOut]:
    """The campaign's uploads, newest first, with their reports."""
    reports = await uploads.list_uploads(owner_id=dev.id, campaign_id=campaign_id)
    return [ImportReportOut.of(r) for r in reports]


@router.get("/uploads/{upload_id}", response_model=ImportReportOut, dependencies=[api_limit])
async def get_upload(
    campaign_id: CampaignId, upload_id: UploadId, dev: CurrentDeveloper
) -> ImportReportOut:
    """One upload's status, progress and report."""
    report = await uploads.get_upload(owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id)
    return ImportReportOut.of(report)
