"""What a claimant holds: the earlier claim a request hands back, the free slot a new one
takes, the answer and the owner's event for a claim, and "my codes"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import outbox
from domain.claims.sql import Held
from domain.models import Campaign, Claim, PromoCode
from domain.values import ClaimResult, CodeStatus, mask_code


@dataclass(frozen=True, slots=True)
class MyCode:
    """One code a claimant received, for their "my codes" list."""

    campaign_id: str
    campaign_name: str
    code: str
    platform: str
    claimed_at: datetime
    status: str


def pick_existing(held: Sequence[Held], idempotency_key: str | None, limit: int) -> Held | None:
    """The earlier claim to hand back, if this request must not take a new code."""
    if idempotency_key:
        for row in held:
            if row.idempotency_key == idempotency_key:
                return row
    if len(held) >= limit:
        return held[-1]
    return None


def free_slot(held: Sequence[Held] | None, limit: int) -> int:
    """The lowest slot (1..limit) the claimant does not fill (a released claim frees its slot)."""
    taken = {h.slot for h in held or ()}
    return next((n for n in range(1, limit + 1) if n not in taken), limit + 1)


def result_of(c: Campaign, claimant: str, row: Held, *, repeated: bool) -> ClaimResult:
    """The answer to a claim that gave, or gave back, `row`."""
    return ClaimResult(
        campaign_id=c.public_id,
        campaign_name=c.name,
        claimant=claimant,
        code=row.code,
        platform=row.platform or c.platform,
        channel=row.channel,
        claimed_at=row.created_at,
        repeated=repeated,
        slot=row.slot,
    )


def claim_event(c: Campaign, claimant: str, row: Held) -> outbox.OutboxEntry:
    """The `claim.created` event of a new claim (the code masked, as in every listing)."""
    return outbox.OutboxEntry(
        outbox.CLAIM_CREATED,
        c.public_id,
        {
            "campaign_id": c.public_id,
            "claimant": claimant,
            "slot": row.slot,
            "channel": row.channel,
            "platform": row.platform,
            "code": mask_code(row.code),
            "claimed_at": row.created_at.isoformat(),
        },
    )


async def my_codes(*, claimant_key: str, limit: int = 50) -> list[MyCode]:
    """The codes a claimant received, newest first (released ones excluded)."""
    rows = (
        await Claim.filter(claimant=claimant_key, slot__isnull=False)
        .order_by("-created_at")
        .limit(limit)
        .select_related("campaign")
    )
    statuses = dict(
        await PromoCode.filter(id__in=[r.code_id for r in rows]).values_list("id", "status")
    )
    return [
        MyCode(
            campaign_id=r.campaign.public_id,
            campaign_name=r.campaign.name,
            code=r.code,
            platform=r.platform,
            claimed_at=r.created_at,
            status=str(statuses.get(r.code_id, CodeStatus.USED)),
        )
        for r in rows
    ]
