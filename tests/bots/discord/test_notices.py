"""Platform choice, the waitlist, DMs from domain events, and the notifier."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from bots.discord.notices import Notices
from bots.discord.sender import DiscordNotifier
from domain import waitlist
from domain.adapters.bootstrap import Services
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord

if TYPE_CHECKING:
    from bots.discord.bot import CodedropBot


async def test_several_platforms_ask_which_one_then_deliver_a_code_for_it(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, platform="universal")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(2, "IOS", platform="ios"))
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(2, "AND", "android"))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)
    dana = member("dana")

    ask = await fake_discord.interact(fake_discord.component(dana, f"cd:claim:{c.id}", message))
    assert ask.ephemeral and "Which platform" in ask.content
    (select,) = ask.buttons()
    assert select["custom_id"] == f"cd:platform:{c.id}"
    assert [o["value"] for o in select["options"]] == ["android", "ios"]

    picked = await fake_discord.interact(
        fake_discord.component(
            dana,
            select["custom_id"],
            {**message, **ask.data},
            values=["android"],
            ephemeral_message=True,
        )
    )
    assert code_in(picked.content).startswith("AND")
    assert "play.google.com" in picked.content


async def test_sold_out_offers_notify_me_and_waiting_members_are_dmed_on_restock(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Tiny", low_stock_threshold=1)
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(2))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)
    for name in ("a", "b"):
        await fake_discord.interact(
            fake_discord.component(member(name), f"cd:claim:{c.id}", message)
        )
    # the owner hears about low stock, then sold out, by DM
    dms = await fake_discord.wait_dm(owner.id, count=2)
    assert "Low stock: Tiny has 1 codes left" in dms[0]
    assert "Sold out" in dms[1]

    late, closed = member("late"), member("closed dms")
    fake_discord.closed_dms.add(closed.id)
    for m in (late, closed):
        sold = await fake_discord.interact(fake_discord.component(m, f"cd:claim:{c.id}", message))
        assert "all codes have been handed out" in sold.content
        (notify,) = sold.buttons()
        joined = await fake_discord.interact(
            fake_discord.component(
                m, notify["custom_id"], {**message, **sold.data}, ephemeral_message=True
            )
        )
        assert "on the list" in joined.content
    assert await waitlist.size(campaign_id=c.id) == 2

    # the owner restocks through /codes upload; the domain publishes codes_restocked
    attachment = fake_discord.add_attachment("more.csv", factories.codes_csv(3, "MORE").encode())
    report = await fake_discord.interact(
        fake_discord.command(
            owner,
            "codes",
            [
                {
                    "name": "upload",
                    "type": 1,
                    "options": [
                        {"name": "campaign", "type": 3, "value": c.id},
                        {"name": "file", "type": 11, "value": attachment["id"]},
                    ],
                }
            ],
            resolved={"attachments": {attachment["id"]: attachment}},
        )
    )
    assert "3 imported" in report.content
    (restocked,) = await fake_discord.wait_dm(late.id)
    assert "Tiny has codes again" in restocked
    assert str(message["id"]) in restocked
    await fake_discord.wait_refused_dm(closed.id)
    assert fake_discord.dms[closed.id] == []  # 50007 handled: nothing sent, nothing broken
    assert await waitlist.size(campaign_id=c.id) == 0
    again = await fake_discord.interact(fake_discord.component(late, f"cd:claim:{c.id}", message))
    assert code_in(again.content).startswith("MORE")


async def test_the_notifier_dms_a_user_and_returns_false_for_a_closed_dm(
    discord_services: Services, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    notifier = DiscordNotifier(discord_services.settings)
    open_, closed = member("open"), member("closed")
    fake_discord.closed_dms.add(closed.id)
    try:
        assert notifier.provider == "discord"
        assert await notifier.send(str(open_.id), "Your weekly report is ready.") is True
        assert fake_discord.dms[open_.id] == ["Your weekly report is ready."]
        assert await notifier.send(str(closed.id), "hello") is False
        assert await notifier.send("not-a-user", "hello") is False
    finally:
        await notifier.close()


async def test_stopping_the_notices_also_stops_and_awaits_the_card_refresher(
    discord_services: Services,
) -> None:
    bot = cast("CodedropBot", SimpleNamespace(services=discord_services))
    notices = Notices(bot, refresh_interval=0.01)
    running = asyncio.create_task(notices.run())
    for _ in range(100):
        if any(t.get_name() == "discord-card-refresh" for t in asyncio.all_tasks()):
            break
        await asyncio.sleep(0)
    (refresher,) = [t for t in asyncio.all_tasks() if t.get_name() == "discord-card-refresh"]
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    # run() returned only after the refresher had finished, not merely been asked to
    assert refresher.done() and refresher.cancelled()
