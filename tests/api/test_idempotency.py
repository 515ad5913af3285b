"""Idempotency-Key on the claim and the uploads (multipart and large): retries replay, other
requests are refused."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from api.app import create_app
from domain import clock
from domain.adapters.bootstrap import Services
from domain.models import IdempotencyRecord, Upload
from tests.api.conftest import Dev, new_campaign, upload
from tests.statements import Statements

PROBLEM = "application/problem+json"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def stock(client: httpx.AsyncClient, dev: Dev, cid: str) -> dict[str, int]:
    return dict((await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()["stock"])


async def test_a_retried_claim_gets_the_first_answer_back_and_burns_one_code(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, per_claimant_limit=3)
    await upload(client, dev, cid, b"code\nIDEM0001\nIDEM0002\nIDEM0003\n")
    body = {"user_identifier": "retrier"}
    first = await client.post(f"/api/distribute/{cid}", json=body, headers=key("k-1"))
    again = await client.post(f"/api/distribute/{cid}", json=body, headers=key("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["cache-control"].startswith("no-store")
    # a NEW key is a new request: with a limit of 3 it takes a second code
    other = await client.post(f"/api/distribute/{cid}", json=body, headers=key("k-2"))
    assert other.status_code == 201 and other.json()["code"] != first.json()["code"]
    assert (await stock(client, dev, cid))["claimed"] == 2


async def test_concurrent_retries_of_one_claim_take_a_single_code(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, per_claimant_limit=5)
    await upload(client, dev, cid, b"code\n" + b"".join(b"RACE%04d\n" % i for i in range(10)))
    body = {"user_identifier": "impatient"}
    answers = await asyncio.gather(
        *(
            client.post(f"/api/distribute/{cid}", json=body, headers=key("one-intent"))
            for _ in range(8)
        )
    )
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["code"] for a in answers}) == 1
    assert (await stock(client, dev, cid))["claimed"] == 1


async def test_the_same_key_with_another_body_is_a_422_problem_and_takes_nothing(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nIDEM0001\nIDEM0002\n")
    ok = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "a"}, headers=key("k")
    )
    assert ok.status_code == 201
    reused = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "b"}, headers=key("k")
    )
    assert reused.status_code == 422 and reused.headers["content-type"] == PROBLEM
    assert reused.json()["code"] == "idempotency_key_reused"
    assert reused.json()["field"] == "Idempotency-Key"
    assert (await stock(client, dev, cid))["claimed"] == 1
    # key order and spacing do not make a different request
    same = await client.post(
        f"/api/distribute/{cid}",
        content=b'{ "user_identifier" : "a" }',
        headers={**key("k"), "content-type": "application/json"},
    )
    assert same.status_code == 201 and same.json() == ok.json()


async def test_answers_are_kept_24_hours_then_forgotten(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, per_claimant_limit=2)
    await upload(client, dev, cid, b"code\nIDEM0001\nIDEM0002\n")
    body = {"user_identifier": "later"}
    start = clock.now()
    first = await client.post(f"/api/distribute/{cid}", json=body, headers=key("day"))
    with clock.frozen_at(start + timedelta(hours=23, minutes=59)):
        kept = await client.post(f"/api/distribute/{cid}", json=body, headers=key("day"))
    assert kept.headers.get("idempotent-replayed") == "true" and kept.json() == first.json()
    with clock.frozen_at(start + timedelta(hours=25)):
        late = await client.post(f"/api/distribute/{cid}", json=body, headers=key("day"))
    # forgotten as a stored answer, but the claim itself still remembers the key: same code
    assert "idempotent-replayed" not in late.headers
    assert late.status_code == 200 and late.json()["code"] == first.json()["code"]
    assert (await stock(client, dev, cid))["claimed"] == 1


async def test_a_refusal_is_not_stored_so_a_retry_sees_the_current_state(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await client.patch(f"/api/campaigns/{cid}", json={"status": "paused"}, headers=dev.auth)
    await upload(client, dev, cid, b"code\nIDEM0001\n")
    body = {"user_identifier": "early"}
    refused = await client.post(f"/api/distribute/{cid}", json=body, headers=key("k"))
    assert refused.status_code == 409
    await client.patch(f"/api/campaigns/{cid}", json={"status": "active"}, headers=dev.auth)
    served = await client.post(f"/api/distribute/{cid}", json=body, headers=key("k"))
    assert served.status_code == 201 and served.json()["code"] == "IDEM0001"


async def test_bad_keys_are_422_problems(client: httpx.AsyncClient, dev: Dev) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nIDEM0001\n")
    for bad in ("x" * 129, "tab\there"):
        r = await client.post(
            f"/api/distribute/{cid}", json={"user_identifier": "a"}, headers=key(bad)
        )
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, bad
    assert (await stock(client, dev, cid))["claimed"] == 0


async def test_a_retried_upload_replays_its_report_even_with_a_new_multipart_boundary(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    url = f"/api/campaigns/{cid}/codes"
    content = b"code\nUPLD0001\nUPLD0002\n"
    first = await client.post(
        url, files={"file": ("c.csv", content, "text/csv")}, headers={**dev.auth, **key("u1")}
    )
    again = await client.post(
        url, files={"file": ("c.csv", content, "text/csv")}, headers={**dev.auth, **key("u1")}
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["imported"] == 2
    assert again.headers["idempotent-replayed"] == "true"
    assert await Upload.all().count() == 1
    other_file = await client.post(
        url,
        files={"file": ("c.csv", b"code\nUPLD0003\n", "text/csv")},
        headers={**dev.auth, **key("u1")},
    )
    assert other_file.status_code == 422
    assert other_file.json()["code"] == "idempotency_key_reused"
    assert (await stock(client, dev, cid))["available"] == 2


async def test_keys_are_private_to_each_caller(
    client: httpx.AsyncClient, dev: Dev, other_dev: Dev
) -> None:
    mine = await new_campaign(client, dev)
    theirs = await new_campaign(client, other_dev)
    for who, cid in ((dev, mine), (other_dev, theirs)):
        r = await client.post(
            f"/api/campaigns/{cid}/codes",
            files={"file": ("c.csv", b"code\nSAME0001\n", "text/csv")},
            headers={**who.auth, **key("shared-key")},
        )
        assert r.status_code == 201 and r.json()["imported"] == 1
        assert "idempotent-replayed" not in r.headers


async def test_a_retried_large_upload_start_returns_the_same_ticket_and_creates_one_upload(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    url = f"/api/campaigns/{cid}/uploads"
    headers = {**dev.auth, **key("start-1")}
    first = await client.post(url, json={"filename": "big.csv"}, headers=headers)
    again = await client.post(url, json={"filename": "big.csv"}, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await Upload.filter(campaign__public_id=cid).count() == 1

    other = await client.post(url, json={"filename": "other.csv"}, headers=headers)
    assert other.status_code == 422 and other.headers["content-type"] == PROBLEM
    assert other.json()["code"] == "idempotency_key_reused"
    assert await Upload.filter(campaign__public_id=cid).count() == 1
    # a new key is a new upload
    fresh = await client.post(
        url, json={"filename": "big.csv"}, headers={**dev.auth, **key("start-2")}
    )
    assert fresh.status_code == 201 and fresh.json()["upload_id"] != first.json()["upload_id"]
    assert await Upload.filter(campaign__public_id=cid).count() == 2


async def test_a_retried_large_upload_complete_replays_the_first_answer_and_imports_once(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    ticket = (
        await client.post(
            f"/api/campaigns/{cid}/uploads", json={"filename": "c.csv"}, headers=dev.auth
        )
    ).json()
    put_path = "/" + ticket["url"].split("://", 1)[1].split("/", 1)[1]
    content = b"code\n" + b"".join(b"LARGE%04d\n" % i for i in range(50))
    put = await client.put(put_path, content=content, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200

    headers = {**dev.auth, **key("complete-1")}
    first = await client.post(ticket["complete_url"], headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "uploaded", first.text
    # ASGITransport returns once the background import has run: the upload is done now
    again = await client.post(ticket["complete_url"], headers=headers)
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    current = await client.post(ticket["complete_url"], headers=dev.auth)
    assert current.status_code == 202 and current.json()["status"] == "done"
    assert (await stock(client, dev, cid))["available"] == 50
    assert await Upload.filter(campaign__public_id=cid).count() == 1

    # the complete call takes no body, but a key sent with one names another request
    reused = await client.post(ticket["complete_url"], json={"force": True}, headers=headers)
    assert reused.status_code == 422 and reused.headers["content-type"] == PROBLEM
    assert reused.json()["code"] == "idempotency_key_reused"


async def test_a_refused_large_upload_complete_is_not_stored(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    ticket = (
        await client.post(
            f"/api/campaigns/{cid}/uploads", json={"filename": "c.csv"}, headers=dev.auth
        )
    ).json()
    headers = {**dev.auth, **key("too-early")}
    early = await client.post(ticket["complete_url"], headers=headers)
    assert early.status_code == 409  # nothing was PUT yet
    put_path = "/" + ticket["url"].split("://", 1)[1].split("/", 1)[1]
    await client.put(put_path, content=b"code\nLATE0001\n", headers={"Content-Type": "text/csv"})
    retried = await client.post(ticket["complete_url"], headers=headers)
    assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
    assert (await stock(client, dev, cid))["available"] == 1


async def test_the_openapi_schema_documents_the_header_on_every_idempotent_route(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/distribute/{campaign_id}",
        "/api/campaigns/{campaign_id}/codes",
        "/api/campaigns/{campaign_id}/uploads",
        "/api/campaigns/{campaign_id}/uploads/{upload_id}/complete",
    ):
        names = [p["name"] for p in paths[path]["post"].get("parameters", [])]
        assert names.count("Idempotency-Key") == 1, (path, names)


async def test_a_retried_claim_never_replays_a_code_released_to_someone_else(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nXXXX1111\n")
    first = await client.post(
        f"/api/distribute/{cid}",
        json={"user_identifier": "alice"},
        headers={"Idempotency-Key": "k1"},
    )
    assert first.status_code == 201 and first.json()["code"] == "XXXX1111"
    released = await client.post(
        f"/api/campaigns/{cid}/codes/release", json={"code": "XXXX1111"}, headers=dev.auth
    )
    assert released.status_code == 200
    bob = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "bob"})
    assert bob.json()["code"] == "XXXX1111"
    retry = await client.post(
        f"/api/distribute/{cid}",
        json={"user_identifier": "alice"},
        headers={"Idempotency-Key": "k1"},
    )
    # alice's claim was released: her retry runs again (sold out now), it never replays bob's code
    assert retry.status_code == 409 and retry.json()["code"] == "sold_out"
    assert "XXXX1111" not in retry.text


@pytest.fixture
async def route_only(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The same service without the fast lane: keyed claims take the FastAPI route."""
    app = create_app(services.settings, services, manage_database=False, fast_lane=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.mark.parametrize("road", ["fast lane", "route"])
async def test_one_key_sent_with_eight_different_bodies_at_once_runs_exactly_one(
    client: httpx.AsyncClient, route_only: httpx.AsyncClient, dev: Dev, road: str
) -> None:
    http = client if road == "fast lane" else route_only
    cid = await new_campaign(client, dev, per_claimant_limit=2)
    await upload(client, dev, cid, b"code\n" + b"".join(b"SAME%04d\n" % i for i in range(20)))
    bodies = [{"user_identifier": f"racer-{n}"} for n in range(8)]
    answers = await asyncio.gather(
        *(http.post(f"/api/distribute/{cid}", json=b, headers=key("shared")) for b in bodies)
    )
    ran = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 422]
    assert len(ran) == 1 and len(refused) == 7, [a.status_code for a in answers]
    assert {r.json()["code"] for r in refused} == {"idempotency_key_reused"}
    # nothing was claimed for the seven refused: one code out, held by the one that ran
    assert (await stock(client, dev, cid))["claimed"] == 1
    listing = await client.get(f"/api/campaigns/{cid}/codes?status=claimed", headers=dev.auth)
    assert len(listing.json()["items"]) == 1
    # each caller then sends a new request (a key of its own): with a limit of 2 every one gets
    # one more code, so a refused caller holds one code in all, the one that ran holds two
    for n, body in enumerate(bodies):
        again = await http.post(f"/api/distribute/{cid}", json=body, headers=key(f"own-{n}"))
        assert again.status_code == 201 and again.json()["repeated"] is False, again.text
    assert (await stock(client, dev, cid))["claimed"] == 9


