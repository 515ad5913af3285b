"""The audit log: every developer action, who did it, through which channel, when, on what.

`record(...)` writes one row, inside the caller's transaction when it passes `using_db`, so an
action and its audit row commit or roll back together. The channel comes from the front that
serves the request (`set_channel("api")` in the API's key check, "dashboard" in its session
check, "bot" where a bot resolves its developer, "cli" in the command line); work started
elsewhere (the scheduler) is "system".

A row never holds a full code or a secret: `detail` refuses keys that would carry one.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from domain import clock
from domain.errors import ValidationFailed
from domain.models import AuditEntry, Campaign, CampaignMember, Developer
from domain.roles import Role, require

MAX_PAGE = 200
# a detail key named like these could carry a code or a secret: refused outright
SECRET_KEYS = frozenset({"code", "codes", "secret", "token", "key", "api_key", "password"})


class AuditChannel(StrEnum):
    API = "api"
    DASHBOARD = "dashboard"
    BOT = "bot"
    CLI = "cli"
    SYSTEM = "system"


class Action(StrEnum):
    CAMPAIGN_CREATE = "campaign.create"
    CAMPAIGN_UPDATE = "campaign.update"
    CAMPAIGN_DELETE = "campaign.delete"
    UPLOAD = "upload.import"
    UPLOAD_START = "upload.start"
    CODES_GENERATE = "codes.generate"
    CODES_MARK_USED = "codes.mark_used"
    CODE_RELEASE = "code.release"
    CODES_EXPORT = "codes.export"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_UPDATE = "webhook.update"
    WEBHOOK_DELETE = "webhook.delete"
    MEMBER_INVITE = "member.invite"
    MEMBER_JOIN = "member.join"
    MEMBER_ROLE = "member.role"
    MEMBER_REMOVE = "member.remove"


_channel: contextvars.ContextVar[str] = contextvars.ContextVar(
    "audit_channel", default=AuditChannel.SYSTEM.value
)


def set_channel(channel: AuditChannel) -> None:
    """Say which front serves the current request or command (a context variable)."""
    _channel.set(channel.value)


def current_channel() -> str:
    return _channel.get()


async def record(
    action: Action | str,
    *,
    actor_id: int | None,
    campaign: Campaign | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    owner_id: int | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """Write one audit row (in the caller's transaction when `using_db` is given).

    `owner_id` says whose log the row belongs to when there is no campaign (an API key's
    developer); with a campaign it is the campaign's owner.
    """
    detail = detail or {}
    bad = SECRET_KEYS.intersection(detail)
    if bad:
        raise ValueError(f"audit detail may not carry {sorted(bad)}: codes and secrets stay out")
    await AuditEntry.create(
        actor_id=actor_id,
        channel=current_channel(),
        action=str(action),
        campaign_pk=campaign.id if campaign is not None else None,
        campaign_public_id=campaign.public_id if campaign is not None else "",
        owner_id=campaign.owner_id if campaign is not None else owner_id,  # type: ignore[attr-defined]
        target=target[:200],
        detail=detail,
        created_at=clock.now(),
        using_db=using_db,
    )


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    channel: str
    action: str
    campaign_id: str
    target: str
    detail: dict[str, Any]


async def list_entries(
    *,
    viewer_id: int,
    campaign_id: str | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditView], int | None]:
    """A page of the log the viewer may see, newest first, and the cursor of the next page.

    A developer sees their own actions, and every action on campaigns they own or are a
    member of (deleted campaigns included for their owner). `campaign_id` narrows to one
    campaign, which must be one the viewer may see (a 404 otherwise, like everywhere else).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be 1-{MAX_PAGE}.", field="limit")
    if campaign_id is not None:
        c = await require(campaign_id=campaign_id, developer_id=viewer_id, role=Role.VIEWER)
        query = AuditEntry.filter(campaign_pk=c.id)
    else:
        member_of = await CampaignMember.filter(developer_id=viewer_id).values_list(
            "campaign_id", flat=True
        )
        owned = await Campaign.filter(owner_id=viewer_id).values_list("id", flat=True)
        query = AuditEntry.filter(
            Q(actor_id=viewer_id)
            | Q(owner_id=viewer_id)
            | Q(campaign_pk__in=[*member_of, *owned] or [0])
        )
    if actor_id is not None:
        query = query.filter(actor_id=actor_id)
    if since is not None:
        query = query.filter(created_at__gte=clock.checked_utc(since, field="since"))
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    rows = await query.order_by("-id").limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {r.actor_id for r in rows if r.actor_id is not None}
    names = dict(await Developer.filter(id__in=list(ids)).values_list("id", "name")) if ids else {}
    views = [
        AuditView(
            id=r.id,
            at=r.created_at,
            actor_id=r.actor_id,
            actor_name=str(names.get(r.actor_id, "")) if r.actor_id is not None else "",
            channel=r.channel,
            action=r.action,
            campaign_id=r.campaign_public_id,
            target=r.target,
            detail=r.detail or {},
        )
        for r in rows
    ]
    return views, (rows[-1].id if more else None)
