"""Hostile input (issue 12): limits hold before a body is read; odd ids and values are 4xx.

Each test is one finding of the attack report: a body read whole before anything was checked,
an id that came back as a 500, a value the database could not hold, a null that silently
cleared a field, an answer without `nosniff`, a 405 naming one method.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from domain.adapters.bootstrap import Services, bootstrap
from tests.api.conftest import Dev, new_campaign, upload

JSON = {"content-type": "application/json"}


class Counted:
    """A request body sent chunk by chunk that records how much of it the server pulled."""

    def __init__(
        self, chunks: int, size: int = 64 * 1024, pause: float = 0.0, head: bytes = b""
    ) -> None:
        self.chunks, self.size, self.pause, self.pulled = chunks, size, pause, 0
        self.head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(self.chunks):
            self.pulled += 1
            yield (self.head if i == 0 else b"") + b"x" * self.size
            if self.pause:
                await asyncio.sleep(self.pause)


@pytest.fixture
async def tight(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose body timeout is 0.2 s (the other limits as configured)."""
    settings = services.settings.model_copy(update={"http_body_timeout": 0.2})
    svc = bootstrap(settings)
    app = create_app(settings, svc, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await svc.close()


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    return body


async def test_a_claim_body_over_its_limit_is_refused_from_its_content_length(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    body = Counted(3200)  # 200 MB, never produced: the length alone decides
    r = await client.post(
        f"/api/distribute/{cid}",
        content=body,
        headers={**JSON, "content-length": str(3200 * 64 * 1024)},
    )
    _problem(r, 413, "body_too_large")
    assert body.pulled <= 1
    assert r.headers["connection"] == "close"


async def test_a_chunked_claim_body_is_refused_as_soon_as_it_passes_the_limit(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    body = Counted(3200, size=1024)
    r = await client.post(f"/api/distribute/{cid}", content=body, headers=JSON)
    _problem(r, 413, "body_too_large")
    assert body.pulled <= 5  # 4 KiB ceiling: the fifth KiB passes it


async def test_a_json_call_over_the_general_limit_is_refused(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    body = Counted(100)  # 6.4 MB against 256 KiB
    r = await client.post("/api/campaigns", content=body, headers={**JSON, **dev.auth})
    _problem(r, 413, "body_too_large")
    assert body.pulled <= 5


async def test_an_upload_without_a_key_is_refused_before_its_body_is_read(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    body = Counted(900)  # 60 MB
    r = await client.post(
        f"/api/campaigns/{cid}/codes",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    _problem(r, 401, "unauthorized")
    assert body.pulled == 0


async def test_an_upload_over_the_limit_is_refused_while_it_streams(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
    body = Counted(400, head=part)  # 25 MB against 16 MiB + multipart framing
    r = await client.post(
        f"/api/campaigns/{cid}/codes",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=x", **dev.auth},
    )
    _problem(r, 413, "body_too_large")
    assert body.pulled < 400


async def test_too_many_headers_or_header_bytes_are_refused_with_431(
    client: httpx.AsyncClient,
) -> None:
    many = await client.get("/healthz", headers={f"x-h{i}": "1" for i in range(150)})
    _problem(many, 431, "headers_too_large")
    big = await client.get("/healthz", headers={"x-big": "a" * 100_000})
    _problem(big, 431, "headers_too_large")
    assert (await client.get("/healthz", headers={"x-ok": "a" * 1000})).status_code == 200


async def test_a_body_that_stops_arriving_is_answered_408(
    tight: httpx.AsyncClient, dev: Dev
) -> None:
    body = Counted(3, size=1024, pause=5.0)
    r = await tight.post("/api/campaigns", content=body, headers={**JSON, **dev.auth})
    _problem(r, 408, "body_timeout")


LONG = "a" * 40
ROUTES = [
    ("GET", f"/api/distribute/{LONG}"),
    ("POST", f"/api/distribute/{LONG}"),
    ("POST", "/api/distribute/x%0AINFO%20domain.claims:%20FORGED"),
    ("GET", f"/api/campaigns/{LONG}"),
    ("PATCH", f"/api/campaigns/{LONG}"),
    ("GET", f"/api/campaigns/{LONG}/codes"),
    ("GET", f"/api/campaigns/{LONG}/uploads/{LONG}"),
    ("GET", "/api/reports/9223372036854775808"),
    ("GET", "/api/reports/9223372036854775808/csv"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_path_id_of_the_wrong_shape_is_a_422_not_a_500(
    client: httpx.AsyncClient, dev: Dev, method: str, path: str
) -> None:
    r = await client.request(method, path, json={"user_identifier": "player-1"}, headers=dev.auth)
    _problem(r, 422, "validation_error")


async def test_a_code_id_past_what_a_row_id_holds_is_a_422(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    for action in ("used", "release"):
        r = await client.post(
            f"/api/campaigns/{cid}/codes/9223372036854775808/{action}", headers=dev.auth
        )
        _problem(r, 422, "validation_error")


async def test_pages_answer_a_long_campaign_id_with_their_404(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(f"/c/{LONG}", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("waitlist_enabled", None),
        ("platform", None),
        ("name", None),
        ("low_stock_threshold", None),
        ("low_stock_threshold", 10**19),
        ("low_stock_threshold", 2**31),
        ("starts_at", "0001-01-01T00:00:00+14:00"),
        ("ends_at", "9999-12-31T23:59:59-14:00"),
        ("name", "evil\u202egnp.exe"),
        ("name", "nul\x00byte"),
    ],
)
async def test_a_value_the_campaign_cannot_hold_is_a_422_naming_the_field(
    client: httpx.AsyncClient, dev: Dev, field: str, value: object
) -> None:
    cid = await new_campaign(client, dev, platform="ios")
    r = await client.patch(f"/api/campaigns/{cid}", json={field: value}, headers=dev.auth)
    body = _problem(r, 422, "validation_error")
    assert body["field"] == field
    after = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert after["platform"] == "ios" and after["waitlist_enabled"] is True


async def test_null_clears_the_time_window_and_the_largest_threshold_is_stored(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev, ends_at="2030-01-01T00:00:00Z")
    r = await client.patch(
        f"/api/campaigns/{cid}",
        json={"ends_at": None, "low_stock_threshold": 2**31 - 1},
        headers=dev.auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["ends_at"] is None and r.json()["low_stock_threshold"] == 2**31 - 1


async def test_every_answer_says_nosniff(client: httpx.AsyncClient, dev: Dev) -> None:
    cid = await new_campaign(client, dev)
    answers = [
        await client.get("/healthz"),
        await client.get(f"/api/distribute/{cid}"),
        await client.get("/static/app.css"),
        await client.get(f"/c/{cid}"),
        await client.get("/nowhere"),
        await client.get("/openapi.json"),
    ]
    assert [r.headers.get("x-content-type-options") for r in answers] == ["nosniff"] * 6


async def test_a_405_lists_every_method_the_path_allows(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.put(f"/api/campaigns/{cid}", headers=dev.auth)
    _problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, PATCH, DELETE"


async def test_a_browser_gets_a_page_for_a_missing_path_and_an_api_client_problem_json(
    client: httpx.AsyncClient,
) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = await client.get("/no/such/page", headers={"accept": browser})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = await client.get("/no/such/page", headers={"accept": "application/json"})
    _problem(api, 404, "not_found")
    wrong = await client.put("/healthz", headers={"accept": browser})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert wrong.headers["content-type"].startswith("text/html")


async def test_an_upload_without_a_file_field_is_a_422_naming_it(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await client.post(
        f"/api/campaigns/{cid}/codes", data={"other": "x"}, files={}, headers=dev.auth
    )
    assert _problem(r, 422, "validation_error")["field"] == "file"
    ok = await upload(client, dev, cid, b"code\nAAAA-1111\n")
    assert ok.status_code == 201 and ok.json()["imported"] == 1


async def test_a_full_width_formula_sign_is_neutralised_in_the_export(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    csv = "code,metadata\nAAAA-0001,\uff1dHYPERLINK(x)\nAAAA-0002,\uff0b1\nAAAA-0003,fine\n"
    assert (await upload(client, dev, cid, csv.encode())).status_code == 201
    export = await client.get(f"/api/campaigns/{cid}/export.csv", headers=dev.auth)
    assert "'\uff1dHYPERLINK(x)" in export.text and "'\uff0b1" in export.text
    assert ",fine" in export.text


async def test_an_unknown_query_parameter_is_a_422_naming_it_on_either_claim_road(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    r = await client.get("/api/campaigns", params={"stauts": "paused"}, headers=dev.auth)
    assert _problem(r, 422, "validation_error")["field"] == "stauts"
    cid = await new_campaign(client, dev)
    claim = await client.post(
        f"/api/distribute/{cid}", params={"x": "1"}, json={"user_identifier": "player-1"}
    )
    assert _problem(claim, 422, "validation_error")["field"] == "x"
    listed = await client.get("/api/campaigns", params={"limit": "5"}, headers=dev.auth)
    assert listed.status_code == 200


async def test_an_upload_with_an_idempotency_key_but_no_valid_key_is_refused_unread(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    for auth in ({}, {"Authorization": "Bearer cdk_00000000_" + "x" * 30}):
        body = Counted(900)
        r = await client.post(
            f"/api/campaigns/{cid}/codes",
            content=body,
            headers={
                "content-type": "multipart/form-data; boundary=x",
                "Idempotency-Key": "retry-1",
                **auth,
            },
        )
        _problem(r, 401, "unauthorized")
        assert body.pulled == 0
