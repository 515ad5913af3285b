"""What the bot does with domain events: owner notices, waitlist messages, posted cards.

- `low_stock`, `sold_out` -> a private message to the owner's linked Telegram chats;
- codes claimable again (`waitlist.due_for_notice`: a restock or a campaign made active, while
  open) -> every member waiting on Telegram is told once (`waitlist.mark_notified` guards
  against a second message, even across processes);
- state changes -> the campaign cards posted in groups are edited to show the new state;
- a card posted before its campaign starts (a countdown, no button yet) is edited at
  `starts_at` by a timer in this process (`open_at`, armed by /post and at start for every
  card still waiting); the lifecycle job's start announcement edits it again.
All sends go through the paced `TelegramNotifier`, so a big waitlist stays under the limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest

from bots.start_timers import StartTimers
from bots.telegram import mapping, render
from bots.telegram.sender import TelegramNotifier
from bots.telegram.texts import label, plain
from bots.texts import expiring_text
from domain import campaigns, developers, events, posts, waitlist
from domain.errors import CampaignNotFound
from domain.events import Event

log = logging.getLogger(__name__)

WANTED = {
    events.LOW_STOCK,
    events.EXPIRING_SOON,
    events.SOLD_OUT,
    events.CODES_RESTOCKED,
    events.CAMPAIGN_STATUS_CHANGED,
}
WAITLIST_BATCH = 500


class Notices:
    """Turns domain events into Telegram messages."""

    def __init__(
        self,
        bot: Bot,
        notifier: TelegramNotifier,
        spawn: Callable[[Coroutine[Any, Any, None]], None] | None = None,
    ) -> None:
        self.bot = bot
        self.notifier = notifier
        self._spawn = spawn or (lambda coro: asyncio.get_running_loop().create_task(coro) and None)
        self.timers = StartTimers(self._opened)
        self.open_at = self.timers.open_at  # edit the campaign's cards at its start

    async def arm(self) -> None:
        """Timers for every posted card still waiting for its start (after a restart)."""
        for campaign_id, starts_at in await posts.awaiting_start(provider=mapping.NAMESPACE):
            self.open_at(campaign_id, starts_at)

    def disarm(self) -> None:
        self.timers.cancel_all()

    @property
    def waiting(self) -> set[str]:
        """The campaigns whose cards this process will open at their start."""
        return self.timers.waiting

    def _opened(self, campaign_id: str) -> None:
        self._spawn(self.refresh_posts(campaign_id))

    async def handle(self, event: Event) -> None:
        """React to one event (ignores the ones the bot has nothing to say about)."""
        if event.name in (events.LOW_STOCK, events.SOLD_OUT, events.EXPIRING_SOON):
            await self.tell_owner(event)
        if await waitlist.due_for_notice(event=event):
            await self.tell_waitlist(event.campaign_id)
        if event.name in (events.SOLD_OUT, events.CODES_RESTOCKED, events.CAMPAIGN_STATUS_CHANGED):
            await self.refresh_posts(event.campaign_id)

    async def tell_owner(self, event: Event) -> int:
        """Low-stock / sold-out notice to the owner's Telegram chats; how many got it."""
        name = event.data.get("name") or event.campaign_id
        if event.name == events.LOW_STOCK:
            body = plain(
                "owner.low_stock",
                campaign=name,
                available=event.data.get("available", 0),
                threshold=event.data.get("threshold", 0),
            )
        elif event.name == events.EXPIRING_SOON:
            body = expiring_text(event)
        else:
            body = plain("owner.sold_out", campaign=name)
        sent = 0
        for provider, chat_id in await developers.chats_of(developer_id=event.owner_id):
            if provider == mapping.NAMESPACE and await self.notifier.send(chat_id, body):
                sent += 1
        return sent

    async def tell_waitlist(self, campaign_id: str) -> int:
        """Message every Telegram member waiting on a campaign, once each."""
        try:
            card = await campaigns.public_card(campaign_id=campaign_id)
        except CampaignNotFound:
            return 0
        me = await self.bot.me()
        link = mapping.deep_link(me.username, card.id)
        body = plain("waitlist.restocked", campaign=card.name, link=link)
        sent = 0
        async for waiter in waitlist.each_waiting(
            campaign_id=campaign_id, channel=mapping.CHANNEL, page=WAITLIST_BATCH
        ):
            # marked first: a crash may skip one member, but no one is told twice
            if not await waitlist.mark_notified(entry_id=waiter.id):
                continue
            if await self.notifier.send(waiter.contact, body, button=(label("claim.button"), link)):
                sent += 1
        log.info("waitlist of %s: %d members told on telegram", campaign_id, sent)
        return sent

    async def refresh_posts(self, campaign_id: str) -> None:
        """Edit the cards posted in groups so they show the campaign's current state."""
        try:
            card = await campaigns.public_card(campaign_id=campaign_id)
        except CampaignNotFound:
            return
        if card.state == "not_started" and card.starts_at is not None:
            self.open_at(campaign_id, card.starts_at)  # moved start: open at the new one
        me = await self.bot.me()
        body = render.card_text(card, None)
        markup = render.card_markup(
            card, None, private=False, link=mapping.deep_link(me.username, card.id)
        )
        for post in await posts.posts_of(campaign_id=campaign_id, provider=mapping.NAMESPACE):
            await self.notifier.pacer.wait()
            try:
                await self.bot.edit_message_text(
                    chat_id=mapping.chat_ref(post.channel_id),
                    message_id=int(post.message_id),
                    text=body,
                    reply_markup=markup,
                )
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    continue
                log.info(
                    "forgetting card %s in %s: %s", post.message_id, post.channel_id, exc.message
                )
                await posts.forget_post(
                    provider=mapping.NAMESPACE,
                    channel_id=post.channel_id,
                    message_id=post.message_id,
                )
            except TelegramAPIError as exc:
                log.warning("could not refresh card in %s: %s", post.channel_id, exc.message)
