"""The request context: an id on every request and every log line it causes, and the access
log.

The id comes from the client's or the proxy's `X-Request-ID` when it is a plain token
(letters, digits, `.`, `_`, `-`, `:`; up to 64), else a new one; it is returned in the
answer's `X-Request-ID` and put in `domain.adapters.logs.REQUEST_ID` for the log lines. The access log
(`codedrop.access`, on with `CODEDROP_ACCESS_LOG`) has one line per request: method, path
without its query string (signed upload URLs carry their token there), status, duration and
the peer's address; never a header or a body, so never a key, a cookie or a code.
A plain ASGI middleware, outermost, for the fast lane's sake.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.adapters.logs import REQUEST_ID

access = logging.getLogger("codedrop.access")
HEADER = b"x-request-id"
ACCEPTED_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
MAX_PATH = 200


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is a plain token, else a new id."""
    for name, value in scope["headers"]:
        if name == HEADER and ACCEPTED_ID.match(value):
            return value.decode()
    return uuid.uuid4().hex


class RequestContext:
    """Gives each HTTP request an id (header, logs) and writes the access log line."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                self._log(scope, status, time.perf_counter() - start)
            REQUEST_ID.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float) -> None:
        path = scope["path"][:MAX_PATH]
        client = scope.get("client")
        peer = client[0] if client else "-"
        millis = round(seconds * 1000, 1)
        access.info(
            "%s %s %d %.1fms %s",
            scope["method"],
            path,
            status,
            millis,
            peer,
            extra={
                "http": {
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "ms": millis,
                    "client": peer,
                }
            },
        )
