"""Developer routes for campaigns: create, list, read, change, delete, analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from api.deps import CampaignId, CurrentDeveloper, KnownQueryOnly, Svc, developer_limit
from api.schemas import (
    PROBLEMS,
    AnalyticsOut,
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignUpdate,
)
from domain import analytics, campaigns
from domain.eligibility import FactSources

router = APIRouter(
    prefix="/api/campaigns",
    tags=["campaigns"],
    responses=PROBLEMS,
    dependencies=[KnownQueryOnly, developer_limit("rate_limit_api", "API calls")],
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignOut)
async def create_campaign(
    body: CampaignCreate, dev: CurrentDeveloper, services: Svc
) -> CampaignOut:
    """Create a campaign (active unless `status` says draft)."""
    values = body.model_dump()
    values["eligibility"] = body.eligibility.model_dump(exclude_defaults=True)
    view = await campaigns.create_campaign(
        owner_id=dev.id, fact_sources=FactSources.of(services.settings), **values
    )
    return CampaignOut.of(view, services.settings.public_url)


@router.get("", response_model=CampaignPage)
async def list_campaigns(
    dev: CurrentDeveloper,
    services: Svc,
    status_: Annotated[
        Literal["draft", "active", "paused", "completed", "archived"] | None,
        Query(alias="status"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CampaignPage:
    """List your campaigns, newest first (archived ones only when `status=archived`)."""
    items, total = await campaigns.list_campaigns(
        owner_id=dev.id, status=status_, offset=offset, limit=limit
    )
    url = services.settings.public_url
    return CampaignPage(
        items=[CampaignOut.of(v, url) for v in items], total=total, offset=offset, limit=limit
    )


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(
    campaign_id: CampaignId, dev: CurrentDeveloper, services: Svc
) -> CampaignOut:
    """One of your campaigns with its stock."""
    view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    return CampaignOut.of(view, services.settings.public_url)


@router.patch("/{campaign_id}", response_model=CampaignOut)
async def update_campaign(
    campaign_id: CampaignId, body: CampaignUpdate, dev: CurrentDeveloper, services: Svc
) -> CampaignOut:
    """Change fields of a campaign; send only what changes (`status` moves it as an owner
    action would: publish, pause, resume, end, reopen, archive)."""
    changes = body.model_dump(exclude_unset=True)
    if "eligibility" in changes and body.eligibility is not None:
        changes["eligibility"] = body.eligibility.model_dump(exclude_defaults=True)
    view = await campaigns.update_campaign(
        owner_id=dev.id,
        campaign_id=campaign_id,
        changes=changes,
        events_bus=services.events,
        fact_sources=FactSources.of(services.settings),
    )
    return CampaignOut.of(view, services.settings.public_url)


@router.delete("/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_campaign(campaign_id: CampaignId, dev: CurrentDeveloper) -> Response:
    """Delete a campaign with its codes and claims."""
    await campaigns.delete_campaign(owner_id=dev.id, campaign_id=campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{campaign_id}/analytics",
    response_model=AnalyticsOut,
    dependencies=[developer_limit("rate_limit_analytics", "analytics requests")],
)
async def get_analytics(
    campaign_id: CampaignId,
    dev: CurrentDeveloper,
    bucket: Annotated[Literal["minute", "hour", "day"], Query()] = "hour",
    since: Annotated[datetime | None, Query(description="start of the time series")] = None,
) -> AnalyticsOut:
    """Stock by status, claims per channel and platform, and claims over time."""
    result = await analytics.campaign_analytics(
        owner_id=dev.id, campaign_id=campaign_id, bucket=bucket, since=since
    )
    return AnalyticsOut.of(result)
