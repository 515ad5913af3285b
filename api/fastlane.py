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

The lane restates nothing of the route: it is built on the route itself (`claim_route`, by
name), matches paths with the route's own compiled regex, checks the id with the route's own
path parameter, and keys idempotency with the route's own operation
(`api.idempotency.operation_of`).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.idempotency import answer_once, operation_of
from api.routes.distribute import CLAIM_ROUTE, router, serve_claim
from api.schemas import ClaimIn
from domain import idempotency
from domain.errors import DomainError

MAX_BODY = 4096  # a claim body is well under 200 bytes; larger ones take the general road


class ClaimFastLane:
    """ASGI middleware that answers claims it can take and hands everything else to `app`."""

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app = app
        self.route = route
        self.operation = operation_of(route)  # the idempotency scope the route itself uses
        [self.id_param] = route.dependant.path_params

    def _campaign_id(self, path: str) -> str | None:
        """The campaign id when `path` is the route's and the route would accept the id (any
        other path goes on to FastAPI, whose route answers it, 422 included)."""
        match = self.route.path_regex.match(path)
        if match is None:
            return None
        raw = match[self.id_param.name]
        value, problems = self.id_param.validate(raw, {}, loc=("path", self.id_param.name))
        return None if problems else str(value)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        campaign_id = self._campaign_id(scope["path"])
        if campaign_id is None or scope.get("query_string"):  # FastAPI refuses unknown ones
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
        scope["route"] = self.route  # metrics label the request by its route
        # the request as FastAPI would see it, its body readable again (the key's fingerprint)
        request = Request(scope, _replay(messages, receive))
        answer: Response
        try:
            if key is None:
                answer = await self._claim(request, campaign_id, claim, None)
            else:
                answer = await answer_once(
                    request,
                    key,
                    self.operation,
                    lambda: self._claim(request, campaign_id, claim, key),
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


def claim_route(app: FastAPI) -> APIRoute:
    """The FastAPI route the lane stands in for, found by name; refused at start-up unless
    `app` serves it at the path it declares (an include prefix would move it)."""
    [route] = [r for r in router.routes if isinstance(r, APIRoute) and r.name == CLAIM_ROUTE]
    served = app.url_path_for(CLAIM_ROUTE, campaign_id="probe")
    if not route.path_regex.match(served):
        raise RuntimeError(f"the claim route is served at {served}, not at {route.path}")
    return route
