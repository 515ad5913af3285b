"""The campaign lifecycle subcommands and the upload rate, through the Discord bot."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from domain import campaigns
from domain.adapters.bootstrap import Services
from domain.models import PromoCode, Upload
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_manage import opt, sub
from tests.bots.discord.test_members import owner_linked
from tests.fakes.discord import FakeDiscord


async def test_reopen_and_archive_follow_the_campaign_lifecycle(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Cycle")
    await bot.start()

    async def act(action: str) -> str:
        reply = await fake_discord.interact(
            fake_discord.command(owner, "campaign", sub(action, opt("campaign", c.id)))
        )
        assert reply.ephemeral
        return reply.content

    async def status() -> str:
        return (await campaigns.get_campaign(owner_id=owner_id, campaign_id=c.id)).status

    assert await act("archive") == (
        "This campaign is active, so it cannot archive now. What you can do: pause, end."
    )
    assert ": Ended," in await act("end")
    reopened = await act("reopen")
    assert reopened.startswith("Done: **Cycle**") and ": Active," in reopened
    assert await status() == "active"
    await act("end")
    assert ": Archived," in await act("archive")
    assert await status() == "archived"
    assert await act("reopen") == "This campaign is archived: it takes no further changes."
    assert await status() == "archived"

    # another account cannot move it, and learns nothing about it
    stranger = member("stranger")
    refused = await fake_discord.interact(
        fake_discord.command(stranger, "campaign", sub("reopen", opt("campaign", c.id)))
    )
    assert "not linked to a developer account" in refused.content


@pytest.fixture
async def limited_bot(
    discord_services: Services, fake_discord: FakeDiscord
) -> AsyncIterator[Running]:
    """A bot whose services allow two uploads a minute per developer."""
    settings = discord_services.settings.model_copy(update={"rate_limit_upload": "2/minute"})
    running = Running(dataclasses.replace(discord_services, settings=settings), fake_discord)
    try:
        yield running
    finally:
        await running.stop()


async def test_the_upload_rate_limit_refuses_the_third_upload_in_a_minute(
    limited_bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Limited")
    await limited_bot.start()

    async def upload(n: int) -> str:
        attachment = fake_discord.add_attachment(f"{n}.txt", f"LIMIT-000{n}\n".encode())
        reply = await fake_discord.interact(
            fake_discord.command(
                owner,
                "codes",
                sub("upload", opt("campaign", c.id), opt("file", attachment["id"], 11)),
                resolved={"attachments": {attachment["id"]: attachment}},
            )
        )
        assert reply.ephemeral
        return reply.content

    assert "1 imported" in await upload(1)
    assert "1 imported" in await upload(2)
    refused = await upload(3)
    assert refused.startswith("Slow down a little: try again in ") and refused.endswith(" s.")
    assert await Upload.filter(campaign__public_id=c.id).count() == 2
    assert await PromoCode.filter(campaign__public_id=c.id).count() == 2
