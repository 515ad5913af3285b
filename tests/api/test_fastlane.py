"""The claim's fast lane (api/fastlane.py): it serves plain claims exactly as the FastAPI route
would, and hands every other request on untouched."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from api.fastlane import ClaimFastLane
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
    lane = ClaimFastLane(downstream)
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


async def test_the_lane_and_the_route_give_the_same_answer(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, platform="ios")
    await upload(client, dev, cid, b"code\nSAME0001\n")
    body = {"platform": "ios", "user_identifier": "twin"}
    fast = await client.post(f"/api/distribute/{cid}", json=body)  # plain: the lane
    routed = await client.post(  # with a key: the FastAPI route
        f"/api/distribute/{cid}", json=body, headers={"Idempotency-Key": "twin-1"}
    )
    assert fast.status_code == 201 and routed.status_code == 200
    a, b = fast.json(), routed.json()
    assert a.keys() == b.keys() and a["code"] == b["code"] and b["repeated"]
    assert a["claimed_at"] == b["claimed_at"]
    for name in ("cache-control", "pragma", "ratelimit-limit", "content-type"):
        assert fast.headers[name] == routed.headers[name], name
    # refusals read the same from both roads
    sold_fast = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "late"})
    sold_routed = await client.post(
        f"/api/distribute/{cid}",
        json={"user_identifier": "later"},
        headers={"Idempotency-Key": "k"},
    )
    assert sold_fast.status_code == sold_routed.status_code == 409
    assert sold_fast.headers["content-type"] == sold_routed.headers["content-type"] == PROBLEM
    x, y = sold_fast.json(), sold_routed.json()
    assert (
        (x["code"], x["type"], x["title"])
        == (y["code"], y["type"], y["title"])
        == (
            "sold_out",
            "https://codedrop.dev/problems/sold_out",
            x["title"],
        )
    )


async def test_everything_but_a_plain_claim_goes_on_untouched(
    app: FastAPI, client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nPASS0001\n")
    downstream = Downstream()
    lane = ClaimFastLane(downstream)
    path = f"/api/distribute/{cid}"
    good = b'{"user_identifier": "u-1"}'
    cases = [
        ("POST", path, b'{"user_identifier": "has spaces"}', {"content_type": "application/json"}),
        ("POST", path, b"[", {"content_type": "application/json"}),
        ("POST", path, good, {"content_type": "application/json", "idempotency_key": "k-1"}),
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
