"""Developer routes for webhooks: register endpoints, follow deliveries, retry, ping."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentDeveloper, Svc, developer_limit
from api.schemas import PROBLEMS
from domain import webhooks
from domain.outbox import EVENT_TYPES
from domain.webhooks import DeliveryView, WebhookView

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], responses=PROBLEMS)
api_limit = developer_limit("rate_limit_api", "API calls")

EventName = Literal[
    "claim.created",
    "code.used",
    "code.released",
    "campaign.low_stock",
    "campaign.sold_out",
    "campaign.status_changed",
    "upload.completed",
]
assert set(get_args(EventName)) == set(EVENT_TYPES)
DeliveryStatusName = Literal["pending", "delivered", "failed"]
WebhookId = Annotated[str, Path(min_length=1, max_length=40, description="wh_…")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="from the deliveries list")]

SIGNING = (
    "Each delivery is a POST with a JSON body `{type, timestamp, data}` and the Standard"
    " Webhooks headers `webhook-id` (the event id: the same on every retry, de-duplicate on"
    " it), `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of"
    " `id.timestamp.body` with the secret)."
)


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://backend.example.com/codedrop/events",
                    "events": ["claim.created", "campaign.sold_out"],
                    "description": "production backend",
                }
            ]
        },
    )
    url: str = Field(max_length=2000, description="http(s) URL on a public address")
    events: list[EventName] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str = Field("", max_length=200)
    active: bool = True


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2000)
    events: list[EventName] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(None, max_length=200)
    active: bool | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, v: WebhookView) -> WebhookOut:
        return cls(
            id=v.id,
            url=v.url,
            description=v.description,
            events=v.events,
            active=v.active,
            created_at=v.created_at,
            updated_at=v.updated_at,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_…: verifies signatures; shown this once")


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="the `webhook-id` header of this delivery")
    event: str
    campaign_id: str
    status: DeliveryStatusName
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="the receiver's last HTTP status")
    last_response: str = Field(description="the start of the receiver's last answer")
    last_error: str = Field(description="why the last attempt got no answer, if it did not")
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, v: DeliveryView) -> DeliveryOut:
        return cls(
            id=v.id,
            event_id=v.event_id,
            event=v.event,
            campaign_id=v.campaign_id,
            status=v.status,
            attempts=v.attempts,
            next_attempt_at=v.next_attempt_at,
            last_attempt_at=v.last_attempt_at,
            last_status_code=v.last_status_code,
            last_response=v.last_response,
            last_error=v.last_error,
            delivered_at=v.delivered_at,
            created_at=v.created_at,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    dependencies=[api_limit],
    description=SIGNING,
)
async def create_webhook(body: WebhookIn, dev: CurrentDeveloper, services: Svc) -> WebhookCreated:
    """Register an endpoint for events; the signing secret is in this answer only."""
    issued = await webhooks.create_webhook(
        owner_id=dev.id,
        url=body.url,
        events=list(body.events),
        description=body.description,
        active=body.active,
        allow_private=services.settings.webhook_allow_private,
    )
    return WebhookCreated(**WebhookOut.of(issued.webhook).model_dump(), secret=issued.secret)


@router.get("", response_model=list[WebhookOut], dependencies=[api_limit])
async def list_webhooks(dev: CurrentDeveloper) -> list[WebhookOut]:
    """Your webhooks (secrets are never shown again)."""
    return [WebhookOut.of(v) for v in await webhooks.list_webhooks(owner_id=dev.id)]


@router.get("/{webhook_id}", response_model=WebhookOut, dependencies=[api_limit])
async def get_webhook(webhook_id: WebhookId, dev: CurrentDeveloper) -> WebhookOut:
    """One of your webhooks."""
    return WebhookOut.of(await webhooks.get_webhook(owner_id=dev.id, webhook_id=webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut, dependencies=[api_limit])
async def update_webhook(
    webhook_id: WebhookId, body: WebhookPatch, dev: CurrentDeveloper, services: Svc
) -> WebhookOut:
    """Change the URL, events, description, or switch a webhook off and on."""
    view = await webhooks.update_webhook(
        owner_id=dev.id,
        webhook_id=webhook_id,
        changes=body.model_dump(exclude_unset=True),
        allow_private=services.settings.webhook_allow_private,
    )
    return WebhookOut.of(view)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[api_limit])
async def delete_webhook(webhook_id: WebhookId, dev: CurrentDeveloper) -> Response:
    """Delete a webhook and its delivery history."""
    await webhooks.delete_webhook(owner_id=dev.id, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut], dependencies=[api_limit])
async def list_deliveries(
    webhook_id: WebhookId,
    dev: CurrentDeveloper,
    status_: Annotated[DeliveryStatusName | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """The webhook's deliveries, newest first: status, attempts, the last answer."""
    views = await webhooks.list_deliveries(
        owner_id=dev.id, webhook_id=webhook_id, status=status_, limit=limit
    )
    return [DeliveryOut.of(v) for v in views]


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[api_limit],
)
async def retry_delivery(
    webhook_id: WebhookId, delivery_id: DeliveryId, dev: CurrentDeveloper
) -> DeliveryOut:
    """Send a delivery again now (the dispatcher's next pass); the event id stays the same."""
    view = await webhooks.retry_delivery(
        owner_id=dev.id, webhook_id=webhook_id, delivery_id=delivery_id
    )
    return DeliveryOut.of(view)


@router.post(
    "/{webhook_id}/ping",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[api_limit],
)
async def ping_webhook(webhook_id: WebhookId, dev: CurrentDeveloper) -> DeliveryOut:
    """Queue a `webhook.ping` test event for this webhook; follow it in its deliveries."""
    return DeliveryOut.of(await webhooks.ping(owner_id=dev.id, webhook_id=webhook_id))
