"""The claim's fast lane: plain `POST /api/distribute/{id}` served straight from ASGI.

A launch is thousands of alike requests a second on this one route. Through FastAPI's
routing, dependency and validation layers each one cost about as much again as the claim
itself: on 2 cores those layers were a third of an API worker's CPU (py-spy under
bench/claims.py). This lane serves the plain case, a JSON body that `ClaimIn` accepts and no
`Idempotency-Key`, with the same schema, the same `serve_claim` and the same error answers
(`api.errors.to_response`) as the FastAPI route. Everything else goes on to FastAPI
untouched, the body already read handed on as it came: a body that fails validation gets
FastAPI's 422, a key gets the idempotency layer, and the route stays in the OpenAPI document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.routes.distribute import serve_claim
from api.schemas import ClaimIn

CLAIM_PATH = re.compile(r"^/api/distribute/([^/]+)$")
ROUTE_PATH = "/api/distribute/{campaign_id}"
MAX_BODY = 4096  # a claim body is well under 200 bytes; larger ones take the general road


class ClaimFastLane:
    """ASGI middleware that answers plain claims and hands everything else to `app`."""

    def __init__(self, app: ASGIApp, route: APIRoute | None = None) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = CLAIM_PATH.match(scope["path"])
        if match is None or not _plain(scope["headers"]):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away; FastAPI sees the same
            body += message.get("body", b"")
            if len(body) > MAX_BODY or not message.get("more_body", False):
                break
        try:
            last = messages[-1]
            if (
                last["type"] != "http.request"
                or last.get("more_body", False)
                or len(body) > MAX_BODY
            ):
                raise ValueError("not a whole, small body")
            claim = ClaimIn.model_validate_json(body)
        except (ValidationError, ValueError):
            await self.app(scope, _replay(messages, receive), send)
            return
        if self.route is not None:
            scope["route"] = self.route  # metrics label the request by its route
        await self._serve(scope, receive, match.group(1), claim, send)

    async def _serve(
        self, scope: Scope, receive: Receive, campaign_id: str, claim: ClaimIn, send: Send
    ) -> None:
        request = Request(scope)
        holder = Response()  # collects the headers serve_claim sets
        answer: Response
        try:
            out = await serve_claim(request, holder, campaign_id, claim, None)
        except Exception as exc:  # the FastAPI route's handlers, in the same order
            answer = await errors.to_response(request, exc)
        else:
            answer = Response(
                out.model_dump_json().encode(),
                status_code=200 if out.repeated else 201,
                media_type="application/json",
            )
            for name, value in holder.headers.items():
                if name != "content-length":
                    answer.headers[name] = value
        await answer(scope, receive, send)


def _plain(headers: list[tuple[bytes, bytes]]) -> bool:
    """A JSON request without an Idempotency-Key."""
    json_body = False
    for name, value in headers:
        if name == b"idempotency-key":
            return False
        if name == b"content-type":
            json_body = value.split(b";")[0].strip().lower() == b"application/json"
    return json_body


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that first gives back what the lane read, then reads on."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def claim_route(routes: Sequence[object]) -> APIRoute | None:
    """The FastAPI route the lane stands in for (metrics label its requests by it)."""
    for route in routes:
        if (
            isinstance(route, APIRoute)
            and route.path == ROUTE_PATH
            and "POST" in (route.methods or ())
        ):
            return route
    return None
