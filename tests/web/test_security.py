"""Dashboard security: no session, a wrong CSRF token, and another developer's campaigns."""

from __future__ import annotations

import httpx
import pytest

from domain import campaigns
from tests import factories
from tests.web.conftest import Dev, sign_in

STATE_CHANGES = [
    ("/dashboard/new", {"name": "Sneaky"}),
    ("/dashboard/c/{cid}/edit", {"name": "Renamed"}),
    ("/dashboard/c/{cid}/status", {"action": "pause"}),
    ("/dashboard/c/{cid}/delete", {"confirm": "Launch week"}),
    ("/dashboard/c/{cid}/codes/mark-used", {"codes": "SECU000000"}),
]


async def test_every_dashboard_page_needs_a_session(client: httpx.AsyncClient) -> None:
    owner, _ = await factories.developer("Owner")
    c = await factories.campaign(owner.id)
    for path in (
        "/dashboard",
        "/dashboard/new",
        f"/dashboard/c/{c.id}",
        f"/dashboard/c/{c.id}/codes",
    ):
        r = await client.get(path)
        assert r.status_code == 303 and "/dashboard/signin?next=" in r.headers["location"]
    for path in (
        f"/dashboard/c/{c.id}/live",
        f"/dashboard/c/{c.id}/stats.json",
        f"/dashboard/c/{c.id}/export.csv",
    ):
        r = await client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 401
    for path, data in STATE_CHANGES:
        r = await client.post(path.format(cid=c.id), data=data)
        assert r.status_code == 401, path
    view = await campaigns.get_campaign(owner_id=owner.id, campaign_id=c.id)
    assert (view.name, view.status) == ("Launch week", "active")


@pytest.mark.parametrize("token", [None, "", "forged-token"])
async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    dev: Dev, token: str | None
) -> None:
    c = await factories.campaign(dev.developer.id)
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(1, prefix="SECU"))
    for path, data in STATE_CHANGES:
        body = dict(data)
        if token is not None:
            body["csrf_token"] = token
        r = await dev.http.post(path.format(cid=c.id), data=body)
        assert r.status_code == 403, path
        assert "Form expired" in r.text
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/upload",
        files={"file": ("codes.csv", b"code\nSECU999999\n", "text/csv")},
        headers={"Accept": "application/json", "X-CSRF-Token": token or "x"},
    )
    assert r.status_code == 403
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
    assert (view.name, view.status, view.stock.total, view.stock.used) == (
        "Launch week",
        "active",
        1,
        0,
    )
    _items, total = await campaigns.list_campaigns(owner_id=dev.developer.id)
    assert total == 1


async def test_a_token_from_another_session_does_not_work(dev: Dev, app: object) -> None:
    _other, key = await factories.developer("Mallory")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        mallory_csrf = await sign_in(http, key)
    c = await factories.campaign(dev.developer.id)
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/status", data={"action": "pause", "csrf_token": mallory_csrf}
    )
    assert r.status_code == 403


async def test_one_developer_never_sees_another_developers_campaign(dev: Dev) -> None:
    other, _ = await factories.developer("Other")
    theirs = await factories.campaign(other.id, name="Their secret launch")
    await factories.upload_codes(other.id, theirs.id, factories.codes_csv(2, prefix="THEM"))
    mine = await factories.campaign(dev.developer.id, name="My launch")
    listing = await dev.http.get("/dashboard")
    assert "My launch" in listing.text
    assert "Their secret launch" not in listing.text and theirs.id not in listing.text
    for path in (
        "/dashboard/c/{cid}",
        "/dashboard/c/{cid}/edit",
        "/dashboard/c/{cid}/codes",
        "/dashboard/c/{cid}/stats.json",
        "/dashboard/c/{cid}/live",
        "/dashboard/c/{cid}/export.csv",
    ):
        r = await dev.http.get(path.format(cid=theirs.id))
        assert r.status_code == 404, path
        assert "THEM0000" not in r.text and "Their secret launch" not in r.text
    for path, data in STATE_CHANGES:
        r = await dev.http.post(path.format(cid=theirs.id), data={**data, "csrf_token": dev.csrf})
        if path == "/dashboard/new":
            continue
        assert r.status_code == 404, path
    r = await dev.http.post(
        f"/dashboard/c/{theirs.id}/upload",
        files={"file": ("codes.csv", b"code\nMINE00001\n", "text/csv")},
        headers={"Accept": "application/json", "X-CSRF-Token": dev.csrf},
    )
    assert r.status_code == 404
    view = await campaigns.get_campaign(owner_id=other.id, campaign_id=theirs.id)
    assert (view.name, view.status, view.stock.total) == ("Their secret launch", "active", 2)
    assert mine.id != theirs.id


async def test_signing_out_clears_the_session(dev: Dev) -> None:
    r = await dev.http.post("/dashboard/signout", data={"csrf_token": dev.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/signin"
    assert 'cd_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    again = await dev.http.get("/dashboard")
    assert again.status_code == 303


async def test_a_revoked_key_ends_its_dashboard_sessions(dev: Dev) -> None:
    from domain import developers

    await developers.revoke_key(prefix=dev.key)
    r = await dev.http.get("/dashboard")
    assert r.status_code == 303 and "/dashboard/signin" in r.headers["location"]


async def test_the_cookie_of_a_signed_out_session_opens_nothing(dev: Dev) -> None:
    cookie = dev.http.cookies["cd_session"]
    r = await dev.http.post("/dashboard/signout", data={"csrf_token": dev.csrf})
    assert r.status_code == 303
    # an attacker kept a copy of the cookie from before the sign-out
    dev.http.cookies.set("cd_session", cookie)
    page = await dev.http.get("/dashboard")
    assert page.status_code == 303 and "/dashboard/signin" in page.headers["location"]
    created = await dev.http.post(
        "/dashboard/new", data={"name": "After sign-out", "csrf_token": dev.csrf}
    )
    assert created.status_code in (303, 401) and "/dashboard/c/" not in created.headers.get(
        "location", ""
    )
    listed, _ = await campaigns.list_campaigns(owner_id=dev.developer.id)
    assert listed == []


async def test_another_session_of_the_same_key_survives_a_sign_out(dev: Dev, app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await sign_in(other, dev.key)
        await dev.http.post("/dashboard/signout", data={"csrf_token": dev.csrf})
        assert (await other.get("/dashboard")).status_code == 200


async def test_a_notice_in_the_url_shows_only_fixed_texts(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    forged = "Your key expired: sign in again at https://evil.example"
    page = await dev.http.get(f"/dashboard/c/{c.id}/codes", params={"notice": forged})
    assert page.status_code == 200 and "evil.example" not in page.text
    assert 'data-testid="notice"' not in page.text
    known = await dev.http.get(f"/dashboard/c/{c.id}/codes", params={"notice": "released"})
    assert "Released to the pool" in known.text
    counts = await dev.http.get(
        f"/dashboard/c/{c.id}/codes",
        params={"notice": "bulk", "updated": "3", "skipped": "<b>x</b>", "missing": "1"},
    )
    assert "3 marked used, 0 already used, 1 not in this campaign." in counts.text
