"""Campaign members through the API: invitations work once and before they expire, roles
change what a member may do, and a member sees the campaign in their own listings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from domain import clock
from domain.models import CampaignMember, Invite
from tests.api.conftest import Dev, new_campaign, upload
from tests.factories import developer


async def _invite(client: httpx.AsyncClient, owner: Dev, cid: str, role: str) -> str:
    r = await client.post(
        f"/api/campaigns/{cid}/members/invites", json={"role": role}, headers=owner.auth
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == role and r.json()["campaign_id"] == cid
    return str(r.json()["token"])


async def test_an_invitation_is_accepted_once_and_its_reuse_is_refused(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    token = await _invite(client, dev, cid, "viewer")
    assert token not in str(await Invite.all().values())  # only its hash is stored

    first = await client.post("/api/invites/accept", json={"token": token}, headers=other_dev.auth)
    assert first.status_code == 200, first.text
    assert first.json() == {"campaign_id": cid, "campaign_name": "Launch", "role": "viewer"}

    third, key = await developer("Trent")
    again = await client.post(
        "/api/invites/accept", json={"token": token}, headers={"Authorization": f"Bearer {key}"}
    )
    assert again.status_code == 409 and again.json()["code"] == "invite_used"
    assert not await CampaignMember.exists(developer_id=third.id)

    listed = (await client.get("/api/campaigns", headers=other_dev.auth)).json()
    assert [(c["id"], c["role"]) for c in listed["items"]] == [(cid, "viewer")]
    members = (await client.get(f"/api/campaigns/{cid}/members", headers=other_dev.auth)).json()
    assert [(m["developer_id"], m["role"], m["is_owner"]) for m in members] == [
        (dev.id, "owner", True),
        (other_dev.id, "viewer", False),
    ]


async def test_two_developers_racing_for_one_invitation_leave_one_member(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    token = await _invite(client, dev, cid, "manager")
    _, key = await developer("Trent")
    answers = await asyncio.gather(
        client.post("/api/invites/accept", json={"token": token}, headers=other_dev.auth),
        client.post(
            "/api/invites/accept", json={"token": token}, headers={"Authorization": f"Bearer {key}"}
        ),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert await CampaignMember.filter(campaign__public_id=cid).count() == 1


async def test_an_expired_or_unknown_invitation_is_refused(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    token = await _invite(client, dev, cid, "manager")
    await Invite.all().update(expires_at=clock.now() - timedelta(seconds=1))
    r = await client.post("/api/invites/accept", json={"token": token}, headers=other_dev.auth)
    assert r.status_code == 410 and r.json()["code"] == "invite_expired"
    r = await client.post(
        "/api/invites/accept", json={"token": "cdi_nosuchtoken"}, headers=other_dev.auth
    )
    assert r.status_code == 404 and r.json()["code"] == "invite_not_found"
    assert not await CampaignMember.exists(developer_id=other_dev.id)
    # and the stranger still cannot see the campaign
    assert (await client.get(f"/api/campaigns/{cid}", headers=other_dev.auth)).status_code == 404


async def test_an_owner_changes_a_role_and_removes_a_member_who_then_gets_404(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    token = await _invite(client, dev, cid, "viewer")
    await client.post("/api/invites/accept", json={"token": token}, headers=other_dev.auth)
    refused = await upload(client, other_dev, cid, b"code\nMEMB0001\n")
    assert refused.status_code == 403 and refused.json()["required_role"] == "manager"

    r = await client.patch(
        f"/api/campaigns/{cid}/members/{other_dev.id}", json={"role": "manager"}, headers=dev.auth
    )
    assert r.status_code == 200 and r.json()["role"] == "manager"
    assert (await upload(client, other_dev, cid, b"code\nMEMB0001\n")).status_code == 201
    # a manager still cannot export full codes nor invite
    export = await client.get(f"/api/campaigns/{cid}/export.csv", headers=other_dev.auth)
    assert export.status_code == 403 and export.json()["required_role"] == "owner"
    assert "MEMB0001" not in export.text

    # the owner cannot be demoted
    r = await client.patch(
        f"/api/campaigns/{cid}/members/{dev.id}", json={"role": "viewer"}, headers=dev.auth
    )
    assert r.status_code == 422

    r = await client.delete(f"/api/campaigns/{cid}/members/{other_dev.id}", headers=dev.auth)
    assert r.status_code == 204
    assert (await client.get(f"/api/campaigns/{cid}", headers=other_dev.auth)).status_code == 404


async def test_a_member_may_leave_but_a_viewer_may_not_remove_others(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await client.post(
        "/api/invites/accept",
        json={"token": await _invite(client, dev, cid, "viewer")},
        headers=other_dev.auth,
    )
    third, key = await developer("Trent")
    trent = {"Authorization": f"Bearer {key}"}
    await client.post(
        "/api/invites/accept",
        json={"token": await _invite(client, dev, cid, "viewer")},
        headers=trent,
    )
    r = await client.delete(f"/api/campaigns/{cid}/members/{third.id}", headers=other_dev.auth)
    assert r.status_code == 403 and r.json()["code"] == "role_forbidden"
    r = await client.delete(f"/api/campaigns/{cid}/members/{other_dev.id}", headers=other_dev.auth)
    assert r.status_code == 204
    assert await CampaignMember.filter(campaign__public_id=cid).count() == 1
