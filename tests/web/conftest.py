"""Web page fixtures: a signed-in dashboard client, and a real uvicorn server for SSE/browsers."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from domain.developers import DeveloperView
from tests import factories

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a rendered form carries."""
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@dataclass
class Dev:
    developer: DeveloperView
    key: str
    http: httpx.AsyncClient
    csrf: str


async def sign_in(http: httpx.AsyncClient, key: str) -> str:
    """Sign `http` in with an API key through the form; returns the session's CSRF token."""
    page = await http.get("/dashboard/signin")
    r = await http.post(
        "/dashboard/signin", data={"api_key": key, "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 303, r.text
    home = await http.get("/dashboard")
    assert home.status_code == 200
    return csrf_of(home.text)


@pytest.fixture
async def dev(app: object) -> AsyncIterator[Dev]:
    """A developer signed in to the dashboard (their own cookie jar)."""
    developer, key = await factories.developer("Ada")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        csrf = await sign_in(http, key)
        yield Dev(developer, key, http, csrf)


@pytest.fixture
async def visitor(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """A member of the public with their own cookie jar."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"},
    ) as http:
        yield http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live_server(app: object) -> AsyncIterator[str]:
    """The app served by a real uvicorn on a free port, in this test's event loop."""
    port = free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
