"""Public distribution through HTTP: the card, claims, refusals, trusted backends, limits."""

from __future__ import annotations

from datetime import timedelta

import httpx

from domain import clock
from domain.adapters.bootstrap import Services
from domain.claimants import pseudonym
from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


async def test_the_public_card_never_shows_a_code(client: httpx.AsyncClient, dev: Dev) -> None:
    cid = await new_campaign(client, dev, platform="ios", description="Free month")
    await upload(client, dev, cid, b"code\nSECRET0001\nSECRET0002\n")
    r = await client.get(f"/api/distribute/{cid}")
    assert r.status_code == 200
    card = r.json()
    assert card["name"] == "Launch" and card["codes_left"] == 2 and card["available"] is True
    assert card["state"] == "open" and card["platforms"] == ["ios"]
    assert "SECRET" not in r.text


async def test_unknown_and_draft_campaigns_answer_the_same(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    draft = await new_campaign(client, dev, status="draft")
    a = await client.get(f"/api/distribute/{draft}")
    b = await client.get("/api/distribute/doesnotexist00000")
    assert a.status_code == b.status_code == 404
    assert a.json()["code"] == b.json()["code"] == "campaign_not_found"
    c = await client.post(f"/api/distribute/{draft}", json={"user_identifier": "u"})
    assert c.status_code == 404


async def test_a_claim_returns_the_same_code_to_the_same_claimant(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, platform="ios")
    await upload(client, dev, cid, b"code\nAAAA0001\nAAAA0002\n")
    first = await client.post(
        f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": "p-1"}
    )
    assert first.status_code == 201 and first.headers["cache-control"].startswith("no-store")
    body = first.json()
    assert body["repeated"] is False and body["redemption_hint"].startswith(
        "Redeem in the App Store"
    )
    again = await client.post(
        f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": "p-1"}
    )
    assert (
        again.status_code == 200
        and again.json()["code"] == body["code"]
        and again.json()["repeated"]
    )


async def test_a_trusted_backend_claims_in_its_own_namespace(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nAAAA0001\nAAAA0002\nAAAA0003\n")
    backend = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "42"}, headers=dev.auth
    )
    public = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "42"})
    assert backend.status_code == public.status_code == 201
    # the public caller naming the same id does not receive the backend user's code
    assert backend.json()["code"] != public.json()["code"]
    codes = (
        await client.get(f"/api/campaigns/{cid}/codes?status=claimed", headers=dev.auth)
    ).json()
    secret = services.settings.secret_key.get_secret_value()
    assert {c["claimant"] for c in codes["items"]} == {
        f"api:{dev.id}:42",
        pseudonym(secret, cid, "anon:42"),
    }


