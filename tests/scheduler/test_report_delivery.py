"""Daily reports reach the developer's chats through the bots' real senders.

The reports job runs as operators run it (`scheduler.runner.run_job`) with the notifiers the
CLI builds (`cli.parts.build_notifiers`): aiogram's `Bot` talking to the local Telegram Bot API
fake, and discord.py's `HTTPClient` talking to the local Discord REST fake. The fakes record
what arrived where. A last test runs `codedrop jobs run reports` as a process against the same
database and fakes, and checks it shuts its senders down cleanly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from discord.http import Route
from pydantic import SecretStr

from bots.discord.sender import DiscordNotifier
from bots.telegram.sender import TelegramNotifier
from cli.parts import build_notifiers, close_notifiers
from domain import claims, developers
from domain.adapters.bootstrap import Services
from domain.clock import frozen_at
from domain.models import Report
from domain.values import Claimant
from scheduler.runner import run_job
from tests import factories
from tests.conftest import ROOT
from tests.fakes.discord import FakeDiscord, new_id
from tests.fakes.telegram import FakeTelegram

RUN_AT = datetime(2026, 5, 11, 6, 5, tzinfo=UTC)
DAY_HEADER = "Daily report for 2026-05-10 (UTC)"
ADA_TELEGRAM = 5001
BO_TELEGRAM = 5002


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    base = Route.BASE  # DiscordNotifier points discord.py's global REST base at the fake
    try:
        yield fake
    finally:
        await fake.stop()
        Route.BASE = base


@pytest.fixture
def chat_services(services: Services, tg: FakeTelegram, dc: FakeDiscord) -> Services:
    """The test services with both bots' settings pointing at the fakes."""
    settings = services.settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(tg.token),
            "telegram_api_url": tg.url,
            "discord_bot_token": SecretStr(dc.token),
            "discord_api_url": dc.api_url,
        }
    )
    return dataclasses.replace(services, settings=settings)


async def ada_on_both_chats(discord_user: int) -> developers.DeveloperView:
    """A developer registered from Telegram who then linked a Discord account, with claims."""
    dev, _ = await developers.register_via_chat(
        provider="telegram", external_id=str(ADA_TELEGRAM), name="Ada", chat_id=str(ADA_TELEGRAM)
    )
    token = await developers.issue_link_token(developer_id=dev.id)
    await developers.link_identity(
        token=token,
        provider="discord",
        external_id=str(discord_user),
        chat_id=str(discord_user),
    )
    with frozen_at(RUN_AT - timedelta(days=5)):
        c = await factories.campaign(dev.id, name="Launch")
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(10, "ADA"))
    with frozen_at(RUN_AT - timedelta(hours=12)):
        for i, channel in enumerate(("telegram", "discord", "web")):
            await claims.claim(
                events_bus=factories.BUS,
                campaign_id=c.id,
                claimant=Claimant.of(channel, f"m{i}"),
                channel=channel,
            )
    return dev


def texts_to(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in tg.sent_to(chat_id)]


async def test_the_reports_job_delivers_through_both_bots_once_in_the_developers_chats(
    chat_services: Services, tg: FakeTelegram, dc: FakeDiscord
) -> None:
    discord_user = new_id()
    ada = await ada_on_both_chats(discord_user)
    bo, _ = await developers.register_via_chat(
        provider="telegram", external_id=str(BO_TELEGRAM), name="Bo", chat_id=str(BO_TELEGRAM)
    )
    with frozen_at(RUN_AT - timedelta(days=5)):
        await factories.campaign(bo.id, name="Bo's quiet drop")

    notifiers = build_notifiers(chat_services.settings)
    assert [type(n) for n in notifiers] == [TelegramNotifier, DiscordNotifier]
    try:
        with frozen_at(RUN_AT):
            summary = await run_job("reports", chat_services, notifiers)
            again = await run_job("reports", chat_services, notifiers)
    finally:
        await close_notifiers(notifiers)

    assert summary["status"] == "ran"
    assert summary["result"]["created"] == 2 and summary["result"]["delivered"] == 2
    assert again["result"]["created"] == 0 and again["result"]["skipped"] == 2

    [ada_tg] = texts_to(tg, ADA_TELEGRAM)
    assert DAY_HEADER in ada_tg and "3 claims in 1 campaign(s)" in ada_tg
    assert "• Launch: 3 claims (discord 1, telegram 1, web 1), 7 codes left" in ada_tg
    assert "Bo's quiet drop" not in ada_tg
    [ada_dc] = dc.dms[discord_user]
    assert ada_dc == ada_tg
    [bo_tg] = texts_to(tg, BO_TELEGRAM)
    assert DAY_HEADER in bo_tg and "Bo's quiet drop: 0 claims" in bo_tg and "Launch" not in bo_tg
    # plain text on Telegram (a report is no markup), one DM channel opened on Discord
    assert all(c.params.get("parse_mode") is None for c in tg.calls_of("sendMessage"))
    assert len(tg.calls_of("sendMessage")) == 2 and list(dc.dms) == [discord_user]
    assert dc.unknown_routes == []

    delivered = {r.developer_id: r.summary["delivered_to"] for r in await Report.all()}  # type: ignore[attr-defined]
    assert sorted(delivered[ada.id]) == ["discord", "telegram"]
    assert delivered[bo.id] == ["telegram"]


