"""What every request passes before anything reads it: size, header and time limits.

The outermost ASGI middleware (it stands in front of api/fastlane.py too):
- a request with more headers than `http_max_headers`, or more header bytes than
  `http_max_header_bytes`, is refused with 431 before any route runs;
- every body has a ceiling picked by route (`BODY_LIMITS`: claims a few KiB, uploads their
  configured maximum, everything else `http_max_body_bytes`). A `Content-Length` over it is
  refused with 413 at once, without reading a byte; a body without one (chunked) is counted
  as it arrives and refused with 413 the moment it passes the ceiling, so memory never holds
  more than one chunk over the limit;
- a client that stops sending its body for `http_body_timeout` seconds gets a 408;
- every answer carries `X-Content-Type-Options: nosniff` (JSON, pages, static files).

Refusals are problem+json through the app's registered handler for `EdgeRefusal` (an
`HTTPException`, so FastAPI's body reading lets it through unchanged) and carry
`Connection: close`: the unread rest of the body is never read.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from fastapi import HTTPException, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.settings import Settings

# multipart framing around an uploaded file: boundaries, part headers, the CSRF field
MULTIPART_ALLOWANCE = 64 * 1024

# (methods, path) -> the body ceiling of those requests; the first match wins
BODY_LIMITS: list[tuple[frozenset[str], re.Pattern[str], Callable[[Settings], int]]] = [
    (
        frozenset({"POST"}),
        re.compile(r"^/api/campaigns/[^/]+/codes$"),
        lambda s: s.upload_max_bytes + MULTIPART_ALLOWANCE,
    ),
    (
        frozenset({"POST"}),
        re.compile(r"^/dashboard/c/[^/]+/upload$"),
        lambda s: s.upload_max_bytes + MULTIPART_ALLOWANCE,
    ),
    (
        frozenset({"PUT"}),
        re.compile(r"^/api/uploads/[^/]+/content$"),
        lambda s: s.large_upload_max_bytes,
    ),
    (
        frozenset({"POST"}),
        re.compile(r"^/api/distribute/[^/]+$|^/c/[^/]+/(claim|waitlist)$"),
        lambda s: s.http_max_claim_body_bytes,
    ),
]


BODY_METHODS = frozenset(m for methods, _, _ in BODY_LIMITS for m in methods)


class EdgeRefusal(HTTPException):
    """A request refused at the edge: 408, 413 or 431, with a stable problem code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(status, detail, headers={"Connection": "close"})
        self.code = code


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The most body bytes a request to `method path` may send."""
    if method not in BODY_METHODS:
        return settings.http_max_body_bytes
    for methods, pattern, limit in BODY_LIMITS:
        if method in methods and pattern.match(path):
            return limit(settings)
    return settings.http_max_body_bytes


def _too_large(limit: int) -> EdgeRefusal:
    return EdgeRefusal(
        413,
        "body_too_large",
        f"The request body is over the {limit:,}-byte limit of this route.",
    )


def _headers_refusal(settings: Settings, headers: list[tuple[bytes, bytes]]) -> str | None:
    if len(headers) > settings.http_max_headers:
        return f"The request has {len(headers):,} headers; at most {settings.http_max_headers}."
    size = sum(len(name) + len(value) for name, value in headers)
    if size > settings.http_max_header_bytes:
        return (
            f"The request headers are {size:,} bytes; at most {settings.http_max_header_bytes:,}."
        )
    return None


def _body_framing(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """Whether the request says it has a body, and its `Content-Length` when it gives one."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return chunked or bool(length), None if chunked else length


NOSNIFF = (b"x-content-type-options", b"nosniff")


class EdgeLimits:
    """ASGI middleware enforcing the limits above; see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_nosniff(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        s = self.settings
        headers = scope["headers"]
        limit = body_limit(s, scope["method"], scope["path"])
        try:
            problem = _headers_refusal(s, headers)
            if problem is not None:
                raise EdgeRefusal(431, "headers_too_large", problem)
            has_body, length = _body_framing(headers)
            if length is not None and length > limit:
                raise _too_large(limit)
            if has_body:
                receive = _guarded(receive, limit, s.http_body_timeout)
            # without Content-Length or Transfer-Encoding the server delivers an empty body
            await self.app(scope, receive, send_nosniff)
        except EdgeRefusal as exc:
            if started:
                raise  # the answer is on its way; the server ends the connection
            answer = await _answer(scope, exc)
            await answer(scope, receive, send_nosniff)


def _guarded(receive: Receive, limit: int, timeout: float) -> Receive:
    """`receive` that counts body bytes against `limit` and waits at most `timeout` for each
    body message; past the end of the body it waits as long as the app likes (disconnects)."""
    received = 0
    done = False

    async def guarded() -> Message:
        nonlocal received, done
        if done:
            return await receive()
        try:
            async with asyncio.timeout(timeout):  # no extra task per message (wait_for has one)
                message = await receive()
        except TimeoutError:
            raise EdgeRefusal(
                408, "body_timeout", f"No part of the request body arrived for {timeout:g} s."
            ) from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            done = not message.get("more_body", False)
        else:
            done = True
        return message

    return guarded


async def _answer(scope: Scope, exc: EdgeRefusal) -> Response:
    """The app's own problem+json answer for `exc` (api/errors.py)."""
    from api import errors

    request = Request(scope)
    return await errors.to_response(request, exc)
