"""The claim's fast lane (api/fastlane.py): it serves claims exactly as the FastAPI route
would, keys included, and hands every other request on untouched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from api.app import create_app
from api.fastlane import ClaimFastLane, claim_route
from domain.adapters.bootstrap import Services
from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


class Downstream:
    """Stands for the rest of the app: records what reaches it, answers 299 with the body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.seen.append((scope["method"], scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def call(
    app: FastAPI, lane: ClaimFastLane, method: str, path: str, body: bytes, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One request through the lane alone, with the real app's state behind `request.app`."""
    chunks = [body[:5], body[5:]] if len(body) > 5 else [body]  # a body in two pieces
    incoming: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    out: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        out.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 5000),
        "server": ("testserver", 80),
        "app": app,
    }
    await lane(scope, receive, send)
    start = next(m for m in out if m["type"] == "http.response.start")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in out[1:])


async def test_a_plain_claim_is_served_by_the_lane(
    app: FastAPI, client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, platform="ios")
    await upload(client, dev, cid, b"code\nLANE0001\nLANE0002\n")
    downstream = Downstream()
    lane = ClaimFastLane(downstream, route=claim_route(app))
    body = json.dumps({"platform": "ios", "user_identifier": "fast-1"}).encode()

    status, headers, answer = await call(
        app, lane, "POST", f"/api/distribute/{cid}", body, content_type="application/json"
    )
    again = await call(
        app, lane, "POST", f"/api/distribute/{cid}", body, content_type="application/json"
    )

    assert downstream.seen == []
    assert status == 201 and headers["content-type"] == "application/json"
    assert headers["cache-control"].startswith("no-store") and "ratelimit-remaining" in headers
    first = json.loads(answer)
    assert first["code"].startswith("LANE") and first["repeated"] is False
    assert again[0] == 200 and json.loads(again[2])["code"] == first["code"]


