"""This process's recent reads of published campaigns, and forgetting them on a change.

A claim may be admitted on a campaign row read up to a second ago (`recent_public_row`; the
claim re-checks the terms that matter inside its transaction), and anonymous card views may
accept stock counts a few seconds old (`recall_card`). Whatever changes a campaign here (a
claim, an upload, an edit, a status move in `domain.campaign_state`) calls `forget_card`, so
only other processes' changes can lag. A leaf module: the campaign-state module and the
campaign services both use it without importing each other.
"""

from __future__ import annotations

import time

from domain.errors import CampaignNotFound
from domain.models import Campaign
from domain.values import CampaignStatus, is_public_id

MAX_RECENT = 10_000  # entries per cache; a full cache starts over

_recent_rows: dict[str, tuple[float, Campaign]] = {}
_recent_cards: dict[str, tuple[float, Campaign, dict[str, int]]] = {}


async def public_row(campaign_id: str) -> Campaign:
    """A published campaign by public id; drafts are indistinguishable from unknown ids."""
    if not is_public_id(campaign_id):
        raise CampaignNotFound()
    row = await Campaign.get_or_none(public_id=campaign_id)
    if row is None or row.status == CampaignStatus.DRAFT:
        raise CampaignNotFound(campaign_id)
    if len(_recent_rows) >= MAX_RECENT:
        _recent_rows.clear()
    _recent_rows[campaign_id] = (time.monotonic(), row)
    return row


async def recent_public_row(campaign_id: str, *, fresh_within: float) -> tuple[Campaign, bool]:
    """A published campaign read at most `fresh_within` seconds ago, and whether it was reused.

    For the claim, which re-checks the campaign's terms inside its own transaction: a reused
    row saves a query per claim, never decides alone. Unknown ids are never remembered.
    """
    recent = _recent_rows.get(campaign_id)
    if recent is not None and time.monotonic() - recent[0] <= fresh_within:
        return recent[1], True
    return await public_row(campaign_id), False


def recall_card(campaign_id: str, *, fresh_within: float) -> tuple[Campaign, dict[str, int]] | None:
    """The card's row and available counts per platform, if read here within `fresh_within`."""
    recent = _recent_cards.get(campaign_id) if fresh_within > 0 else None
    if recent is None or time.monotonic() - recent[0] > fresh_within:
        return None
    return recent[1], recent[2]


def remember_card(campaign_id: str, row: Campaign, by_platform: dict[str, int]) -> None:
    """Keep a card's read for `recall_card`."""
    if len(_recent_cards) >= MAX_RECENT:
        _recent_cards.clear()
    _recent_cards[campaign_id] = (time.monotonic(), row, by_platform)


def forget_card(campaign_id: str) -> None:
    """Drop this process's recent read of a card (after a claim, an upload, an edit)."""
    _recent_cards.pop(campaign_id, None)
