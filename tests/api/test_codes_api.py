"""Codes through HTTP: uploads good and bad, listing masked, mark used, release, export."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from domain.adapters.bootstrap import Services
from domain.claimants import pseudonym
from tests.api.conftest import Dev, new_campaign, upload

PROBLEM = "application/problem+json"


async def _stock(client: httpx.AsyncClient, dev: Dev, cid: str) -> dict[str, int]:
    return dict((await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()["stock"])


async def test_an_upload_reports_rows_duplicates_and_invalid_lines(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    content = (
        "\ufeffcode;platform;metadata\r\n"
        "GOOD0001;;first\r\n"
        "GOOD0002;;\r\n"
        "GOOD0001;;again\r\n"
        "bad code!;;\r\n"
        "abc;;\r\n" + "X" * 10_000 + ";;\r\n"
        "GOOD0003;android;\r\n"
    ).encode()
    r = await upload(client, dev, cid, content)
    assert r.status_code == 201, r.text
    rep = r.json()
    assert (rep["rows"], rep["imported"], rep["duplicates"], rep["invalid"]) == (7, 3, 1, 3)
    reasons = {e["line"]: e["reason"] for e in rep["errors"]}
    assert reasons[4] == "duplicate of line 2"
    assert "not allowed" in reasons[5] and "too short" in reasons[6] and "too long" in reasons[7]
    assert rep["rows"] == rep["imported"] + rep["duplicates"] + rep["invalid"]
    # re-uploading the same file adds nothing
    again = (await upload(client, dev, cid, content)).json()
    assert again["imported"] == 0 and again["duplicates"] == 4
    assert (await _stock(client, dev, cid))["available"] == 3
    status = await client.get(f"/api/campaigns/{cid}/uploads/{rep['upload_id']}", headers=dev.auth)
    assert status.json()["status"] == "done" and status.json()["imported"] == 3


async def test_a_plain_text_file_of_one_code_per_line_imports(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await upload(client, dev, cid, b"AAAA-1111\nBBBB-2222\n\nCCCC_3333\n", "steam.txt")
    assert r.json()["imported"] == 3 and r.json()["rows"] == 3


async def test_codes_are_case_sensitive_on_every_database(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await upload(client, dev, cid, b"code\nabcd1234\nABCD1234\n")
    assert r.json()["imported"] == 2


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "no codes"),
        (b"name,value\nfoo,bar\n", "no `code` column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
    ],
    ids=["zero-bytes", "blank", "no-code-column", "binary"],
)
async def test_a_file_that_cannot_be_imported_is_refused_whole_and_nothing_changes(
    client: httpx.AsyncClient, dev: Dev, content: bytes, fragment: str
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nKEEP0001\n")
    r = await upload(client, dev, cid, content)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "invalid_csv" and fragment in r.json()["detail"]
    assert (await _stock(client, dev, cid))["total"] == 1


async def test_non_utf8_lines_are_reported_and_the_rest_imports(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    r = await upload(client, dev, cid, b"code\nGOOD0001\n\xff\xfeBAD\xe9\nGOOD0002\n")
    rep = r.json()
    assert rep["imported"] == 2 and rep["invalid"] == 1
    assert rep["errors"] == [{"line": 3, "reason": "not UTF-8 text", "value": None}]


async def test_a_file_over_the_size_limit_is_refused(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    old = services.settings.upload_max_bytes
    services.settings.upload_max_bytes = 1000
    try:
        r = await upload(client, dev, cid, b"code\n" + b"ABCDEFGH\n" * 200)
    finally:
        services.settings.upload_max_bytes = old
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert (await _stock(client, dev, cid))["total"] == 0


async def test_codes_are_listed_masked_and_filtered(
    client: httpx.AsyncClient, dev: Dev, services: Services
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nABCDEF123XYZ\nQWERTY456UIO\n")
    await client.post(f"/api/distribute/{cid}", json={"user_identifier": "u1"})
    page = (await client.get(f"/api/campaigns/{cid}/codes?limit=1", headers=dev.auth)).json()
    assert page["total"] == 2 and page["items"][0]["code"] == "ABC***XYZ"
    claimed = (
        await client.get(f"/api/campaigns/{cid}/codes?status=claimed", headers=dev.auth)
    ).json()
    secret = services.settings.secret_key.get_secret_value()
    assert claimed["total"] == 1
    assert claimed["items"][0]["claimant"] == pseudonym(secret, cid, "anon:u1")
    bad = await client.get(f"/api/campaigns/{cid}/codes?status=lost", headers=dev.auth)
    assert bad.status_code == 422


async def test_mark_used_release_and_reclaim(client: httpx.AsyncClient, dev: Dev) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nAAAA0001\nAAAA0002\n")
    first = (await client.post(f"/api/distribute/{cid}", json={"user_identifier": "u1"})).json()[
        "code"
    ]
    r = await client.post(
        f"/api/campaigns/{cid}/codes/release", json={"code": first}, headers=dev.auth
    )
    assert r.status_code == 200 and r.json()["status"] == "available"
    # the member may claim again after a release
    again = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "u1"})
    assert again.status_code == 201
    listing = await client.get(f"/api/campaigns/{cid}/codes?status=claimed", headers=dev.auth)
    code_id = listing.json()["items"][0]["id"]
    r = await client.post(f"/api/campaigns/{cid}/codes/{code_id}/used", headers=dev.auth)
    assert r.json()["updated"] == 1
    r = await client.post(
        f"/api/campaigns/{cid}/codes/used",
        json={"codes": ["AAAA0001", "AAAA0002", "NOPE0000"]},
        headers=dev.auth,
    )
    body = r.json()
    assert body["not_found"] == ["NOP***000"] and len(body["already_used"]) == 1
    r = await client.post(f"/api/campaigns/{cid}/codes/999999999/used", headers=dev.auth)
    assert r.status_code == 404 and r.json()["code"] == "code_not_found"
    r = await client.post(
        f"/api/campaigns/{cid}/codes/release", json={"code": "AAAA0001"}, headers=dev.auth
    )
    assert r.status_code == 422
    r = await client.post(f"/api/campaigns/{cid}/codes/{code_id}/release", headers=dev.auth)
    assert r.status_code == 422  # used codes stay used


async def test_the_export_is_full_and_safe_to_open_in_a_spreadsheet(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(
        client,
        dev,
        cid,
        b'code,metadata\n-ABC123,"=HYPERLINK(""http://evil"",""x"")"\nPLAIN001,+1\n=HYPERLINK(x),\n',
    )
    r = await client.get(f"/api/campaigns/{cid}/export.csv", headers=dev.auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["code"] for row in rows] == ["'-ABC123", "PLAIN001"]
    assert rows[0]["metadata"].startswith("'=HYPERLINK")
    assert rows[1]["metadata"] == "'+1"
    for row in rows:
        for value in row.values():
            assert not value or value[0] not in "=+-@"


async def test_a_sold_out_campaign_says_so_and_the_upload_that_reopens_it_says_so_too(
    client: httpx.AsyncClient, dev: Dev
) -> None:
    cid = await new_campaign(client, dev)
    await upload(client, dev, cid, b"code\nONLY0001\n")
    first = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "fan-1"})
    assert first.status_code == 201
    sold = await client.post(f"/api/distribute/{cid}", json={"user_identifier": "fan-2"})
    assert sold.json()["code"] == "sold_out"
    view = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert (view["status"], view["state"]) == ("completed", "sold_out")

    r = await upload(client, dev, cid, b"code\nMORE0001\n")
    assert r.status_code == 201 and r.json()["reopened"] is True
    view = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert (view["status"], view["state"]) == ("active", "active")
    assert (await upload(client, dev, cid, b"code\nMORE0002\n")).json()["reopened"] is False

    await client.patch(f"/api/campaigns/{cid}", json={"status": "completed"}, headers=dev.auth)
    view = (await client.get(f"/api/campaigns/{cid}", headers=dev.auth)).json()
    assert (view["status"], view["state"]) == ("completed", "ended")
    # an ended campaign stays ended: new codes wait for its owner to resume it
    assert (await upload(client, dev, cid, b"code\nMORE0003\n")).json()["reopened"] is False
