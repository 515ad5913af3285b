"""Sign in with Discord / Telegram on the claim page, and `verified` campaigns, through HTTP.

The app talks to local protocol fakes: tests/fakes/discord.py for Discord's OAuth2 (state,
PKCE S256, the client secret, `/users/@me` and the guild member object) and
tests/fakes/telegram_login.py for the Login Widget's signed fields. Runs on SQLite and MariaDB.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiogram.types import User
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr

from api.app import create_app
from bots.discord.mapping import NAMESPACE as DISCORD_NAMESPACE
from bots.telegram.mapping import claimant_of as telegram_claimant_of
from domain import campaigns, claims, posts
from domain.adapters.bootstrap import Services
from domain.eligibility import FactSources
from domain.models import Claim
from domain.values import Channel, Claimant
from tests import factories
from tests.fakes.discord import FakeDiscord, FakeMember, snowflake_at
from tests.fakes.telegram_login import FakeTelegramLogin, sign
from tests.web.conftest import Dev, csrf_of

TG_TOKEN = "123456:TEST-login-token"
TG_BOT = "codedrop_test_bot"
JSON = {"Accept": "application/json"}


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegramLogin]:
    fake = FakeTelegramLogin(TG_TOKEN, TG_BOT)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def with_signin(
    services: Services,
    discord: FakeDiscord | None,
    telegram: FakeTelegramLogin | None,
    public_url: str = "http://testserver",
) -> Services:
    """The test services with the sign-ins that are given configured."""
    update: dict[str, object] = {"public_url": public_url}
    if discord is not None:
        update.update(
            discord_client_id=discord.client_id,
            discord_client_secret=SecretStr(discord.client_secret),
            discord_oauth_url=discord.base_url,
        )
    if telegram is not None:
        update.update(
            telegram_bot_token=SecretStr(TG_TOKEN),
            telegram_bot_username=TG_BOT,
            telegram_login_url=telegram.base_url,
        )
    return dataclasses.replace(services, settings=services.settings.model_copy(update=update))


def browser_of(services: Services) -> httpx.AsyncClient:
    """A member's browser (own cookie jar) on an app built with these services."""
    app = create_app(services.settings, services, manage_database=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def signin_services(
    services: Services, fake_discord: FakeDiscord, fake_telegram: FakeTelegramLogin
) -> Services:
    """Both sign-ins configured against the fakes."""
    return with_signin(services, fake_discord, fake_telegram)


@pytest.fixture
async def member_browser(signin_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_of(signin_services) as http:
        yield http


def alice_in(fake: FakeDiscord, *, roles: list[int] | None = None, days: float = 100) -> FakeMember:
    """A Discord member of the fake's server, approving the next sign-in."""
    now = datetime.now(UTC)
    alice = FakeMember(
        id=snowflake_at(now - timedelta(days=400), 7),
        name="alice",
        roles=roles or [],
        joined_at=now - timedelta(days=days),
    )
    fake.guild_members[alice.id] = alice
    fake.authorizer = alice
    return alice


async def campaign_with_codes(n: int = 3, **fields: object) -> tuple[int, str, list[str]]:
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, **fields)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(n, prefix="SIGN"))
    return dev.id, c.id, [f"SIGN{i:06d}" for i in range(n)]


async def discord_round_trip(http: httpx.AsyncClient, cid: str) -> tuple[str, httpx.Response]:
    """Press "Sign in with Discord", approve at the fake, come back: (callback URL, answer)."""
    start = await http.get(f"/c/{cid}/signin/discord")
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as net:  # the member's browser visiting Discord
        approved = await net.get(start.headers["location"])
    assert approved.status_code == 302, approved.text
    callback = approved.headers["location"]
    assert callback.startswith("http://testserver/signin/discord/callback?")
    return callback, await http.get(callback)


async def claim_on_page(http: httpx.AsyncClient, cid: str) -> httpx.Response:
    page = await http.get(f"/c/{cid}")
    return await http.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)}, headers=JSON)


