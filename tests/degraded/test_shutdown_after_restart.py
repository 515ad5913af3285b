"""`codedrop api` stops within seconds after a MariaDB restart.

Before domain/adapters/mysql_client.py, a claim whose BEGIN met a connection the restart had broken
left that connection marked "in use" for ever, and the app's lifespan shutdown (closing the
pool) waited for it for ever: SIGTERM left the uvicorn workers running. Here real uvicorn
workers serve claims while a private mariadbd is SIGKILLed and started again, then the server
gets SIGTERM and every process must be gone within the bound. MariaDB only.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.degraded.stack import Stack, private_stack

pytestmark = pytest.mark.mariadb
EXIT_BOUND = 10.0  # seconds from SIGTERM until the supervisor and every worker are gone


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with private_stack(tmp_path, workers=2, database_pool_size="4") as s:
        yield s


def _claims(
    base: str, cid: str, tag: str, n: int, answered: threading.Event | None = None
) -> Counter[object]:
    def one(i: int) -> object:
        try:
            return httpx.post(
                f"{base}/api/distribute/{cid}", json={"user_identifier": f"{tag}{i}"}, timeout=30
            ).status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__
        finally:
            if answered is not None and i >= 16:
                answered.set()

    with ThreadPoolExecutor(16) as pool:
        return Counter(pool.map(one, range(n)))


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is pending


def test_the_api_exits_promptly_on_sigterm_after_a_database_restart(stack: Stack) -> None:
    base = stack.api.base_url
    r = httpx.post(f"{base}/api/campaigns", json={"name": "Restart"}, headers=stack.auth)
    cid = r.json()["id"]
    csv = b"code\n" + b"".join(b"REST%05d\n" % i for i in range(600))
    up = httpx.post(
        f"{base}/api/campaigns/{cid}/codes",
        files={"file": ("c.csv", csv, "text/csv")},
        headers=stack.auth,
        timeout=30,
    )
    assert up.status_code == 201, up.text
    assert _claims(base, cid, "warm", 40)[201] == 40  # every worker's pool is in use

    # claims in flight while the database dies and comes back
    during: list[Counter[object]] = []
    answered = threading.Event()
    load = threading.Thread(target=lambda: during.append(_claims(base, cid, "mid", 300, answered)))
    load.start()
    assert answered.wait(30)  # the load is flowing: claims are in flight when it dies
    stack.mariadb.kill()
    stack.mariadb.start()
    load.join()
    assert set(during[0]) <= {201, 503, "ReadError", "RemoteProtocolError"}, during[0]
    after = _claims(base, cid, "after", 40)
    assert after[201] == 40, after  # healed by itself

    workers = stack.api.worker_pids()
    assert len(workers) == 2
    proc = stack.api.proc
    assert proc is not None
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the API supervisor did not exit within {EXIT_BOUND:g} s of SIGTERM")
    left = [p for p in workers if _running(p)]
    assert not left, f"workers still running: {left}"
    assert time.monotonic() - start < EXIT_BOUND
