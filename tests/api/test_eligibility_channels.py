"""Rules that a channel cannot check are refused when the campaign is made, not at claim time.

Telegram's Bot API tells no account age, and no front knew a claimant's country: such a
campaign used to refuse every claimant there, silently. Creating or changing it is now a 422
`eligibility_unverifiable` naming the rule and the channel, through every front (the domain
decides). On MariaDB and SQLite.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from domain import campaigns
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.eligibility import FactSources
from domain.errors import EligibilityUnverifiable
from tests import factories
from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("rules", "rule", "channel"),
    [
        (
            {"min_account_age_days": 30, "channels": ["telegram"]},
            "min_account_age_days",
            "telegram",
        ),
        ({"min_account_age_days": 30}, "min_account_age_days", "telegram"),
        ({"required_roles": ["123"], "channels": ["discord", "web"]}, "required_roles", "web"),
        ({"required_chats": ["@club"], "channels": ["api"]}, "required_chats", "api"),
        ({"allowed_countries": ["FR"], "channels": ["web"]}, "allowed_countries", "web"),
    ],
)
async def test_a_rule_a_channel_cannot_check_is_a_422_naming_rule_and_channel(
    client: httpx.AsyncClient, dev: Dev, rules: dict[str, object], rule: str, channel: str
) -> None:
    r = await client.post(
        "/api/campaigns", json={"name": "Gated", "eligibility": rules}, headers=dev.auth
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    problem = r.json()
    assert problem["code"] == "eligibility_unverifiable"
    assert (problem["rule"], problem["channel"]) == (rule, channel)
    assert problem["field"] == f"eligibility.{rule}"
    assert rule in problem["detail"] and channel in problem["detail"]


async def test_rules_limited_to_the_channels_that_check_them_are_accepted(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    for rules in (
        {"min_account_age_days": 30, "required_roles": ["1"], "channels": ["discord"]},
        {"required_chats": ["@club"], "channels": ["telegram"]},
        {"web_signed_identity": True},  # needs no fact: holds on every channel
        {"min_account_age_days": 0},  # zero days is no rule at all
    ):
        r = await client.post(
            "/api/campaigns", json={"name": "Gated", "eligibility": rules}, headers=dev.auth
        )
        assert r.status_code == 201, (rules, r.text)


async def test_an_update_to_unverifiable_rules_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, eligibility={"channels": ["telegram"]})
    r = await client.patch(
        f"/api/campaigns/{cid}",
        json={"eligibility": {"channels": ["telegram"], "min_account_age_days": 7}},
        headers=dev.auth,
    )
    assert r.status_code == 422 and r.json()["code"] == "eligibility_unverifiable"
    assert r.json()["channel"] == "telegram"
    kept = await client.get(f"/api/campaigns/{cid}", headers=dev.auth)
    assert kept.json()["eligibility"] == {"channels": ["telegram"]}


async def test_allowed_countries_is_checkable_on_the_web_behind_a_trusted_proxy_header(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    s = services.settings
    s.country_header, s.trusted_proxies = "CF-IPCountry", ["127.0.0.1"]
    try:
        rules = {"allowed_countries": ["FR"], "channels": ["web"]}
        cid = await new_campaign(client, dev, eligibility=rules)
        await upload(client, dev, cid, b"code\nLAND0001\nLAND0002\n")
        # the ASGI test client's peer is 127.0.0.1, the trusted proxy
        france = await client.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": "fr-1"},
            headers={"CF-IPCountry": "fr"},
        )
        spain = await client.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": "es-1"},
            headers={"CF-IPCountry": "ES"},
        )
        assert france.status_code == 201, france.text
        assert spain.status_code == 403 and spain.json()["rule"] == "allowed_countries"
        # the header from anyone but a trusted proxy is not believed
        s.trusted_proxies = ["10.9.9.9"]
        forged = await client.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": "fr-2"},
            headers={"CF-IPCountry": "FR"},
        )
        assert forged.status_code == 403 and forged.json()["rule"] == "allowed_countries"
        # on another channel no proxy header speaks for the claimant
        r = await client.patch(
            f"/api/campaigns/{cid}",
            json={"eligibility": {"allowed_countries": ["FR"], "channels": ["web", "api"]}},
            headers=dev.auth,
        )
        assert r.status_code == 422 and r.json()["channel"] in ("api", "web")
    finally:
        s.country_header, s.trusted_proxies = None, []


async def test_every_front_gets_the_refusal_from_the_domain(services: Services) -> None:
    dev, _ = await factories.developer()
    with pytest.raises(EligibilityUnverifiable) as refused:
        await campaigns.create_campaign(
            owner_id=dev.id, name="Bot made", eligibility={"min_account_age_days": 3}
        )
    assert (refused.value.rule, refused.value.channel) == ("min_account_age_days", "telegram")
    ok = await campaigns.create_campaign(
        owner_id=dev.id,
        name="Web only",
        eligibility={"allowed_countries": ["FR"], "channels": ["web"]},
        fact_sources=FactSources(web_country=True),
    )
    # resuming a campaign re-checks its rules against what this deployment can check
    await campaigns.act(
        events_bus=factories.BUS, developer_id=dev.id, campaign_id=ok.id, action=Action.PAUSE
    )
    with pytest.raises(EligibilityUnverifiable):
        await campaigns.act(
            events_bus=factories.BUS, developer_id=dev.id, campaign_id=ok.id, action=Action.RESUME
        )
    resumed = await campaigns.act(
        events_bus=factories.BUS,
        developer_id=dev.id,
        campaign_id=ok.id,
        action=Action.RESUME,
        fact_sources=FactSources(web_country=True),
    )
    assert resumed.status == "active"


async def test_discord_rules_are_checkable_on_the_page_when_sign_in_with_discord_is_set_up(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    body = {
        "name": "Members",
        "eligibility": {"required_roles": ["42"], "channels": ["discord", "web"]},
    }
    refused = await client.post("/api/campaigns", json=body, headers=dev.auth)
    assert refused.status_code == 422 and refused.json()["channel"] == "web"
    s = services.settings
    s.discord_client_id, s.discord_client_secret = "1234", SecretStr("app-secret")
    try:
        accepted = await client.post("/api/campaigns", json=body, headers=dev.auth)
        assert accepted.status_code == 201, accepted.text
        # Telegram still has no way to know a Discord role
        body["eligibility"]["channels"] = ["telegram"]  # type: ignore[index]
        telegram = await client.post("/api/campaigns", json=body, headers=dev.auth)
        assert telegram.status_code == 422 and telegram.json()["channel"] == "telegram"
    finally:
        s.discord_client_id, s.discord_client_secret = None, None
