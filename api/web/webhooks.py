"""The dashboard's Webhooks pages: list, create (the secret shown once), switch off and on,
delete, deliveries with retry, ping. The same domain calls as /api/webhooks; every form
passes the CSRF check; another developer's webhook is a 404 like a missing one."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.web import pages
from api.web.auth import Protected, Signed, SignedIn
from api.web.errors import WebError
from api.web.pages import NO_STORE
from domain import webhooks
from domain.errors import ValidationFailed
from domain.outbox import EVENT_TYPES

router = APIRouter(prefix="/dashboard/webhooks")


def _redirect(path: str, notice: str = "") -> RedirectResponse:
    target = f"{path}?notice={quote(notice)}" if notice else path
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _allow_private(request: Request) -> bool:
    return pages.services_of(request).settings.webhook_allow_private


async def _list_page(
    request: Request,
    signed: Signed,
    *,
    values: dict[str, Any] | None = None,
    error: str = "",
    created: webhooks.IssuedWebhook | None = None,
    status_code: int = 200,
) -> Response:
    items = await webhooks.list_webhooks(owner_id=signed.developer.id)
    return pages.render(
        request,
        "webhooks.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "items": items,
            "event_types": EVENT_TYPES,
            "values": values or {"url": "", "description": "", "events": ["claim.created"]},
            "error": error,
            "created": created,
            "notice": request.query_params.get("notice", "")[:200],
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("", name="webhooks")
async def webhook_list(request: Request, signed: SignedIn) -> Response:
    """Your webhooks and the form for a new one."""
    return await _list_page(request, signed)


@router.post("", name="webhook_create")
async def webhook_create(
    request: Request,
    signed: Protected,
    url: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a webhook; the page shows its secret this once."""
    form = await request.form()
    events = [str(e) for e in form.getlist("events")]
    values = {"url": url, "description": description, "events": events}
    try:
        issued = await webhooks.create_webhook(
            owner_id=signed.developer.id,
            url=url,
            events=events,
            description=description,
            allow_private=_allow_private(request),
        )
    except ValidationFailed as exc:  # not a translation: the form shows it, filled in
        return await _list_page(request, signed, values=values, error=exc.detail, status_code=422)
    return await _list_page(request, signed, created=issued, status_code=201)


@router.get("/{webhook_id}", name="webhook_page")
async def webhook_page(
    request: Request,
    webhook_id: str,
    signed: SignedIn,
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One webhook: its deliveries (status, attempts, last answer) with retry, and ping."""
    view = await webhooks.get_webhook(owner_id=signed.developer.id, webhook_id=webhook_id)
    deliveries = await webhooks.list_deliveries(
        owner_id=signed.developer.id, webhook_id=webhook_id, status=status or None
    )
    return pages.render(
        request,
        "webhook.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "w": view,
            "deliveries": deliveries,
            "status": status,
            "notice": request.query_params.get("notice", "")[:200],
        },
        headers=NO_STORE,
    )


@router.post("/{webhook_id}/{action}", name="webhook_action")
async def webhook_action(
    request: Request,
    webhook_id: str,
    action: str,
    signed: Protected,
    delivery_id: Annotated[int, Form(ge=1, le=2**63 - 1)] = 1,
) -> Response:
    """ping, deactivate, activate, delete, or retry (a delivery)."""
    owner = signed.developer.id
    await webhooks.get_webhook(owner_id=owner, webhook_id=webhook_id)
    page = f"/dashboard/webhooks/{webhook_id}"
    if action == "ping":
        await webhooks.ping(owner_id=owner, webhook_id=webhook_id)
        return _redirect(page, "Ping queued: it shows below once sent.")
    if action in ("deactivate", "activate"):
        await webhooks.update_webhook(
            owner_id=owner,
            webhook_id=webhook_id,
            changes={"active": action == "activate"},
            allow_private=_allow_private(request),
        )
        return _redirect(page, "Switched on." if action == "activate" else "Switched off.")
    if action == "delete":
        await webhooks.delete_webhook(owner_id=owner, webhook_id=webhook_id)
        return _redirect("/dashboard/webhooks", "Webhook deleted.")
    if action == "retry":
        await webhooks.retry_delivery(
            owner_id=owner, webhook_id=webhook_id, delivery_id=delivery_id
        )
        return _redirect(page, f"Delivery {delivery_id} will be sent again.")
    raise WebError(404, "Unknown action", "Use ping, activate, deactivate, delete or retry.")
