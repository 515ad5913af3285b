"""Identities through the API on both databases: exact identifiers and separate namespaces.

MariaDB's default collation used to fold case, accents and trailing spaces, so `Alice` and
`alice` were one claimant there (and two on SQLite); and an anonymous caller shared the
claim page's `web:` namespace. These tests run on MariaDB and SQLite alike.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from domain import claims
from domain.adapters.bootstrap import Services
from domain.claimants import pseudonym
from domain.values import Claimant
from tests import factories
from tests.api.conftest import Dev, new_campaign, upload


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


CODES = b"code\n" + b"".join(b"EXACT%03d\n" % i for i in range(12))


async def test_identifiers_differing_only_in_case_or_accents_are_different_claimants(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, platform="ios")
    await upload(client, dev, cid, CODES)
    people = ["Alice", "alice", "Renée", "Renee", "ÅSA", "åsa"]
    first = {}
    for who in people:
        r = await client.post(
            f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": who}
        )
        # "alice" after "Alice" was a 422 platform_not_served on MariaDB while codes remained
        assert r.status_code == 201, (who, r.text)
        first[who] = r.json()["code"]
    assert len(set(first.values())) == len(people)
    for who in people:
        again = await client.post(
            f"/api/distribute/{cid}", json={"platform": "ios", "user_identifier": who}
        )
        assert again.status_code == 200 and again.json()["code"] == first[who], who


async def test_a_backends_users_differing_only_in_case_are_different_claimants(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, CODES)
    a = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "uid-AbC"}, headers=dev.auth
    )
    b = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "uid-aBc"}, headers=dev.auth
    )
    assert a.status_code == b.status_code == 201, b.text
    assert a.json()["code"] != b.json()["code"]


async def test_keys_differing_only_in_case_from_two_claimants_each_get_their_own_answer(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, CODES)
    q1 = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "one"}, headers=key("KEY-Q")
    )
    # this one committed a claim, then recursed ~960 times into a 500 on MariaDB
    q2 = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "two"}, headers=key("key-q")
    )
    assert q1.status_code == q2.status_code == 201, q2.text
    assert q1.json()["code"] != q2.json()["code"]
    for body, k, first in (("one", "KEY-Q", q1), ("two", "key-q", q2)):
        again = await client.post(
            f"/api/distribute/{cid}", json={"user_identifier": body}, headers=key(k)
        )
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


async def test_upload_keys_differing_only_in_case_each_get_their_own_answer(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    a = await client.post(
        f"/api/campaigns/{cid}/codes",
        files={"file": ("a.csv", b"code\nUPLA0001\n", "text/csv")},
        headers={**dev.auth, **key("UP-KEY")},
    )
    b = await client.post(
        f"/api/campaigns/{cid}/codes",
        files={"file": ("b.csv", b"code\nUPLB0001\nUPLB0002\n", "text/csv")},
        headers={**dev.auth, **key("up-key")},
    )
    assert a.status_code == b.status_code == 201, b.text
    assert (a.json()["imported"], b.json()["imported"]) == (1, 2)


async def test_an_anonymous_caller_cannot_take_or_preempt_a_claim_page_visitors_code(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, CODES)
    visitor = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=cid,
        claimant=Claimant.of("web", "cookie-id-1"),
        channel="web",
    )
    # naming the visitor's id through the API is another claimant: it never gets their code
    thief = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "cookie-id-1"})
    assert thief.status_code == 201 and thief.json()["code"] != visitor.code
    # claiming first under an id does not pre-empt the visitor who has it in their cookie
    early = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "cookie-id-2"})
    later = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=cid,
        claimant=Claimant.of("web", "cookie-id-2"),
        channel="web",
    )
    assert early.status_code == 201 and not later.repeated
    assert later.code != early.json()["code"]


async def test_the_owner_sees_web_and_anonymous_claimants_only_as_pseudonyms(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    other = await new_campaign(client, dev)
    await upload(client, dev, cid, CODES)
    await upload(client, dev, other, CODES)
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=cid,
        claimant=Claimant.of("web", "cookie-id-9"),
        channel="web",
    )
    for campaign in (cid, other):
        await client.post(f"/api/distribute/{campaign}", json={"user_identifier": "install-9"})
    await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "user-9"}, headers=dev.auth
    )
    listing = (
        await client.get(f"/api/campaigns/{cid}/codes?status=claimed", headers=dev.auth)
    ).json()
    shown = {item["claimant"] for item in listing["items"]}
    export = (await client.get(f"/api/campaigns/{cid}/export.csv", headers=dev.auth)).text
    secret = services.settings.secret_key.get_secret_value()
    assert shown == {
        pseudonym(secret, cid, "web:cookie-id-9"),
        pseudonym(secret, cid, "anon:install-9"),
        f"api:{dev.id}:user-9",  # the developer's own user, named by their own backend
    }
    for raw in ("cookie-id-9", "install-9"):
        assert raw not in str(listing) and raw not in export
    assert all(s in export for s in shown)
    # per campaign: the same caller cannot be followed from one campaign to another
    elsewhere = (
        await client.get(f"/api/campaigns/{other}/codes?status=claimed", headers=dev.auth)
    ).json()
    assert elsewhere["items"][0]["claimant"] != pseudonym(secret, cid, "anon:install-9")
    # and a pseudonym is not something anyone can claim as
    replay = await client.post(
        f"/api/distribute/{cid}",
        json={"user_identifier": pseudonym(secret, cid, "anon:install-9")},
    )
    assert replay.status_code == 422


async def test_logs_never_carry_a_web_or_anonymous_claimants_id(
    client: httpx.AsyncClient, dev: Dev, caplog: pytest.LogCaptureFixture
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, CODES)
    caplog.set_level(logging.INFO)
    await client.post(f"/api/distribute/{cid}", json={"user_identifier": "install-secret-7"})
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=cid,
        claimant=Claimant.of("web", "cookie-secret-7"),
        channel="web",
    )
    assert "claim campaign=" in caplog.text  # the claims were logged...
    assert "install-secret-7" not in caplog.text  # ...without who made them
    assert "cookie-secret-7" not in caplog.text
