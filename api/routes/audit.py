"""The audit log: `GET /api/audit`, newest first, scoped to what the caller may see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CurrentDeveloper, KnownQueryOnly, developer_limit
from api.schemas import PROBLEMS
from domain import audit
from domain.values import PUBLIC_ID_PATTERN

router = APIRouter(
    prefix="/api/audit",
    tags=["audit"],
    responses=PROBLEMS,
    dependencies=[KnownQueryOnly, developer_limit("rate_limit_api", "API calls")],
)


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None = Field(description="the acting developer; null for an operator (CLI)")
    actor_name: str
    channel: str = Field(description="api, dashboard, bot, cli or system")
    action: str = Field(description="e.g. campaign.create, codes.export, member.join")
    campaign_id: str = Field(description="the campaign's public id, '' when none")
    target: str
    detail: dict[str, Any] = Field(description="never a full code or a secret")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before: int | None = Field(
        description="pass as `before` for the next (older) page; null on the last page"
    )


@router.get("", response_model=AuditPage)
async def list_audit(
    dev: CurrentDeveloper,
    campaign: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=PUBLIC_ID_PATTERN)
    ] = None,
    actor: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    since: datetime | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 50,
) -> AuditPage:
    """Your actions and every action on campaigns you own or are a member of, newest first.

    `campaign` narrows to one campaign (404 if you may not see it), `actor` to one developer,
    `since` to entries at or after a moment; page with `before=<next_before>`.
    """
    items, next_before = await audit.list_entries(
        viewer_id=dev.id,
        campaign_id=campaign,
        actor_id=actor,
        since=since,
        before_id=before,
        limit=limit,
    )
    return AuditPage(
        items=[
            AuditEntryOut(
                id=e.id,
                at=e.at,
                actor_id=e.actor_id,
                actor_name=e.actor_name,
                channel=e.channel,
                action=e.action,
                campaign_id=e.campaign_id,
                target=e.target,
                detail=e.detail,
            )
            for e in items
        ],
        next_before=next_before,
    )
