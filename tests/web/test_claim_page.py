"""The public claim page through HTTP: every state, the claim, the waitlist, signed identities."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from domain import campaigns, clock, waitlist
from domain.campaign_state import Action
from domain.claim_identity import sign_identity
from domain.settings import Settings
from tests import factories
from tests.web.conftest import csrf_of


async def open_campaign(n: int = 3, **fields: object) -> tuple[int, str, list[str]]:
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, **fields)
    text = factories.codes_csv(n, prefix="WEBC")
    await factories.upload_codes(dev.id, c.id, text)
    return dev.id, c.id, [f"WEBC{i:06d}" for i in range(n)]


def state_of(html: str) -> str:
    found = re.search(r'data-state="([a-z_]+)"', html)
    assert found
    return found.group(1)


async def test_an_open_campaign_shows_its_card_and_no_code_before_the_claim(
    visitor: httpx.AsyncClient,
) -> None:
    _, cid, codes = await open_campaign(3, description="Free month of Pro", platform="ios")
    r = await visitor.get(f"/c/{cid}")
    assert r.status_code == 200
    assert state_of(r.text) == "open"
    assert "Launch week" in r.text and "Free month of Pro" in r.text
    assert "Get my code" in r.text and 'data-testid="codes-left">3<' in r.text
    assert not any(code in r.text for code in codes)
    assert r.headers["cache-control"].startswith("no-store")
    cookie = r.headers["set-cookie"]
    assert "cd_claimant=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure


async def test_a_claim_shows_the_code_with_its_hint_and_a_reload_gives_the_same_one(
    visitor: httpx.AsyncClient,
) -> None:
    _, cid, codes = await open_campaign(3, platform="ios")
    page = await visitor.get(f"/c/{cid}")
    r = await visitor.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith("no-store")
    shown = re.search(r'data-testid="code">([A-Z0-9]+)<', r.text)
    assert shown and shown.group(1) in codes
    code = shown.group(1)
    assert f"apps.apple.com/redeem?code={code}" in r.text
    assert code not in str(r.url)

    again = await visitor.get(f"/c/{cid}")
    assert code not in again.text, "a plain GET never carries the code"
    assert "Show my code" in again.text
    r2 = await visitor.post(
        f"/c/{cid}/claim",
        data={"csrf_token": csrf_of(again.text)},
        headers={"Accept": "application/json"},
    )
    assert r2.status_code == 200
    assert r2.json()["code"] == code and r2.json()["repeated"] is True
    assert r2.headers["cache-control"].startswith("no-store")


async def test_a_member_who_took_the_last_code_sees_it_first_after_a_reload(
    visitor: httpx.AsyncClient,
) -> None:
    _, cid, codes = await open_campaign(1, platform="ios")
    page = await visitor.get(f"/c/{cid}")
    r = await visitor.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)})
    assert 'data-testid="code">WEBC000000<' in r.text

    again = await visitor.get(f"/c/{cid}")
    assert state_of(again.text) == "sold_out"
    assert "Show my code" in again.text and "claim-form" in again.text
    assert "Join the waitlist" not in again.text and "waitlist-form" not in again.text
    assert codes[0] not in again.text, "a plain GET never carries the code"
    shown = await visitor.post(
        f"/c/{cid}/claim",
        data={"csrf_token": csrf_of(again.text)},
        headers={"Accept": "application/json"},
    )
    assert shown.status_code == 200 and shown.json()["code"] == codes[0]


async def test_a_member_who_holds_a_code_sees_it_first_when_the_campaign_paused_or_ended(
    visitor: httpx.AsyncClient,
) -> None:
    dev_id, cid, codes = await open_campaign(2)
    page = await visitor.get(f"/c/{cid}")
    r = await visitor.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)})
    code = re.search(r'data-testid="code">([A-Z0-9]+)<', r.text)
    assert code and code.group(1) in codes
    for action, state in ((Action.PAUSE, "paused"), (Action.END, "ended")):
        await campaigns.act(
            events_bus=factories.BUS, developer_id=dev_id, campaign_id=cid, action=action
        )
        again = await visitor.get(f"/c/{cid}")
        assert state_of(again.text) == state
        assert "Show my code" in again.text, state
        shown = await visitor.post(
            f"/c/{cid}/claim",
            data={"csrf_token": csrf_of(again.text)},
            headers={"Accept": "application/json"},
        )
        assert shown.json()["code"] == code.group(1)


async def test_two_visitors_get_two_different_codes(app: object) -> None:
    _, cid, _ = await open_campaign(2)
    got = []
    for _ in range(2):
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            page = await http.get(f"/c/{cid}")
            r = await http.post(
                f"/c/{cid}/claim",
                data={"csrf_token": csrf_of(page.text)},
                headers={"Accept": "application/json"},
            )
            got.append(r.json()["code"])
    assert len(set(got)) == 2


async def test_the_visitors_platform_is_preselected_from_the_user_agent(
    visitor: httpx.AsyncClient,
) -> None:
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, platform="universal")
    await factories.upload_codes(
        dev.id, c.id, "code,platform\nIOSCODE1,ios\nANDCODE1,android\nSTEAMKEY1,steam\n"
    )
    r = await visitor.get(f"/c/{c.id}")
    assert re.search(r'<option value="ios" selected>', r.text)
    android = await visitor.get(
        f"/c/{c.id}", headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8)"}
    )
    assert re.search(r'<option value="android" selected>', android.text)
    r = await visitor.post(
        f"/c/{c.id}/claim",
        data={"csrf_token": csrf_of(r.text), "platform": "steam"},
        headers={"Accept": "application/json"},
    )
    assert r.json()["code"] == "STEAMKEY1"
    assert "store.steampowered.com" in r.json()["hint"]


async def test_a_sold_out_campaign_offers_the_waitlist_and_stores_the_address(
    visitor: httpx.AsyncClient, app: object
) -> None:
    _, cid, _ = await open_campaign(1)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
        page = await other.get(f"/c/{cid}")
        await other.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)})
    r = await visitor.get(f"/c/{cid}")
    assert state_of(r.text) == "sold_out"
    assert "Sold out" in r.text and 'id="waitlist-form"' in r.text
    assert "no mail transport is configured" in r.text
    bad = await visitor.post(
        f"/c/{cid}/waitlist", data={"csrf_token": csrf_of(r.text), "email": "not-an-address"}
    )
    assert bad.status_code == 422 and "e-mail address like" in bad.text
    ok = await visitor.post(
        f"/c/{cid}/waitlist", data={"csrf_token": csrf_of(r.text), "email": "fan@example.com"}
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("?waitlist=1")
    joined = await visitor.get(ok.headers["location"])
    assert 'data-testid="waitlist-joined"' in joined.text
    assert "sends no e-mail" in joined.text
    assert await waitlist.size(campaign_id=cid) == 1
    entries = await waitlist.waiting(campaign_id=cid, channel="web")
    assert [e.contact for e in entries] == ["fan@example.com"]


async def test_a_sold_out_campaign_without_waitlist_offers_none(
    visitor: httpx.AsyncClient,
) -> None:
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, waitlist_enabled=False)
    r = await visitor.get(f"/c/{c.id}")
    assert state_of(r.text) == "sold_out"
    assert "waitlist-form" not in r.text and "Join the waitlist" not in r.text


async def test_a_paused_campaign_says_so_and_refuses_a_claim(
    visitor: httpx.AsyncClient,
) -> None:
    dev_id, cid, codes = await open_campaign(2)
    page = await visitor.get(f"/c/{cid}")
    await campaigns.act(
        events_bus=factories.BUS, developer_id=dev_id, campaign_id=cid, action=Action.PAUSE
    )
    r = await visitor.get(f"/c/{cid}")
    assert state_of(r.text) == "paused" and "Paused." in r.text
    assert "claim-form" not in r.text
    refused = await visitor.post(
        f"/c/{cid}/claim",
        data={"csrf_token": csrf_of(page.text)},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "campaign_not_active"
    assert not any(code in refused.text for code in codes)


async def test_a_campaign_not_started_shows_a_countdown_and_a_disabled_claim_button(
    visitor: httpx.AsyncClient,
) -> None:
    starts = clock.now().replace(microsecond=0) + timedelta(hours=5)
    _, cid, _ = await open_campaign(2, starts_at=starts)
    r = await visitor.get(f"/c/{cid}")
    assert state_of(r.text) == "not_started"
    assert f'data-starts="{starts.isoformat()}"' in r.text
    assert 'id="countdown"' in r.text and 'id="claim-form"' in r.text
    assert 'id="claim-button" disabled' in r.text


async def test_an_ended_campaign_says_it_has_ended(visitor: httpx.AsyncClient) -> None:
    now = clock.now()
    _, cid, _ = await open_campaign(
        2, starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)
    )
    r = await visitor.get(f"/c/{cid}")
    assert state_of(r.text) == "ended" and "has ended" in r.text
    assert "claim-form" not in r.text


async def test_unknown_and_draft_campaigns_are_a_friendly_404(
    visitor: httpx.AsyncClient,
) -> None:
    dev, _ = await factories.developer("Owner")
    draft = await factories.campaign(dev.id, status="draft")
    for cid in ("nope-nope-nope", draft.id):
        r = await visitor.get(f"/c/{cid}")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("text/html")
        assert "Campaign not found" in r.text


async def test_a_claim_without_the_pages_token_or_cookie_is_refused(
    visitor: httpx.AsyncClient, app: object
) -> None:
    _, cid, _ = await open_campaign(2)
    await visitor.get(f"/c/{cid}")
    r = await visitor.post(f"/c/{cid}/claim", data={"csrf_token": "forged"})
    assert r.status_code == 403
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as cookieless:
        r = await cookieless.post(f"/c/{cid}/claim", data={"csrf_token": "x"})
        assert r.status_code == 400 and "Cookies needed" in r.text


async def test_a_signed_identity_is_required_when_the_developer_asks_and_matches_the_api(
    visitor: httpx.AsyncClient, settings: Settings, client: httpx.AsyncClient
) -> None:
    dev, key = await factories.developer("Owner")
    c = await factories.campaign(dev.id, eligibility={"web_signed_identity": True})
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3, prefix="SIGN"))
    page = await visitor.get(f"/c/{c.id}")
    anonymous = await visitor.post(
        f"/c/{c.id}/claim",
        data={"csrf_token": csrf_of(page.text)},
        headers={"Accept": "application/json"},
    )
    assert anonymous.status_code == 403 and anonymous.json()["code"] == "not_eligible"

    secret = settings.secret_key.get_secret_value()
    token = sign_identity(secret, c.id, "user-42", expires_at=clock.now() + timedelta(hours=1))
    page = await visitor.get(f"/c/{c.id}", params={"identity": token})
    assert page.headers["referrer-policy"] == "no-referrer"
    signed = await visitor.post(
        f"/c/{c.id}/claim",
        data={"csrf_token": csrf_of(page.text), "identity": token},
        headers={"Accept": "application/json"},
    )
    assert signed.status_code == 200, signed.text
    # the developer's backend claiming for the same user gets the same code
    api = await client.post(
        f"/api/distribute/{c.id}",
        json={"user_identifier": "user-42"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert api.json()["code"] == signed.json()["code"]

    forged = sign_identity("another-secret", c.id, "user-43", expires_at=clock.now())
    bad = await visitor.get(f"/c/{c.id}", params={"identity": forged})
    assert "signature does not match" in bad.text
    expired = sign_identity(secret, c.id, "user-44", expires_at=clock.now() - timedelta(minutes=5))
    r = await visitor.post(
        f"/c/{c.id}/claim",
        data={"csrf_token": csrf_of(page.text), "identity": expired},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 403 and r.json()["code"] == "invalid_identity"
