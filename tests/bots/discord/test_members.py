"""Members claim through real discord.py connected to the local Discord server."""

from __future__ import annotations

import asyncio
import os
import re
import time

from tortoise import connections

from bots.discord.bot import intents
from domain import developers
from domain.models import Claim
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.fakes.discord import FakeDiscord, FakeMember

CODE_BLOCK = re.compile(r"```\n([A-Za-z0-9_-]+)\n```")


async def owner_linked(fake: FakeDiscord, member: MemberFactory) -> tuple[int, FakeMember]:
    """A developer whose Discord account is linked (through the domain, like /register).

    They manage the server too: posting a drop needs Manage Server as well as ownership.
    """
    owner = member("owner", manage_server=True)
    dev, _ = await developers.register_via_chat(
        provider="discord", external_id=str(owner.id), name="Owner", chat_id=str(owner.id)
    )
    return dev.id, owner


async def dropped(fake: FakeDiscord, owner: FakeMember, campaign_id: str) -> dict[str, object]:
    """The owner runs /drop; returns the posted channel message."""
    reply = await fake.interact(
        fake.command(owner, "drop", [{"name": "campaign", "type": 3, "value": campaign_id}])
    )
    assert reply.ephemeral and "Posted" in reply.content, reply.content
    return await fake.wait_message(
        lambda m: any(
            c.get("custom_id") == f"cd:claim:{campaign_id}"
            for row in m["components"]
            for c in row["components"]
        )
    )


def code_in(text: str) -> str:
    found = CODE_BLOCK.search(text)
    assert found, f"no code block in {text!r}"
    return found.group(1)


async def test_the_bot_identifies_with_least_privilege_and_syncs_commands_to_the_test_guild(
    bot: Running, fake_discord: FakeDiscord
) -> None:
    await bot.start()
    assert fake_discord.identified is not None
    assert fake_discord.identified["intents"] == intents().value
    assert not intents().message_content and not intents().members
    assert list(fake_discord.commands) == [str(fake_discord.guild_id)]
    assert {"claim", "mycodes", "drop", "campaign", "codes", "link", "register"} <= set(
        fake_discord.command_names()
    )


