"""Members and the audit log on the dashboard: an owner invites, another developer joins with
the token, roles hold on the dashboard's own forms, and dashboard actions are audited with
the `dashboard` channel."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from domain.models import AuditEntry, CampaignMember
from tests import factories
from tests.web.conftest import Dev, sign_in


@pytest.fixture
async def guest(app: object) -> AsyncIterator[Dev]:
    """A second developer signed in to the dashboard."""
    developer, key = await factories.developer("Grace")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Dev(developer, key, http, await sign_in(http, key))


async def test_an_owner_invites_on_the_dashboard_and_the_guest_joins_once(
    dev: Dev, guest: Dev
) -> None:
    c = await factories.campaign(dev.developer.id, name="Shared")
    assert (await guest.http.get(f"/dashboard/c/{c.id}/members")).status_code == 404

    page = await dev.http.post(
        f"/dashboard/c/{c.id}/members/invite", data={"role": "viewer", "csrf_token": dev.csrf}
    )
    assert page.status_code == 200, page.text
    token = re.search(r'data-testid="invite-token">([^<]+)<', page.text)
    assert token is not None

    joined = await guest.http.post(
        "/dashboard/join", data={"token": token.group(1), "csrf_token": guest.csrf}
    )
    assert joined.status_code == 303 and joined.headers["location"] == f"/dashboard/c/{c.id}"
    members = await guest.http.get(f"/dashboard/c/{c.id}/members")
    assert members.status_code == 200 and 'data-testid="my-role">viewer<' in members.text
    assert "Shared" in (await guest.http.get("/dashboard")).text
    # a viewer sees the live numbers
    stats = await guest.http.get(f"/dashboard/c/{c.id}/stats.json")
    assert stats.status_code == 200, stats.text
    # a viewer is not offered what they may not do
    assert "Delete campaign" not in (await guest.http.get(f"/dashboard/c/{c.id}")).text
    assert "Delete campaign" in (await dev.http.get(f"/dashboard/c/{c.id}")).text
    assert "export.csv" not in (await guest.http.get(f"/dashboard/c/{c.id}/codes")).text

    again = await guest.http.post(
        "/dashboard/join", data={"token": token.group(1), "csrf_token": guest.csrf}
    )
    assert again.status_code == 409

    # a viewer's write on the dashboard is a 403 naming the role, and changes nothing
    r = await guest.http.post(
        f"/dashboard/c/{c.id}/status", data={"action": "pause", "csrf_token": guest.csrf}
    )
    assert r.status_code == 403 and "manager" in r.text
    export = await guest.http.get(f"/dashboard/c/{c.id}/export.csv")
    assert export.status_code == 403

    # the owner promotes, then removes the guest
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/members/{guest.developer.id}",
        data={"action": "role", "role": "manager", "csrf_token": dev.csrf},
    )
    assert r.status_code == 303
    assert (await CampaignMember.get(developer_id=guest.developer.id)).role == "manager"
    r = await guest.http.post(
        f"/dashboard/c/{c.id}/status", data={"action": "pause", "csrf_token": guest.csrf}
    )
    assert r.status_code == 303
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/members/{guest.developer.id}",
        data={"action": "remove", "csrf_token": dev.csrf},
    )
    assert r.status_code == 303
    assert (await guest.http.get(f"/dashboard/c/{c.id}")).status_code == 404


async def test_dashboard_actions_are_audited_as_dashboard_and_listed_on_its_page(
    dev: Dev, guest: Dev
) -> None:
    r = await dev.http.post(
        "/dashboard/new", data={"name": "Audited", "platform": "universal", "csrf_token": dev.csrf}
    )
    assert r.status_code == 303, r.text
    cid = r.headers["location"].split("/c/")[1].split("?")[0]
    await dev.http.post(
        f"/dashboard/c/{cid}/status", data={"action": "pause", "csrf_token": dev.csrf}
    )
    up = await dev.http.post(
        f"/dashboard/c/{cid}/upload",
        files={"file": ("codes.csv", b"code\nDASHCODE0001\n", "text/csv")},
        headers={"X-CSRF-Token": dev.csrf, "Accept": "application/json"},
    )
    assert up.status_code == 201
    export = await dev.http.get(f"/dashboard/c/{cid}/export.csv")
    assert "DASHCODE0001" in export.text

    rows = await AuditEntry.filter(campaign_public_id=cid).order_by("id")
    assert [(r.action, r.channel, r.actor_id) for r in rows] == [
        ("campaign.create", "dashboard", dev.developer.id),
        ("campaign.update", "dashboard", dev.developer.id),
        ("upload.import", "dashboard", dev.developer.id),
        ("codes.export", "dashboard", dev.developer.id),
    ]
    assert "DASHCODE0001" not in str([(r.target, r.detail) for r in rows])

    page = await dev.http.get(f"/dashboard/audit?campaign={cid}&actor=&since=")
    assert page.status_code == 200
    assert page.text.count('data-channel="dashboard"') == 4 and "codes.export" in page.text
    # another developer sees none of it, and the campaign filter is a 404 for them
    assert cid not in (await guest.http.get("/dashboard/audit")).text
    assert (await guest.http.get(f"/dashboard/audit?campaign={cid}")).status_code == 404
    assert (await dev.http.get("/dashboard/audit?since=yesterday")).status_code == 422
