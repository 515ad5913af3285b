"""Generated codes and code expiry through HTTP: the generate route (inline, background,
Idempotency-Key, refusals), the campaign's code_ttl_days, expired codes counted apart."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from domain import clock, expiry, generate
from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


def _path(cid: str) -> str:
    return f"/api/campaigns/{cid}/codes/generate"


async def test_generating_codes_returns_the_report_and_fills_the_stock(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.post(
        _path(cid),
        json={"count": 500, "pattern": "####-????", "prefix": "PROMO-", "exclude_lookalikes": True},
        headers=dev.auth,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["requested"], body["generated"]) == ("done", 500, 500)
    assert body["space"] == 8**4 * 23**4
    stock = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()["stock"]
    assert stock["available"] == 500
    progress = await client.get(body["progress_url"], headers=dev.auth)
    assert progress.json()["status"] == "done" and progress.json()["rows_done"] == 500
    export = await client.get(f"/api/campaigns/{cid}/export.csv", headers=dev.auth)
    codes = export.text.splitlines()[1:]
    assert len(codes) == 500
    assert all(re.match(r"PROMO-[2-9]{4}-[A-HJKMNP-Z]{4},", line) for line in codes)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"count": 2000, "pattern": "##-##"}, "count", "at most 1,000 can be generated"),
        ({"count": 0, "pattern": "####"}, "count", ""),
        ({"count": 1_000_001, "pattern": "####"}, "count", ""),
        ({"count": 5, "pattern": "PROMO"}, "pattern", "at least one placeholder"),
        ({"count": 5, "pattern": "AB ##"}, "pattern", "letters, digits"),
    ],
)
async def test_a_request_the_pattern_cannot_serve_is_refused_with_422_and_the_field(
    client: httpx.AsyncClient, dev: Dev, body: dict[str, object], field: str, fragment: str
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.post(_path(cid), json=body, headers=dev.auth)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    problem = r.json()
    assert field in str(problem.get("field")) + str(problem.get("errors", ""))
    assert fragment in problem["detail"]


async def test_a_retried_generation_with_the_same_idempotency_key_generates_once(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    headers = {**dev.auth, "Idempotency-Key": "gen-1"}
    body = {"count": 50, "pattern": "K-######"}
    first = await client.post(_path(cid), json=body, headers=headers)
    again = await client.post(_path(cid), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    stock = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()["stock"]
    assert stock["available"] == 50
    paths = (await client.get("/openapi.json")).json()["paths"]
    names = [
        p["name"]
        for p in paths["/api/campaigns/{campaign_id}/codes/generate"]["post"]["parameters"]
    ]
    assert names.count("Idempotency-Key") == 1


async def test_a_large_count_is_generated_in_the_background_with_progress(
    client: httpx.AsyncClient, dev: Dev, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generate, "INLINE_COUNT", 100)
    cid = await new_campaign(client, dev)
    r = await client.post(
        _path(cid), json={"count": 3000, "pattern": "BG-******"}, headers=dev.auth
    )
    assert r.status_code == 202, r.text
    url = r.json()["progress_url"]
    for _ in range(100):
        progress = (await client.get(url, headers=dev.auth)).json()
        if progress["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert (progress["status"], progress["rows_done"], progress["rows_total"]) == (
        "done",
        3000,
        3000,
    )


async def test_another_developers_campaign_is_a_404(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.post(_path(cid), json={"count": 5, "pattern": "####"}, headers=other_dev.auth)
    assert r.status_code == 404


async def test_code_ttl_days_is_set_on_the_campaign_and_expired_codes_are_listed_apart(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, code_ttl_days=28)
    view = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert view["code_ttl_days"] == 28
    bad = await client.patch(f"/api/campaigns/{cid}", json={"code_ttl_days": 0}, headers=dev.auth)
    assert bad.status_code == 422
    await upload(client, dev, cid, b"code,expires_at\nPAST0001,2020-01-01\nTTL00001,\n")
    await expiry.run_expiry(events_bus=None)
    stock = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()["stock"]
    assert (stock["available"], stock["expired"], stock["total"]) == (1, 1, 2)
    listed = (
        await client.get(f"/api/campaigns/{cid}/codes?status=expired", headers=dev.auth)
    ).json()
    assert listed["total"] == 1 and listed["items"][0]["expires_at"].startswith("2020-01-02")
    ttl = (
        await client.get(f"/api/campaigns/{cid}/codes?status=available", headers=dev.auth)
    ).json()
    assert ttl["items"][0]["expires_at"] is not None
    stats = (await client.get(f"/api/campaigns/{cid}/analytics", headers=dev.auth)).json()
    assert stats["expired"] == 1
    claim = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "ann"})
    assert claim.status_code == 201 and claim.json()["code"] == "TTL00001"
    sold_out = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "bob"})
    assert sold_out.status_code == 409 and sold_out.json()["code"] == "sold_out"
    assert clock.now()  # the real clock: the CSV's 2020 date is long past