async def test_claim_answers_privately_with_the_code_in_a_block_and_the_redemption_hint(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Spring Launch", platform="ios")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(3))
    await bot.start()
    await dropped(fake_discord, owner, c.id)
    alice = member("alice")

    suggestions = await fake_discord.interact(
        fake_discord.command(
            alice,
            "claim",
            [{"name": "campaign", "type": 3, "value": "spring", "focused": True}],
            autocomplete=True,
        )
    )
    assert suggestions.kind == "autocomplete"
    assert suggestions.choices == [{"name": "Spring Launch", "value": c.id}]

    payload = fake_discord.command(alice, "claim", [{"name": "campaign", "type": 3, "value": c.id}])
    reply = await fake_discord.interact(payload)
    callback = fake_discord.callback_of(payload)
    assert callback is not None and callback["type"] == 5  # deferred before the domain call
    assert reply.ephemeral
    code = code_in(reply.content)
    assert code.startswith("CODE")
    assert f"apps.apple.com/redeem?code={code}" in reply.content
    assert await Claim.filter(claimant=f"discord:{alice.id}", code=code).exists()

    # typing the exact name works too, and a second claim hands back the same code
    again = await fake_discord.interact(
        fake_discord.command(
            alice, "claim", [{"name": "campaign", "type": 3, "value": "spring launch"}]
        )
    )
    assert again.ephemeral and code_in(again.content) == code
    assert "already have" in again.content

    mine = await fake_discord.interact(fake_discord.command(alice, "mycodes"))
    assert mine.ephemeral and code in mine.content and "Spring Launch" in mine.content


async def test_a_claim_button_pressed_after_a_restart_still_works_and_repeats_the_same_code(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Drop", description="Free keys")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(5))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)
    embed = message["embeds"][0]  # type: ignore[index]
    assert embed["title"] == "Drop" and embed["description"] == "Free keys"
    assert {"name": "Codes left", "value": "5", "inline": True} in embed["fields"]

    bob = member("bob")
    first = await fake_discord.interact(fake_discord.component(bob, f"cd:claim:{c.id}", message))
    assert first.ephemeral
    code = code_in(first.content)
    # the drop message's count follows the claims
    await fake_discord.wait_message(
        lambda m: (
            m["id"] == message["id"]
            and {"name": "Codes left", "value": "4", "inline": True} in m["embeds"][0]["fields"]
        )
    )

    await bot.stop()
    await bot.start()  # a new process: nothing in memory about the old message

    again = await fake_discord.interact(fake_discord.component(bob, f"cd:claim:{c.id}", message))
    assert again.ephemeral and code_in(again.content) == code
    carol = await fake_discord.interact(
        fake_discord.component(member("carol"), f"cd:claim:{c.id}", message)
    )
    assert code_in(carol.content) != code
    assert await Claim.filter(claimant=f"discord:{bob.id}").count() == 1


async def test_fifty_members_pressing_at_once_over_twenty_codes_get_twenty_distinct_codes(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Rush")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(20))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)
    presses = [
        fake_discord.component(member(f"m{i}"), f"cd:claim:{c.id}", message) for i in range(50)
    ]
    await asyncio.gather(*(fake_discord.dispatch(p) for p in presses))
    replies = await asyncio.gather(*(fake_discord.reply_to(p, timeout=60) for p in presses))

    assert all(r.ephemeral for r in replies)
    codes = [code_in(r.content) for r in replies if "```" in r.content]
    assert len(codes) == 20 and len(set(codes)) == 20
    sold_out = [r for r in replies if "```" not in r.content]
    assert len(sold_out) == 30
    assert all("sold out: all codes have been handed out" in r.content for r in sold_out)
    assert all(b["custom_id"] == f"cd:notify:{c.id}" for r in sold_out for b in r.buttons())
    assert await Claim.filter(campaign__public_id=c.id).count() == 20


async def test_a_burst_of_presses_is_acknowledged_within_discords_three_seconds_and_all_answered(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    presses_count = int(os.environ.get("CODEDROP_DISCORD_BURST", "200"))
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Burst")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(presses_count // 2))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)
    presses = [
        fake_discord.component(member(f"b{i}"), f"cd:claim:{c.id}", message)
        for i in range(presses_count)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(fake_discord.dispatch(p) for p in presses))
    replies = await asyncio.gather(*(fake_discord.reply_to(p, timeout=120) for p in presses))
    elapsed = time.perf_counter() - started

    slowest_ack = max(fake_discord.acknowledged_after(p) for p in presses)
    codes = {code_in(r.content) for r in replies if "```" in r.content}
    print(
        f"\n{presses_count} presses: all answered in {elapsed:.2f}s,"
        f" slowest acknowledgement {slowest_ack:.3f}s"
    )
    assert slowest_ack < 3.0
    assert len(codes) == presses_count // 2
    assert all(r.ephemeral for r in replies)


async def test_a_database_error_while_finding_the_campaign_still_answers_the_member(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Flaky")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(1))
    await bot.start()
    await dropped(fake_discord, owner, c.id)

    conn = connections.get("default")
    # the posts table disappears under the bot: /claim's lookup fails in the database itself
    await conn.execute_script("ALTER TABLE chat_posts RENAME TO chat_posts_away")
    try:
        reply = await fake_discord.interact(
            fake_discord.command(
                member("alice"), "claim", [{"name": "campaign", "type": 3, "value": "Flaky"}]
            ),
            timeout=10,
        )
    finally:
        await conn.execute_script("ALTER TABLE chat_posts_away RENAME TO chat_posts")
    assert reply.ephemeral and "Something went wrong on our side" in reply.content
    assert await Claim.filter(campaign__public_id=c.id).count() == 0
