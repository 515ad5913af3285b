"""The dashboard's campaign pages: the list, create and edit forms, one campaign's page (live
stats, share links, upload, status buttons), status actions and delete.

The status buttons are exactly the actions `domain.campaign_state.allowed_actions` gives for
the campaign's status; pressing one calls `domain.campaigns.act`, which refuses an action
the status does not allow (409, shown on the error page).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response

from api.web import pages
from api.web.auth import Protected, Signed, SignedIn
from api.web.campaign_form import (
    CHANNELS,
    PLATFORMS,
    campaign_values,
    field_error,
    form_view,
    view_values,
)
from api.web.dashboard import PAGE_SIZE, page, page_count, redirect
from api.web.errors import WebError
from api.web.pages import SECURITY_HEADERS
from api.web.upload_pages import upload_origins
from domain import campaigns, uploads, waitlist
from domain.campaign_state import Action, allowed_actions
from domain.campaigns import CampaignView
from domain.claim_identity import campaign_secret
from domain.eligibility import FactSources
from domain.errors import ValidationFailed
from domain.values import CampaignStatus

router = APIRouter(prefix="/dashboard")

# How each action's button reads; `confirm` asks before an action that cannot be undone
# from the dashboard (api/web/static/common.js shows it).
BUTTONS: dict[Action, dict[str, str]] = {
    Action.PUBLISH: {"label": "Publish"},
    Action.PAUSE: {"label": "Pause"},
    Action.RESUME: {"label": "Resume"},
    Action.END: {"label": "End", "style": "danger"},
    Action.REOPEN: {"label": "Reopen"},
    Action.ARCHIVE: {
        "label": "Archive",
        "style": "danger",
        "confirm": "Archive this campaign? An archived campaign cannot be reopened.",
    },
}


def status_buttons(view: CampaignView) -> list[dict[str, str]]:
    """The campaign page's status buttons: one per action its status allows."""
    return [{"action": a.value, **BUTTONS[a]} for a in allowed_actions(CampaignStatus(view.status))]


