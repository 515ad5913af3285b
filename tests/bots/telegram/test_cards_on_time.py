"""A card posted before its campaign starts counts down without a button and is edited at the
start by the bot's own timer (no lifecycle run), through real aiogram and the local Telegram
server. The domain's clock is frozen by the test; the timer waits the real seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bots.telegram.app import TelegramFront
from bots.telegram.render import time_left
from domain import clock
from domain.clock import frozen_at
from tests import factories
from tests.bots.telegram.support import buttons
from tests.bots.telegram.test_developers import register
from tests.fakes.telegram import FakeTelegram

LEAD = timedelta(seconds=2)


def test_the_countdown_reads_in_the_members_language() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert time_left(now + timedelta(seconds=1), now, None) == "in 1 minute"
    assert time_left(now + timedelta(minutes=4), now, "en") == "in 4 minutes"
    assert time_left(now + timedelta(hours=2), now, "de") == "in 2 Stunden"
    assert time_left(now + timedelta(days=3), now, "pt-BR") == "em 3 dias"


async def test_a_card_posted_before_the_start_counts_down_and_gets_its_button_at_the_start(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    start = clock.now().replace(microsecond=0) + timedelta(hours=1)
    max_ = tg.user(2110, "Max")
    dev_id = await register(tg, max_)
    with frozen_at(start - timedelta(days=1)):
        c = await factories.campaign(dev_id, name="Dawn", starts_at=start)
        await factories.upload_codes(dev_id, c.id, factories.codes_csv(2))
    group = tg.group(-2110, "Fans")

    with frozen_at(start - LEAD):
        tg.send_text(max_, f"/post@{tg.bot_username} {c.id}", chat=group)
        card = (await tg.wait_for(lambda: tg.sent_to(group.id)))[0]
        assert "Opens in 1 minute" in card["text"]
        assert buttons(card) == []
        # the handler arms the timer right after it sent the card
        await tg.wait_for(lambda: c.id in bot.notices.waiting, timeout=5)

    key = (group.id, card["message_id"])
    with frozen_at(start):
        # other edits may come first (the upload's restock event): wait for the opened card
        await tg.wait_for(
            lambda: "codes left" in tg.messages[key]["text"], timeout=LEAD.total_seconds() + 5
        )
        await bot.drain()
    edited = tg.messages[key]
    assert "2 codes left" in edited["text"] and "Opens in" not in edited["text"]
    assert buttons(edited) == [
        {"text": "Get my code privately", "url": f"https://t.me/{tg.bot_username}?start={c.id}"}
    ]
