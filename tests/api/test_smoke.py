"""A developer's first session through HTTP: key, campaign, upload, claim, analytics."""

from __future__ import annotations

import httpx

from tests import factories


async def test_a_developer_creates_a_campaign_uploads_codes_and_a_member_claims(
    client: httpx.AsyncClient,
) -> None:
    _, key = await factories.developer()
    auth = {"Authorization": f"Bearer {key}"}
    r = await client.post(
        "/api/campaigns", json={"name": "Launch", "platform": "ios"}, headers=auth
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await client.post(
        f"/api/campaigns/{cid}/codes",
        files={"file": ("codes.csv", b"code\nAAAA1111\nBBBB2222\nAAAA1111\nx\n", "text/csv")},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["rows"], report["imported"], report["duplicates"], report["invalid"]) == (
        4,
        2,
        1,
        1,
    )
    assert report["errors"][0]["line"] == 4
    r = await client.post(
        f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": "u1"}
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r2 = await client.post(
        f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": "u1"}
    )
    assert r2.status_code == 200 and r2.json()["code"] == code
    r = await client.get(f"/api/campaigns/{cid}/analytics", headers=auth)
    assert r.status_code == 200
    a = r.json()
    assert (a["available"], a["claimed"], a["used"]) == (1, 1, 0)
    assert a["by_channel"] == {"api_anonymous": 1}  # an anonymous API claim (`anon:`)
