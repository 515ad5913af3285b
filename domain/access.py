"""Who may do what to a campaign: the one access check, campaign members and invitations.

A campaign's `owner` developer holds the owner role; other developers join it through a
one-time invitation with a role:

- viewer: the campaign, its stats, its codes masked, its uploads' reports, its audit log;
- manager: also uploads, status and field changes, mark used, release;
- owner: also delete, members and invitations, webhooks, export of full codes.

The roles and `require(...)`, the only place the rule is decided, live in `domain.roles` (so
that `domain.audit` can check who reads the log without importing this module, which audits
what it changes); they are re-exported here, where callers have always found them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from domain import audit, clock
from domain.audit import Action
from domain.errors import (
    InviteExpired,
    InviteRefused,
    InviteUsed,
    NotFound,
    ValidationFailed,
)
from domain.models import Campaign, CampaignMember, Developer, Invite

# re-exported: callers have always found the roles and the access check here
from domain.roles import Role as Role
from domain.roles import require as require
from domain.roles import role_of as role_of
from domain.roles import roles_of as roles_of

INVITE_PREFIX = "cdi_"
DEFAULT_INVITE_HOURS = 72
MAX_INVITE_HOURS = 30 * 24


# ---------------------------------------------------------------- members


@dataclass(frozen=True, slots=True)
class MemberView:
    developer_id: int
    name: str
    role: str
    is_owner: bool  # the campaign's owner (cannot be removed or demoted)
    since: datetime


async def list_members(*, campaign_id: str, developer_id: int) -> list[MemberView]:
    """The campaign's owner and members (any member may see who else is)."""
    c = await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.VIEWER)
    owner = await Developer.get(id=c.owner_id)  # type: ignore[attr-defined]
    out = [MemberView(owner.id, owner.name, Role.OWNER.label, True, c.created_at)]
    rows = await CampaignMember.filter(campaign_id=c.id).select_related("developer").order_by("id")
    out.extend(
        MemberView(m.developer.id, m.developer.name, m.role, False, m.created_at) for m in rows
    )
    return out


async def _member(c: Campaign, member_id: int) -> CampaignMember:
    if c.owner_id == member_id:  # type: ignore[attr-defined]
        raise ValidationFailed(
            "The campaign's owner keeps the owner role and cannot be removed.", field="developer_id"
        )
    row = await CampaignMember.get_or_none(campaign_id=c.id, developer_id=member_id)
    if row is None:
        raise NotFound(f"Developer {member_id} is not a member of this campaign.")
    return row


async def change_role(
    *, campaign_id: str, developer_id: int, member_id: int, role: str
) -> MemberView:
    """Give a member another role (owners only)."""
    c = await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.OWNER)
    new = Role.parse(role)
    row = await _member(c, member_id)
    async with in_transaction() as conn:
        row.role = new.label
        await row.save(update_fields=["role"], using_db=conn)
        await audit.record(
            Action.MEMBER_ROLE,
            actor_id=developer_id,
            campaign=c,
            target=f"developer:{member_id}",
            detail={"role": new.label},
            using_db=conn,
        )
    await row.fetch_related("developer")
    return MemberView(member_id, row.developer.name, row.role, False, row.created_at)


async def remove_member(*, campaign_id: str, developer_id: int, member_id: int) -> None:
    """Take a member off the campaign: an owner may remove anyone, a member may leave."""
    needed = Role.VIEWER if member_id == developer_id else Role.OWNER
    c = await require(campaign_id=campaign_id, developer_id=developer_id, role=needed)
    row = await _member(c, member_id)
    async with in_transaction() as conn:
        await row.delete(using_db=conn)
        await audit.record(
            Action.MEMBER_REMOVE,
            actor_id=developer_id,
            campaign=c,
            target=f"developer:{member_id}",
            using_db=conn,
        )


# ---------------------------------------------------------------- invitations


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    token: str  # shown once
    campaign_id: str
    role: str
    expires_at: datetime


async def invite(
    *, campaign_id: str, developer_id: int, role: str, expires_in_hours: int = DEFAULT_INVITE_HOURS
) -> IssuedInvite:
    """A one-time invitation token for a role on the campaign (owners only)."""
    c = await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.OWNER)
    wanted = Role.parse(role)
    if not isinstance(expires_in_hours, int) or not 1 <= expires_in_hours <= MAX_INVITE_HOURS:
        raise ValidationFailed(
            f"expires_in_hours must be 1-{MAX_INVITE_HOURS}.", field="expires_in_hours"
        )
    token = INVITE_PREFIX + secrets.token_urlsafe(24)
    expires_at = clock.now() + timedelta(hours=expires_in_hours)
    async with in_transaction() as conn:
        row = await Invite.create(
            campaign_id=c.id,
            role=wanted.label,
            token_hash=_hash(token),
            created_by_id=developer_id,
            expires_at=expires_at,
            using_db=conn,
        )
        await audit.record(
            Action.MEMBER_INVITE,
            actor_id=developer_id,
            campaign=c,
            target=f"invite:{row.id}",
            detail={"role": wanted.label, "expires_at": expires_at.isoformat()},
            using_db=conn,
        )
    return IssuedInvite(token, c.public_id, wanted.label, expires_at)


@dataclass(frozen=True, slots=True)
class Joined:
    campaign_id: str
    campaign_name: str
    role: str


async def accept(*, token: str, developer_id: int) -> Joined:
    """Join the invitation's campaign with its role. A token works once, before it expires."""
    token = (token or "").strip()
    if not token.startswith(INVITE_PREFIX) or len(token) > 100:
        raise InviteRefused("No such invitation; check the token you were given.")
    now = clock.now()
    async with in_transaction() as conn:
        # the conditional UPDATE is what makes the token single-use under concurrency
        taken = (
            await Invite.filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=now)
            .using_db(conn)
            .update(used_at=now, used_by_id=developer_id)
        )
        row = await Invite.filter(token_hash=_hash(token)).using_db(conn).first()
        if row is None:
            raise InviteRefused("No such invitation; check the token you were given.")
        if not taken:
            if row.used_at is not None:
                raise InviteUsed("This invitation was already used; ask for a new one.")
            raise InviteExpired("This invitation has expired; ask for a new one.")
        c = await Campaign.filter(id=row.campaign_id).using_db(conn).get()  # type: ignore[attr-defined]
        if c.owner_id == developer_id:  # type: ignore[attr-defined]
            raise ValidationFailed("You own this campaign already.", field="token")
        member = (
            await CampaignMember.filter(campaign_id=c.id, developer_id=developer_id)
            .using_db(conn)
            .first()
        )
        if member is None:
            await CampaignMember.create(
                campaign_id=c.id, developer_id=developer_id, role=row.role, using_db=conn
            )
        else:
            member.role = row.role
            await member.save(update_fields=["role"], using_db=conn)
        await audit.record(
            Action.MEMBER_JOIN,
            actor_id=developer_id,
            campaign=c,
            target=f"invite:{row.id}",
            detail={"role": row.role},
            using_db=conn,
        )
    return Joined(c.public_id, c.name, row.role)
