"""A real HTTP server that receives webhooks and verifies them with `standardwebhooks`.

It records every delivery it accepted (event id, type, body) and every one whose signature
failed; `down()` stops listening (connections refused) and `up()` listens again on the same
port, so a test can take the receiver away and bring it back.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    event_id: str
    type: str
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    port: int = field(default_factory=free_port)
    secret: str = ""
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    answer_status: int = 204
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/codedrop"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            Webhook(self.secret).verify(raw, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=400, text="bad signature")
        if self.answer_status >= 300:
            return web.Response(status=self.answer_status, text="receiver failing on purpose")
        body = json.loads(raw)
        self.received.append(Received(request.headers["webhook-id"], body["type"], body))
        return web.Response(status=self.answer_status)

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/codedrop", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ids(self) -> list[str]:
        return [r.event_id for r in self.received]
