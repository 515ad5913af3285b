"""The webhooks API through HTTP: create (secret once), list, change, delete, deliveries,
retry, ping; scoped to the caller; targets checked against SSRF; documented in OpenAPI."""

from __future__ import annotations

import httpx
import pytest

from domain.adapters.bootstrap import Services
from domain.adapters.webhook_http import WebhookSender
from domain.webhook_dispatch import dispatch_once
from tests.api.conftest import Dev
from tests.fakes.webhook_receiver import WebhookReceiver

URL = "http://127.0.0.1:9/hooks"


async def _create(client: httpx.AsyncClient, dev: Dev, **fields: object) -> dict[str, object]:
    body = {"url": URL, "events": ["claim.created"], **fields}
    r = await client.post("/api/webhooks", json=body, headers=dev.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_webhook_is_created_with_its_secret_shown_once(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    made = await _create(client, dev, events=["claim.created", "campaign.sold_out"])
    assert str(made["secret"]).startswith("whsec_")
    assert made["events"] == ["campaign.sold_out", "claim.created"]
    assert made["active"] is True

    listed = (await client.get("/api/webhooks", headers=dev.auth)).json()
    assert [w["id"] for w in listed] == [made["id"]]
    assert "secret" not in listed[0]
    one = (await client.get(f"/api/webhooks/{made['id']}", headers=dev.auth)).json()
    assert "secret" not in one and one["url"] == URL


async def test_a_webhook_is_changed_deactivated_and_deleted(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    made = await _create(client, dev)
    path = f"/api/webhooks/{made['id']}"
    r = await client.patch(
        path, json={"events": ["code.used", "code.released"], "active": False}, headers=dev.auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["events"] == ["code.released", "code.used"]
    assert r.json()["active"] is False
    assert (await client.delete(path, headers=dev.auth)).status_code == 204
    assert (await client.get(path, headers=dev.auth)).status_code == 404


async def test_another_developers_webhook_is_not_found_everywhere(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    made = await _create(client, dev)
    base = f"/api/webhooks/{made['id']}"
    ping = await client.post(f"{base}/ping", headers=dev.auth)
    delivery = ping.json()["id"]
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"active": False}),
        ("DELETE", base, None),
        ("GET", f"{base}/deliveries", None),
        ("POST", f"{base}/deliveries/{delivery}/retry", None),
        ("POST", f"{base}/ping", None),
    ]:
        r = await client.request(method, path, json=body, headers=other_dev.auth)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == "webhook_not_found"
    assert (await client.get("/api/webhooks", headers=other_dev.auth)).json() == []
    assert (await client.get(base, headers=dev.auth)).json()["active"] is True


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/x", "webhook_target_refused"),
        ("file:///etc/passwd", "webhook_target_refused"),
        ("not a url", "webhook_target_refused"),
        ("https://user:pw@example.com/x", "validation_error"),
    ],
)
async def test_a_url_that_is_not_plain_http_is_refused_with_the_field_named(
    client: httpx.AsyncClient, dev: Dev, url: str, code: str
) -> None:
    r = await client.post(
        "/api/webhooks", json={"url": url, "events": ["claim.created"]}, headers=dev.auth
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert r.json()["field"] == "url"


async def test_unknown_events_are_refused(client: httpx.AsyncClient, dev: Dev) -> None:
    r = await client.post(
        "/api/webhooks", json={"url": URL, "events": ["claim.deleted"]}, headers=dev.auth
    )
    assert r.status_code == 422
    r = await client.post("/api/webhooks", json={"url": URL, "events": []}, headers=dev.auth)
    assert r.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8080/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://172.16.5.5/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[fe80::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://224.0.0.1/x",
        "http://0.0.0.0/x",
        "http://100.64.0.1/x",
        "http://240.0.0.1/x",
    ],
)
async def test_private_and_reserved_targets_are_refused(
    services: Services, dev: Dev, url: str
) -> None:
    from api.app import create_app

    strict = services.settings.model_copy(update={"webhook_allow_private": False})
    app = create_app(
        strict,
        Services(
            strict,
            services.events,
            services.limiter,
            services.store,
            services.leases,
            services.mail,
        ),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        body = {"url": url, "events": ["claim.created"]}
        r = await client.post("/api/webhooks", json=body, headers=dev.auth)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "webhook_target_refused"
        assert r.json()["field"] == "url"


async def test_ping_is_delivered_signed_and_shows_in_deliveries_with_a_retry(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    receiver = WebhookReceiver()
    await receiver.up()
    sender = WebhookSender(timeout=5)
    try:
        made = await _create(client, dev, url=receiver.url)
        receiver.secret = str(made["secret"])
        base = f"/api/webhooks/{made['id']}"
        r = await client.post(f"{base}/ping", headers=dev.auth)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "pending" and r.json()["event"] == "webhook.ping"
        await dispatch_once(sender, allow_private=True)

        listed = (await client.get(f"{base}/deliveries", headers=dev.auth)).json()
        assert len(listed) == 1
        d = listed[0]
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 1, 204)
        assert receiver.ids() == [d["event_id"]]
        assert receiver.bad_signatures == 0

        r = await client.post(f"{base}/deliveries/{d['id']}/retry", headers=dev.auth)
        assert r.status_code == 202 and r.json()["status"] == "pending"
        await dispatch_once(sender, allow_private=True)
        assert receiver.ids() == [d["event_id"], d["event_id"]]  # same id: de-duplicable
        filtered = await client.get(
            f"{base}/deliveries", params={"status": "failed"}, headers=dev.auth
        )
        assert filtered.json() == []
        missing = await client.post(f"{base}/deliveries/999999999/retry", headers=dev.auth)
        assert missing.status_code == 404 and missing.json()["code"] == "delivery_not_found"
    finally:
        await sender.close()
        await receiver.down()


async def test_the_webhook_routes_are_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/api/webhooks"]) == {"get", "post"}
    assert set(paths["/api/webhooks/{webhook_id}"]) == {"get", "patch", "delete"}
    assert "get" in paths["/api/webhooks/{webhook_id}/deliveries"]
    assert "post" in paths["/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"]
    assert "post" in paths["/api/webhooks/{webhook_id}/ping"]
    assert "webhook-signature" in paths["/api/webhooks"]["post"]["description"]
