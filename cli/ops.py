"""The operations port of a process without the API (a bot, the scheduler): `/metrics` for
Prometheus and `/healthz` for the container's health check (`codedrop health`).

`/healthz` reads the process's own heartbeat (renewed by its event loop every second) and asks
each part whether it is doing its job: a bot connected to its platform, the scheduler firing.
It answers from inside the same event loop, so a stuck loop fails the check by timing out.
The server is handed the runtime's health function (`cli.runtime.Runtime.health`), not the
runtime itself, so this module imports nothing of `cli.runtime`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from api.metrics import exposition

# whether the process is healthy, and the details `/healthz` shows
Health = Callable[[], tuple[bool, dict[str, Any]]]

log = logging.getLogger(__name__)


class OpsServer:
    """A small aiohttp server on `port` (all interfaces: compose health checks and scrapes)."""

    def __init__(self, health: Health, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
        self.health = health
        self.port = port
        self.host = host
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("metrics and health on port %d (/metrics, /healthz)", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = exposition()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, details = self.health()
        return web.Response(
            text=json.dumps(details), status=200 if ok else 503, content_type="application/json"
        )
