"""Developers set a campaign's identity mode from Discord; Discord members still claim."""

from __future__ import annotations

from domain import campaigns
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_manage import opt, sub
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord


async def test_campaign_identity_and_create_set_the_mode_and_the_bot_still_serves_members(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    dev_id, owner = await owner_linked(fake_discord, member)
    await bot.start()
    created = await fake_discord.interact(
        fake_discord.command(
            owner,
            "campaign",
            sub("create", opt("name", "Verified drop"), opt("identity", "verified")),
        )
    )
    assert "Verified drop" in created.content
    views, _ = await campaigns.list_campaigns(owner_id=dev_id)
    (view,) = views
    assert view.identity == "verified"
    await factories.upload_codes(dev_id, view.id, factories.codes_csv(2, prefix="DCV"))

    message = await dropped(fake_discord, owner, view.id)
    alice = member("alice")
    got = await fake_discord.interact(fake_discord.component(alice, f"cd:claim:{view.id}", message))
    assert code_in(got.content).startswith("DCV")

    changed = await fake_discord.interact(
        fake_discord.command(
            owner,
            "campaign",
            sub("identity", opt("campaign", view.id), opt("mode", "anonymous")),
        )
    )
    assert "identity anonymous" in changed.content
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=view.id)).identity == (
        "anonymous"
    )
    stranger = member("stranger")
    refused = await fake_discord.interact(
        fake_discord.command(
            stranger,
            "campaign",
            sub("identity", opt("campaign", view.id), opt("mode", "verified")),
        )
    )
    assert "identity" not in refused.content
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=view.id)).identity == (
        "anonymous"
    )