async def test_a_refused_request_frees_its_key_for_another_request(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await client.patch(f"/api/campaigns/{cid}", json={"status": "paused"}, headers=dev.auth)
    await upload(client, dev, cid, b"code\nFREE0001\n")
    first = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "a"}, headers=key("k")
    )
    assert first.status_code == 409  # paused: nothing happened, so the key holds nothing
    other = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "b"}, headers=key("k")
    )
    assert other.status_code == 409 and other.json()["code"] == "campaign_not_active"
    await client.patch(f"/api/campaigns/{cid}", json={"status": "active"}, headers=dev.auth)
    served = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "b"}, headers=key("k")
    )
    assert served.status_code == 201
    # from now on the key is b's request
    taken = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "a"}, headers=key("k")
    )
    assert taken.status_code == 422 and taken.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("road", ["fast lane", "route"])
async def test_a_keyed_claim_writes_its_key_and_answer_in_the_claims_own_transaction(
    client: httpx.AsyncClient, route_only: httpx.AsyncClient, dev: Dev, road: str
) -> None:
    http = client if road == "fast lane" else route_only
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nONE0001\nONE0002\n")
    sent = Statements()
    logger = logging.getLogger("tortoise.db_client")
    level = logger.level
    logger.addHandler(sent)
    logger.setLevel(logging.DEBUG)
    try:
        first = await http.post(
            f"/api/distribute/{cid}", json={"user_identifier": "kay"}, headers=key("tx")
        )
    finally:
        logger.removeHandler(sent)
        logger.setLevel(level)
    assert first.status_code == 201
    # the key's row, with its answer, is one INSERT beside the claim's, never updated later
    key_writes = [s for s in sent.writes() if "IDEMPOTENCY_RECORDS" in s]
    assert len(key_writes) == 1 and key_writes[0].startswith("INSERT")
    record = await IdempotencyRecord.get(key="tx")
    assert record.status_code == 201 and record.response["body"] == first.json()
    again = await http.post(
        f"/api/distribute/{cid}", json={"user_identifier": "kay"}, headers=key("tx")
    )
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