async def test_a_blocked_bot_or_closed_dms_do_not_stop_the_other_chat(
    chat_services: Services, tg: FakeTelegram, dc: FakeDiscord
) -> None:
    discord_user = new_id()
    ada = await ada_on_both_chats(discord_user)
    tg.blocked.add(ADA_TELEGRAM)
    notifiers = build_notifiers(chat_services.settings)
    try:
        with frozen_at(RUN_AT):
            summary = await run_job("reports", chat_services, notifiers)
    finally:
        await close_notifiers(notifiers)

    assert (summary["result"]["delivered"], summary["result"]["undelivered"]) == (1, 0)
    assert texts_to(tg, ADA_TELEGRAM) == []
    assert [c.status for c in tg.calls_of("sendMessage")] == [403]
    assert len(dc.dms[discord_user]) == 1 and DAY_HEADER in dc.dms[discord_user][0]
    report = await Report.get(developer_id=ada.id)
    assert report.summary["delivered_to"] == ["discord"]

    # nowhere to deliver: closed DMs as well; the report is still written, once
    dc.closed_dms.add(discord_user)
    notifiers = build_notifiers(chat_services.settings)
    try:
        with frozen_at(RUN_AT + timedelta(days=1)):
            next_day = await run_job("reports", chat_services, notifiers)
    finally:
        await close_notifiers(notifiers)
    assert (next_day["result"]["created"], next_day["result"]["undelivered"]) == (1, 1)
    assert dc.refused_dms[discord_user] == 1 and len(dc.dms[discord_user]) == 1


async def test_closing_the_notifiers_closes_both_bots_http_sessions(
    chat_services: Services, tg: FakeTelegram, dc: FakeDiscord
) -> None:
    notifiers = build_notifiers(chat_services.settings)
    telegram, discord = notifiers
    assert isinstance(telegram, TelegramNotifier) and isinstance(discord, DiscordNotifier)
    assert await telegram.send(str(ADA_TELEGRAM), "hello")
    user = new_id()
    assert await discord.send(str(user), "hello")
    tg_session = telegram.bot.session._session  # aiohttp session aiogram opened on first use
    dc_session = discord._http._HTTPClient__session  # type: ignore[union-attr]
    assert tg_session is not None and not tg_session.closed and not dc_session.closed

    await close_notifiers(notifiers)
    assert tg_session.closed and dc_session.closed
    await close_notifiers(notifiers)  # a second close (shutdown after an error) is harmless


async def test_codedrop_jobs_run_reports_delivers_through_the_bots_and_closes_them(
    chat_services: Services, tg: FakeTelegram, dc: FakeDiscord
) -> None:
    discord_user = new_id()
    await ada_on_both_chats(discord_user)  # running campaign: reported for yesterday too
    s = chat_services.settings
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_") and k != "PYTHONPATH"
    }
    env.update(
        {
            "CODEDROP_ENV_FILE": "",
            "CODEDROP_ENVIRONMENT": "test",
            "CODEDROP_DATABASE_URL": s.database_url,
            "CODEDROP_STORAGE_DIR": str(s.storage_dir),
            "CODEDROP_TELEGRAM_BOT_TOKEN": tg.token,
            "CODEDROP_TELEGRAM_API_URL": tg.url,
            "CODEDROP_DISCORD_BOT_TOKEN": dc.token,
            "CODEDROP_DISCORD_API_URL": dc.api_url,
            "PYTHONWARNINGS": "always::ResourceWarning",
            "PYTHONTRACEMALLOC": "1",
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "jobs",
        "run",
        "reports",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, stderr
    assert "status: ran" in stdout and "'delivered': 1" in stdout, stdout
    [text] = texts_to(tg, ADA_TELEGRAM)
    assert "• Launch:" in text
    assert dc.dms[discord_user] == [text]
    assert "Unclosed" not in stderr, stderr  # aiohttp's warning for a session left open
