"""Campaigns as their owners and members manage them: create, read, change, delete.

Every owner-facing function takes `owner_id` (or `developer_id`), the acting developer, and
asks `domain.access.require` for the role it needs: a campaign the developer is no member of
is exactly like a missing one (`CampaignNotFound`), so ids cannot be probed across tenants.
Status changes are decided and written by `domain.campaign_state`; this module checks who
may ask and applies the other fields in the same transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import audit, campaign_state, clock
from domain.access import Role, require, roles_of
from domain.adapters.db import read_connection
from domain.audit import Action as AuditAction
from domain.campaign_reads import forget_card
from domain.campaign_state import Action
from domain.campaigns.fields import check_fields, check_window
from domain.campaigns.views import CampaignView, Stock, stock_of, view_of
from domain.eligibility import FactSources, check_verifiable, parse_rules
from domain.events import EventBus
from domain.models import Campaign
from domain.values import CampaignStatus, IdentityMode, Platform


def new_public_id() -> str:
    """An unguessable id for URLs (96 random bits)."""
    return secrets.token_urlsafe(12)


async def owned(*, owner_id: int, campaign_id: str) -> Campaign:
    """Shorthand for `access.require(..., role=Role.OWNER)` (code written before roles)."""
    return await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.OWNER)


async def _role_view(row: Campaign, developer_id: int) -> CampaignView:
    role = Role.OWNER
    if row.owner_id != developer_id:  # type: ignore[attr-defined]
        role = (await roles_of(developer_id)).get(row.id, Role.VIEWER)
    return view_of(row, (await stock_of([row.id]))[row.id], role)


async def _visible(developer_id: int) -> tuple[Q, dict[int, Role]]:
    """The filter for campaigns a developer owns or is a member of, and the member roles."""
    roles = await roles_of(developer_id)
    visible = Q(owner_id=developer_id)
    if roles:
        visible = visible | Q(id__in=list(roles))
    return visible, roles


async def create_campaign(
    *,
    owner_id: int,
    name: str,
    description: str = "",
    platform: str | None = None,
    status: str = CampaignStatus.ACTIVE,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    per_claimant_limit: int = 1,
    low_stock_threshold: int = 0,
    eligibility: dict[str, Any] | None = None,
    waitlist_enabled: bool = True,
    identity: str = IdentityMode.ANONYMOUS,
    code_ttl_days: int | None = None,
    fact_sources: FactSources | None = None,
) -> CampaignView:
    """Create a campaign owned by `owner_id`, active unless told draft (`initial_status`).

    `fact_sources` (`FactSources.of(settings)`) says which optional facts this deployment
    gathers; rules that none of a channel's facts can check are refused
    (`EligibilityUnverifiable`), whatever front creates the campaign.
    """
    values = check_fields(
        {
            "name": name,
            "description": description,
            "platform": platform or Platform.UNIVERSAL,
            "status": status,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "per_claimant_limit": per_claimant_limit,
            "low_stock_threshold": low_stock_threshold,
            "eligibility": eligibility or {},
            "waitlist_enabled": waitlist_enabled,
            "identity": identity,
            "code_ttl_days": code_ttl_days,
        }
    )
    values["status"] = campaign_state.initial_status(values["status"])
    check_window(values["starts_at"], values["ends_at"])
    check_verifiable(parse_rules(values["eligibility"]), fact_sources or FactSources())
    async with in_transaction() as conn:
        row = await Campaign.create(
            owner_id=owner_id, public_id=new_public_id(), using_db=conn, **values
        )
        await audit.record(
            AuditAction.CAMPAIGN_CREATE,
            actor_id=owner_id,
            campaign=row,
            target=f"campaign:{row.public_id}",
            detail={"name": row.name, "status": row.status},
            using_db=conn,
        )
    return view_of(row, Stock())


async def get_campaign(*, owner_id: int, campaign_id: str) -> CampaignView:
    row = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    return await _role_view(row, owner_id)


async def list_campaigns(
    *, owner_id: int, status: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[CampaignView], int]:
    """A page of the campaigns the developer owns or is a member of, newest first, and the
    total count. Archived campaigns only when `status` asks for them."""
    visible, roles = await _visible(owner_id)
    # archived campaigns are listed only when asked for by status
    # the listing may lag a moment (read replica); which campaigns are visible does not
    query = Campaign.filter(visible).using_db(read_connection())
    query = query.filter(status=status) if status else query.exclude(status=CampaignStatus.ARCHIVED)
    total = await query.count()
    rows = await query.order_by("-id").offset(offset).limit(limit)
    stocks = await stock_of([r.id for r in rows])
    return [view_of(r, stocks[r.id], roles.get(r.id, Role.OWNER)) for r in rows], total


async def update_campaign(
    *,
    owner_id: int,
    campaign_id: str,
    changes: dict[str, Any],
    events_bus: EventBus,
    fact_sources: FactSources | None = None,
) -> CampaignView:
    """Change editable fields (managers and owners).

    A new `status` is an owner action: `campaign_state.action_to` maps it through the one
    table of moves (one it has no row for is `TransitionRefused`), then it is applied as
    `act` applies it. New rules, and rules of a campaign being opened, must be checkable on
    its channels (`create_campaign`); pausing or ending is always allowed.
    """
    row = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.MANAGER)
    values = check_fields(changes)
    requested = values.pop("status", None)
    action = None
    if requested is not None and requested != row.status:
        action = campaign_state.action_to(CampaignStatus(row.status), CampaignStatus(requested))
    return await _apply(row, owner_id, values, action, events_bus, fact_sources, sorted(changes))


async def act(
    *,
    developer_id: int,
    campaign_id: str,
    action: Action,
    events_bus: EventBus,
    fact_sources: FactSources | None = None,
) -> CampaignView:
    """Apply an owner's `Action` (domain.campaign_state decides the status it leads to)."""
    row = await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.MANAGER)
    return await _apply(row, developer_id, {}, action, events_bus, fact_sources, ["status"])


