"""This process's recent reads of published campaigns, and forgetting them on a change.

A claim may be admitted on a campaign row read up to a second ago (`recent_public_row`; the
claim re-checks the terms that matter inside its transaction), and anonymous card views may
accept stock counts a few seconds old (`recall_card`). Whatever changes a campaign here (a
claim, an upload, an edit, a status move in `domain.campaign_state`) calls `forget_card`, so
only other processes' changes can lag. A leaf module: the campaign-state module and the
campaign services both use it without importing each other.

Reads of one campaign's row are single-flight per process: while a read is in flight, a
caller that may take it (one that started no later than the read, for `recent_public_row`'s
second-old rows, or after the moment it names, for `public_row(read_since=...)`) awaits it
instead of starting its own. A drop's cold start, and every expiry of the recent row, used to
send each concurrent claim to the pool with its own `SELECT` (pool waits, then 503s).
"""

from __future__ import annotations

import asyncio
import time

from domain.errors import CampaignNotFound
from domain.models import Campaign
from domain.values import CampaignStatus, is_public_id

MAX_RECENT = 10_000  # entries per cache; a full cache starts over

_recent_rows: dict[str, tuple[float, Campaign]] = {}
_recent_cards: dict[str, tuple[float, Campaign, dict[str, int]]] = {}
# the read of each campaign in flight in this process: (started at, monotonic; the read)
_reads: dict[str, tuple[float, asyncio.Task[Campaign]]] = {}


async def _read(campaign_id: str) -> Campaign:
    row = await Campaign.get_or_none(public_id=campaign_id)
    if row is None or row.status == CampaignStatus.DRAFT:
        raise CampaignNotFound(campaign_id)
    if len(_recent_rows) >= MAX_RECENT:
        _recent_rows.clear()
    _recent_rows[campaign_id] = (time.monotonic(), row)
    return row


def _settled(campaign_id: str, entry: tuple[float, asyncio.Task[Campaign]]) -> None:
    if _reads.get(campaign_id) is entry:
        del _reads[campaign_id]
    task = entry[1]
    if not task.cancelled():
        task.exception()  # retrieved here: every waiter may have gone (cancelled requests)


async def _shared_read(campaign_id: str, since: float) -> tuple[Campaign, float]:
    """The row from a read started at `since` or later: the one in flight, else a new one.
    Returns it with the moment its read started."""
    loop = asyncio.get_running_loop()
    entry = _reads.get(campaign_id)
    if entry is None or entry[0] < since or entry[1].get_loop() is not loop:
        entry = (time.monotonic(), loop.create_task(_read(campaign_id)))
        _reads[campaign_id] = entry
        entry[1].add_done_callback(lambda _, e=entry: _settled(campaign_id, e))  # type: ignore[misc]
    # shielded: one caller's cancellation must not cancel the read the others await
    return await asyncio.shield(entry[1]), entry[0]


async def public_row(campaign_id: str, *, read_since: float | None = None) -> Campaign:
    """A published campaign by public id; drafts are indistinguishable from unknown ids.

    The row is read after this call began, or after `read_since` (a `time.monotonic()`
    moment) when given: a read in flight since then is shared rather than repeated.
    """
    if not is_public_id(campaign_id):
        raise CampaignNotFound()
    since = time.monotonic() if read_since is None else read_since
    row, _ = await _shared_read(campaign_id, since)
    return row


async def recent_public_row(campaign_id: str, *, fresh_within: float) -> tuple[Campaign, bool]:
    """A published campaign read at most `fresh_within` seconds ago, and whether it was reused.

    For the claim, which re-checks the campaign's terms inside its own transaction: a reused
    row saves a query per claim, never decides alone. A read already in flight is awaited
    rather than repeated; its row counts as reused unless the read started with this call.
    Unknown ids are never remembered.
    """
    now = time.monotonic()
    recent = _recent_rows.get(campaign_id)
    if recent is not None and now - recent[0] <= fresh_within:
        return recent[1], True
    if not is_public_id(campaign_id):
        raise CampaignNotFound()
    row, started = await _shared_read(campaign_id, now - fresh_within)
    return row, started < now


def forget_row(campaign_id: str) -> None:
    """Drop this process's recent read of a campaign row (its status just changed here)."""
    _recent_rows.pop(campaign_id, None)


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
