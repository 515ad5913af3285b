"""Reactions to domain events: owner DMs, drop-card counts, waitlist DMs.

- `low_stock` / `sold_out`: the owner's linked Discord accounts get a DM.
- `code_claimed` (and anything that changes stock or status): the campaign's drop messages
  are refreshed, coalesced so a burst of claims costs one edit per message per interval
  (Discord allows about 5 edits per 5 s per channel).
- a drop posted before its campaign starts (countdown, locked button) is unlocked at
  `starts_at` by a timer in this process (`open_at`, armed by /drop and, after a restart, for
  every card still waiting); the lifecycle job's start announcement refreshes it again.
- codes claimable again (`waitlist.due_for_notice`: a restock or a campaign made active, while
  open): members waiting on the campaign through Discord get a DM, each once (marked notified
  before sending); a closed DM is skipped.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bots.discord.bot import CodedropBot
from bots.discord.claiming import drop_view
from bots.discord.mapping import CHANNEL, NAMESPACE
from bots.discord.render import drop_embed
from bots.discord.sender import send_dm
from bots.discord.texts import text
from bots.start_timers import StartTimers
from bots.texts import expiring_text
from domain import campaigns, developers, events, posts, waitlist
from domain.errors import CampaignNotFound
from domain.events import Event

log = logging.getLogger(__name__)


REFRESHING = {
    events.CODE_CLAIMED,
    events.SOLD_OUT,
    events.LOW_STOCK,
    events.CODES_RESTOCKED,
    events.UPLOAD_FINISHED,
    events.CAMPAIGN_STATUS_CHANGED,
}


class Notices:
    """Consumes the event bus for one bot; `run()` until cancelled."""

    def __init__(self, bot: CodedropBot, *, refresh_interval: float = 2.0) -> None:
        self.bot = bot
        self.refresh_interval = refresh_interval
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.timers = StartTimers(self._opened)
        self.open_at = self.timers.open_at  # refresh the campaign's drops at its start
        bot.card_opener = self.open_at

    @property
    def waiting(self) -> set[str]:
        """The campaigns whose drops this process will unlock at their start."""
        return self.timers.waiting

    def _opened(self, campaign_id: str) -> None:
        self._dirty.add(campaign_id)
        self._wake.set()

    async def run(self) -> None:
        """Listen to the event bus and keep the card refresher running."""
        refresher = asyncio.create_task(self._refresh_loop(), name="discord-card-refresh")
        try:
            for campaign_id, starts_at in await posts.awaiting_start(provider=NAMESPACE):
                self.open_at(campaign_id, starts_at)
            async for event in self.bot.services.events.subscribe():
                try:
                    await self.handle(event)
                except Exception:
                    log.exception("discord: handling event %s failed", event.name)
        finally:
            self.timers.cancel_all()
            refresher.cancel()
            # wait for it to stop: no card edit may run on after the bot closes
            await asyncio.gather(refresher, return_exceptions=True)

    async def handle(self, event: Event) -> None:
        if event.name in REFRESHING:
            self._dirty.add(event.campaign_id)
            self._wake.set()
        if event.name == events.LOW_STOCK:
            await self._tell_owner(
                event,
                text(
                    "owner.low_stock",
                    campaign=event.data.get("name", event.campaign_id),
                    available=event.data.get("available", "?"),
                    threshold=event.data.get("threshold", "?"),
                ),
            )
        elif event.name == events.EXPIRING_SOON:
            await self._tell_owner(event, expiring_text(event))
        elif event.name == events.SOLD_OUT:
            await self._tell_owner(
                event, text("owner.sold_out", campaign=event.data.get("name", event.campaign_id))
            )
        if await waitlist.due_for_notice(event=event):
            await self._tell_waitlist(event)

    async def _tell_owner(self, event: Event, body: str) -> None:
        for provider, chat_id in await developers.chats_of(developer_id=event.owner_id):
            if provider == NAMESPACE and chat_id.isdigit():
                await send_dm(self.bot.http, int(chat_id), body)

    async def _tell_waitlist(self, event: Event) -> None:
        try:
            card = await campaigns.public_card(campaign_id=event.campaign_id)
        except CampaignNotFound:
            return
        drops = await posts.posts_of(campaign_id=event.campaign_id, provider=NAMESPACE, limit=1)
        link = (
            f"https://discord.com/channels/{drops[0].guild_id}/{drops[0].channel_id}/{drops[0].message_id}"
            if drops
            else "/claim " + card.name
        )
        body = text("waitlist.restocked", campaign=card.name, link=link)
        sent = 0
        async for waiter in waitlist.each_waiting(campaign_id=event.campaign_id, channel=CHANNEL):
            if not waiter.contact.isdigit():
                continue
            # claim the notice first: two bot processes never DM the same member twice
            if await waitlist.mark_notified(entry_id=waiter.id):
                sent += await send_dm(self.bot.http, int(waiter.contact), body)
        log.info("waitlist of %s: %d members told about the restock", event.campaign_id, sent)

    async def _refresh_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for campaign_id in dirty:
                try:
                    await self.refresh(campaign_id)
                except Exception:
                    log.exception("discord: refreshing the drops of %s failed", campaign_id)
            await asyncio.sleep(self.refresh_interval)

    async def refresh(self, campaign_id: str) -> None:
        """Edit every drop message of a campaign to show the current count and state."""
        try:
            card = await campaigns.public_card(campaign_id=campaign_id)
        except CampaignNotFound:
            return
        if card.state == "not_started" and card.starts_at is not None:
            self.open_at(campaign_id, card.starts_at)  # moved start: unlock at the new one
        embed, view = drop_embed(card), drop_view(card)
        for post in await posts.posts_of(campaign_id=campaign_id, provider=NAMESPACE):
            message = self.bot.get_partial_messageable(int(post.channel_id)).get_partial_message(
                int(post.message_id)
            )
            try:
                await message.edit(embed=embed, view=view)
            except discord.NotFound:
                await posts.forget_post(
                    provider=NAMESPACE, channel_id=post.channel_id, message_id=post.message_id
                )
            except discord.HTTPException as exc:
                log.warning("discord: cannot edit drop %s: %s", post.message_id, exc.status)
