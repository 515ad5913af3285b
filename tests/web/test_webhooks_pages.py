"""The dashboard's Webhooks pages: create with the secret shown once, deactivate, ping,
deliveries with retry, CSRF on every form, another developer's webhook a 404."""

from __future__ import annotations

import re

import httpx

from domain.adapters.webhook_http import WebhookSender
from domain.webhook_dispatch import dispatch_once
from tests import factories
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.web.conftest import Dev, sign_in

SECRET = re.compile(r'data-testid="webhook-secret">(whsec_[^<]+)<')
WEBHOOK = re.compile(r'data-webhook="(wh_[0-9a-f]+)"')


async def test_a_webhook_is_created_its_secret_shown_once_then_pinged_and_retried(
    dev: Dev,
) -> None:
    receiver = WebhookReceiver()
    await receiver.up()
    sender = WebhookSender(timeout=5)
    try:
        r = await dev.http.post(
            "/dashboard/webhooks",
            data={
                "url": receiver.url,
                "description": "backend",
                "events": ["claim.created", "code.used"],
                "csrf_token": dev.csrf,
            },
        )
        assert r.status_code == 201, r.text
        found = SECRET.search(r.text)
        assert found, "the secret is on the page after creating"
        receiver.secret = found.group(1)
        (wid,) = WEBHOOK.findall(r.text)

        listing = await dev.http.get("/dashboard/webhooks")
        assert receiver.url in listing.text and receiver.secret not in listing.text
        page = await dev.http.get(f"/dashboard/webhooks/{wid}")
        assert receiver.secret not in page.text

        r = await dev.http.post(f"/dashboard/webhooks/{wid}/ping", data={"csrf_token": dev.csrf})
        assert r.status_code == 303
        await dispatch_once(sender, allow_private=True)
        page = await dev.http.get(f"/dashboard/webhooks/{wid}")
        assert "webhook.ping" in page.text and "delivered" in page.text and "HTTP 204" in page.text
        assert len(receiver.received) == 1 and receiver.bad_signatures == 0
        (delivery,) = re.findall(r'data-delivery="(\d+)"', page.text)

        r = await dev.http.post(
            f"/dashboard/webhooks/{wid}/retry",
            data={"delivery_id": delivery, "csrf_token": dev.csrf},
        )
        assert r.status_code == 303
        await dispatch_once(sender, allow_private=True)
        assert receiver.ids() == [receiver.ids()[0]] * 2

        r = await dev.http.post(
            f"/dashboard/webhooks/{wid}/deactivate", data={"csrf_token": dev.csrf}
        )
        assert r.status_code == 303
        page = await dev.http.get(f"/dashboard/webhooks/{wid}")
        assert "Switch on" in page.text
    finally:
        await sender.close()
        await receiver.down()


async def test_a_refused_url_comes_back_with_the_reason(dev: Dev, app: object) -> None:
    r = await dev.http.post(
        "/dashboard/webhooks",
        data={"url": "ftp://example.com/x", "events": ["claim.created"], "csrf_token": dev.csrf},
    )
    assert r.status_code == 422
    assert "http or https" in r.text and 'data-testid="webhook-error"' in r.text


async def test_webhook_forms_need_the_csrf_token(dev: Dev) -> None:
    r = await dev.http.post(
        "/dashboard/webhooks", data={"url": "http://127.0.0.1:9/x", "events": ["code.used"]}
    )
    assert r.status_code == 403
    listing = await dev.http.get("/dashboard/webhooks")
    assert WEBHOOK.findall(listing.text) == []


async def test_another_developers_webhook_page_is_not_found(dev: Dev, app: object) -> None:
    r = await dev.http.post(
        "/dashboard/webhooks",
        data={"url": "http://127.0.0.1:9/x", "events": ["code.used"], "csrf_token": dev.csrf},
    )
    (wid,) = WEBHOOK.findall(r.text)
    _, key = await factories.developer("Eve")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        csrf = await sign_in(http, key)
        assert (await http.get(f"/dashboard/webhooks/{wid}")).status_code == 404
        r = await http.post(f"/dashboard/webhooks/{wid}/delete", data={"csrf_token": csrf})
        assert r.status_code == 404
    assert (await dev.http.get(f"/dashboard/webhooks/{wid}")).status_code == 200
