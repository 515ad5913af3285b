"""Fixtures that run the real Discord front against the local Discord server in tests/fakes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from discord.http import Route
from pydantic import SecretStr

from bots.discord.app import DiscordFront
from domain.adapters.bootstrap import Services
from domain.models import ChatPost
from tests.fakes.discord import MANAGE_GUILD, FakeDiscord, FakeMember, new_id, snowflake_at


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    base = Route.BASE
    try:
        yield fake
    finally:
        await fake.stop()
        Route.BASE = base


@pytest.fixture
async def discord_services(services: Services, fake_discord: FakeDiscord) -> Services:
    """The test services with the Discord settings pointing at the fake server."""
    await ChatPost.all().delete()
    settings = services.settings.model_copy(
        update={
            "discord_bot_token": SecretStr(fake_discord.token),
            "discord_api_url": fake_discord.api_url,
            "discord_guild_id": fake_discord.guild_id,
        }
    )
    return dataclasses.replace(services, settings=settings)


class Running:
    """Starts and stops `DiscordFront`s (several in a row simulate restarts)."""

    def __init__(self, services: Services, fake: FakeDiscord) -> None:
        self.services = services
        self.fake = fake
        self.front: DiscordFront | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> DiscordFront:
        self.front = DiscordFront(self.services, card_refresh_interval=0.05)
        self.task = asyncio.create_task(self.front.run())
        ready = asyncio.create_task(self.front.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=15, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            self.task.result()  # raises the start-up error
        assert ready in done, "the bot did not become ready"
        return self.front

    async def stop(self) -> None:
        if self.front is not None:
            await self.front.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.front = self.task = None


@pytest.fixture
async def bot(discord_services: Services, fake_discord: FakeDiscord) -> AsyncIterator[Running]:
    running = Running(discord_services, fake_discord)
    try:
        yield running
    finally:
        await running.stop()


MemberFactory = Callable[..., FakeMember]


@pytest.fixture
def member() -> MemberFactory:
    """Members with an account age and a time in the server, in days."""
    counter = iter(range(1, 1_000_000))

    def make(
        name: str = "member",
        *,
        account_days: float = 400,
        server_days: float = 100,
        roles: list[int] | None = None,
        manage_server: bool = False,
    ) -> FakeMember:
        now = datetime.now(UTC)
        fm = FakeMember(
            id=snowflake_at(now - timedelta(days=account_days), next(counter)),
            name=name,
            roles=roles or [],
            joined_at=now - timedelta(days=server_days),
        )
        if manage_server:
            fm.permissions |= MANAGE_GUILD
        return fm

    return make


Waiter = Callable[[], Awaitable[None]]

__all__ = ["MemberFactory", "Running", "new_id"]
