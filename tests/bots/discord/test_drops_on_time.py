"""A drop posted before its campaign starts: countdown, locked button, unlocked at the start by
the bot's own timer (no lifecycle run), through real discord.py and the local Discord server.
The domain's clock is frozen by the test; the timer waits the real seconds to the start."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from domain import clock
from domain.clock import frozen_at
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord

LEAD = timedelta(seconds=2)


def claim_button(message: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    (button,) = [
        c
        for row in message["components"]
        for c in row["components"]
        if c.get("custom_id") == f"cd:claim:{campaign_id}"
    ]
    return button


async def test_a_drop_before_the_start_counts_down_locked_and_unlocks_at_the_start(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    start = clock.now().replace(microsecond=0) + timedelta(hours=1)
    owner_id, owner = await owner_linked(fake_discord, member)
    with frozen_at(start - timedelta(days=1)):
        c = await factories.campaign(owner_id, name="Midnight", starts_at=start)
        await factories.upload_codes(owner_id, c.id, factories.codes_csv(2))
    await bot.start()

    with frozen_at(start - LEAD):
        message = await dropped(fake_discord, owner, c.id)
        assert claim_button(message, c.id).get("disabled") is True
        status = message["embeds"][0]["fields"][-1]["value"]
        assert f"<t:{int(start.timestamp())}:R>" in status
        # a stale client pressing the locked button is told when it opens
        early = await fake_discord.interact(
            fake_discord.component(member("early"), f"cd:claim:{c.id}", message)
        )
        assert "opens at" in early.content.lower()

    with frozen_at(start):
        opened = await fake_discord.wait_message(
            lambda m: m["id"] == message["id"] and not claim_button(m, c.id).get("disabled"),
            timeout=LEAD.total_seconds() + 5,
        )
        assert "<t:" not in str(opened["embeds"])
        got = await fake_discord.interact(
            fake_discord.component(member("on time"), f"cd:claim:{c.id}", opened)
        )
        assert code_in(got.content).startswith("CODE")


async def test_a_restarted_bot_still_unlocks_a_waiting_drop_at_the_start(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    start = clock.now().replace(microsecond=0) + timedelta(hours=1)
    owner_id, owner = await owner_linked(fake_discord, member)
    with frozen_at(start - timedelta(days=1)):
        c = await factories.campaign(owner_id, name="Restart", starts_at=start)
        await factories.upload_codes(owner_id, c.id, factories.codes_csv(1))
    await bot.start()
    with frozen_at(start - LEAD):
        message = await dropped(fake_discord, owner, c.id)
        await bot.stop()
        front = await bot.start()  # the timer armed by /drop is gone with the old process
        for _ in range(100):
            if c.id in front.notices.waiting:
                break
            await asyncio.sleep(0.02)
        assert c.id in front.notices.waiting
    with frozen_at(start):
        await fake_discord.wait_message(
            lambda m: m["id"] == message["id"] and not claim_button(m, c.id).get("disabled"),
            timeout=LEAD.total_seconds() + 5,
        )
