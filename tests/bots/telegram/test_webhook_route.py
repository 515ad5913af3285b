"""Telegram's webhook route (bots/telegram/webhook.py) as the API part of `codedrop run`
serves it: a call with the secret token is handled, one without it or with a body that is
not an update is refused, and the route exists only in webhook mode."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from pydantic import SecretStr

from bots.telegram.app import TelegramFront
from bots.telegram.webhook import PATH
from cli.parts import ApiPart
from domain.adapters.bootstrap import Services
from tests import factories
from tests.bots.telegram.conftest import front_services
from tests.bots.telegram.support import code_in
from tests.fakes.telegram import FakeTelegram

SECRET = "s3cret-token"


async def test_the_api_part_serves_the_webhook_and_checks_its_secret_token(
    services: Services, tg: FakeTelegram
) -> None:
    svc = front_services(
        services,
        tg,
        telegram_webhook_url="https://codedrop.example/telegram/webhook",
        telegram_webhook_secret=SecretStr(SECRET),
    )
    front = TelegramFront(svc)
    task = asyncio.create_task(front.run())
    api = ApiPart(svc, host="127.0.0.1", port=0, telegram=front)
    transport = httpx.ASGITransport(app=api.app)
    try:
        await tg.wait_for(lambda: tg.webhook)
        dev, _ = await factories.developer()
        c = await factories.campaign(dev.id)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(1))
        pia = tg.user(3102, "Pia")
        update = {"update_id": 7, "message": tg.text_message(pia, None, f"/claim {c.id}")}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            wrong = await http.post(
                PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            )
            missing = await http.post(PATH, json=update)
            not_json = await http.post(
                PATH, content=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            not_an_object = await http.post(
                PATH, json=[1, 2], headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            await front.drain()
            assert (wrong.status_code, missing.status_code) == (403, 403)
            assert (not_json.status_code, not_an_object.status_code) == (400, 400)
            assert tg.sent_to(pia.id) == []

            ok = await http.post(
                PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert ok.status_code == 200 and ok.json() == {"ok": True}
        reply = (await tg.wait_for(lambda: tg.sent_to(pia.id)))[0]
        assert code_in(reply["text"]) is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await front.close()


async def test_without_a_webhook_url_the_api_part_has_no_webhook_route(
    services: Services, tg: FakeTelegram
) -> None:
    svc = front_services(services, tg)
    front = TelegramFront(svc)
    try:
        api = ApiPart(svc, host="127.0.0.1", port=0, telegram=front)
        paths = {getattr(route, "path", None) for route in api.app.routes}
        assert PATH not in paths
    finally:
        await front.close()
