"""The large-upload and report routes, through HTTP (httpx ASGITransport)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from domain.clock import frozen_at
from domain.reports import run_daily_reports
from tests import factories


async def test_a_large_upload_goes_through_our_own_url_and_reports_progress(
    client: httpx.AsyncClient,
) -> None:
    dev, key = await factories.developer()
    c = await factories.campaign(dev.id)
    auth = {"Authorization": f"Bearer {key}"}
    body = factories.codes_csv(1_200).encode()

    started = await client.post(
        f"/api/campaigns/{c.id}/uploads", json={"filename": "codes.csv"}, headers=auth
    )
    assert started.status_code == 201, started.text
    ticket = started.json()
    assert ticket["method"] == "PUT" and ticket["direct_to_storage"] is False
    path = ticket["url"].split("://", 1)[1].split("/", 1)[1]

    refused = await client.put("/" + path.split("?")[0] + "?token=1.forged", content=body)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    put = await client.put("/" + path, content=body, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200 and put.json()["bytes"] == len(body)

    completed = await client.post(ticket["complete_url"], headers=auth)
    assert completed.status_code == 202 and completed.json()["status"] == "uploaded"

    # ASGITransport returns once the background import has run
    progress = (await client.get(ticket["progress_url"], headers=auth)).json()
    assert progress["status"] == "done" and progress["percent"] == 100.0
    assert (progress["rows_done"], progress["rows_total"]) == (1_200, 1_201)
    assert progress["report"]["imported"] == 1_200

    _, other_key = await factories.developer("Stranger")
    hidden = await client.get(
        ticket["progress_url"], headers={"Authorization": f"Bearer {other_key}"}
    )
    assert hidden.status_code == 404


async def test_completing_before_the_file_arrived_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    dev, key = await factories.developer()
    c = await factories.campaign(dev.id)
    auth = {"Authorization": f"Bearer {key}"}
    ticket = (
        await client.post(f"/api/campaigns/{c.id}/uploads", json={"filename": "x"}, headers=auth)
    ).json()

    response = await client.post(ticket["complete_url"], headers=auth)

    assert response.status_code == 409
    assert "PUT it to the upload URL" in response.json()["detail"]


async def test_a_developer_lists_reads_and_downloads_their_reports(
    client: httpx.AsyncClient,
) -> None:
    dev, key = await factories.developer()
    auth = {"Authorization": f"Bearer {key}"}
    await factories.campaign(dev.id, name="Spring")
    app = client._transport.app  # type: ignore[attr-defined]
    with frozen_at(datetime.now(UTC) + timedelta(days=1)):
        await run_daily_reports(store=app.state.services.store, notifiers=[])

    listed = (await client.get("/api/reports", headers=auth)).json()
    assert len(listed) == 1 and listed[0]["campaigns"][0]["name"] == "Spring"
    one = await client.get(f"/api/reports/{listed[0]['id']}", headers=auth)
    assert one.status_code == 200 and one.json()["period"] == listed[0]["period"]
    csv_response = await client.get(listed[0]["csv_url"], headers=auth)
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "Spring" in csv_response.text

    _, other_key = await factories.developer("Other")
    other = {"Authorization": f"Bearer {other_key}"}
    assert (await client.get(f"/api/reports/{listed[0]['id']}", headers=other)).status_code == 404
    assert (await client.get(listed[0]["csv_url"], headers=other)).status_code == 404
