"""Every answer carries a request id, every log line of the request carries it too, and the
access log names the request without its secrets (no query string, no key, no code)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from domain.adapters import logs
from domain.adapters.bootstrap import Services
from tests.api.conftest import Dev, new_campaign, upload


@pytest.fixture
def json_log(services: Services) -> Iterator[io.StringIO]:
    """codedrop's handler writing JSON lines into a buffer, for one test."""
    stream = io.StringIO()
    settings = services.settings.model_copy(update={"log_format": "json", "log_level": "INFO"})
    handler = logs.configure(settings, stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_request_id_from_the_client_is_returned_and_a_missing_one_is_made(
    client: httpx.AsyncClient,
) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "edge-7f3a:01"})
    assert given.headers["x-request-id"] == "edge-7f3a:01"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    odd = await client.get("/healthz", headers={"X-Request-ID": "two words\u00e9"[:9]})
    assert odd.headers["x-request-id"] not in ("two words", "")
    assert (await client.get("/healthz")).headers["x-request-id"] != made.headers["x-request-id"]


async def test_every_line_of_a_claim_carries_its_request_id_and_no_full_code(
    client: httpx.AsyncClient, dev: Dev, json_log: io.StringIO
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nSECRETCODE0001\n")
    r = await client.post(
        f"/api/distribute/{cid}",
        json={"user_identifier": "p1"},
        headers={"X-Request-ID": "claim-1"},
    )
    assert r.status_code == 201 and r.headers["x-request-id"] == "claim-1"
    mine = [line for line in lines(json_log) if line.get("request_id") == "claim-1"]
    loggers = {line["logger"] for line in mine}
    assert {"codedrop.access", "domain.claims"} <= loggers, mine
    [access] = [line for line in mine if line["logger"] == "codedrop.access"]
    assert access["http"] == {
        "method": "POST",
        "path": f"/api/distribute/{cid}",
        "status": 201,
        "ms": access["http"]["ms"],  # type: ignore[index]
        "client": "127.0.0.1",
    }
    # a query string is never logged, even on an answer that refuses it
    refused = await client.post(
        f"/api/distribute/{cid}?utm=secret-token",
        json={"user_identifier": "p2"},
        headers={"X-Request-ID": "claim-2"},
    )
    assert refused.status_code == 422
    [access2] = [
        line
        for line in lines(json_log)
        if line.get("request_id") == "claim-2" and line["logger"] == "codedrop.access"
    ]
    assert access2["http"]["path"] == f"/api/distribute/{cid}"  # type: ignore[index]
    # what the service logged (the test's own httpx client logs the URL it called)
    text = "\n".join(json.dumps(line) for line in lines(json_log) if line["logger"] != "httpx")
    assert "SECRETCODE0001" not in text and "secret-token" not in text
    assert dev.key not in text


async def test_the_text_format_shows_the_request_id_in_brackets(
    services: Services, client: httpx.AsyncClient
) -> None:
    stream = io.StringIO()
    handler = logs.configure(services.settings.model_copy(update={"log_format": "text"}), stream)
    try:
        await client.get("/healthz", headers={"X-Request-ID": "txt-1"})
    finally:
        logging.getLogger().removeHandler(handler)
    [line] = [ln for ln in stream.getvalue().splitlines() if "codedrop.access" in ln]
    assert "[txt-1] GET /healthz 200" in line


async def test_claims_batched_together_each_log_under_their_own_request_id(
    client: httpx.AsyncClient, dev: Dev, json_log: io.StringIO
) -> None:
    import asyncio

    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\n" + b"".join(b"BATCH%04d\n" % i for i in range(20)))
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/distribute/{cid}",
                json={"user_identifier": f"b{i}"},
                # a developer's own users are logged by name (anonymous ids never are)
                headers={"X-Request-ID": f"req-{i}", **dev.auth},
            )
            for i in range(20)
        )
    )
    assert [a.status_code for a in answers] == [201] * 20
    claims = [line for line in lines(json_log) if line["logger"] == "domain.claims"]
    assert len(claims) == 20
    for line in claims:
        n = str(line["request_id"]).removeprefix("req-")
        assert re.search(rf"claimant=\S*:b{n} ", str(line["message"])), line