async def test_claims_on_paused_unstarted_ended_and_sold_out_campaigns_are_refused(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nONLY0001\n")

    async def claim(who: str) -> httpx.Response:
        return await client.post(f"/api/distribute/{cid}", json={"user_identifier": who})

    await client.patch(f"/api/campaigns/{cid}", json={"status": "paused"}, headers=dev.auth)
    r = await claim("a")
    assert (r.status_code, r.json()["code"]) == (409, "campaign_not_active")
    assert r.headers["content-type"] == PROBLEM
    soon = (clock.now() + timedelta(days=1)).isoformat()
    await client.patch(
        f"/api/campaigns/{cid}", json={"status": "active", "starts_at": soon}, headers=dev.auth
    )
    r = await claim("a")
    assert (r.status_code, r.json()["code"]) == (409, "campaign_not_started") and r.json()[
        "starts_at"
    ]
    assert (await client.get(f"/api/distribute/{cid}")).json()["state"] == "not_started"
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    await client.patch(
        f"/api/campaigns/{cid}", json={"starts_at": None, "ends_at": past}, headers=dev.auth
    )
    r = await claim("a")
    assert (r.status_code, r.json()["code"]) == (409, "campaign_ended")
    await client.patch(f"/api/campaigns/{cid}", json={"ends_at": None}, headers=dev.auth)
    assert (await claim("a")).status_code == 201
    r = await claim("b")
    assert (r.status_code, r.json()["code"]) == (409, "sold_out")
    assert (await client.get(f"/api/distribute/{cid}")).json()["state"] == "sold_out"
    stock = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()["stock"]
    assert (stock["available"], stock["claimed"]) == (0, 1)


async def test_bad_claim_bodies_are_422_problems(client: httpx.AsyncClient, dev: Dev) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nAAAA0001\n")
    for body in (
        {"platform": "blackberry", "user_identifier": "u"},
        {"platform": "ios"},
        {"user_identifier": "has spaces"},
        {"user_identifier": "x" * 81},
        {"user_identifier": 12},
    ):
        r = await client.post(f"/api/distribute/{cid}", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body
    r = await client.post(
        f"/api/distribute/{cid}", content=b"[", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert (await client.get(f"/api/distribute/{cid}")).json()["codes_left"] == 1


async def test_the_public_claim_is_rate_limited_per_ip_with_headers(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\n" + b"".join(b"CODE%04d\n" % i for i in range(10)))
    services.settings.rate_limit_distribute_ip = "3/minute"
    try:
        answers = [
            await client.post(f"/api/distribute/{cid}", json={"user_identifier": f"rot{i}"})
            for i in range(4)
        ]
    finally:
        services.settings.rate_limit_distribute_ip = "100/minute"
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    limited = answers[-1]
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert (
        limited.headers["ratelimit-limit"] == "3" and limited.headers["ratelimit-remaining"] == "0"
    )
    assert answers[0].headers["ratelimit-remaining"] == "2"
    # the refused request took nothing
    assert (await client.get(f"/api/distribute/{cid}")).json()["codes_left"] == 7


async def test_uploads_are_rate_limited_per_developer(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    other = await new_campaign(client, other_dev)
    services.settings.rate_limit_upload = "2/minute"
    try:
        codes = [
            (await upload(client, dev, cid, b"code\nAAAA%04d\n" % i)).status_code for i in range(3)
        ]
        others = (await upload(client, other_dev, other, b"code\nBBBB0001\n")).status_code
    finally:
        services.settings.rate_limit_upload = "10/minute"
    assert codes == [201, 201, 429] and others == 201


async def test_operations_endpoints_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    await client.get("/api/distribute/unknown-id-000000")
    metrics = await client.get("/metrics")
    assert (
        'codedrop_http_requests_total{method="GET",route="/api/distribute/{campaign_id}",status="404"}'
        in metrics.text
    )


async def test_the_openapi_schema_documents_every_route_with_examples(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/campaigns",
        "/api/campaigns/{campaign_id}",
        "/api/campaigns/{campaign_id}/codes",
        "/api/campaigns/{campaign_id}/analytics",
        "/api/distribute/{campaign_id}",
        "/api/campaigns/{campaign_id}/export.csv",
    ):
        assert path in paths, path
    assert schema["components"]["schemas"]["ClaimIn"]["examples"]
    assert (await client.get("/docs")).status_code == 200


async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\n" + b"".join(b"CODE%04d\n" % i for i in range(10)))
    settings = services.settings
    settings.rate_limit_distribute_ip = "2/minute"

    async def claim(who: str, forwarded: str) -> int:
        r = await client.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": who},
            headers={"X-Forwarded-For": forwarded},
        )
        return r.status_code

    try:
        # the peer is not a trusted proxy: a spoofed header does not buy a fresh limit
        spoofed = [await claim(f"s{i}", f"198.51.100.{i}") for i in range(3)]
        settings.trusted_proxies = ["127.0.0.1/32"]
        # behind a trusted proxy each forwarded client has its own limit
        proxied = [await claim(f"p{i}", "203.0.113.7") for i in range(3)]
        other = await claim("q0", "203.0.113.8")
    finally:
        settings.rate_limit_distribute_ip = "100/minute"
        settings.trusted_proxies = []
    assert spoofed == [201, 201, 429]
    assert proxied == [201, 201, 429]
    assert other == 201


async def test_one_claimant_is_limited_even_from_many_addresses(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nAAAA0001\nAAAA0002\n")
    services.settings.rate_limit_distribute_claimant = "2/minute"
    try:
        answers = [
            (
                await client.post(f"/api/distribute/{cid}", json={"user_identifier": "same"})
            ).status_code
            for _ in range(3)
        ]
    finally:
        services.settings.rate_limit_distribute_claimant = "100/minute"
    assert answers == [201, 200, 429]
