"""The audit log through the API: each developer action leaves one row with actor, channel,
time and target (never a full code or a secret), and `GET /api/audit` is filtered and scoped
to what the caller may see."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from domain import audit, clock, developers
from domain.audit import AuditChannel
from domain.models import AuditEntry
from tests.api.conftest import Dev, new_campaign, upload


async def _actions(client: httpx.AsyncClient, who: Dev, **query: object) -> list[str]:
    r = await client.get("/api/audit", params={"limit": 200, **query}, headers=who.auth)
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["items"]]


async def test_every_api_action_is_audited_with_actor_channel_and_target_and_no_code(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    started = clock.now() - timedelta(seconds=1)
    cid = await new_campaign(client, dev)
    assert (
        await upload(client, dev, cid, b"code\nSECRETCODE01\nSECRETCODE02\n")
    ).status_code == 201
    r = await client.patch(f"/api/campaigns/{cid}", json={"status": "paused"}, headers=dev.auth)
    assert r.status_code == 200
    await client.patch(f"/api/campaigns/{cid}", json={"status": "active"}, headers=dev.auth)
    claimed = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "m1"})
    assert claimed.status_code == 201
    handed = claimed.json()["code"]
    r = await client.post(
        f"/api/campaigns/{cid}/codes/release", json={"code": handed}, headers=dev.auth
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/campaigns/{cid}/codes/used", json={"codes": ["SECRETCODE01"]}, headers=dev.auth
    )
    assert r.status_code == 200
    export = await client.get(f"/api/campaigns/{cid}/export.csv", headers=dev.auth)
    assert export.status_code == 200 and "SECRETCODE02" in export.text
    invited = await client.post(
        f"/api/campaigns/{cid}/members/invites", json={"role": "viewer"}, headers=dev.auth
    )
    token = invited.json()["token"]
    await client.post("/api/invites/accept", json={"token": token}, headers=other_dev.auth)
    await client.patch(
        f"/api/campaigns/{cid}/members/{other_dev.id}", json={"role": "manager"}, headers=dev.auth
    )
    await client.delete(f"/api/campaigns/{cid}/members/{other_dev.id}", headers=dev.auth)
    assert (await client.delete(f"/api/campaigns/{cid}", headers=dev.auth)).status_code == 204

    page = (await client.get("/api/audit", params={"limit": 200}, headers=dev.auth)).json()
    mine = [e for e in page["items"] if e["campaign_id"] == cid]
    assert [e["action"] for e in reversed(mine)] == [
        "campaign.create",
        "upload.import",
        "campaign.update",
        "campaign.update",
        "code.release",
        "codes.mark_used",
        "codes.export",
        "member.invite",
        "member.join",
        "member.role",
        "member.remove",
        "campaign.delete",
    ]
    for e in mine:
        assert e["channel"] == "api"
        assert datetime.fromisoformat(e["at"].replace("Z", "+00:00")) >= started
        assert e["target"]
    assert {e["actor_id"] for e in mine} == {dev.id, other_dev.id}
    assert next(e for e in mine if e["action"] == "member.join")["actor_id"] == other_dev.id
    # the campaign is deleted, its log stays with its owner
    assert len(mine) == 12
    everything = str(await AuditEntry.all().values())
    for secret in ("SECRETCODE01", "SECRETCODE02", handed, token, dev.key):
        assert secret not in everything


async def test_api_key_creation_and_revocation_are_audited_without_the_key(
    services: object,
) -> None:
    from tests.factories import developer

    d, _ = await developer("Keys")
    audit.set_channel(AuditChannel.CLI)
    issued = await developers.issue_key(developer_id=d.id, name="ci")
    await developers.revoke_key(prefix=issued.prefix)
    rows = await AuditEntry.filter(action__startswith="key.", target=f"key:{issued.prefix}")
    assert [(r.action, r.channel, r.owner_id) for r in rows] == [
        ("key.create", "cli", d.id),
        ("key.revoke", "cli", d.id),
    ]
    assert issued.key not in str([r.detail for r in rows] + [r.target for r in rows])


async def test_a_refused_action_leaves_no_audit_row(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    before = await AuditEntry.all().count()
    r = await client.patch(f"/api/campaigns/{cid}", json={"name": ""}, headers=dev.auth)
    assert r.status_code == 422
    r = await client.delete(f"/api/campaigns/{cid}", headers=other_dev.auth)
    assert r.status_code == 404
    assert await AuditEntry.all().count() == before


async def test_the_audit_listing_is_scoped_filtered_and_paged(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    mine = await new_campaign(client, dev, name="Mine")
    theirs = await new_campaign(client, other_dev, name="Theirs")
    await client.patch(
        f"/api/campaigns/{theirs}", json={"status": "paused"}, headers=other_dev.auth
    )

    # strangers see nothing of each other (each sees their own key's creation)
    assert await _actions(client, dev) == ["campaign.create", "key.create"]
    assert await _actions(client, other_dev) == ["campaign.update", "campaign.create", "key.create"]
    r = await client.get("/api/audit", params={"campaign": theirs}, headers=dev.auth)
    assert r.status_code == 404 and r.json()["code"] == "campaign_not_found"

    # a viewer of `theirs` sees its log, filtered by campaign and actor
    invited = await client.post(
        f"/api/campaigns/{theirs}/members/invites", json={"role": "viewer"}, headers=other_dev.auth
    )
    await client.post(
        "/api/invites/accept", json={"token": invited.json()["token"]}, headers=dev.auth
    )
    assert await _actions(client, dev, campaign=theirs) == [
        "member.join",
        "member.invite",
        "campaign.update",
        "campaign.create",
    ]
    assert await _actions(client, dev, campaign=theirs, actor=other_dev.id) == [
        "member.invite",
        "campaign.update",
        "campaign.create",
    ]
    assert await _actions(client, dev, campaign=mine) == ["campaign.create"]
    future = (clock.now() + timedelta(hours=1)).isoformat()
    assert await _actions(client, dev, since=future) == []

    # pages follow `next_before` without gaps or repeats
    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if before is not None:
            params["before"] = before
        page = (await client.get("/api/audit", params=params, headers=dev.auth)).json()
        seen.extend(e["id"] for e in page["items"])
        before = page["next_before"]
        if before is None:
            break
    assert len(seen) == len(set(seen)) == 6
    assert seen == sorted(seen, reverse=True)

    bad = await client.get("/api/audit", params={"since": "yesterday"}, headers=dev.auth)
    assert bad.status_code == 422


async def test_code_generation_is_audited_with_count_and_pattern_but_no_code(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.post(
        f"/api/campaigns/{cid}/codes/generate",
        json={"count": 20, "pattern": "GEN-####-????"},
        headers=dev.auth,
    )
    assert r.status_code == 201, r.text
    (row,) = await AuditEntry.filter(campaign_public_id=cid, action="codes.generate")
    assert (row.channel, row.actor_id) == ("api", dev.id)
    assert row.detail == {"count": 20, "pattern": "GEN-####-????"}
    export = await client.get(f"/api/campaigns/{cid}/export.csv", headers=dev.auth)
    generated = [line.split(",")[0] for line in export.text.splitlines()[1:]]
    assert len(generated) == 20
    stored = str(await AuditEntry.all().values())
    assert not any(code in stored for code in generated)


async def test_webhook_changes_are_audited_with_the_host_and_never_the_secret(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    made = await client.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["claim.created"]},
        headers=dev.auth,
    )
    assert made.status_code == 201, made.text
    wid, secret = made.json()["id"], made.json()["secret"]
    r = await client.patch(f"/api/webhooks/{wid}", json={"active": False}, headers=dev.auth)
    assert r.status_code == 200, r.text
    assert (await client.delete(f"/api/webhooks/{wid}", headers=dev.auth)).status_code == 204
    rows = await AuditEntry.filter(target=f"webhook:{wid}").order_by("id")
    assert [(r.action, r.channel, r.actor_id) for r in rows] == [
        ("webhook.create", "api", dev.id),
        ("webhook.update", "api", dev.id),
        ("webhook.delete", "api", dev.id),
    ]
    assert rows[0].detail == {"host": "127.0.0.1", "events": ["claim.created"]}
    assert secret not in str([(r.target, r.detail) for r in rows])
    assert "webhook.delete" in await _actions(client, dev)
