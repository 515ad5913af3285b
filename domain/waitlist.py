"""The waitlist: members who asked to hear when a sold-out campaign gets codes again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from domain import clock, events
from domain.campaigns import public_card, public_row
from domain.errors import CampaignNotFound, ValidationFailed
from domain.events import Event
from domain.models import WaitlistEntry
from domain.values import Claimant


@dataclass(frozen=True, slots=True)
class Waiter:
    id: int
    claimant: str
    channel: str
    contact: str


async def join(*, campaign_id: str, claimant: Claimant, channel: str, contact: str) -> bool:
    """Put a member on the campaign's waitlist; False when they were already on it."""
    c = await public_row(campaign_id)
    if not c.waitlist_enabled:
        raise ValidationFailed("This campaign has no waitlist.", field="waitlist")
    contact = contact.strip()
    if not 1 <= len(contact) <= 254:
        raise ValidationFailed("The contact must be 1-254 characters.", field="contact")
    try:
        await WaitlistEntry.create(
            campaign_id=c.id, claimant=claimant.key, channel=channel, contact=contact
        )
    except IntegrityError:
        # already waiting: refresh the contact, keep their place
        await WaitlistEntry.filter(campaign_id=c.id, claimant=claimant.key).update(
            contact=contact, notified_at=None
        )
        return False
    return True


async def waiting(*, campaign_id: str, channel: str, limit: int = 1000) -> list[Waiter]:
    """Members of one channel still waiting on a campaign, oldest first."""
    c = await public_row(campaign_id)
    rows = (
        await WaitlistEntry.filter(campaign_id=c.id, channel=channel, notified_at=None)
        .order_by("id")
        .limit(limit)
    )
    return [Waiter(r.id, r.claimant, r.channel, r.contact) for r in rows]


async def due_for_notice(*, event: Event) -> bool:
    """True when `event` means the campaign's codes are claimable again, so its waitlist is told.

    A restock or a campaign made active again counts, but only while the campaign is open:
    codes added to a paused or not-yet-started campaign keep the members waiting.
    """
    restocked = event.name == events.CODES_RESTOCKED
    reopened = event.name == events.CAMPAIGN_STATUS_CHANGED and event.data.get("to") == "active"
    if not (restocked or reopened):
        return False
    try:
        card = await public_card(campaign_id=event.campaign_id)
    except CampaignNotFound:
        return False
    return card.state == "open"


async def each_waiting(*, campaign_id: str, channel: str, page: int = 500) -> AsyncIterator[Waiter]:
    """Every member of one channel still waiting on a campaign, oldest first, `page` per query.

    Pages by id, so a waiter the caller skips (or fails to mark notified) is never read twice.
    """
    c = await public_row(campaign_id)
    after = 0
    while True:
        rows = (
            await WaitlistEntry.filter(
                campaign_id=c.id, channel=channel, notified_at=None, id__gt=after
            )
            .order_by("id")
            .limit(page)
        )
        for r in rows:
            yield Waiter(r.id, r.claimant, r.channel, r.contact)
        if len(rows) < page:
            return
        after = rows[-1].id


async def mark_notified(*, entry_id: int) -> bool:
    """Record that a waiting member was told; True only for the first caller (no double DMs)."""
    return bool(
        await WaitlistEntry.filter(id=entry_id, notified_at=None).update(notified_at=clock.now())
    )


async def size(*, campaign_id: str) -> int:
    c = await public_row(campaign_id)
    return await WaitlistEntry.filter(campaign_id=c.id, notified_at=None).count()
