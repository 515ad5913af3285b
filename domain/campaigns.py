"""Campaigns: create, read, change, delete; stock counts; the public card.

Every owner-facing function takes `owner_id`, the acting developer, and asks
`domain.access.require` for the role it needs: a campaign the developer is no member of is
exactly like a missing one (`CampaignNotFound`), so ids cannot be probed across tenants.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from domain import audit, clock, events, outbox
from domain.access import Role, require, roles_of
from domain.audit import Action as AuditAction
from domain.campaign_state import Action, TransitionRefused, next_status
from domain.eligibility import FactSources, check_verifiable, parse_rules
from domain.errors import CampaignNotFound, ValidationFailed
from domain.events import Event, EventBus
from domain.models import ArchivedCode, Campaign, PromoCode
from domain.values import (
    MAX_INT,
    CampaignStatus,
    CodeStatus,
    IdentityMode,
    Platform,
    check_text,
    is_public_id,
    parse_identity_mode,
    parse_platform,
)

MAX_LIMIT = 100
# null on these means nothing sensible ("no name", "no platform"), so it is refused rather
# than read as a default; starts_at and ends_at take null to clear the time
NOT_NULL = {
    "name",
    "description",
    "platform",
    "status",
    "per_claimant_limit",
    "low_stock_threshold",
    "eligibility",
    "waitlist_enabled",
    "identity",
}
EDITABLE = {
    "name",
    "description",
    "platform",
    "status",
    "starts_at",
    "ends_at",
    "per_claimant_limit",
    "low_stock_threshold",
    "code_ttl_days",
    "eligibility",
    "waitlist_enabled",
    "identity",
}


@dataclass(slots=True)
class Stock:
    available: int = 0
    claimed: int = 0
    used: int = 0
    archived: int = 0
    available_by_platform: dict[str, int] = field(default_factory=dict)
    expired: int = 0  # never handed out: past their expires_at while available

    @property
    def total(self) -> int:
        return self.available + self.claimed + self.used + self.archived + self.expired


@dataclass(slots=True)
class CampaignView:
    id: str
    name: str
    description: str
    platform: str
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    per_claimant_limit: int
    low_stock_threshold: int
    eligibility: dict[str, Any]
    waitlist_enabled: bool
    created_at: datetime
    updated_at: datetime
    stock: Stock
    owner_id: int
    state: str  # one of STATE_LABELS: what the owner and every front call the campaign now
    identity: str = IdentityMode.ANONYMOUS
    code_ttl_days: int | None = None
    role: str = "owner"  # the caller's role on it (viewer, manager, owner)


@dataclass(slots=True)
class PublicCard:
    """What anyone may see of a campaign: never a code."""

    id: str
    name: str
    description: str
    platform: str
    state: str  # open, not_started, paused, ended, sold_out
    codes_left: int
    platforms: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    waitlist_enabled: bool
    identity: str = IdentityMode.ANONYMOUS


def new_public_id() -> str:
    """An unguessable id for URLs (96 random bits)."""
    return secrets.token_urlsafe(12)


async def stock_of(campaign_pks: list[int]) -> dict[int, Stock]:
    """Counts per status (and available per platform) for several campaigns in two queries."""
    result = {pk: Stock() for pk in campaign_pks}
    if not campaign_pks:
        return result
    rows = (
        await PromoCode.filter(campaign_id__in=campaign_pks)
        .annotate(n=Count("id"))
        .group_by("campaign_id", "status", "platform")
        .values("campaign_id", "status", "platform", "n")
    )
    for row in rows:
        stock = result[row["campaign_id"]]
        if row["status"] == CodeStatus.AVAILABLE:
            stock.available += row["n"]
            stock.available_by_platform[row["platform"] or "any"] = row["n"]
        elif row["status"] == CodeStatus.CLAIMED:
            stock.claimed += row["n"]
        elif row["status"] == CodeStatus.EXPIRED:
            stock.expired += row["n"]
        else:
            stock.used += row["n"]
    archived = (
        await ArchivedCode.filter(campaign_id__in=campaign_pks)
        .annotate(n=Count("id"))
        .group_by("campaign_id", "status")
        .values("campaign_id", "status", "n")
    )
    for row in archived:
        if row["status"] == CodeStatus.EXPIRED:
            result[row["campaign_id"]].expired += row["n"]
        else:
            result[row["campaign_id"]].archived += row["n"]
    return result


# One word per state, for every front: the dashboard, both bots and the API (`state`) say
# "sold out" for a campaign whose codes ran out, the word its members see on the claim page.
STATE_LABELS = {
    "draft": "Draft",
    "not_started": "Not started",
    "active": "Active",
    "paused": "Paused",
    "sold_out": "Sold out",
    "ended": "Ended",
    "archived": "Archived",
}


def owner_state(c: Campaign, stock: Stock, now: datetime) -> str:
    """The campaign's state as its owner sees it (a key of `STATE_LABELS`).

    The stored status says too little: a campaign completes both when it sells out (and an
    upload reopens it) and when it ends (for good, unless its owner resumes it).
    """
    if c.status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED, CampaignStatus.ARCHIVED):
        return str(c.status)
    if c.status == CampaignStatus.COMPLETED:
        return "sold_out" if c.completed_reason == "sold_out" else "ended"
    if c.ends_at and now >= c.ends_at:
        return "ended"
    if c.starts_at and now < c.starts_at:
        return "not_started"
    if stock.total and not stock.available:
        return "sold_out"
    return "active"


def _view(c: Campaign, stock: Stock, role: Role = Role.OWNER) -> CampaignView:
    return CampaignView(
        id=c.public_id,
        name=c.name,
        description=c.description,
        platform=c.platform,
        status=c.status,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        per_claimant_limit=c.per_claimant_limit,
        low_stock_threshold=c.low_stock_threshold,
        eligibility=c.eligibility or {},
        waitlist_enabled=c.waitlist_enabled,
        created_at=c.created_at,
        updated_at=c.updated_at,
        stock=stock,
        owner_id=c.owner_id,  # type: ignore[attr-defined]
        state=owner_state(c, stock, clock.now()),
        identity=c.identity,
        code_ttl_days=c.code_ttl_days,
        role=role.label,
    )


async def owned(*, owner_id: int, campaign_id: str) -> Campaign:
    """Shorthand for `access.require(..., role=Role.OWNER)` (code written before roles)."""
    return await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.OWNER)


async def _role_view(row: Campaign, developer_id: int) -> CampaignView:
    role = Role.OWNER
    if row.owner_id != developer_id:  # type: ignore[attr-defined]
        role = (await roles_of(developer_id)).get(row.id, Role.VIEWER)
    return _view(row, (await stock_of([row.id]))[row.id], role)


async def _visible(developer_id: int) -> tuple[Q, dict[int, Role]]:
    """The filter for campaigns a developer owns or is a member of, and the member roles."""
    roles = await roles_of(developer_id)
    visible = Q(owner_id=developer_id)
    if roles:
        visible = visible | Q(id__in=list(roles))
    return visible, roles


def _check_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise editable fields; errors name the field."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in EDITABLE:
            raise ValidationFailed(f"{key!r} cannot be set.", field=key)
        if value is None and key in NOT_NULL:
            raise ValidationFailed(f"{key} cannot be null; leave it out to keep it.", field=key)
        if key == "name":
            value = check_text(str(value).strip(), field="name")
            if not 1 <= len(value) <= 120:
                raise ValidationFailed("The name must be 1-120 characters.", field="name")
        elif key == "description":
            value = check_text(str(value).strip(), field="description", multiline=True)
            if len(value) > 4000:
                raise ValidationFailed("The description is over 4,000 characters.", field=key)
        elif key == "platform":
            value = (parse_platform(value) or Platform.UNIVERSAL).value
        elif key == "status":
            try:
                value = CampaignStatus(value).value
            except ValueError:
                raise ValidationFailed(
                    f"Unknown status {value!r}; use one of: "
                    + ", ".join(s.value for s in CampaignStatus)
                    + ".",
                    field="status",
                ) from None
        elif key in ("starts_at", "ends_at"):
            value = clock.checked_utc(value, field=key)
        elif key == "per_claimant_limit":
            if not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
                raise ValidationFailed(
                    f"per_claimant_limit must be 1-{MAX_LIMIT}.", field="per_claimant_limit"
                )
        elif key == "low_stock_threshold":
            if not isinstance(value, int) or not 0 <= value <= MAX_INT:
                raise ValidationFailed(f"low_stock_threshold must be 0-{MAX_INT}.", field=key)
        elif key == "waitlist_enabled":
            if not isinstance(value, bool):
                raise ValidationFailed("waitlist_enabled must be true or false.", field=key)
        elif key == "eligibility":
            value = parse_rules(value).model_dump(mode="json", exclude_defaults=True)
        elif key == "code_ttl_days":
            if value is not None and (not isinstance(value, int) or not 1 <= value <= 3650):
                raise ValidationFailed(
                    "code_ttl_days must be 1-3650 days, or null for codes that never expire.",
                    field=key,
                )
        elif key == "identity":
            value = parse_identity_mode(value)
        out[key] = value
    return out


def _check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at.", field="ends_at")


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
    """Create a campaign owned by `owner_id` (active unless told otherwise).

    `fact_sources` (`FactSources.of(settings)`) says which optional facts this deployment
    gathers; rules that none of a channel's facts can check are refused
    (`EligibilityUnverifiable`), whatever front creates the campaign.
    """
    values = _check_fields(
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
    _check_window(values["starts_at"], values["ends_at"])
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
    return _view(row, Stock())


async def get_campaign(*, owner_id: int, campaign_id: str) -> CampaignView:
    row = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    return await _role_view(row, owner_id)


async def list_campaigns(
    *, owner_id: int, status: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[CampaignView], int]:
    """A page of the campaigns the developer owns or is a member of, newest first, and the
    total count."""
    visible, roles = await _visible(owner_id)
    query = Campaign.filter(visible)
    if status:
        query = query.filter(status=status)
    total = await query.count()
    rows = await query.order_by("-id").offset(offset).limit(limit)
    stocks = await stock_of([r.id for r in rows])
    return [_view(r, stocks[r.id], roles.get(r.id, Role.OWNER)) for r in rows], total


async def update_campaign(
    *,
    owner_id: int,
    campaign_id: str,
    changes: dict[str, Any],
    events_bus: EventBus | None = None,
    fact_sources: FactSources | None = None,
) -> CampaignView:
    """Change editable fields (managers and owners); a status change is published as an event.

    New rules, and rules of a campaign being opened (status active), must be checkable on
    its channels (`create_campaign`); pausing or ending is always allowed.
    """
    row = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.MANAGER)
    values = _check_fields(changes)
    if "eligibility" in values or values.get("status") == CampaignStatus.ACTIVE:
        rules = values.get("eligibility", row.eligibility)
        check_verifiable(parse_rules(rules), fact_sources or FactSources())
    if values.get("status") == CampaignStatus.DRAFT and row.status != CampaignStatus.DRAFT:
        raise ValidationFailed("A published campaign cannot go back to draft.", field="status")
    _check_window(values.get("starts_at", row.starts_at), values.get("ends_at", row.ends_at))
    old_status = row.status
    for key, value in values.items():
        setattr(row, key, value)
    if "status" in values and values["status"] != CampaignStatus.COMPLETED:
        row.completed_reason = None
    if "low_stock_threshold" in values:
        row.low_stock_alerted = False
    async with in_transaction() as conn:
        await row.save(using_db=conn)
        if row.status != old_status:
            await outbox.record_status(conn, row, old_status, row.status, "owner")
        await audit.record(
            AuditAction.CAMPAIGN_UPDATE,
            actor_id=owner_id,
            campaign=row,
            target=f"campaign:{row.public_id}",
            detail={"fields": sorted(values), "status": row.status},
            using_db=conn,
        )
    forget_card(row.public_id)
    if events_bus is not None and row.status != old_status:
        await events_bus.publish(
            Event(
                events.CAMPAIGN_STATUS_CHANGED,
                row.public_id,
                row.owner_id,  # type: ignore[attr-defined]
                {"from": old_status, "to": row.status},
            )
        )
    return await _role_view(row, owner_id)


async def set_status(
    *,
    owner_id: int,
    campaign_id: str,
    status: str,
    events_bus: EventBus | None = None,
    fact_sources: FactSources | None = None,
) -> CampaignView:
    """Pause, resume (active) or end (completed) a campaign."""
    return await update_campaign(
        owner_id=owner_id,
        campaign_id=campaign_id,
        changes={"status": status},
        events_bus=events_bus,
        fact_sources=fact_sources,
    )


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
    target = next_status(CampaignStatus(row.status), action)
    if action is Action.REOPEN and row.ends_at and clock.now() >= row.ends_at:
        raise TransitionRefused(
            "This campaign's end time has passed; move its end time before reopening it.",
            status=str(row.status),
            action=action.value,
        )
    return await update_campaign(
        owner_id=developer_id,
        campaign_id=campaign_id,
        changes={"status": target},
        events_bus=events_bus,
        fact_sources=fact_sources,
    )


async def delete_campaign(*, owner_id: int, campaign_id: str) -> None:
    """Delete a campaign with its codes, claims and uploads (owners only)."""
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


async def reopen_if_sold_out(c: Campaign, now: datetime) -> bool:
    """Codes came back: a campaign that completed by selling out opens again (not past its end).

    Decided by the row in the database, not the copy read before the import (it may have
    sold out meanwhile).
    """
    query = Campaign.filter(id=c.id, status=CampaignStatus.COMPLETED, completed_reason="sold_out")
    if c.ends_at and now >= c.ends_at:
        return False
    return bool(await query.update(status=CampaignStatus.ACTIVE, completed_reason=None))


def public_state(c: Campaign, available: int, now: datetime) -> str:
    """The state a member sees: open, not_started, paused, ended or sold_out."""
    if c.status == CampaignStatus.PAUSED:
        return "paused"
    if c.status in (CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED):
        return "sold_out" if c.completed_reason == "sold_out" and not available else "ended"
    if c.ends_at and now >= c.ends_at:
        return "ended"
    if c.starts_at and now < c.starts_at:
        return "not_started"
    if available <= 0:
        return "sold_out"
    return "open"


async def public_row(campaign_id: str) -> Campaign:
    """A published campaign by public id; drafts are indistinguishable from unknown ids."""
    if not is_public_id(campaign_id):
        raise CampaignNotFound()
    row = await Campaign.get_or_none(public_id=campaign_id)
    if row is None or row.status == CampaignStatus.DRAFT:
        raise CampaignNotFound(campaign_id)
    if len(_recent_rows) >= MAX_RECENT_CARDS:
        _recent_rows.clear()
    _recent_rows[campaign_id] = (time.monotonic(), row)
    return row


_recent_rows: dict[str, tuple[float, Campaign]] = {}


async def recent_public_row(campaign_id: str, *, fresh_within: float) -> tuple[Campaign, bool]:
    """A published campaign read at most `fresh_within` seconds ago, and whether it was reused.

    For the claim, which re-checks the campaign's terms inside its own transaction: a reused
    row saves a query per claim, never decides alone. Unknown ids are never remembered.
    """
    recent = _recent_rows.get(campaign_id)
    if recent is not None and time.monotonic() - recent[0] <= fresh_within:
        return recent[1], True
    return await public_row(campaign_id), False


_recent_cards: dict[str, tuple[float, Campaign, dict[str, int]]] = {}
MAX_RECENT_CARDS = 10_000


def forget_card(campaign_id: str) -> None:
    """Drop this process's recent read of a card (after a claim, an upload, an edit)."""
    _recent_cards.pop(campaign_id, None)


