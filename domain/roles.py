"""Who may do what to a campaign: the roles and the one access check.

A campaign's `owner` developer holds the owner role; other developers are members with a role
(domain/access.py: invitations and the member list). `require(...)` is the only place the
rule is decided; every owner-facing domain function calls it. A developer who is not a member
gets `CampaignNotFound`, exactly like a missing id (ids cannot be probed across tenants); a
member below the needed role gets `RoleForbidden`.

This module imports neither `domain.access` nor `domain.audit`, so both can use it (the audit
log checks who may read it; access changes are audited).
"""

from __future__ import annotations

from enum import IntEnum

from domain.errors import CampaignNotFound, RoleForbidden, ValidationFailed
from domain.models import Campaign, CampaignMember
from domain.values import is_public_id


class Role(IntEnum):
    """Ordered: each role may do everything the ones below it may."""

    VIEWER = 1
    MANAGER = 2
    OWNER = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: object, *, field: str = "role") -> Role:
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise ValidationFailed(
                f"Unknown role {value!r}; use viewer, manager or owner.", field=field
            ) from None


async def role_of(campaign: Campaign, developer_id: int) -> Role | None:
    """The developer's role on this campaign, None for a stranger."""
    if campaign.owner_id == developer_id:  # type: ignore[attr-defined]
        return Role.OWNER
    member = await CampaignMember.get_or_none(campaign_id=campaign.id, developer_id=developer_id)
    return Role.parse(member.role) if member is not None else None


async def require(*, campaign_id: str, developer_id: int, role: Role) -> Campaign:
    """The campaign row if this developer holds at least `role` on it.

    `CampaignNotFound` for strangers and unknown ids alike; `RoleForbidden` (403) for a member
    whose role is too low.
    """
    if not is_public_id(campaign_id):
        raise CampaignNotFound()
    row = await Campaign.get_or_none(public_id=campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id)
    held = await role_of(row, developer_id)
    if held is None:
        raise CampaignNotFound(campaign_id)
    if held < role:
        raise RoleForbidden(needed=role.label, role=held.label)
    return row


async def roles_of(developer_id: int) -> dict[int, Role]:
    """The campaigns (by row id) this developer is a member of, with the role (owned ones aside)."""
    rows = await CampaignMember.filter(developer_id=developer_id).values_list("campaign_id", "role")
    return {int(pk): Role.parse(role) for pk, role in rows}
