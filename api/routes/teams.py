"""Campaign members and invitations: who shares a campaign, with which role.

Owners invite with a one-time token (`POST /api/campaigns/{id}/members/invites`); the invited
developer accepts it with their own API key (`POST /api/invites/accept`). Roles are decided by
`domain.access` only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CampaignId, CurrentDeveloper, KnownQueryOnly, developer_limit
from api.schemas import PROBLEMS, Strict, problems
from domain import access
from domain.access import DEFAULT_INVITE_HOURS, MAX_INVITE_HOURS

RoleName = Literal["viewer", "manager", "owner"]
DeveloperId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a member's developer id")]

router = APIRouter(
    tags=["members"],
    responses=PROBLEMS,
    dependencies=[KnownQueryOnly, developer_limit("rate_limit_api", "API calls")],
)


class MemberOut(BaseModel):
    developer_id: int
    name: str
    role: RoleName
    is_owner: bool = Field(description="the campaign's owner: cannot be removed or demoted")
    since: datetime

    @classmethod
    def of(cls, m: access.MemberView) -> MemberOut:
        return cls(
            developer_id=m.developer_id,
            name=m.name,
            role=m.role,
            is_owner=m.is_owner,
            since=m.since,
        )


class InviteIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"role": "manager", "expires_in_hours": 72}]},
    )
    role: RoleName = Field(description="the role the invited developer gets")
    expires_in_hours: int = Field(DEFAULT_INVITE_HOURS, ge=1, le=MAX_INVITE_HOURS)


class InviteOut(BaseModel):
    token: str = Field(description="shown once; the invited developer accepts it")
    campaign_id: str
    role: RoleName
    expires_at: datetime


class AcceptIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "cdi_2b9Xq…"}]}
    )
    token: str = Field(min_length=1, max_length=100)


class JoinedOut(BaseModel):
    campaign_id: str
    campaign_name: str
    role: RoleName


class RoleIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "viewer"}]})
    role: RoleName


@router.get("/api/campaigns/{campaign_id}/members", response_model=list[MemberOut])
async def list_members(campaign_id: CampaignId, dev: CurrentDeveloper) -> list[MemberOut]:
    """The campaign's owner and members (any role may look)."""
    found = await access.list_members(campaign_id=campaign_id, developer_id=dev.id)
    return [MemberOut.of(m) for m in found]


@router.post(
    "/api/campaigns/{campaign_id}/members/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteOut,
)
async def create_invite(
    campaign_id: CampaignId, body: InviteIn, dev: CurrentDeveloper
) -> InviteOut:
    """A one-time invitation token for a role (owners only); the token is shown once."""
    issued = await access.invite(
        campaign_id=campaign_id,
        developer_id=dev.id,
        role=body.role,
        expires_in_hours=body.expires_in_hours,
    )
    return InviteOut(
        token=issued.token,
        campaign_id=issued.campaign_id,
        role=issued.role,
        expires_at=issued.expires_at,
    )


@router.post("/api/invites/accept", response_model=JoinedOut, responses=problems(404, 409, 410))
async def accept_invite(body: AcceptIn, dev: CurrentDeveloper) -> JoinedOut:
    """Join a campaign with an invitation token: once, before it expires (404 unknown,
    409 `invite_used`, 410 `invite_expired`)."""
    joined = await access.accept(token=body.token, developer_id=dev.id)
    return JoinedOut(
        campaign_id=joined.campaign_id,
        campaign_name=joined.campaign_name,
        role=joined.role,
    )


@router.patch("/api/campaigns/{campaign_id}/members/{developer_id}", response_model=MemberOut)
async def change_role(
    campaign_id: CampaignId, developer_id: DeveloperId, body: RoleIn, dev: CurrentDeveloper
) -> MemberOut:
    """Give a member another role (owners only)."""
    m = await access.change_role(
        campaign_id=campaign_id, developer_id=dev.id, member_id=developer_id, role=body.role
    )
    return MemberOut.of(m)


@router.delete(
    "/api/campaigns/{campaign_id}/members/{developer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def remove_member(
    campaign_id: CampaignId, developer_id: DeveloperId, dev: CurrentDeveloper
) -> Response:
    """Remove a member (owners), or leave a campaign (your own id)."""
    await access.remove_member(campaign_id=campaign_id, developer_id=dev.id, member_id=developer_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