async def public_card(*, campaign_id: str, fresh_within: float = 0.0) -> PublicCard:
    """The public campaign card (name, description, platform, codes left; never a code).

    Counting the available codes scans the campaign's stock, so anonymous page views may
    accept a read up to `fresh_within` seconds old; claims and edits in this process forget
    it at once, so only other processes' changes can lag by that much.
    """
    now_mono = time.monotonic()
    recent = _recent_cards.get(campaign_id) if fresh_within > 0 else None
    if recent is not None and now_mono - recent[0] <= fresh_within:
        _, row, by_platform = recent
    else:
        row = await public_row(campaign_id)
        rows = (
            await PromoCode.filter(campaign_id=row.id, status=CodeStatus.AVAILABLE)
            .annotate(n=Count("id"))
            .group_by("platform")
            .values("platform", "n")
        )
        by_platform = {r["platform"]: r["n"] for r in rows}
        if len(_recent_cards) >= MAX_RECENT_CARDS:
            _recent_cards.clear()
        _recent_cards[campaign_id] = (now_mono, row, by_platform)
    left = sum(by_platform.values())
    platforms = sorted(p for p in by_platform if p)
    if row.platform != Platform.UNIVERSAL:
        platforms = [row.platform]
    return PublicCard(
        id=row.public_id,
        name=row.name,
        description=row.description,
        platform=row.platform,
        state=public_state(row, left, clock.now()),
        codes_left=left,
        platforms=platforms,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        waitlist_enabled=row.waitlist_enabled,
        identity=row.identity,
    )


async def find_campaigns(*, owner_id: int, text: str = "", limit: int = 25) -> list[CampaignView]:
    """Campaigns the developer may see whose name contains `text` (for bot autocomplete)."""
    visible, roles = await _visible(owner_id)
    query = Campaign.filter(visible)
    if text:
        query = query.filter(name__icontains=text)
    rows = await query.order_by("-id").limit(limit)
    return [_view(r, Stock(), roles.get(r.id, Role.OWNER)) for r in rows]
