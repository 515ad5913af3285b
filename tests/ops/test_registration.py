"""CODEDROP_REGISTRATION: with registration closed (the default outside development) /register
in both bots tells the member that the operator creates accounts, creates none, and linking
an account the operator made with a link token keeps working."""

from __future__ import annotations

import dataclasses

from pydantic import SecretStr

from bots.telegram.app import TelegramFront
from domain import developers
from domain.adapters.bootstrap import Services
from domain.models import Developer
from domain.settings import Settings
from tests.bots.discord.conftest import MemberFactory, Running, fake_discord, member
from tests.bots.telegram.conftest import front_services, running, tg
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram

__all__ = ["fake_discord", "member", "tg"]  # the bots' fixtures, used here too


def test_registration_is_closed_by_default_outside_development() -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, secret_key="k" * 32, **values)  # type: ignore[call-arg]

    assert settings(environment="development").registration_open
    assert not settings(environment="production").registration_open
    assert not settings(environment="test").registration_open
    assert settings(environment="production", registration="open").registration_open
    assert not settings(environment="development", registration="closed").registration_open


async def test_telegram_register_with_registration_closed_points_to_the_operator_and_link_works(
    services: Services, tg: FakeTelegram
) -> None:
    front = TelegramFront(front_services(services, tg, registration="closed"))
    async with running(front, tg):
        ann = tg.user(3101, "Ann")
        before = await Developer.all().count()
        tg.send_text(ann, "/register")
        [answer] = await tg.wait_for(lambda: tg.sent_to(ann.id))
        assert "created by the operator" in answer["text"] and "cdk_" not in answer["text"]
        assert await Developer.all().count() == before

        # the operator's way: an account, a link token, /link in the bot
        dev = await developers.create_developer(name="Ann", email="ann-closed@example.com")
        token = await developers.issue_link_token(developer_id=dev.id)
        tg.send_text(ann, f"/link {token}")
        await tg.wait_for(lambda: len(tg.sent_to(ann.id)) > 1)
        linked = await developers.developer_for_identity(provider="telegram", external_id="3101")
        assert linked is not None and linked.id == dev.id
        tg.send_text(ann, "/register")  # a linked account is told it is registered
        again = await tg.wait_for(lambda: tg.sent_to(ann.id)[2:])
        assert "already registered" in again[0]["text"]


async def test_discord_register_with_registration_closed_points_to_the_operator(
    services: Services, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    settings = services.settings.model_copy(
        update={
            "discord_bot_token": SecretStr(fake_discord.token),
            "discord_api_url": fake_discord.api_url,
            "discord_guild_id": fake_discord.guild_id,
            "registration": "closed",
        }
    )
    bot = Running(dataclasses.replace(services, settings=settings), fake_discord)
    try:
        await bot.start()
        me = member("newdev")
        before = await Developer.all().count()
        reply = await fake_discord.interact(fake_discord.command(me, "register"))
        assert reply.ephemeral and "created by the operator" in reply.content
        assert "cdk_" not in reply.content
        assert await Developer.all().count() == before
    finally:
        await bot.stop()
