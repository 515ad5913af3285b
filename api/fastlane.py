"""The claim's fast lane: `POST /api/distribute/{id}` served straight from ASGI.

A launch is thousands of alike requests a second on this one route. Through FastAPI's
routing, dependency and validation layers each one cost about as much again as the claim
itself: on 2 cores those layers were a third of an API worker's CPU (py-spy under
bench/claims.py). This lane serves claims whose JSON body `ClaimIn` accepts, with or without
a well-formed `Idempotency-Key`, through the same schema, the same `serve_claim`, the same
idempotency handling (`api.idempotency.answer_once`, same scope: a key used on one road is
known on the other) and the same error answers (`api.errors.to_response`) as the FastAPI
route. Everything else goes on to FastAPI untouched, the body already read handed on as it
came: a body that fails validation or a malformed key gets FastAPI's 422, and the route
stays in the OpenAPI document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.idempotency import answer_once
from api.routes.distribute import serve_claim
from api.schemas import ClaimIn
from domain import idempotency
from domain.errors import DomainError
from domain.values import PUBLIC_ID_PATTERN

# only ids of the right shape: any other path goes on to FastAPI, whose route answers 422
CLAIM_PATH = re.compile(r"^/api/distribute/(" + PUBLIC_ID_PATTERN.strip("^$") + ")$")
ROUTE_PATH = "/api/distribute/{campaign_id}"
CLAIM_OPERATION = "POST " + ROUTE_PATH  # the idempotency scope the FastAPI route uses
MAX_BODY = 4096  # a claim body is well under 200 bytes; larger ones take the general road


class ClaimFastLane:
    """ASGI middleware that answers claims it can take and hands everything else to `app`."""

    def __init__(self, app: ASGIApp, route: APIRoute | None = None) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = CLAIM_PATH.match(scope["path"])
        if match is None or scope.get("query_string"):  # FastAPI refuses unknown parameters
            await self.app(scope, receive, send)
            return
        plain, key = _plain(scope["headers"])
        if not plain:
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
        # the request as FastAPI would see it, its body readable again (the key's fingerprint)
        request = Request(scope, _replay(messages, receive))
        answer: Response
        try:
            if key is None:
                answer = await self._claim(request, match.group(1), claim, None)
            else:
                answer = await answer_once(
                    request,
                    key,
                    CLAIM_OPERATION,
                    lambda: self._claim(request, match.group(1), claim, key),
                    rerun=True,
                )
        except Exception as exc:  # the FastAPI route's handlers, in the same order
            answer = await errors.to_response(request, exc)
        await answer(scope, receive, send)

    async def _claim(
        self, request: Request, campaign_id: str, claim: ClaimIn, key: str | None
    ) -> Response:
        holder = Response()  # collects the headers serve_claim sets
        out = await serve_claim(request, holder, campaign_id, claim, key)
        answer = Response(
            out.model_dump_json().encode(),
            status_code=200 if out.repeated else 201,
            media_type="application/json",
        )
        for name, value in holder.headers.items():
            if name != "content-length":
                answer.headers[name] = value
        return answer


def _plain(headers: list[tuple[bytes, bytes]]) -> tuple[bool, str | None]:
    """Whether the lane takes the request (JSON, no key or a well-formed one), and the key."""
    json_body = False
    key: str | None = None
    for name, value in headers:
        if name == b"idempotency-key":
            try:
                key = idempotency.check_key(value.decode())
            except (UnicodeDecodeError, DomainError):
                return False, None  # FastAPI answers the malformed key
        elif name == b"content-type":
            json_body = value.split(b";")[0].strip().lower() == b"application/json"
    return json_body, key


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