async def test_the_page_shows_only_the_sign_in_buttons_that_are_configured(
    services: Services, fake_discord: FakeDiscord, fake_telegram: FakeTelegramLogin
) -> None:
    _, cid, _ = await campaign_with_codes()
    cases = [
        (None, None, False, False),
        (fake_discord, None, True, False),
        (None, fake_telegram, False, True),
        (fake_discord, fake_telegram, True, True),
    ]
    for discord, telegram, wants_discord, wants_telegram in cases:
        async with browser_of(with_signin(services, discord, telegram)) as http:
            r = await http.get(f"/c/{cid}", headers={"Accept": "text/html"})
        assert r.status_code == 200
        assert ("Sign in with Discord" in r.text) is wants_discord
        widget = f'src="{fake_telegram.base_url}/js/telegram-widget.js?22"'
        assert (widget in r.text) is wants_telegram
        assert (f'data-telegram-login="{TG_BOT}"' in r.text) is wants_telegram
        csp = r.headers["content-security-policy"]
        assert (fake_telegram.base_url in csp) is wants_telegram
        assert "Get my code" in r.text  # an anonymous campaign still takes anonymous claims
        # an unconfigured sign-in has no route either
        async with browser_of(with_signin(services, discord, telegram)) as http:
            start = await http.get(f"/c/{cid}/signin/discord")
        assert (start.status_code == 303) is wants_discord


async def test_a_member_signed_in_with_discord_sees_the_code_the_discord_bot_gave_them(
    member_browser: httpx.AsyncClient, fake_discord: FakeDiscord
) -> None:
    _, cid, codes = await campaign_with_codes()
    alice = alice_in(fake_discord)
    # alice claimed in the Discord bot first (its claimant: discord:<user id>)
    in_bot = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=cid,
        claimant=Claimant.of(DISCORD_NAMESPACE, alice.id),
        channel=Channel.DISCORD,
    )
    assert in_bot.code in codes
    await member_browser.get(f"/c/{cid}")
    _, back = await discord_round_trip(member_browser, cid)
    assert back.status_code == 303 and back.headers["location"] == f"http://testserver/c/{cid}"
    # least privilege: no Discord rules on this campaign, so `identify` only; PKCE S256 sent
    asked = fake_discord.authorizations[-1]
    assert asked["scope"] == "identify"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["redirect_uri"] == "http://testserver/signin/discord/callback"

    page = await member_browser.get(f"/c/{cid}")
    assert "Signed in with Discord as <strong>alice</strong>" in page.text
    assert "Show my code" in page.text and in_bot.code not in page.text
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 200, r.text
    assert r.json()["code"] == in_bot.code and r.json()["repeated"] is True
    assert await Claim.filter(claimant=f"discord:{alice.id}").count() == 1


