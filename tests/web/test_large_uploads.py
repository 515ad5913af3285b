"""The dashboard's background uploads through HTTP: start, PUT, complete, progress, report.

Files over the in-request limit go through domain.large_uploads; the page's script drives
these same endpoints (tests/web/test_browser.py runs it in Chromium). Start and complete need
the session's CSRF token; the PUT is authorised by its own signed URL (or, with S3, goes
straight to the presigned URL, tested against moto's S3 server).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from domain.adapters.bootstrap import Services, bootstrap
from domain.adapters.s3 import S3ObjectStore
from domain.models import Upload
from tests import factories
from tests.fakes.s3 import moto_endpoint, s3_settings_for
from tests.web.conftest import Dev, sign_in

__all__ = ["moto_endpoint"]

JSON = {"Accept": "application/json"}


def big_file(n: int = 1_500) -> bytes:
    """A CSV of `n` good codes, one repeated, one invalid."""
    return (factories.codes_csv(n, prefix="BIG") + "BIG000007\nbad code!\n").encode()


async def start(dev: Dev, campaign_id: str, body: bytes, csrf: str | None = None) -> httpx.Response:
    return await dev.http.post(
        f"/dashboard/c/{campaign_id}/large-uploads",
        json={"filename": "big.csv", "size": len(body)},
        headers={**JSON, "X-CSRF-Token": dev.csrf if csrf is None else csrf},
    )


async def test_a_large_file_goes_to_the_background_and_its_report_shows_the_problem_lines(
    dev: Dev,
) -> None:
    c = await factories.campaign(dev.developer.id)
    body = big_file()

    r = await start(dev, c.id, body)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"].startswith("no-store")
    ticket = r.json()
    assert ticket["method"] == "PUT" and ticket["direct_to_storage"] is False
    # our own upload URL, as a path: the page PUTs to the origin it was served from
    assert ticket["url"].startswith(f"/api/uploads/{ticket['upload_id']}/content?token=")
    assert ticket["report_url"] == f"/dashboard/c/{c.id}/uploads/{ticket['upload_id']}"

    waiting = await dev.http.get(ticket["progress_url"], headers=JSON)
    assert waiting.json()["status"] == "pending" and waiting.json()["finished"] is False
    early = await dev.http.post(ticket["complete_url"], headers={**JSON, "X-CSRF-Token": dev.csrf})
    assert early.status_code == 409 and "has not arrived" in early.json()["detail"]

    put = await dev.http.put(ticket["url"], content=body, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200 and put.json()["bytes"] == len(body)

    done = await dev.http.post(ticket["complete_url"], headers={**JSON, "X-CSRF-Token": dev.csrf})
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "uploaded"  # queued; the import runs after the answer

    # ASGITransport returns once the background import has run
    p = (await dev.http.get(ticket["progress_url"], headers=JSON)).json()
    assert (p["status"], p["finished"], p["percent"]) == ("done", True, 100.0)
    assert (p["rows_done"], p["rows_total"]) == (1_502, 1_503)  # the header is a line too
    assert (p["imported"], p["duplicates"], p["invalid"]) == (1_500, 1, 1)
    assert p["report_url"] == ticket["report_url"]

    report = await dev.http.get(p["report_url"])
    assert report.status_code == 200
    assert re.search(r'data-report="imported">1,500<', report.text)
    problems = re.findall(r'<td class="num">(\d+)</td><td>([^<]+)</td>', report.text)
    assert ("1502", "duplicate of an earlier line") in problems  # found in another batch
    assert any(line == "1503" and "not allowed" in why for line, why in problems)
    row = await Upload.get(public_id=ticket["upload_id"])
    assert row.object_key is not None and row.total_bytes == len(body)
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    assert "big.csv</a> — done, 1,500 imported" in page.text

    again = await dev.http.post(ticket["complete_url"], headers={**JSON, "X-CSRF-Token": dev.csrf})
    assert again.status_code == 202 and again.json()["status"] == "done"  # harmless repeat


async def test_the_campaign_page_gives_the_browser_both_limits_and_the_start_url(
    dev: Dev, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.settings, "upload_max_bytes", 2 * 1024 * 1024)
    c = await factories.campaign(dev.developer.id)
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    large = services.settings.large_upload_max_bytes
    assert 'data-max-bytes="2097152"' in page.text
    assert f'data-large-max-bytes="{large}"' in page.text
    assert f'data-large-url="/dashboard/c/{c.id}/large-uploads"' in page.text
    assert "Files up to 2 MB" in page.text and "up to 256 MB" in page.text
    # embedded storage: the file goes to this origin only
    assert "connect-src 'self';" in page.headers["content-security-policy"]


async def test_large_upload_actions_need_the_sessions_csrf_token(dev: Dev, app: object) -> None:
    c = await factories.campaign(dev.developer.id)
    body = big_file(10)
    for token in ("", "forged-token"):
        refused = await start(dev, c.id, body, csrf=token)
        assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert await Upload.filter(campaign__public_id=c.id).count() == 0

    ticket = (await start(dev, c.id, body)).json()
    await dev.http.put(ticket["url"], content=body)
    for headers in ({}, {"X-CSRF-Token": "forged-token"}):
        refused = await dev.http.post(ticket["complete_url"], headers={**JSON, **headers})
        assert refused.status_code == 403
    assert (await Upload.get(public_id=ticket["upload_id"])).status == "pending"

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        for method, url in (
            ("POST", f"/dashboard/c/{c.id}/large-uploads"),
            ("POST", ticket["complete_url"]),
            ("GET", ticket["progress_url"]),
        ):
            r = await anon.request(method, url, headers={**JSON, "X-CSRF-Token": dev.csrf})
            assert r.status_code == 401, url
    # the file's own URL needs its signature, not a session
    forged = ticket["url"].split("?")[0] + "?token=1.forged"
    assert (await dev.http.put(forged, content=body)).status_code == 401
    assert (await Upload.get(public_id=ticket["upload_id"])).status == "pending"


async def test_another_developers_campaign_and_uploads_are_not_found(dev: Dev, app: object) -> None:
    other, other_key = await factories.developer("Mallory")
    theirs = await factories.campaign(other.id, name="Their launch")
    r = await start(dev, theirs.id, big_file(5))
    assert r.status_code == 404 and "Their launch" not in r.text

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        csrf = await sign_in(http, other_key)
        their_ticket = (
            await http.post(
                f"/dashboard/c/{theirs.id}/large-uploads",
                json={"filename": "theirs.csv"},
                headers={**JSON, "X-CSRF-Token": csrf},
            )
        ).json()
    mine = await factories.campaign(dev.developer.id)
    for path in (
        their_ticket["progress_url"],
        f"/dashboard/c/{mine.id}/large-uploads/{their_ticket['upload_id']}",
    ):
        assert (await dev.http.get(path, headers=JSON)).status_code == 404, path
    hidden = await dev.http.post(
        f"/dashboard/c/{mine.id}/large-uploads/{their_ticket['upload_id']}/complete",
        headers={**JSON, "X-CSRF-Token": dev.csrf},
    )
    assert hidden.status_code == 404


async def test_a_file_over_the_background_limit_is_refused_before_anything_is_stored(
    dev: Dev, services: Services
) -> None:
    c = await factories.campaign(dev.developer.id)
    too_big = services.settings.large_upload_max_bytes + 1
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/large-uploads",
        json={"filename": "huge.csv", "size": too_big},
        headers={**JSON, "X-CSRF-Token": dev.csrf},
    )
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert await Upload.filter(campaign__public_id=c.id).count() == 0


@pytest.fixture
async def s3_app(
    services: Services, moto_endpoint: str, tmp_path: Path
) -> AsyncIterator[tuple[object, str]]:
    """The app over the test database with its objects in a bucket of moto's S3 server."""
    from api.app import create_app

    settings = s3_settings_for(services.settings, moto_endpoint)
    store = S3ObjectStore.from_settings(settings)
    await store.ensure_bucket()
    svc = bootstrap(settings, store=store)
    try:
        yield create_app(settings, svc, manage_database=False), moto_endpoint
    finally:
        await svc.close()


async def test_with_s3_the_file_goes_straight_to_the_presigned_url(
    s3_app: tuple[object, str],
) -> None:
    app, endpoint = s3_app
    developer, key = await factories.developer("Bucket")
    c = await factories.campaign(developer.id)
    body = big_file(200)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        csrf = await sign_in(http, key)
        page = await http.get(f"/dashboard/c/{c.id}")
        # the page may PUT to the bucket's origin, and nowhere else
        assert f"connect-src 'self' {endpoint};" in page.headers["content-security-policy"]
        dev = Dev(developer, key, http, csrf)
        ticket = (await start(dev, c.id, body)).json()
        assert ticket["direct_to_storage"] is True and ticket["url"].startswith(endpoint + "/")
        async with httpx.AsyncClient() as browser:
            put = await browser.put(ticket["url"], content=body)
        assert put.status_code == 200
        done = await http.post(ticket["complete_url"], headers={**JSON, "X-CSRF-Token": csrf})
        assert done.status_code == 202, done.text
        p = (await http.get(ticket["progress_url"], headers=JSON)).json()
    assert (p["status"], p["imported"], p["duplicates"], p["invalid"]) == ("done", 200, 1, 1)
