"""The developer dashboard through HTTP: sign-in, campaigns, uploads, codes, export, live stats."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time

import httpx

from domain import campaigns, claims, codes
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.claimants import pseudonym
from domain.values import Claimant
from tests import factories
from tests.web.conftest import Dev, csrf_of, sign_in

FULL_FORM = {
    "name": "Spring sale",
    "description": "Two weeks of Pro",
    "platform": "android",
    "status": "active",
    "starts_at": "2030-04-01T10:00",
    "ends_at": "2030-04-15T10:00",
    "per_claimant_limit": "2",
    "low_stock_threshold": "25",
    "waitlist_enabled": "on",
    # Discord's rules, checkable in Discord only (domain.eligibility.CHECKABLE_ON)
    "channels": ["discord"],
    "min_account_age_days": "30",
    "min_member_days": "7",
    "required_roles": "111, 222",
    "web_signed_identity": "on",
}


async def test_signing_in_needs_a_valid_key_and_sets_a_protected_session_cookie(
    app: object,
) -> None:
    _, key = await factories.developer("Grace")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        first = await http.get("/dashboard")
        assert first.status_code == 303
        assert first.headers["location"].startswith("http://testserver/dashboard/signin")
        form = await http.get("/dashboard/signin")
        wrong = await http.post(
            "/dashboard/signin",
            data={"api_key": "cdk_00000000_" + "x" * 43, "csrf_token": csrf_of(form.text)},
        )
        assert wrong.status_code == 401 and "not valid" in wrong.text
        ok = await http.post(
            "/dashboard/signin",
            data={"api_key": key, "csrf_token": csrf_of(form.text), "next": "//evil.example"},
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
        cookie = ok.headers["set-cookie"]
        assert "cd_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        payload = value.split(".")[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        assert key.encode() not in decoded and key not in value  # only the key's digest
        home = await http.get("/dashboard")
        assert home.status_code == 200 and "Grace" in home.text


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(
    app: object, services: Services
) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        spoofed = await http.get("/dashboard/signin", headers=https)
        assert "Secure" not in spoofed.headers["set-cookie"]
        services.settings.trusted_proxies = ["127.0.0.1/32"]
        try:
            proxied = await http.get("/dashboard/signin", headers=https)
        finally:
            services.settings.trusted_proxies = []
        assert "Secure" in proxied.headers["set-cookie"]


async def test_the_session_cookie_is_secure_over_https(app: object) -> None:
    _, key = await factories.developer("Secure")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        form = await http.get("/dashboard/signin")
        assert "Secure" in form.headers["set-cookie"]
        ok = await http.post(
            "/dashboard/signin", data={"api_key": key, "csrf_token": csrf_of(form.text)}
        )
        assert "Secure" in ok.headers["set-cookie"]


async def test_creating_a_campaign_sets_every_field_the_api_has(dev: Dev) -> None:
    r = await dev.http.post("/dashboard/new", data={**FULL_FORM, "csrf_token": dev.csrf})
    assert r.status_code == 303, r.text
    cid = re.search(r"/dashboard/c/([^?]+)", r.headers["location"]).group(1)  # type: ignore[union-attr]
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=cid)
    assert (view.name, view.description, view.platform, view.status) == (
        "Spring sale",
        "Two weeks of Pro",
        "android",
        "active",
    )
    assert view.starts_at is not None and view.starts_at.isoformat().startswith("2030-04-01T10:00")
    assert (view.per_claimant_limit, view.low_stock_threshold, view.waitlist_enabled) == (
        2,
        25,
        True,
    )
    assert view.eligibility == {
        "channels": ["discord"],
        "min_account_age_days": 30,
        "min_member_days": 7,
        "required_roles": ["111", "222"],
        "web_signed_identity": True,
    }
    page = await dev.http.get(r.headers["location"])
    assert "Campaign created" in page.text and f"/c/{cid}" in page.text

    edit = await dev.http.get(f"/dashboard/c/{cid}/edit")
    assert 'value="2030-04-01T10:00"' in edit.text and 'value="111, 222"' in edit.text
    r = await dev.http.post(
        f"/dashboard/c/{cid}/edit",
        data={
            **FULL_FORM,
            "name": "Spring sale II",
            "channels": ["telegram"],
            "min_account_age_days": "",
            "min_member_days": "",
            "required_roles": "",
            "required_chats": "@mychannel",
            "csrf_token": dev.csrf,
        },
    )
    assert r.status_code == 303, r.text
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=cid)
    assert view.name == "Spring sale II"
    assert view.eligibility == {
        "channels": ["telegram"],
        "required_chats": ["@mychannel"],
        "web_signed_identity": True,
    }


async def test_rules_a_channel_cannot_check_come_back_as_a_field_error(dev: Dev) -> None:
    r = await dev.http.post(
        "/dashboard/new",
        data={
            "name": "Everyone refused",
            "min_account_age_days": "30",
            "channels": ["telegram"],
            "csrf_token": dev.csrf,
        },
    )
    assert r.status_code == 422 and 'id="min_account_age_days-err"' in r.text
    assert "cannot be checked on telegram" in r.text


async def test_a_start_status_the_domain_refuses_comes_back_as_a_field_error(dev: Dev) -> None:
    page = await dev.http.get("/dashboard/new")
    assert 'value="paused"' not in page.text  # the form offers only what the domain allows
    r = await dev.http.post(
        "/dashboard/new", data={"name": "Paused start", "status": "paused", "csrf_token": dev.csrf}
    )
    assert r.status_code == 422 and 'id="status-err"' in r.text
    assert "starts as draft or active" in r.text
    items, _ = await campaigns.list_campaigns(owner_id=dev.developer.id)
    assert items == []


async def test_a_bad_campaign_form_comes_back_with_the_errors_by_field(dev: Dev) -> None:
    r = await dev.http.post(
        "/dashboard/new",
        data={
            "name": "",
            "per_claimant_limit": "0",
            "starts_at": "2030-05-02T10:00",
            "ends_at": "2030-05-01T10:00",
            "csrf_token": dev.csrf,
        },
    )
    assert r.status_code == 422
    assert 'id="name-err"' in r.text and 'id="per_claimant_limit-err"' in r.text
    r = await dev.http.post(
        "/dashboard/new",
        data={
            "name": "Window",
            "starts_at": "2030-05-02T10:00",
            "ends_at": "2030-05-01T10:00",
            "csrf_token": dev.csrf,
        },
    )
    assert r.status_code == 422 and 'id="ends_at-err"' in r.text
    items, _ = await campaigns.list_campaigns(owner_id=dev.developer.id)
    assert items == []


async def test_pause_resume_and_end_change_the_status(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    for action, status in (("pause", "paused"), ("resume", "active"), ("end", "completed")):
        r = await dev.http.post(
            f"/dashboard/c/{c.id}/status", data={"action": action, "csrf_token": dev.csrf}
        )
        assert r.status_code == 303
        view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
        assert view.status == status
    listing = await dev.http.get("/dashboard?status=completed")
    assert c.id in listing.text and "Ended" in listing.text


async def test_a_sold_out_campaign_is_called_sold_out_and_an_upload_says_it_reopened_it(
    dev: Dev,
) -> None:
    c = await factories.campaign(dev.developer.id, name="Last one")
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(1, prefix="LAST"))
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "fan"),
        channel="web",
    )
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    badge = re.search(r'data-testid="status"[^>]*>([^<]+)<', page.text)
    assert badge and badge.group(1) == "Sold out"
    assert 'data-testid="sold-out-notice"' in page.text
    assert "Ended" not in page.text  # the claim completed it as sold out, not ended
    listing = await dev.http.get("/dashboard")
    assert ">Sold out</span>" in listing.text

    r = await dev.http.post(
        f"/dashboard/c/{c.id}/upload",
        files={"file": ("more.csv", b"code\nMORE0001\n", "text/csv")},
        headers={"X-CSRF-Token": dev.csrf, "Accept": "application/json"},
    )
    assert r.status_code == 201 and r.json()["reopened"] is True
    report = await dev.http.get(r.json()["report_url"])
    assert 'data-testid="reopened"' in report.text and "reopened it" in report.text
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    badge = re.search(r'data-testid="status"[^>]*>([^<]+)<', page.text)
    assert badge and badge.group(1) == "Active"

    # an upload into a campaign that had not sold out reopens nothing and says nothing
    again = await dev.http.post(
        f"/dashboard/c/{c.id}/upload",
        files={"file": ("more.csv", b"code\nMORE0002\n", "text/csv")},
        headers={"X-CSRF-Token": dev.csrf, "Accept": "application/json"},
    )
    assert again.json()["reopened"] is False
    report = await dev.http.get(again.json()["report_url"])
    assert 'data-testid="reopened"' not in report.text


async def test_an_ended_campaign_is_called_ended_and_can_be_reopened(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(2))
    await campaigns.act(
        events_bus=factories.BUS, developer_id=dev.developer.id, campaign_id=c.id, action=Action.END
    )
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    badge = re.search(r'data-testid="status"[^>]*>([^<]+)<', page.text)
    assert badge and badge.group(1) == "Ended"
    assert ">Reopen</button>" in page.text and "Sold out" not in page.text


async def test_an_upload_reports_imported_duplicates_and_problem_lines(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    body = b"code\nAAAA1111\nBBBB2222\nAAAA1111\nx\n"
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/upload",
        files={"file": ("codes.csv", body, "text/csv")},
        headers={"X-CSRF-Token": dev.csrf, "Accept": "application/json"},
    )
    assert r.status_code == 201, r.text
    data = r.json()
    assert (data["rows"], data["imported"], data["duplicates"], data["invalid"]) == (4, 2, 1, 1)
    report = await dev.http.get(data["report_url"])
    assert report.status_code == 200
    assert re.search(r'data-report="imported">2<', report.text)
    assert "duplicate of line 2" in report.text and "code too short" in report.text
    campaign_page = await dev.http.get(f"/dashboard/c/{c.id}")
    assert "codes.csv" in campaign_page.text

    empty = await dev.http.post(
        f"/dashboard/c/{c.id}/upload",
        files={"file": ("empty.csv", b"", "text/csv")},
        headers={"X-CSRF-Token": dev.csrf, "Accept": "application/json"},
    )
    assert empty.status_code == 422 and empty.json()["code"] == "invalid_csv"


async def test_the_codes_table_is_masked_filterable_and_paginated(
    dev: Dev, services: Services
) -> None:
    c = await factories.campaign(dev.developer.id)
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(60, prefix="PAGE"))
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "member-1"),
        channel="web",
    )
    r = await dev.http.get(f"/dashboard/c/{c.id}/codes")
    assert "PAG***000" in r.text and "PAGE000000" not in r.text
    assert "60 codes · page 1 of 2" in r.text
    page2 = await dev.http.get(f"/dashboard/c/{c.id}/codes?page=2")
    assert "PAG***059" in page2.text
    claimed = await dev.http.get(f"/dashboard/c/{c.id}/codes?status=claimed")
    assert "1 code · page 1 of 1" in claimed.text
    # a visitor's id is a bearer secret: the owner sees a per-campaign pseudonym instead
    secret = services.settings.secret_key.get_secret_value()
    assert pseudonym(secret, c.id, "web:member-1") in claimed.text
    assert "member-1" not in claimed.text


async def test_the_codes_table_names_the_campaigns_platform_for_its_codes(dev: Dev) -> None:
    ios = await factories.campaign(dev.developer.id, platform="ios")
    await factories.upload_codes(dev.developer.id, ios.id, factories.codes_csv(2))
    anything = await factories.campaign(dev.developer.id, platform="universal")
    await factories.upload_codes(
        dev.developer.id, anything.id, "code,platform\nUNIV0001,android\nUNIV0002,\n"
    )
    r = await dev.http.get(f"/dashboard/c/{ios.id}/codes")
    assert re.findall(r'<td class="hide-sm">([^<]*)</td>', r.text) == ["ios", "ios"]
    r = await dev.http.get(f"/dashboard/c/{anything.id}/codes")
    assert re.findall(r'<td class="hide-sm">([^<]*)</td>', r.text) == ["android", "any"]


async def test_codes_can_be_marked_used_released_and_exported_in_full(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(3, prefix="ROW"))
    got = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "member-1"),
        channel="web",
    )
    items, _ = await codes.list_codes(
        owner_id=dev.developer.id, campaign_id=c.id, secret_key="s", status="claimed"
    )
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/codes/{items[0].id}/release", data={"csrf_token": dev.csrf}
    )
    assert r.status_code == 303 and "Released" in (await dev.http.get(r.headers["location"])).text
    _, claimed = await codes.list_codes(
        owner_id=dev.developer.id, campaign_id=c.id, secret_key="s", status="claimed"
    )
    assert claimed == 0
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/codes/{items[0].id}/used", data={"csrf_token": dev.csrf}
    )
    assert r.status_code == 303
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/codes/mark-used",
        data={"codes": "ROW000001\nNOPE9999", "csrf_token": dev.csrf},
    )
    notice = (await dev.http.get(r.headers["location"])).text
    assert "1 marked used, 0 already used, 1 not in this campaign." in notice
    _, used = await codes.list_codes(
        owner_id=dev.developer.id, campaign_id=c.id, secret_key="s", status="used"
    )
    assert used == 2
    export = await dev.http.get(f"/dashboard/c/{c.id}/export.csv")
    assert export.status_code == 200 and export.headers["cache-control"].startswith("no-store")
    assert got.code in export.text and "ROW000002" in export.text
    assert export.headers["content-disposition"].startswith("attachment")


async def test_the_campaign_page_shows_every_share_link(dev: Dev, services: Services) -> None:
    services.settings.telegram_bot_username = "@codedrop_bot"
    try:
        c = await factories.campaign(dev.developer.id, name="Share me")
        r = await dev.http.get(f"/dashboard/c/{c.id}")
    finally:
        services.settings.telegram_bot_username = None
    assert f"http://127.0.0.1:8000/c/{c.id}" in r.text
    assert f"https://t.me/codedrop_bot?start={c.id}" in r.text
    assert "/drop campaign:Share me" in r.text
    assert "cis_" in r.text  # the campaign's identity secret for signed claims


async def test_the_stats_snapshot_counts_claims_by_channel_and_minute(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(5))
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("telegram", "1"),
        channel="telegram",
    )
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "abc"),
        channel="web",
    )
    # an anonymous caller of the public API is not a claim-page visitor: counted apart
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("anon", "p-1"),
        channel="web",
    )
    r = await dev.http.get(f"/dashboard/c/{c.id}/stats.json")
    s = r.json()
    assert (s["available"], s["claimed"], s["claims_total"]) == (2, 3, 3)
    assert s["by_channel"] == {
        "telegram": 1,
        "discord": 0,
        "web": 1,
        "api": 0,
        "api_anonymous": 1,
    }
    assert len(s["per_minute"]) == 30 and s["per_minute"][-1]["n"] == 3
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    assert "API (anonymous): public <code>POST /api/distribute</code>" in page.text


async def read_stats(lines: object, deadline: float) -> dict[str, object]:
    """The next `stats` frame of an SSE stream."""
    async with asyncio.timeout(deadline):
        async for line in lines:  # type: ignore[attr-defined]
            if line.startswith("data: "):
                return json.loads(line.removeprefix("data: "))  # type: ignore[no-any-return]
    raise AssertionError("stream ended")


async def test_live_stats_stream_a_new_snapshot_within_a_second_of_a_claim(
    live_server: str, services: Services
) -> None:
    dev, key = await factories.developer("Live")
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        await sign_in(http, key)
        async with http.stream("GET", f"/dashboard/c/{c.id}/live") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            first = await read_stats(lines, 5)
            assert first["claimed"] == 0
            started = time.perf_counter()
            await claims.claim(
                campaign_id=c.id,
                claimant=Claimant.of("discord", "77"),
                channel="discord",
                events_bus=services.events,
            )
            second = await read_stats(lines, 1)
            elapsed = time.perf_counter() - started
            print(f"SSE snapshot {elapsed * 1000:.0f} ms after the claim")
    assert second["claimed"] == 1 and second["available"] == 4
    assert second["by_channel"]["discord"] == 1  # type: ignore[index]
    assert elapsed < 1.0
