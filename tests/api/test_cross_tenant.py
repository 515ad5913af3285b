"""Cross-tenant access (OWASP API1): every developer endpoint in the app's route table, called
with ANOTHER developer's key on the victim's resources, answers 404 and changes nothing.

The routes are not listed by hand: the test walks the app's route table, keeps every route
that authenticates a developer (`api.deps.current_developer` in its dependency tree), fills
its path with the victim's ids and its body with the schema's own example. A new developer
route is therefore covered the day it is added (or fails here until it can be).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.deps import current_developer
from domain import clock, reports
from domain.bootstrap import Services
from domain.models import Report
from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


def _authenticates(dependant: Dependant) -> bool:
    return any(d.call is current_developer or _authenticates(d) for d in dependant.dependencies)


def developer_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every route that needs a developer's API key."""
    found = []
    for ctx in iter_route_contexts(app.router.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and _authenticates(route.dependant):
            for method in sorted(ctx.methods or ()):
                if method != "HEAD":
                    found.append((method, str(ctx.path), route))
    return found


def _example_body(schema: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The request body example the OpenAPI schema documents for this operation."""
    op = schema["paths"][path][method.lower()]
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    body_schema = content["application/json"]["schema"]
    if "$ref" in body_schema:
        body_schema = schema["components"]["schemas"][body_schema["$ref"].split("/")[-1]]
    examples = body_schema.get("examples") or []
    if examples:
        return dict(examples[0])
    # no example: a body without required fields is valid as {}
    assert not body_schema.get("required"), (
        f"{method} {path}: document an example body so this test can call it"
    )
    return {}


async def test_every_developer_endpoint_is_a_404_with_another_developers_key(
    app: FastAPI, client: httpx.AsyncClient, dev: Dev, other_dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    uploaded = await upload(client, dev, cid, b"code\nVICT0001\nVICT0002\n")
    upload_id = uploaded.json()["upload_id"]
    claimed = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "member"})
    assert claimed.status_code == 201
    await reports.run_daily_reports(store=services.store, notifiers=[], day=clock.now().date())
    report = await Report.get(developer_id=dev.id)
    before = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    schema = (await client.get("/openapi.json")).json()
    listing = (await client.get(f"/api/campaigns/{cid}/codes", headers=dev.auth)).json()
    hook = await client.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/victim", "events": ["claim.created"]},
        headers=dev.auth,
    )
    assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["id"]
    pinged = await client.post(f"/api/webhooks/{webhook_id}/ping", headers=dev.auth)
    values = {
        "webhook_id": webhook_id,
        "delivery_id": pinged.json()["id"],
        "campaign_id": cid,
        "code": "VICT0001",
        "code_id": listing["items"][0]["id"],
        "upload_id": upload_id,
        "report_id": report.id,
    }

    routes = developer_routes(app)
    walked = []
    for method, path, _route in routes:
        params = re.findall(r"{(\w+)}", path)
        if not params:
            continue  # collection routes: checked below
        unknown = [p for p in params if p not in values]
        assert not unknown, f"{method} {path}: teach this test a victim value for {unknown}"
        url = path.format(**values)
        kwargs: dict[str, Any] = {"headers": other_dev.auth}
        op = schema["paths"][path][method.lower()]
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
            kwargs["files"] = {"file": ("c.csv", b"code\nMALL0001\n", "text/csv")}
        else:
            body = _example_body(schema, method, path)
            if body is not None:
                kwargs["json"] = body
        r = await client.request(method, url, **kwargs)
        assert r.status_code == 404, (method, url, r.status_code, r.text[:200])
        assert r.headers["content-type"] == PROBLEM, (method, url)
        assert "VICT0002" not in r.text and "member" not in r.text  # nothing of the victim leaks
        walked.append(f"{method} {path}")

    # the walk is not vacuous: every kind of developer resource was reached
    assert len(walked) >= 10, walked
    for must in ("DELETE /api/campaigns/{campaign_id}", "POST /api/campaigns/{campaign_id}/codes"):
        assert must in walked, walked

    # collections never show the victim's campaign
    listed = (await client.get("/api/campaigns", headers=other_dev.auth)).json()
    assert cid not in str(listed)
    their_reports = await client.get("/api/reports", headers=other_dev.auth)
    assert their_reports.status_code == 200 and f'"id":{report.id}' not in their_reports.text
    assert f'"id":{report.id}' in (await client.get("/api/reports", headers=dev.auth)).text

    # and nothing changed for the owner
    after = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert after == before
    uploads = (await client.get(f"/api/campaigns/{cid}/uploads", headers=dev.auth)).json()
    assert [u["upload_id"] for u in uploads] == [upload_id]
    assert "DELETE /api/webhooks/{webhook_id}" in walked
    assert (await client.get("/api/webhooks", headers=other_dev.auth)).json() == []
    mine = (await client.get(f"/api/webhooks/{webhook_id}", headers=dev.auth)).json()
    assert mine["active"] is True and mine["url"] == "http://127.0.0.1:9/victim"
