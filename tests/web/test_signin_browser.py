"""Sign in on the claim page in a real headless Chromium, against the local Discord and
Telegram fakes, with the real discord.py bot connected to the same fake Discord.

A member presses "Sign in with Discord", approves at (fake) Discord, comes back signed in,
claims, and the Discord bot's Claim button then gives them that very code. A Telegram member
signs in through the Login Widget script served by the fake telegram.org (so the page's CSP
must let that script in) and claims.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from api.app import create_app
from domain.adapters.bootstrap import Services
from domain.eligibility import FactSources
from domain.models import Claim
from tests import factories
from tests.bots.discord import conftest as discord_fixtures
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram_login import FakeTelegramLogin
from tests.web import test_browser
from tests.web.conftest import free_port
from tests.web.test_signin import TG_BOT, TG_TOKEN, with_signin

# the same fixtures the browser and Discord bot tests use
browser = test_browser.browser
fake_discord = discord_fixtures.fake_discord
discord_services = discord_fixtures.discord_services
bot = discord_fixtures.bot
member = discord_fixtures.member


@asynccontextmanager
async def serving(services: Services, port: int) -> AsyncIterator[str]:
    """The app with these services on a real uvicorn at `port`."""
    app = create_app(services.settings, services, manage_database=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_a_member_signs_in_with_discord_claims_and_the_bot_gives_them_the_same_code(
    browser: Any,
    bot: Running,
    fake_discord: FakeDiscord,
    discord_services: Services,
    member: MemberFactory,
) -> None:
    dev_id, owner = await owner_linked(fake_discord, member)
    role = fake_discord.add_role("Early access")
    c = await factories.campaign(
        dev_id,
        name="Guild drop",
        identity="verified",
        eligibility={"required_roles": [str(role)], "channels": ["discord", "web"]},
        fact_sources=FactSources(web_discord=True),
    )
    await factories.upload_codes(dev_id, c.id, factories.codes_csv(5, prefix="GUILD"))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)
    alice = member("alice", roles=[role])
    fake_discord.guild_members[alice.id] = alice
    fake_discord.authorizer = alice

    port = free_port()
    services = with_signin(discord_services, fake_discord, None, f"http://127.0.0.1:{port}")
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    try:
        async with serving(services, port) as base:
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await page.goto(f"{base}/c/{c.id}")
            assert await page.get_by_role("button", name="Get my code").count() == 0
            await page.screenshot(path=test_browser.shot("claim-signin.png"), full_page=True)
            await page.get_by_role("link", name="Sign in with Discord").click()
            await page.wait_for_url(f"{base}/c/{c.id}")
            await page.get_by_text("Signed in with Discord as").wait_for()
            assert "guilds.members.read" in fake_discord.authorizations[-1]["scope"]
            await page.get_by_role("button", name="Get my code").click()
            box = page.locator('[data-testid="code"]')
            await box.wait_for()
            on_page = await box.inner_text()
            await page.screenshot(path=test_browser.shot("claim-signed-in.png"), full_page=True)
            assert on_page.startswith("GUILD")
            assert problems == []

        in_bot = await fake_discord.interact(
            fake_discord.component(alice, f"cd:claim:{c.id}", message)
        )
        assert code_in(in_bot.content) == on_page
        assert await Claim.filter(claimant=f"discord:{alice.id}").count() == 1
    finally:
        await context.close()


async def test_a_member_signs_in_with_the_telegram_widget_and_claims(
    browser: Any, services: Services
) -> None:
    widget = FakeTelegramLogin(TG_TOKEN, TG_BOT)
    await widget.start()
    widget.user = {"id": 8080, "first_name": "Tom", "username": "tom"}
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, name="Chat drop", identity="verified")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3, prefix="TGW"))
    port = free_port()
    configured = with_signin(services, None, widget, f"http://127.0.0.1:{port}")
    context = await browser.new_context()
    try:
        async with serving(configured, port) as base:
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await page.goto(f"{base}/c/{c.id}")
            await page.get_by_role("button", name="Log in with Telegram").click()
            await page.wait_for_url(f"{base}/c/{c.id}")
            await page.get_by_text("Signed in with Telegram as").wait_for()
            await page.get_by_role("button", name="Get my code").click()
            box = page.locator('[data-testid="code"]')
            await box.wait_for()
            assert (await box.inner_text()).startswith("TGW")
            assert widget.widget_loads == 1 and problems == []
        assert await Claim.filter(claimant="telegram:8080").count() == 1
    finally:
        await context.close()
        await widget.stop()