@pytest.fixture
async def route_only(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The same service without the lane: every claim takes the FastAPI route."""
    app = create_app(services.settings, services, manage_database=False, fast_lane=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_the_lane_and_the_route_give_the_same_answers(
    client: httpx.AsyncClient, route_only: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, platform="ios")
    await upload(client, dev, cid, b"code\nSAME0001\nSAME0002\nSAME0003\nSAME0004\n")
    body = {"platform": "ios", "user_identifier": "twin"}
    fast = await client.post(f"/api/distribute/{cid}", json=body)
    routed = await route_only.post(f"/api/distribute/{cid}", json=body)
    assert (fast.status_code, routed.status_code) == (201, 200)
    a, b = fast.json(), routed.json()
    assert a.keys() == b.keys() and a["code"] == b["code"] and b["repeated"]
    assert a["claimed_at"] == b["claimed_at"]
    for name in ("cache-control", "pragma", "ratelimit-limit", "content-type"):
        assert fast.headers[name] == routed.headers[name], name

    # a key used on one road is known on the other: a retry replays, another body is a 422
    keyed = {"platform": "ios", "user_identifier": "keyed"}
    first = await client.post(
        f"/api/distribute/{cid}", json=keyed, headers={"Idempotency-Key": "road-1"}
    )
    retry = await route_only.post(
        f"/api/distribute/{cid}", json=keyed, headers={"Idempotency-Key": "road-1"}
    )
    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    for n, (a_client, b_client) in enumerate(((client, route_only), (route_only, client))):
        key = f"reuse-{n}"
        ok = await a_client.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": f"r1-{n}"},
            headers={"Idempotency-Key": key},
        )
        clash = await b_client.post(
            f"/api/distribute/{cid}",
            json={"user_identifier": f"r2-{n}"},
            headers={"Idempotency-Key": key},
        )
        assert ok.status_code == 201 and clash.status_code == 422
        assert clash.json()["code"] == "idempotency_key_reused"

    # refusals read the same from both roads
    sold_fast = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "late"})
    sold_routed = await route_only.post(f"/api/distribute/{cid}", json={"user_identifier": "late2"})
    assert sold_fast.status_code == sold_routed.status_code == 409
    assert sold_fast.headers["content-type"] == sold_routed.headers["content-type"] == PROBLEM
    x, y = sold_fast.json(), sold_routed.json()
    assert (x["code"], x["type"], x["title"]) == (y["code"], y["type"], y["title"])
    assert x["code"] == "sold_out"


async def test_everything_but_a_plain_claim_goes_on_untouched(
    app: FastAPI, client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nPASS0001\n")
    downstream = Downstream()
    lane = ClaimFastLane(downstream, route=claim_route(app))
    path = f"/api/distribute/{cid}"
    good = b'{"user_identifier": "u-1"}'
    cases = [
        ("POST", path, b'{"user_identifier": "has spaces"}', {"content_type": "application/json"}),
        ("POST", path, b"[", {"content_type": "application/json"}),
        ("POST", path, good, {"content_type": "application/json", "idempotency_key": "k" * 129}),
        ("POST", path, good, {"content_type": "text/plain"}),
        ("POST", path + "/extra", good, {"content_type": "application/json"}),
        ("POST", path, b" " * 5000 + good, {"content_type": "application/json"}),
        ("GET", path, b"", {}),
    ]
    for method, target, body, headers in cases:
        status, _, echoed = await call(app, lane, method, target, body, **headers)
        assert status == 299 and echoed == body, (method, target, body[:40], headers)
    assert [(m, p) for m, p, _ in downstream.seen] == [(m, p) for m, p, _, _ in cases]
    # nothing was claimed on the way
    assert (await client.get(f"/api/distribute/{cid}")).json()["codes_left"] == 1


async def test_a_refusal_in_the_lane_is_a_problem_and_counts_in_metrics(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nMETR0001\n")
    await client.patch(f"/api/campaigns/{cid}", json={"status": "paused"}, headers=dev.auth)
    r = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "m"})
    assert (r.status_code, r.json()["code"]) == (409, "campaign_not_active")
    assert r.headers["content-type"] == PROBLEM and r.json()["instance"] == f"/api/distribute/{cid}"
    metrics = (await client.get("/metrics")).text
    line = (
        'codedrop_http_requests_total{method="POST",route="/api/distribute/{campaign_id}",'
        'status="409"}'
    )
    assert line in metrics


async def test_a_keyed_claim_is_served_by_the_lane_and_replayed_on_retry(
    app: FastAPI, client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nKEYD0001\nKEYD0002\n")
    downstream = Downstream()
    lane = ClaimFastLane(downstream, route=claim_route(app))
    body = b'{"user_identifier": "retrier"}'
    path = f"/api/distribute/{cid}"
    headers = {"content_type": "application/json", "idempotency_key": "try-1"}

    first = await call(app, lane, "POST", path, body, **headers)
    retry = await call(app, lane, "POST", path, body, **headers)
    other = await call(app, lane, "POST", path, b'{"user_identifier": "x"}', **headers)

    assert downstream.seen == []
    assert first[0] == retry[0] == 201 and json.loads(retry[2]) == json.loads(first[2])
    assert retry[1]["idempotent-replayed"] == "true"
    assert other[0] == 422 and json.loads(other[2])["code"] == "idempotency_key_reused"
    assert (await client.get(f"/api/distribute/{cid}")).json()["codes_left"] == 1


def test_the_lane_takes_its_path_and_key_scope_from_the_claim_route(app: FastAPI) -> None:
    from fastapi import APIRouter

    from api.idempotency import operation_of
    from api.routes import distribute

    route = claim_route(app)
    lane = ClaimFastLane(Downstream(), route=route)
    assert route.endpoint.__name__ == "claim_code"
    assert lane.operation == operation_of(route) == "POST /api/distribute/{campaign_id}"
    assert lane._campaign_id("/api/distribute/Abc_12-x") == "Abc_12-x"
    assert lane._campaign_id("/api/distribute/has%20space") is None  # the route's own 422
    assert lane._campaign_id("/api/distribute/" + "x" * 33) is None
    # served somewhere else (an include prefix), the lane would stand in for nothing: refused
    moved = FastAPI()
    outer = APIRouter(prefix="/v2")
    outer.include_router(distribute.router)
    moved.include_router(outer)
    with pytest.raises(RuntimeError, match="served at /v2/api/distribute/probe"):
        claim_route(moved)