async def test_the_access_token_is_neither_kept_in_a_cookie_nor_logged(
    member_browser: httpx.AsyncClient,
    fake_discord: FakeDiscord,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, cid, _ = await campaign_with_codes()
    alice_in(fake_discord)
    await member_browser.get(f"/c/{cid}")
    with caplog.at_level(logging.DEBUG):
        _, back = await discord_round_trip(member_browser, cid)
    assert back.status_code == 303
    tokens = list(fake_discord._bearers)
    assert len(tokens) == 1
    raw = back.headers.get_list("set-cookie")
    member_cookie = next(c for c in raw if c.startswith("cd_member="))
    assert "HttpOnly" in member_cookie and "SameSite=lax" in member_cookie
    value = member_cookie.split(";")[0].removeprefix("cd_member=").strip('"')
    secret = services.settings.secret_key.get_secret_value()
    payload = URLSafeTimedSerializer(secret, salt="codedrop.web.cd_member").loads(value)
    assert set(payload) == {"p", "u", "n", "g", "j", "r"}
    everything = " ".join(raw) + caplog.text + str(payload)
    assert tokens[0] not in everything
    assert fake_discord.client_secret not in everything


async def test_a_discord_callback_with_another_state_is_refused(
    member_browser: httpx.AsyncClient, fake_discord: FakeDiscord, signin_services: Services
) -> None:
    _, cid, _ = await campaign_with_codes()
    alice_in(fake_discord)
    await member_browser.get(f"/c/{cid}")
    start = await member_browser.get(f"/c/{cid}/signin/discord")
    async with httpx.AsyncClient() as net:
        approved = await net.get(start.headers["location"])
    forged = approved.headers["location"].replace("state=", "state=x")
    r = await member_browser.get(forged, headers=JSON)
    assert r.status_code == 400
    assert r.json()["code"] == "signin_state_mismatch"
    assert fake_discord._bearers == {}  # the code was never exchanged
    page = await member_browser.get(f"/c/{cid}")
    assert "Signed in with" not in page.text
    # a callback on a browser that never started a sign-in is refused too
    async with browser_of(signin_services) as stranger:
        r = await stranger.get(approved.headers["location"], headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "signin_expired"


async def test_a_code_issued_for_another_browsers_sign_in_fails_the_pkce_check(
    member_browser: httpx.AsyncClient, fake_discord: FakeDiscord, signin_services: Services
) -> None:
    """Code injection: the victim's browser receives a code that was issued for the
    attacker's sign-in (another challenge) under the victim's own state."""
    _, cid, _ = await campaign_with_codes()
    alice_in(fake_discord)
    await member_browser.get(f"/c/{cid}")
    victim_start = await member_browser.get(f"/c/{cid}/signin/discord")
    victim_state = httpx.URL(victim_start.headers["location"]).params["state"]
    async with browser_of(signin_services) as attacker, httpx.AsyncClient() as net:
        attacker_start = await attacker.get(f"/c/{cid}/signin/discord")
        approved = await net.get(attacker_start.headers["location"])
    stolen_code = httpx.URL(approved.headers["location"]).params["code"]
    r = await member_browser.get(
        "/signin/discord/callback",
        params={"code": stolen_code, "state": victim_state},
        headers=JSON,
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "signin_failed"
    assert fake_discord.token_refusals == ["code_verifier"]
    assert fake_discord._bearers == {}
    assert "Signed in with" not in (await member_browser.get(f"/c/{cid}")).text


async def test_discord_rules_are_judged_from_the_member_object_of_the_drop_server(
    member_browser: httpx.AsyncClient, fake_discord: FakeDiscord
) -> None:
    role = fake_discord.add_role("Supporter")
    _, cid, codes = await campaign_with_codes(
        # Discord's rules are checkable in Discord and, with Discord sign-in, on the page
        eligibility={
            "required_roles": [str(role)],
            "min_member_days": 30,
            "channels": ["discord", "web"],
        },
        fact_sources=FactSources(web_discord=True),
    )
    await posts.record_post(
        campaign_id=cid,
        provider="discord",
        guild_id=str(fake_discord.guild_id),
        channel_id=str(fake_discord.channel_id),
        message_id="1",
    )
    newcomer = alice_in(fake_discord, roles=[role], days=3)
    await member_browser.get(f"/c/{cid}")
    await discord_round_trip(member_browser, cid)
    assert set(fake_discord.authorizations[-1]["scope"].split()) == {
        "identify",
        "guilds.members.read",
    }
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 403 and r.json()["code"] == "not_eligible"
    assert "30 days" in r.json()["detail"]

    newcomer.joined_at = datetime.now(UTC) - timedelta(days=60)
    newcomer.roles = []
    await discord_round_trip(member_browser, cid)
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 403 and "role" in r.json()["detail"]

    newcomer.roles = [role]
    await discord_round_trip(member_browser, cid)
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 200 and r.json()["code"] in codes


async def test_a_telegram_sign_in_makes_the_member_the_claimant_the_telegram_bot_uses(
    member_browser: httpx.AsyncClient, fake_telegram: FakeTelegramLogin
) -> None:
    _, cid, _ = await campaign_with_codes()
    bob = User(id=5551234, is_bot=False, first_name="Bob", last_name="Stone")
    in_bot = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=cid,
        claimant=telegram_claimant_of(bob),
        channel=Channel.TELEGRAM,
    )
    await member_browser.get(f"/c/{cid}")
    fields = fake_telegram.fields_for({"id": bob.id, "first_name": "Bob", "last_name": "Stone"})
    back = await member_browser.get(f"/c/{cid}/signin/telegram", params=fields)
    assert back.status_code == 303, back.text
    page = await member_browser.get(f"/c/{cid}")
    assert "Signed in with Telegram as <strong>Bob Stone</strong>" in page.text
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 200 and r.json()["code"] == in_bot.code


async def test_a_forged_telegram_hash_is_refused(
    member_browser: httpx.AsyncClient, fake_telegram: FakeTelegramLogin
) -> None:
    _, cid, _ = await campaign_with_codes()
    await member_browser.get(f"/c/{cid}")
    genuine = fake_telegram.fields_for({"id": 777, "first_name": "Eve"})
    tampered = dict(genuine, id="778")  # someone else's id under Eve's hash
    other_key = sign({"id": 778, "first_name": "Eve", "auth_date": genuine["auth_date"]}, "1:x")
    no_hash = {k: v for k, v in genuine.items() if k != "hash"}
    for fields in (tampered, other_key, no_hash):
        r = await member_browser.get(f"/c/{cid}/signin/telegram", params=fields, headers=JSON)
        assert r.status_code == 400, fields
        assert r.json()["code"] == "signin_failed"
    assert "Signed in with" not in (await member_browser.get(f"/c/{cid}")).text


async def test_a_telegram_sign_in_older_than_a_day_is_refused(
    member_browser: httpx.AsyncClient, fake_telegram: FakeTelegramLogin
) -> None:
    _, cid, _ = await campaign_with_codes()
    await member_browser.get(f"/c/{cid}")
    day_old = int(time.time()) - 24 * 3600 - 60
    stale = fake_telegram.fields_for({"id": 777, "first_name": "Eve"}, auth_date=day_old)
    r = await member_browser.get(f"/c/{cid}/signin/telegram", params=stale, headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "signin_failed"
    assert "too old" in r.json()["detail"]
    fresh = fake_telegram.fields_for({"id": 777, "first_name": "Eve"}, auth_date=day_old + 120)
    r = await member_browser.get(f"/c/{cid}/signin/telegram", params=fresh)
    assert r.status_code == 303


async def test_a_verified_campaign_refuses_anonymous_claims_with_identity_required(
    member_browser: httpx.AsyncClient, fake_telegram: FakeTelegramLogin, signin_services: Services
) -> None:
    dev, key = await factories.developer("Owner")
    c = await factories.campaign(dev.id, identity="verified")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5, prefix="VER"))
    cid = c.id
    async with browser_of(signin_services) as api:
        # anonymous API claims: refused, through the fast lane and through FastAPI's route
        for headers in ({}, {"Idempotency-Key": "k-1"}):
            r = await api.post(
                f"/api/distribute/{cid}", json={"user_identifier": "p1"}, headers=headers
            )
            assert r.status_code == 403, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "identity_required"
        # the developer's backend with its key still claims
        r = await api.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": "p1"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 201, r.text
        card = await api.get(f"/api/distribute/{cid}")
        assert card.json()["identity"] == "verified"
        spec = (await api.get("/openapi.json")).json()
        claim_doc = spec["paths"]["/api/distribute/{campaign_id}"]["post"]["responses"]["403"]
        assert "identity_required" in claim_doc["description"]

    # the page: no claim form for an anonymous visitor, and a forced POST is refused
    page = await member_browser.get(f"/c/{cid}")
    assert "Get my code" not in page.text
    assert "This campaign is for people signed in with Discord or Telegram" in page.text
    # (the form token is bound to the browser, not the campaign: one from an open campaign)
    _, open_cid, _ = await campaign_with_codes()
    token = csrf_of((await member_browser.get(f"/c/{open_cid}")).text)
    r = await member_browser.post(f"/c/{cid}/claim", data={"csrf_token": token}, headers=JSON)
    assert r.status_code == 403 and r.json()["code"] == "identity_required"
    # ...until they sign in
    fields = fake_telegram.fields_for({"id": 4242, "first_name": "Ann"})
    await member_browser.get(f"/c/{cid}/signin/telegram", params=fields)
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 200 and r.json()["code"].startswith("VER")
    # the bots' claimants are vouched for by their platforms
    for ns in ("discord", "telegram"):
        result = await claims.claim(
            events_bus=factories.BUS, campaign_id=cid, claimant=Claimant.of(ns, "99"), channel=ns
        )
        assert result.code.startswith("VER")
    assert await Claim.filter(claimant__startswith="web:").count() == 0


async def test_signing_out_forgets_the_member_on_this_browser(
    member_browser: httpx.AsyncClient, fake_telegram: FakeTelegramLogin
) -> None:
    _, cid, _ = await campaign_with_codes()
    page = await member_browser.get(f"/c/{cid}")
    fields = fake_telegram.fields_for({"id": 31337, "first_name": "Kim"})
    await member_browser.get(f"/c/{cid}/signin/telegram", params=fields)
    page = await member_browser.get(f"/c/{cid}")
    assert "Signed in with Telegram" in page.text
    bad = await member_browser.post(f"/c/{cid}/signout", data={"csrf_token": "nope"})
    assert bad.status_code == 403
    out = await member_browser.post(f"/c/{cid}/signout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    page = await member_browser.get(f"/c/{cid}")
    assert "Signed in with" not in page.text and "Sign in with Discord" in page.text
    r = await claim_on_page(member_browser, cid)
    assert r.status_code == 200
    assert await Claim.filter(claimant="telegram:31337").count() == 0


async def test_the_dashboard_form_sets_and_shows_the_identity_mode(dev: Dev) -> None:
    form = {"name": "Members only", "platform": "universal", "csrf_token": dev.csrf}
    blank = await dev.http.get("/dashboard/new")
    assert '<option value="anonymous" selected>' in blank.text
    r = await dev.http.post("/dashboard/new", data={**form, "identity": "verified"})
    assert r.status_code == 303, r.text
    cid = r.headers["location"].split("/dashboard/c/")[1].split("?")[0]
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=cid)
    assert view.identity == "verified"
    edit = await dev.http.get(f"/dashboard/c/{cid}/edit")
    assert '<option value="verified" selected>' in edit.text
    bad = await dev.http.post(f"/dashboard/c/{cid}/edit", data={**form, "identity": "everyone"})
    assert bad.status_code == 422 and "Pick anyone or signed-in members only." in bad.text
    r = await dev.http.post(f"/dashboard/c/{cid}/edit", data={**form, "identity": "anonymous"})
    assert r.status_code == 303
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=cid)
    assert view.identity == "anonymous"


