"""Developer routes for the daily reports written by the scheduler."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import CurrentDeveloper, KnownQueryOnly, RowId, Svc, developer_limit
from api.schemas import PROBLEMS
from domain import reports
from domain.reports import ReportView

router = APIRouter(
    prefix="/api/reports",
    tags=["reports"],
    responses=PROBLEMS,
    dependencies=[KnownQueryOnly, developer_limit("rate_limit_api", "API calls")],
)


class ReportOut(BaseModel):
    id: int
    period: str = Field(description="the UTC day reported on (YYYY-MM-DD)")
    created_at: datetime
    claims: int
    campaigns: list[dict[str, Any]] = Field(
        description="per campaign: claims, by_channel, by_platform, available, per_day, days_left"
    )
    delivered_to: list[str] = Field(description="chat providers the report reached")
    csv_url: str

    @classmethod
    def of(cls, r: ReportView) -> ReportOut:
        return cls(
            id=r.id,
            period=r.period,
            created_at=r.created_at,
            claims=int(r.summary.get("claims", 0)),
            campaigns=list(r.summary.get("campaigns", [])),
            delivered_to=list(r.summary.get("delivered_to", [])),
            csv_url=f"/api/reports/{r.id}/csv",
        )


@router.get("", response_model=list[ReportOut])
async def list_reports(dev: CurrentDeveloper) -> list[ReportOut]:
    """Your daily reports, newest first."""
    return [ReportOut.of(r) for r in await reports.list_reports(developer_id=dev.id)]


@router.get("/{report_id}", response_model=ReportOut)
async def get_report(report_id: RowId, dev: CurrentDeveloper) -> ReportOut:
    """One of your daily reports."""
    return ReportOut.of(await reports.get_report(developer_id=dev.id, report_id=report_id))


@router.get(
    "/{report_id}/csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def report_csv(report_id: RowId, dev: CurrentDeveloper, services: Svc) -> StreamingResponse:
    """The CSV of one of your daily reports."""
    name, chunks = await reports.report_file(
        developer_id=dev.id, report_id=report_id, store=services.store
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
