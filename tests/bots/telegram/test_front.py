"""The front's plumbing: commands, webhook mode with its secret, the notifier the scheduler uses."""

from __future__ import annotations

import asyncio
import contextlib
import time

from pydantic import SecretStr

from bots.telegram.app import TelegramFront, webhook_secret
from bots.telegram.sender import TelegramNotifier
from domain.adapters.bootstrap import Services
from tests import factories
from tests.bots.telegram.conftest import front_services, running
from tests.bots.telegram.support import code_in
from tests.fakes.telegram import FakeTelegram


async def test_the_command_list_is_published_and_help_explains_it(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    published = {
        c.params["scope"]["type"]: [cmd["command"] for cmd in c.params["commands"]]
        for c in tg.calls_of("setMyCommands")
    }
    assert published["default"] == ["start", "claim", "mycodes", "help"]
    assert {"register", "new", "upload", "stats", "pause", "post"} <= set(
        published["all_private_chats"]
    )
    assert published["all_group_chats"] == ["claim", "post", "help"]
    olga = tg.user(3001, "Olga")
    tg.send_text(olga, "/help")
    help_text = (await tg.wait_for(lambda: tg.sent_to(olga.id)))[0]["text"]
    for command in published["all_private_chats"]:
        if command != "start":
            assert f"/{command}" in help_text


async def test_the_dashboard_links_to_the_bot_by_the_username_getme_tells(
    services: Services, tg: FakeTelegram
) -> None:
    import httpx

    from api.app import create_app
    from tests.web.conftest import sign_in

    svc = front_services(services, tg, telegram_bot_username=None)
    dev, key = await factories.developer()
    c = await factories.campaign(dev.id)
    async with running(TelegramFront(svc), tg):
        assert tg.calls_of("getMe")
        app = create_app(svc.settings, svc, manage_database=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await sign_in(http, key)
            page = await http.get(f"/dashboard/c/{c.id}")
    assert f"https://t.me/{tg.bot_username}?start={c.id}" in page.text

    # a username set by hand is kept (a mismatch is only logged)
    svc = front_services(services, tg, telegram_bot_username="@my_other_bot")
    async with running(TelegramFront(svc), tg):
        assert svc.settings.telegram_bot_username == "@my_other_bot"


async def test_webhook_mode_registers_the_secret_and_refuses_calls_without_it(
    services: Services, tg: FakeTelegram
) -> None:
    svc = front_services(
        services,
        tg,
        telegram_webhook_url="https://codedrop.example/telegram/webhook",
        telegram_webhook_secret=SecretStr("s3cret-token"),
    )
    front = TelegramFront(svc)
    task = asyncio.create_task(front.run())
    try:
        await tg.wait_for(lambda: tg.webhook)
        assert tg.webhook["url"] == "https://codedrop.example/telegram/webhook"
        assert tg.webhook["secret_token"] == "s3cret-token" == webhook_secret(svc.settings)
        assert not tg.calls_of("getUpdates")

        dev, _ = await factories.developer()
        c = await factories.campaign(dev.id)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(1))
        pia = tg.user(3002, "Pia")
        update = {"update_id": 1, "message": tg.text_message(pia, None, f"/claim {c.id}")}

        assert await front.process_webhook(update, "wrong") is False
        assert await front.process_webhook(update, None) is False
        await front.drain()
        assert tg.sent_to(pia.id) == []

        assert await front.process_webhook(update, "s3cret-token") is True
        reply = (await tg.wait_for(lambda: tg.sent_to(pia.id)))[0]
        assert code_in(reply["text"]) is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await front.close()


async def test_without_a_configured_secret_the_webhook_still_gets_one(services: Services) -> None:
    settings = services.settings.model_copy(
        update={"telegram_bot_token": SecretStr("1:abc"), "telegram_webhook_secret": None}
    )
    secret = webhook_secret(settings)
    assert len(secret) == 64 and secret.isalnum()
    other = settings.model_copy(update={"telegram_bot_token": SecretStr("2:abc")})
    assert webhook_secret(other) != secret


async def test_the_notifier_delivers_waits_out_429_and_reports_blocked_chats(
    services: Services, tg: FakeTelegram
) -> None:
    notifier = TelegramNotifier(front_services(services, tg).settings)
    try:
        reader = tg.user(3003, "Reader")
        blocked = tg.user(3004, "Gone")
        tg.blocked.add(blocked.id)
        tg.flood("sendMessage", retry_after=1, chat_id=reader.id)

        started = time.monotonic()
        assert await notifier.send(str(reader.id), "Weekly report: 5 claims <b>") is True
        assert time.monotonic() - started >= 1.0
        [delivered] = tg.sent_to(reader.id)
        assert delivered["text"] == "Weekly report: 5 claims <b>"
        assert delivered["parse_mode"] is None
        assert await notifier.send(str(blocked.id), "hello") is False
        assert await notifier.send("-999", "nowhere") is False
        assert notifier.provider == "telegram"
    finally:
        await notifier.close()


async def test_close_finishes_quick_work_and_cancels_work_that_outlives_the_drain_timeout(
    services: Services, tg: FakeTelegram
) -> None:
    front = TelegramFront(front_services(services, tg), drain_timeout=0.2)
    never = asyncio.Event()
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0)
        finished.append("quick")

    async def stuck() -> None:
        try:
            await never.wait()
        finally:
            finished.append("stuck stopped")

    front._spawn(quick())
    front._spawn(stuck())
    await asyncio.wait_for(front.close(), timeout=5)
    # the stuck task was cancelled and awaited before the storage and session were closed
    assert finished == ["quick", "stuck stopped"]
    assert not front._tasks