async def test_the_api_sets_the_identity_mode_and_names_the_field_when_it_is_wrong(
    client: httpx.AsyncClient,
) -> None:
    _, key = await factories.developer("Api")
    auth = {"Authorization": f"Bearer {key}"}
    r = await client.post(
        "/api/campaigns", json={"name": "V", "identity": "verified"}, headers=auth
    )
    assert r.status_code == 201 and r.json()["identity"] == "verified"
    cid = r.json()["id"]
    default = await client.post("/api/campaigns", json={"name": "A"}, headers=auth)
    assert default.json()["identity"] == "anonymous"
    r = await client.patch(f"/api/campaigns/{cid}", json={"identity": "anonymous"}, headers=auth)
    assert r.status_code == 200 and r.json()["identity"] == "anonymous"
    bad = await client.patch(f"/api/campaigns/{cid}", json={"identity": "everyone"}, headers=auth)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert "identity" in bad.text


async def test_server_roles_proved_in_one_server_do_not_count_for_a_campaign_of_another(
    member_browser: httpx.AsyncClient, fake_discord: FakeDiscord
) -> None:
    role = fake_discord.add_role("Supporter")
    rules = {"required_roles": [str(role)], "channels": ["discord", "web"]}
    sources = FactSources(web_discord=True)
    _, here, codes = await campaign_with_codes(eligibility=rules, fact_sources=sources)
    _, elsewhere, _ = await campaign_with_codes(eligibility=rules, fact_sources=sources)
    for cid, guild in ((here, fake_discord.guild_id), (elsewhere, 999)):
        await posts.record_post(
            campaign_id=cid, provider="discord", guild_id=str(guild), channel_id="1", message_id=cid
        )
    alice_in(fake_discord, roles=[role])
    await member_browser.get(f"/c/{here}")
    await discord_round_trip(member_browser, here)
    r = await claim_on_page(member_browser, here)
    assert r.status_code == 200 and r.json()["code"] in codes
    # the same sign-in on a campaign dropped in another server: its roles are not proof there
    r = await claim_on_page(member_browser, elsewhere)
    assert r.status_code == 403 and r.json()["code"] == "not_eligible"
