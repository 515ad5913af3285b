"""The real aiogram bot, long-polling a local fake Bot API server, over the test database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from bots.telegram.app import TelegramFront
from domain.adapters.bootstrap import Services
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def front_services(services: Services, fake: FakeTelegram, **overrides: Any) -> Services:
    """The test services with settings pointing the bot at the fake server."""
    settings = services.settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(fake.token),
            "telegram_api_url": fake.url,
            **overrides,
        }
    )
    return Services(
        settings=settings,
        events=services.events,
        limiter=services.limiter,
        store=services.store,
        leases=services.leases,
        mail=services.mail,
    )


@contextlib.asynccontextmanager
async def running(front: TelegramFront, fake: FakeTelegram) -> AsyncIterator[TelegramFront]:
    """Run the front (polling) until the block ends."""
    task = asyncio.create_task(front.run())
    try:
        await fake.wait_for(lambda: fake.calls_of("getUpdates") or task.done())
        if task.done():
            task.result()
        yield front
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await front.close()


@pytest.fixture
async def bot(services: Services, tg: FakeTelegram) -> AsyncIterator[TelegramFront]:
    """A polling TelegramFront talking to the fake server."""
    async with running(TelegramFront(front_services(services, tg)), tg) as front:
        yield front
