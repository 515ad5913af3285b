"""A frozen MariaDB (SIGSTOP: the sockets stay open, nothing answers) is a bounded 503, not a
hang, and the service heals by itself once it answers again.

aiomysql has no read timeout, so without domain/adapters/mysql_client.py every request, and every
request queued behind the pool, would wait for ever. A private mariadbd is stopped here; the
shared server is never touched. SQLite cannot freeze this way, so this test is MariaDB only.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.degraded.stack import Stack, private_stack

pytestmark = pytest.mark.mariadb
PROBLEM = "application/problem+json"
TIMEOUT = 2.0  # CODEDROP_DATABASE_TIMEOUT for this service
BOUND = TIMEOUT + 2.5  # the answer may also wait for the event loop and the HTTP round trip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(
        tmp_path_factory.mktemp("mariadb-frozen"),
        workers=1,
        database_timeout=str(TIMEOUT),
        database_pool_size="2",
    ) as s:
        yield s


def _timed(base_url: str, method: str, url: str, **kw: object) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = httpx.request(method, base_url + url, timeout=60, **kw)  # type: ignore[arg-type]
    return r, time.monotonic() - start


def test_a_frozen_database_is_a_bounded_503_and_heals_by_itself(stack: Stack) -> None:
    base = stack.api.base_url
    with httpx.Client(base_url=base, timeout=60) as http:
        r = http.post("/api/campaigns", json={"name": "Frozen"}, headers=stack.auth)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        csv = b"code\n" + b"".join(b"FROZ%04d\n" % i for i in range(20))
        up = http.post(
            f"/api/campaigns/{cid}/codes",
            files={"file": ("c.csv", csv, "text/csv")},
            headers=stack.auth,
        )
        assert up.status_code == 201, up.text
        first = http.post(f"/api/distribute/{cid}", json={"user_identifier": "before"})
        assert first.status_code == 201
        code = first.json()["code"]

    pid = stack.mariadb.proc.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGSTOP)
    try:
        # more requests at once than the pool has connections: the ones queued for a
        # connection are bounded too
        calls: list[tuple[str, str, dict[str, object]]] = [
            ("POST", f"/api/distribute/{cid}", {"json": {"user_identifier": f"during{i}"}})
            for i in range(6)
        ]
        calls += [
            ("GET", f"/api/distribute/{cid}", {}),
            ("GET", f"/api/campaigns/{cid}", {"headers": stack.auth}),
            ("GET", "/api/campaigns", {"headers": stack.auth}),
        ]
        with ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(lambda c: _timed(base, c[0], c[1], **c[2]), calls))
        for (method, url, _), (r, took) in zip(calls, answers, strict=True):
            assert r.status_code == 503, (method, url, r.status_code, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert r.json()["code"] == "service_unavailable"
            assert int(r.headers["retry-after"]) > 0
            assert took < BOUND, (method, url, took)
        ready, took = _timed(base, "GET", "/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert took < BOUND
        healthy, took = _timed(base, "GET", "/healthz")
        assert healthy.status_code == 200 and took < 1  # the process itself never froze
    finally:
        os.kill(pid, signal.SIGCONT)

    # no restart of the API: the same process serves again as soon as the database answers
    with httpx.Client(base_url=base, timeout=60) as http:
        start = time.monotonic()
        again = http.post(f"/api/distribute/{cid}", json={"user_identifier": "before"})
        healed = time.monotonic() - start
        assert again.status_code == 200 and again.json()["code"] == code, again.text
        assert healed < BOUND
        assert http.get("/readyz").json()["status"] == "ok"
        after = http.post(f"/api/distribute/{cid}", json={"user_identifier": "after"})
        assert after.status_code == 201 and after.json()["code"] != code
        # the frozen claims took nothing, or took what they claimed (at most one each)
        stock = http.get(f"/api/campaigns/{cid}", headers=stack.auth).json()["stock"]
        assert stock["claimed"] + stock["available"] + stock.get("used", 0) == 20
        assert 2 <= stock["claimed"] <= 2 + 6
