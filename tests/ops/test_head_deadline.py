"""A request head that trickles in is cut off with a 408 (api/http_protocol.py), on the real
`codedrop api` process, with one worker (the runtime's server) and with two (uvicorn's
workers, which import the protocol by name); a head sent at once is served as before."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from domain.adapters.bootstrap import Services
from tests.ops.processes import environment, free_port, start, wait_http

HEAD_TIMEOUT = 1.0


async def _trickle(port: int, head: bytes, pause: float) -> tuple[bytes, float]:
    """Send `head` a byte every `pause` seconds; what the server answered and when it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        for byte in head:
            if reader.at_eof():
                break
            writer.write(bytes([byte]))
            try:
                await writer.drain()
            except ConnectionError:
                break
            try:
                # a closed connection shows up as data or EOF while we pause
                answer = await asyncio.wait_for(reader.read(4096), pause)
            except TimeoutError:
                continue
            rest = await asyncio.wait_for(reader.read(), 5)
            return answer + rest, time.monotonic() - started
        answer = await asyncio.wait_for(reader.read(), 10)
        return answer, time.monotonic() - started
    finally:
        writer.close()


async def _idle(port: int) -> tuple[bytes, float]:
    """Open a connection and send nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(reader.read(), 10)
        return answer, time.monotonic() - started
    finally:
        writer.close()


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_request_head_that_trickles_in_is_answered_408_and_closed(
    services: Services, tmp_path: Path, workers: int
) -> None:
    env = environment(services.settings, http_head_timeout=str(HEAD_TIMEOUT))
    port, log = free_port(), tmp_path / "api.log"
    proc = await start(env, "api", "--port", str(port), "--workers", str(workers), log=log)
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
        answer, took = await _trickle(port, head, pause=0.2)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert HEAD_TIMEOUT - 0.1 < took < HEAD_TIMEOUT + 3, took
        # a connection that never sends a byte is closed by the same deadline
        silent, took = await _idle(port)
        assert silent.startswith(b"HTTP/1.1 408 ") and took < HEAD_TIMEOUT + 3, (silent, took)
        # a whole head at once is served, and keep-alive still serves a second request
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(2):
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 5)
                assert status.startswith(b"HTTP/1.1 200 "), status
                length = 0
                while (line := await asyncio.wait_for(reader.readline(), 5)) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                await asyncio.sleep(HEAD_TIMEOUT + 0.3)  # idle between requests is not a slow head
        finally:
            writer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 20)
    assert status == 0, log.read_text()
