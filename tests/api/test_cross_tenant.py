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
from domain.adapters.bootstrap import Services
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
    claimed = await client.post(
        f"/api/distribute/{cid}", json={"user_identifier": "victim-claimant"}
    )
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
        "developer_id": dev.id,
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
        # nothing of the victim leaks
        assert "VICT0002" not in r.text and "victim-claimant" not in r.text
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


# The least role each campaign route needs; None: a member never reaches it (the owner's own
# reports). A new campaign route fails the walk below until it is placed here.
ROLE_NEEDED: dict[str, str | None] = {
    "GET /api/campaigns/{campaign_id}": "viewer",
    "PATCH /api/campaigns/{campaign_id}": "manager",
    "DELETE /api/campaigns/{campaign_id}": "owner",
    "GET /api/campaigns/{campaign_id}/analytics": "viewer",
    "POST /api/campaigns/{campaign_id}/codes": "manager",
    "GET /api/campaigns/{campaign_id}/codes": "viewer",
    "POST /api/campaigns/{campaign_id}/codes/used": "manager",
    "POST /api/campaigns/{campaign_id}/codes/release": "manager",
    "POST /api/campaigns/{campaign_id}/codes/{code_id}/used": "manager",
    "POST /api/campaigns/{campaign_id}/codes/{code_id}/release": "manager",
    "GET /api/campaigns/{campaign_id}/export.csv": "owner",
    "GET /api/campaigns/{campaign_id}/waitlist.csv": "owner",
    "POST /api/campaigns/{campaign_id}/codes/generate": "manager",
    "GET /api/campaigns/{campaign_id}/codes/generate/{upload_id}": "viewer",
    "GET /api/campaigns/{campaign_id}/uploads": "viewer",
    "GET /api/campaigns/{campaign_id}/uploads/{upload_id}": "viewer",
    "POST /api/campaigns/{campaign_id}/uploads": "manager",
    "POST /api/campaigns/{campaign_id}/uploads/{upload_id}/complete": "manager",
    "GET /api/campaigns/{campaign_id}/uploads/{upload_id}/progress": "viewer",
    "GET /api/reports/{report_id}": None,
    "GET /api/reports/{report_id}/csv": None,
    "GET /api/campaigns/{campaign_id}/members": "viewer",
    "POST /api/campaigns/{campaign_id}/members/invites": "owner",
    "PATCH /api/campaigns/{campaign_id}/members/{developer_id}": "owner",
    "DELETE /api/campaigns/{campaign_id}/members/{developer_id}": "owner",
}
RANK = {"viewer": 1, "manager": 2, "owner": 3}


async def _member(client: httpx.AsyncClient, owner: Dev, member: Dev, cid: str, role: str) -> None:
    invited = await client.post(
        f"/api/campaigns/{cid}/members/invites", json={"role": role}, headers=owner.auth
    )
    assert invited.status_code == 201, invited.text
    joined = await client.post(
        "/api/invites/accept", json={"token": invited.json()["token"]}, headers=member.auth
    )
    assert joined.status_code == 200 and joined.json()["role"] == role, joined.text


async def test_every_campaign_route_answers_each_role_as_the_role_matrix_says(
    app: FastAPI, client: httpx.AsyncClient, dev: Dev, other_dev: Dev, services: Services
) -> None:
    """Viewer, manager and owner members walk every developer route: below the role a route
    needs, a 403 `role_forbidden` naming that role (and nothing changes); at or above it, no
    refusal of access; the owner's own reports stay a 404 for every member."""
    schema = (await client.get("/openapi.json")).json()
    walked: dict[str, list[str]] = {}
    for role in ("viewer", "manager", "owner"):
        cid = await new_campaign(client, dev)
        uploaded = await upload(client, dev, cid, b"code\nVICT0001\nVICT0002\nVICT0003\n")
        claimed = await client.post(
            f"/api/distribute/{cid}", json={"user_identifier": "victim-claimant"}
        )
        assert claimed.status_code == 201
        if role == "viewer":
            day = clock.now().date()
            await reports.run_daily_reports(store=services.store, notifiers=[], day=day)
        await _member(client, dev, other_dev, cid, role)
        listing = (await client.get(f"/api/campaigns/{cid}/codes", headers=dev.auth)).json()
        values = {
            "campaign_id": cid,
            "code_id": listing["items"][0]["id"],
            "upload_id": uploaded.json()["upload_id"],
            "report_id": (await Report.get(developer_id=dev.id)).id,
            "developer_id": dev.id,  # the owner: never demoted nor removed
        }
        # campaign routes and the owner's reports; a developer's own webhooks are not shared
        # with a campaign's members (the stranger walk above covers them)
        routes = [
            (m, p, r)
            for m, p, r in developer_routes(app)
            if "{campaign_id}" in p or p.startswith("/api/reports/")
        ]
        # deleting the campaign goes last
        routes.sort(key=lambda x: f"{x[0]} {x[1]}" == "DELETE /api/campaigns/{campaign_id}")
        walked[role] = []
        for method, path, _route in routes:
            name = f"{method} {path}"
            assert name in ROLE_NEEDED, f"{name}: say which role it needs in ROLE_NEEDED"
            needed = ROLE_NEEDED[name]
            kwargs: dict[str, Any] = {"headers": other_dev.auth}
            op = schema["paths"][path][method.lower()]
            if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
                kwargs["files"] = {"file": ("c.csv", b"code\nMEMB0001\n", "text/csv")}
            else:
                body = _example_body(schema, method, path)
                if body is not None:
                    kwargs["json"] = body
            before = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
            r = await client.request(method, path.format(**values), **kwargs)
            if needed is None:
                assert r.status_code == 404, (role, name, r.status_code, r.text[:200])
            elif RANK[role] < RANK[needed]:
                assert r.status_code == 403, (role, name, r.status_code, r.text[:200])
                problem = r.json()
                assert r.headers["content-type"] == PROBLEM
                assert problem["code"] == "role_forbidden", problem
                assert problem["required_role"] == needed and problem["role"] == role
                after = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
                assert after == before, (role, name)  # a refused write changed nothing
            else:
                assert r.status_code not in (401, 403), (role, name, r.status_code, r.text)
                # a 404 here is about the thing asked for (a small upload has no progress),
                # never the campaign
                assert "campaign_not_found" not in r.text, (role, name, r.text[:200])
                assert r.status_code < 500, (role, name, r.status_code, r.text[:200])
            walked[role].append(name)
    assert all(len(names) == len(ROLE_NEEDED) for names in walked.values()), walked
    # the campaign the owner-member deleted is gone for its owner too
    assert (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).status_code == 404