@router.get("", name="dashboard")
async def campaign_list(
    request: Request,
    signed: SignedIn,
    status: Annotated[str, Query(max_length=20)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Your campaigns with their status and stock."""
    wanted = status if status in {s.value for s in CampaignStatus} else None
    items, total = await campaigns.list_campaigns(
        owner_id=signed.developer.id,
        status=wanted,
        offset=(page_no - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return page(
        request,
        "campaigns.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "items": items,
            "total": total,
            "status": wanted or "",
            "statuses": [s.value for s in CampaignStatus],
            "page": page_no,
            "pages": page_count(total),
        },
    )


def _form_page(
    request: Request,
    signed: Signed,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    campaign: CampaignView | None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "campaign_form.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "v": form_view(values),
            "errors": errors,
            "campaign": campaign,
            "platforms": PLATFORMS,
            "channels": CHANNELS,
        },
        status_code=status_code,
    )


@router.get("/new", name="campaign_new")
async def campaign_new(request: Request, signed: SignedIn) -> Response:
    """The create-campaign form."""
    values = {
        "name": "",
        "description": "",
        "platform": "universal",
        "status": "active",
        "per_claimant_limit": 1,
        "low_stock_threshold": 0,
        "waitlist_enabled": True,
        "identity": "anonymous",
        "eligibility": {},
    }
    return _form_page(request, signed, values, {}, campaign=None)


@router.post("/new", name="campaign_create")
async def campaign_create(request: Request, signed: Protected) -> Response:
    """Create a campaign from the form."""
    values, errors = campaign_values(await request.form(), creating=True)
    if not errors:
        try:
            view = await campaigns.create_campaign(
                owner_id=signed.developer.id,
                fact_sources=FactSources.of(pages.services_of(request).settings),
                **values,
            )
        except ValidationFailed as exc:  # not a translation: the form shows it by its field
            field_error(exc, errors)
        else:
            return redirect(f"/dashboard/c/{view.id}?created=1")
    return _form_page(request, signed, values, errors, campaign=None, status_code=422)


@router.get("/c/{campaign_id}", name="campaign_page")
async def campaign_page(request: Request, campaign_id: str, signed: SignedIn) -> Response:
    """One campaign: live stats, share links, upload, actions."""
    view = await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    s = pages.services_of(request).settings
    base = s.public_url.rstrip("/")
    recent = await uploads.list_uploads(
        owner_id=signed.developer.id, campaign_id=campaign_id, limit=5
    )
    waiting = await waitlist.size(campaign_id=campaign_id) if view.status != "draft" else 0
    bot = (s.telegram_bot_username or "").lstrip("@")
    origins = upload_origins(s)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    if origins:
        csp = csp.replace("connect-src 'self'", "connect-src 'self' " + " ".join(origins))
    return page(
        request,
        "campaign.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "buttons": status_buttons(view),
            "claim_url": f"{base}/c/{view.id}",
            "telegram_link": f"https://t.me/{bot}?start={view.id}" if bot else None,
            "telegram_enabled": s.telegram_bot_token is not None,
            "discord_enabled": s.discord_bot_token is not None,
            "identity_secret": campaign_secret(s.secret_key.get_secret_value(), view.id),
            "uploads": recent,
            "waiting": waiting,
            "created": request.query_params.get("created") == "1",
            "max_bytes": s.upload_max_bytes,
            "max_codes": s.upload_max_codes,
            "large_max_bytes": s.large_upload_max_bytes,
            "large_max_codes": s.large_upload_max_codes,
        },
        headers={"Content-Security-Policy": csp},
    )


@router.get("/c/{campaign_id}/edit", name="campaign_edit")
async def campaign_edit(request: Request, campaign_id: str, signed: SignedIn) -> Response:
    """The edit form, filled in."""
    view = await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    return _form_page(request, signed, view_values(view), {}, campaign=view)


@router.post("/c/{campaign_id}/edit", name="campaign_update")
async def campaign_update(request: Request, campaign_id: str, signed: Protected) -> Response:
    """Save the edit form (status changes have their own buttons)."""
    view = await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    values, errors = campaign_values(await request.form(), creating=False)
    if not errors:
        services = pages.services_of(request)
        try:
            await campaigns.update_campaign(
                owner_id=signed.developer.id,
                campaign_id=campaign_id,
                changes=values,
                events_bus=services.events,
                fact_sources=FactSources.of(services.settings),
            )
        except ValidationFailed as exc:  # not a translation: the form shows it by its field
            field_error(exc, errors)
        else:
            return redirect(f"/dashboard/c/{campaign_id}")
    values["status"] = view.status
    return _form_page(request, signed, values, errors, campaign=view, status_code=422)


@router.post("/c/{campaign_id}/status", name="campaign_status")
async def campaign_status(
    request: Request,
    campaign_id: str,
    signed: Protected,
    action: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Publish, pause, resume, end, reopen or archive a campaign (its page's buttons)."""
    services = pages.services_of(request)
    await campaigns.act(
        developer_id=signed.developer.id,
        campaign_id=campaign_id,
        action=Action.parse(action),
        events_bus=services.events,
        fact_sources=FactSources.of(services.settings),
    )
    return redirect(f"/dashboard/c/{campaign_id}")


@router.post("/c/{campaign_id}/delete", name="campaign_delete")
async def campaign_delete(
    campaign_id: str,
    signed: Protected,
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Delete a campaign with its codes (the owner types its name to confirm)."""
    view = await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    if confirm.strip() != view.name:
        raise WebError(
            422,
            "Not deleted",
            "Type the campaign's exact name to confirm deleting it.",
            code="confirm_failed",
        )
    await campaigns.delete_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    return redirect("/dashboard")
