"""Dashboard pages for campaign members (invite, change role, remove, join) and the audit log.

Thin like the rest of the dashboard: each handler is one call to `domain.access` or
`domain.audit`; refusals are answered by api.web.errors like every page's (a stranger's
campaign is a 404, a role too low a 403 naming the role it needs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.web import pages
from api.web.auth import Protected, SignedIn
from api.web.errors import WebError
from api.web.pages import NO_STORE
from domain import access, audit, campaigns

router = APIRouter(prefix="/dashboard")
AUDIT_PAGE = 50


def _page(request: Request, template: str, ctx: dict[str, Any]) -> Response:
    return pages.render(request, template, ctx, headers=NO_STORE)


@router.get("/c/{campaign_id}/members", name="members_page")
async def members_page(request: Request, campaign_id: str, signed: SignedIn) -> Response:
    """Who shares the campaign; owners also invite, change roles and remove."""
    dev_id = signed.developer.id
    view = await campaigns.get_campaign(owner_id=dev_id, campaign_id=campaign_id)
    members = await access.list_members(campaign_id=campaign_id, developer_id=dev_id)
    return _page(
        request,
        "members.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "members": members,
            "me": dev_id,
            "invite": None,
        },
    )


@router.post("/c/{campaign_id}/members/invite", name="members_invite")
async def members_invite(
    request: Request,
    campaign_id: str,
    signed: Protected,
    role: Annotated[str, Form(max_length=16)] = "viewer",
) -> Response:
    """Create a one-time invitation and show its token once."""
    dev_id = signed.developer.id
    issued = await access.invite(campaign_id=campaign_id, developer_id=dev_id, role=role)
    view = await campaigns.get_campaign(owner_id=dev_id, campaign_id=campaign_id)
    members = await access.list_members(campaign_id=campaign_id, developer_id=dev_id)
    return _page(
        request,
        "members.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "members": members,
            "me": dev_id,
            "invite": issued,
        },
    )


@router.post("/c/{campaign_id}/members/{member_id}", name="members_change")
async def members_change(
    campaign_id: str,
    member_id: int,
    signed: Protected,
    action: Annotated[str, Form(max_length=16)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Change a member's role (`action=role`) or remove them (`action=remove`)."""
    dev_id = signed.developer.id
    if action == "remove":
        await access.remove_member(
            campaign_id=campaign_id, developer_id=dev_id, member_id=member_id
        )
    elif action == "role":
        await access.change_role(
            campaign_id=campaign_id, developer_id=dev_id, member_id=member_id, role=role
        )
    else:
        raise WebError(422, "Unknown action", "Use role or remove.", code="validation_error")
    target = "/dashboard" if member_id == dev_id and action == "remove" else None
    return RedirectResponse(
        target or f"/dashboard/c/{campaign_id}/members", status_code=303, headers=NO_STORE
    )


@router.get("/join", name="join_form")
async def join_form(request: Request, signed: SignedIn) -> Response:
    """Accept an invitation: paste the token a campaign's owner gave you."""
    return _page(request, "join.html", {"signed": signed, "csrf": signed.session.csrf})


@router.post("/join", name="join")
async def join(signed: Protected, token: Annotated[str, Form(max_length=100)] = "") -> Response:
    joined = await access.accept(token=token, developer_id=signed.developer.id)
    return RedirectResponse(f"/dashboard/c/{joined.campaign_id}", status_code=303, headers=NO_STORE)


@router.get("/audit", name="audit_page")
async def audit_page(
    request: Request,
    signed: SignedIn,
    campaign: Annotated[str, Query(max_length=32)] = "",
    actor: Annotated[str, Query(max_length=10)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """The audit log the developer may see, newest first, filtered like `GET /api/audit`
    (empty filter fields are ignored, as a browser sends them)."""
    actor_id = int(actor) if actor.strip().isdigit() else None
    if actor.strip() and actor_id is None:
        raise WebError(422, "Invalid filter", "Developer # must be a number.", code="actor")
    when = None
    if since.strip():
        try:
            when = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
        except ValueError:
            raise WebError(
                422,
                "Invalid filter",
                "Since must be a date like 2026-01-31T00:00:00Z.",
                code="since",
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    entries, next_before = await audit.list_entries(
        viewer_id=signed.developer.id,
        campaign_id=campaign.strip() or None,
        actor_id=actor_id,
        since=when,
        before_id=before,
        limit=AUDIT_PAGE,
    )
    return _page(
        request,
        "audit.html",
        {
            "signed": signed,
            "nav": "audit",
            "entries": entries,
            "campaign": campaign,
            "actor": actor.strip(),
            "since": since.strip(),
            "next_before": next_before,
        },
    )
