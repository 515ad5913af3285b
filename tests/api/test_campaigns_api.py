"""Campaign management through HTTP: the full lifecycle, pagination, ownership, bad input."""

from __future__ import annotations

import httpx

from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


async def test_a_campaign_is_created_read_listed_updated_and_deleted(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    r = await client.post(
        "/api/campaigns",
        json={
            "name": "Spring sale",
            "description": "20% off",
            "platform": "android",
            "per_claimant_limit": 2,
            "low_stock_threshold": 10,
            "eligibility": {"required_chats": ["@mychannel"], "channels": ["telegram"]},
        },
        headers=dev.auth,
    )
    assert r.status_code == 201
    body = r.json()
    cid = body["id"]
    assert len(cid) >= 16 and body["status"] == "active" and body["platform"] == "android"
    assert body["eligibility"] == {"required_chats": ["@mychannel"], "channels": ["telegram"]}
    assert body["claim_url"].endswith(f"/c/{cid}")

    for i in range(3):
        await new_campaign(client, dev, name=f"extra {i}")
    page = (await client.get("/api/campaigns?limit=2&offset=1", headers=dev.auth)).json()
    assert page["total"] == 4 and len(page["items"]) == 2

    r = await client.patch(
        f"/api/campaigns/{cid}",
        json={"status": "paused", "name": "Spring sale II", "ends_at": "2030-01-01T00:00:00Z"},
        headers=dev.auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paused" and r.json()["name"] == "Spring sale II"
    assert r.json()["ends_at"].startswith("2030-01-01")
    assert (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()[
        "status"
    ] == "paused"

    assert (await client.delete(f"/api/campaigns/{cid}", headers=dev.auth)).status_code == 204
    gone = await client.get(f"/api/campaigns/{cid}", headers=dev.auth)
    assert gone.status_code == 404 and gone.json()["code"] == "campaign_not_found"


async def test_another_developers_campaign_is_a_404_everywhere(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nAAAA1111\n")
    calls = [
        ("GET", f"/api/campaigns/{cid}", None),
        ("PATCH", f"/api/campaigns/{cid}", {"status": "paused"}),
        ("DELETE", f"/api/campaigns/{cid}", None),
        ("GET", f"/api/campaigns/{cid}/analytics", None),
        ("GET", f"/api/campaigns/{cid}/codes", None),
        ("POST", f"/api/campaigns/{cid}/codes/used", {"codes": ["AAAA1111"]}),
        ("POST", f"/api/campaigns/{cid}/codes/release", {"code": "AAAA1111"}),
        ("GET", f"/api/campaigns/{cid}/export.csv", None),
        ("GET", f"/api/campaigns/{cid}/uploads", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, json=body, headers=other_dev.auth)
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.headers["content-type"] == PROBLEM
    r = await client.post(
        f"/api/campaigns/{cid}/codes",
        files={"file": ("c.csv", b"code\nZZZZ9999\n")},
        headers=other_dev.auth,
    )
    assert r.status_code == 404
    # nothing changed for the owner
    mine = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert mine["status"] == "active" and mine["stock"]["available"] == 1


async def test_missing_malformed_unknown_and_revoked_keys_are_refused(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    from domain import developers

    r = await client.get("/api/campaigns")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await client.get("/api/campaigns", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and "malformed" in r.json()["detail"]
    r = await client.get(
        "/api/campaigns", headers={"Authorization": "Bearer cdk_00000000_" + "x" * 43}
    )
    assert r.status_code == 401 and r.json()["detail"] == "Unknown API key."
    await developers.revoke_key(prefix=dev.key)
    r = await client.get("/api/campaigns", headers=dev.auth)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_malformed_json_and_wrong_types_name_the_problem(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    r = await client.post(
        "/api/campaigns",
        content=b"{not json",
        headers={**dev.auth, "content-type": "application/json"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "not valid JSON" in r.json()["detail"]
    r = await client.post(
        "/api/campaigns", json={"name": "x", "per_claimant_limit": "lots"}, headers=dev.auth
    )
    assert r.status_code == 422 and r.json()["field"] == "per_claimant_limit"
    r = await client.post(
        "/api/campaigns", json={"name": "x", "platform": "windows-phone"}, headers=dev.auth
    )
    assert r.status_code == 422 and r.json()["field"] == "platform"
    r = await client.post("/api/campaigns", json={"name": "x", "colour": "red"}, headers=dev.auth)
    assert r.status_code == 422 and r.json()["field"] == "colour"
    r = await client.post(
        "/api/campaigns",
        json={"name": "x", "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"},
        headers=dev.auth,
    )
    assert r.status_code == 422 and r.json()["field"] == "ends_at"
    r = await client.post(
        "/api/campaigns",
        json={"name": "x", "eligibility": {"allowed_countries": ["Narnia"]}},
        headers=dev.auth,
    )
    assert r.status_code == 422
    assert (await client.get("/api/campaigns", headers=dev.auth)).json()["total"] == 0


async def test_analytics_count_stock_channels_platforms_and_time(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, platform="universal")
    await upload(
        client,
        dev,
        cid,
        b"code,platform\nIOS00001,ios\nIOS00002,ios\nAND00001,android\nANY00001,\n",
    )
    for who, platform in (("a", "ios"), ("b", "android")):
        r = await client.post(
            f"/api/distribute/{cid}", json={"platform": platform, "user_identifier": who}
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": "c"}, headers=dev.auth
    )
    assert r.status_code == 201
    used = await client.post(
        f"/api/campaigns/{cid}/codes/used", json={"codes": [r.json()["code"]]}, headers=dev.auth
    )
    assert used.json()["updated"] == 1
    a = (await client.get(f"/api/campaigns/{cid}/analytics?bucket=minute", headers=dev.auth)).json()
    assert (a["available"], a["claimed"], a["used"], a["total"]) == (1, 2, 1, 4)
    # anonymous API claims (`anon:` claimants) are told apart from the claim page
    assert a["by_channel"] == {"api_anonymous": 2, "api": 1}
    assert a["by_platform"] == {"ios": 2, "android": 1}
    assert sum(p["claims"] for p in a["over_time"]) == 3
    assert a["claims_last_24h"] == 3


async def test_analytics_are_rate_limited_per_developer(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev, services: object
) -> None:
    cid = await new_campaign(client, dev)
    other = await new_campaign(client, other_dev)
    settings = services.settings  # type: ignore[attr-defined]
    settings.rate_limit_analytics = "2/minute"
    try:
        mine = [
            (await client.get(f"/api/campaigns/{cid}/analytics", headers=dev.auth)).status_code
            for _ in range(3)
        ]
        theirs = (
            await client.get(f"/api/campaigns/{other}/analytics", headers=other_dev.auth)
        ).status_code
    finally:
        settings.rate_limit_analytics = "60/minute"
    assert mine == [200, 200, 429] and theirs == 200


async def test_times_with_an_offset_are_stored_in_utc_and_huge_offsets_are_refused(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.patch(
        f"/api/campaigns/{cid}", json={"starts_at": "2030-01-01T05:00:00+05:00"}, headers=dev.auth
    )
    assert r.status_code == 200
    assert r.json()["starts_at"].startswith("2030-01-01T00:00:00")
    assert r.json()["starts_at"].endswith(("Z", "+00:00"))
    huge = await client.get("/api/campaigns?offset=99999999999999999999", headers=dev.auth)
    assert huge.status_code == 422 and huge.json()["field"] == "offset"


async def test_a_status_patch_moves_only_as_the_table_allows_with_a_clear_409(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    url = f"/api/campaigns/{cid}"

    refused = await client.patch(url, json={"status": "archived"}, headers=dev.auth)
    assert refused.status_code == 409 and refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["code"] == "transition_refused"
    assert problem["detail"] == (
        "A active campaign cannot become archived; possible now: paused (pause), completed (end)."
    )
    back = await client.patch(url, json={"status": "draft", "name": "kept?"}, headers=dev.auth)
    assert back.status_code == 409
    # a refused move keeps nothing of the request
    assert (await client.get(url, headers=dev.auth)).json()["name"] == "Launch"

    for status in ("completed", "archived"):
        moved = await client.patch(url, json={"status": status}, headers=dev.auth)
        assert moved.status_code == 200 and moved.json()["status"] == status
    frozen = await client.patch(url, json={"name": "Renamed"}, headers=dev.auth)
    assert (frozen.status_code, frozen.json()["code"]) == (409, "campaign_archived")
    listed = (await client.get("/api/campaigns", headers=dev.auth)).json()
    assert cid not in [c["id"] for c in listed["items"]]
    only = (await client.get("/api/campaigns?status=archived", headers=dev.auth)).json()
    assert [c["id"] for c in only["items"]] == [cid]


async def test_a_new_campaign_may_start_only_as_the_domain_allows(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    from typing import get_args

    from api.schemas import CampaignCreate
    from domain.campaign_state import START_STATUSES

    allowed = get_args(CampaignCreate.model_fields["status"].annotation)
    assert set(allowed) == {s.value for s in START_STATUSES}
    r = await client.post(
        "/api/campaigns", json={"name": "P", "status": "paused"}, headers=dev.auth
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    draft = await client.post(
        "/api/campaigns", json={"name": "D", "status": "draft"}, headers=dev.auth
    )
    assert draft.status_code == 201 and draft.json()["state"] == "draft"
