"""Hostile requests against a real `codedrop api --workers 2`: prints figures, asserts nothing.

    python -m bench.hostile [--mb 200] [--database-url mysql://root:@127.0.0.1:3306/DB]

Starts the API (SQLite in a temporary folder unless `--database-url` names a MariaDB
database, which must exist and be migrated or migratable), creates a campaign, then sends,
each on its own connection from a raw socket client (no HTTP library buffering the body):
1. an unauthenticated `--mb` MB JSON claim body with its `Content-Length`;
2. the same body chunked (no length: counted while it arrives);
3. a `--mb` MB multipart upload with no API key;
4. a 10 MB header, and 5,000 headers;
5. a body that stops arriving (the server's `http_body_timeout` is set to 2 s here);
6. a request head sent a byte every 100 ms (`http_head_timeout` is set to 2 s here).
For each: the status, the seconds until the answer's status line, the bytes the client got
to send before it. Then every worker's RSS before and after (from /proc), and the slowest
`/healthz` answer seen while the hostile requests ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.chaos.servers import ROOT, ApiService

CHUNK = 64 * 1024


@dataclass
class Outcome:
    what: str
    status: int
    seconds: float
    sent: int


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def exchange(
    port: int, head: bytes, body_size: int, *, chunked: bool = False, stall: bool = False
) -> tuple[int, float, int]:
    """Send `head`, then up to `body_size` bytes of body, until the answer's status line
    arrives; (status, seconds to the status line, body bytes sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    sent = 0
    status_line: asyncio.Task[bytes] = asyncio.create_task(reader.readline())
    try:
        writer.write(head)
        await writer.drain()
        piece = b"x" * CHUNK
        while sent < body_size and not status_line.done():
            if stall and sent >= CHUNK:
                await asyncio.wait({status_line}, timeout=60)
                break
            data = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            writer.write(data)
            sent += len(piece)
            try:
                await asyncio.wait_for(writer.drain(), timeout=5)
            except (ConnectionError, TimeoutError):
                break
        line = await asyncio.wait_for(status_line, timeout=60)
        took = time.perf_counter() - start
        status = int(line.split()[1]) if line.startswith(b"HTTP/") else 0
        return status, took, sent
    except (ConnectionError, TimeoutError):
        # the server may have answered and closed while we were still writing: a reset then
        # interrupts the write, but the status line may already be in
        took = time.perf_counter() - start
        if status_line.done() and not status_line.cancelled() and not status_line.exception():
            line = status_line.result()
            if line.startswith(b"HTTP/"):
                return int(line.split()[1]), took, sent
        return 0, took, sent
    finally:
        status_line.cancel()
        writer.close()


async def trickle(port: int, head: bytes, pause: float) -> tuple[int, float, int]:
    """Send `head` a byte every `pause` seconds until the server answers or closes;
    (status, seconds to the answer, head bytes sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    sent = 0
    try:
        for byte in head:
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            try:
                line = await asyncio.wait_for(reader.readline(), pause)
            except TimeoutError:
                continue
            status = int(line.split()[1]) if line.startswith(b"HTTP/") else 0
            return status, time.perf_counter() - start, sent
        line = await asyncio.wait_for(reader.readline(), 60)
        return int(line.split()[1]), time.perf_counter() - start, sent
    except (ConnectionError, TimeoutError, IndexError, ValueError):
        return 0, time.perf_counter() - start, sent
    finally:
        writer.close()


def _head(method: str, path: str, headers: dict[str, str] | list[tuple[str, str]]) -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def healthz_watch(base_url: str, stop: asyncio.Event) -> float:
    """The slowest /healthz answer (seconds) while `stop` is not set."""
    worst = 0.0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            start = time.perf_counter()
            await client.get("/healthz")
            worst = max(worst, time.perf_counter() - start)
            await asyncio.sleep(0.1)
    return worst


async def attack(api: ApiService, campaign: str, mb: int) -> tuple[list[Outcome], float]:
    size = mb * 1024 * 1024
    claim = f"/api/distribute/{campaign}"
    upload = f"/api/campaigns/{campaign}/codes"
    cases = [
        (
            f"{mb} MB claim body, Content-Length",
            _head("POST", claim, {"Content-Type": "application/json", "Content-Length": str(size)}),
            size,
            {},
        ),
        (
            f"{mb} MB claim body, chunked",
            _head(
                "POST",
                claim,
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            ),
            size,
            {"chunked": True},
        ),
        (
            f"{mb} MB upload, no API key",
            _head(
                "POST",
                upload,
                {"Content-Type": "multipart/form-data; boundary=x", "Transfer-Encoding": "chunked"},
            ),
            size,
            {"chunked": True},
        ),
        ("10 MB header", _head("GET", "/healthz", {"X-Big": "a" * (10 * 1024 * 1024)}), 0, {}),
        (
            "5,000 headers",
            _head("GET", "/healthz", [(f"X-H{i}", "1") for i in range(5000)]),
            0,
            {},
        ),
        (
            "JSON body that stops after 64 KiB",
            _head(
                "POST",
                "/api/campaigns",
                {"Content-Type": "application/json", "Content-Length": "100000"},
            ),
            100_000,
            {"stall": True},
        ),
    ]
    stop = asyncio.Event()
    watcher = asyncio.create_task(healthz_watch(api.base_url, stop))
    outcomes = []
    for what, head, body, options in cases:
        status, seconds, sent = await exchange(api.port, head, body, **options)
        outcomes.append(Outcome(what, status, seconds, sent))
    slow_head = _head("GET", "/healthz", {"X-Slow": "a" * 100})
    status, seconds, sent = await trickle(api.port, slow_head, pause=0.1)
    outcomes.append(Outcome("head sent a byte every 100 ms", status, seconds, sent))
    stop.set()
    return outcomes, await watcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the hostile bodies")
    parser.add_argument("--database-url", default="", help="mysql://… (default: SQLite)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="codedrop-hostile-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_")}
    env.update(
        {
            "CODEDROP_ENV_FILE": "",
            "CODEDROP_ENVIRONMENT": "test",
            "CODEDROP_DATABASE_URL": args.database_url or f"sqlite://{workdir / 'bench.sqlite3'}",
            "CODEDROP_STORAGE_DIR": str(workdir / "objects"),
            "CODEDROP_LOG_LEVEL": "WARNING",
            "CODEDROP_HTTP_BODY_TIMEOUT": "2",
            "CODEDROP_HTTP_HEAD_TIMEOUT": "2",
        }
    )
    api = ApiService(workdir, env, workers=2)
    api.migrate()
    made = subprocess.run(
        [sys.executable, "-m", "cli", "developers", "create", "--name", "B", "--email", "b@x.io"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    api.start()
    try:
        auth = {"Authorization": f"Bearer {key}"}
        r = httpx.post(api.base_url + "/api/campaigns", json={"name": "Bench"}, headers=auth)
        campaign = r.json()["id"]
        for _ in range(20):  # both workers warm: imports done, connections open
            httpx.get(f"{api.base_url}/api/distribute/{campaign}")
        pids = api.worker_pids()
        before = {pid: rss_mb(pid) for pid in pids}
        outcomes, worst_healthz = asyncio.run(attack(api, campaign, args.mb))
        after = {pid: rss_mb(pid) for pid in pids}
    finally:
        api.stop()
    print(f"codedrop api --workers 2 ({'MariaDB' if args.database_url else 'SQLite'})")
    print(f"{'request':38} {'status':>6} {'answer after':>13} {'client sent':>12}")
    for o in outcomes:
        print(f"{o.what:38} {o.status:>6} {o.seconds:>11.3f} s {o.sent / 1e6:>9.2f} MB")
    for pid in pids:
        print(
            f"worker {pid}: RSS {before[pid]:.1f} MB before, {after[pid]:.1f} MB after"
            f" (grew {after[pid] - before[pid]:+.1f} MB)"
        )
    print(f"slowest /healthz meanwhile: {worst_healthz * 1000:.0f} ms")
    print(
        json.dumps(
            {
                "outcomes": [o.__dict__ for o in outcomes],
                "rss_growth_mb": {str(p): round(after[p] - before[p], 1) for p in pids},
                "slowest_healthz_ms": round(worst_healthz * 1000),
            }
        )
    )


if __name__ == "__main__":
    main()
