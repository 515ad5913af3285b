"""MariaDB down: the real service (uvicorn) answers fast 503 problems, not hangs or 500s, and
recovers by itself when the database returns, without losing an acknowledged claim.

A private mariadbd (own data folder, free port) is SIGKILLed and restarted here; the shared
server is never touched. SQLite cannot be "down", so this test is MariaDB only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.degraded.stack import Stack, private_stack

pytestmark = pytest.mark.mariadb
PROBLEM = "application/problem+json"
FAST = 3.0  # seconds: a refusal must come well before any client gives up


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(tmp_path_factory.mktemp("mariadb-down"), workers=1) as running:
        yield running


def _timed(http: httpx.Client, method: str, url: str, **kw: object) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = http.request(method, url, **kw)  # type: ignore[arg-type]
    return r, time.monotonic() - start


def test_a_database_outage_is_a_fast_503_and_heals_by_itself(stack: Stack) -> None:
    auth = {"Authorization": f"Bearer {stack.key}"}
    with httpx.Client(base_url=stack.api.base_url, timeout=30) as http:
        r = http.post("/api/campaigns", json={"name": "Outage"}, headers=auth)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        up = http.post(
            f"/api/campaigns/{cid}/codes",
            files={"file": ("c.csv", b"code\nDOWN0001\nDOWN0002\nDOWN0003\n", "text/csv")},
            headers=auth,
        )
        assert up.status_code == 201
        first = http.post(f"/api/distribute/{cid}", json={"user_identifier": "before"})
        assert first.status_code == 201
        code = first.json()["code"]

        stack.mariadb.kill()
        for method, url, kw in (
            ("POST", f"/api/distribute/{cid}", {"json": {"user_identifier": "during"}}),
            ("POST", f"/api/distribute/{cid}", {"json": {"user_identifier": "during"}}),
            ("GET", f"/api/distribute/{cid}", {}),
            ("GET", f"/api/campaigns/{cid}", {"headers": auth}),
            ("GET", "/api/campaigns", {"headers": auth}),
        ):
            r, took = _timed(http, method, url, **kw)
            assert r.status_code == 503, (method, url, r.status_code, r.text)
            assert (
                r.headers["content-type"] == PROBLEM and r.json()["code"] == "service_unavailable"
            )
            assert int(r.headers["retry-after"]) > 0
            assert took < FAST, (method, url, took)
        ready, took = _timed(http, "GET", "/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert took < FAST
        assert http.get("/healthz").status_code == 200  # the process itself is alive

        stack.mariadb.start()
        deadline = time.monotonic() + 30
        while True:
            again = http.post(f"/api/distribute/{cid}", json={"user_identifier": "before"})
            if again.status_code != 503 or time.monotonic() > deadline:
                break
        # no restart of the API: the same process serves again, and the claim acknowledged
        # before the crash is still there
        assert again.status_code == 200 and again.json()["code"] == code
        assert http.get("/readyz").json()["status"] == "ok"
        after = http.post(f"/api/distribute/{cid}", json={"user_identifier": "after"})
        assert after.status_code == 201 and after.json()["code"] != code