async def _apply(
    row: Campaign,
    actor_id: int,
    values: dict[str, Any],
    action: Action | None,
    events_bus: EventBus,
    fact_sources: FactSources | None,
    asked: list[str],
) -> CampaignView:
    """Write checked field `values` and the status `action` leads to, in one transaction.

    An archived campaign refuses both: its fields here, its status by the table (no move
    leaves `archived`)."""
    if values:
        campaign_state.require_changeable(row)
    old = CampaignStatus(row.status)
    check_window(values.get("starts_at", row.starts_at), values.get("ends_at", row.ends_at))
    for key, value in values.items():
        setattr(row, key, value)
    now = clock.now()
    # after the new fields: a reopen judges the end time this same request sets
    target = campaign_state.check_action(row, action, now) if action is not None else None
    if "eligibility" in values or target == CampaignStatus.ACTIVE:
        check_verifiable(parse_rules(row.eligibility), fact_sources or FactSources())
    change = None
    async with in_transaction() as conn:
        if values:
            await row.save(using_db=conn, update_fields=[*values, "updated_at"])
        if "low_stock_threshold" in values:
            await campaign_state.rearm_low_stock(row, using_db=conn)
        if target is not None:
            change = await campaign_state.write_move(
                conn, row, target, reason="owner", expect=[old], updated_at=now
            )
            if change is None:  # another request moved it first: nothing of this one is kept
                raise campaign_state.TransitionRefused(
                    "This campaign's status changed meanwhile; look at it again.",
                    campaign_status=str(old),
                    action=str(action),
                )
        await audit.record(
            AuditAction.CAMPAIGN_UPDATE,
            actor_id=actor_id,
            campaign=row,
            target=f"campaign:{row.public_id}",
            detail={"fields": asked, "status": row.status},
            using_db=conn,
        )
    forget_card(row.public_id)
    await campaign_state.announce(change, events_bus)
    return await _role_view(row, actor_id)


async def delete_campaign(*, owner_id: int, campaign_id: str) -> None:
    """Delete a campaign with its codes, claims and uploads (owners only; archived ones too)."""
    row = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.OWNER)
    async with in_transaction() as conn:
        await audit.record(
            AuditAction.CAMPAIGN_DELETE,
            actor_id=owner_id,
            campaign=row,
            target=f"campaign:{row.public_id}",
            detail={"name": row.name},
            using_db=conn,
        )
        await row.delete(using_db=conn)
    forget_card(campaign_id)


async def find_campaigns(*, owner_id: int, text: str = "", limit: int = 25) -> list[CampaignView]:
    """Campaigns the developer may see whose name contains `text` (for bot autocomplete; not
    archived ones, which take no command)."""
    visible, roles = await _visible(owner_id)
    query = Campaign.filter(visible).using_db(read_connection())
    query = query.exclude(status=CampaignStatus.ARCHIVED)
    if text:
        query = query.filter(name__icontains=text)
    rows = await query.order_by("-id").limit(limit)
    return [view_of(r, Stock(), roles.get(r.id, Role.OWNER)) for r in rows]
