"""`Idempotency-Key` for the API: a route class that replays stored answers to retried requests.

Routes opt in with `@idempotent` under their decorator, on a router built with
`route_class=IdempotentRoute`. With the header present, the route:
1. checks the key and fingerprints the request (method, path, canonical JSON body, or for a
   multipart upload each field's name, filename and content, since a retried multipart body
   carries a new boundary);
2. takes the key for this request before running it: a 422 `idempotency_key_reused` problem
   when the key belongs to another request (also one arriving at the same moment: that one
   never runs), the stored answer replayed when there is one (`Idempotent-Replayed: true`);
3. otherwise runs the route and stores a successful answer (domain/idempotency.py).
The claim (`idempotent_in_domain`) instead reads the key first (a read, no write) and, when
it is free, hands it to the claim, which writes the key's row and answer in its own
transaction (`keyed_answer`, domain/claims/keys.py): one write transaction per keyed claim
where taking the key, claiming and storing the answer were three.
Keys are scoped to the caller (a hash of its API key, or `anon`) and the operation, so two
callers never see each other's answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from domain import developers, idempotency
from domain.claims.keys import Answer, KeyedAnswer
from domain.errors import DomainError
from domain.idempotency import StoredAnswer
from domain.values import ClaimResult

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("cache-control", "pragma", "location")
MARK = "__codedrop_idempotent__"
RERUN = "__codedrop_idempotent_rerun__"
F = TypeVar("F", bound=Callable[..., Any])

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# (scope, key, request hash) of a free key the running claim writes with its answer
_KEY_TO_WRITE: ContextVar[tuple[str, str, str] | None] = ContextVar("key_to_write", default=None)


def keyed_answer(
    render: Callable[[ClaimResult], Any], headers: dict[str, str]
) -> KeyedAnswer | None:
    """For the claim route: the free Idempotency-Key this request may write with its new
    claim, its answer being `render(result)` as JSON with `headers` (a 201). None when the
    request has no key or its key already has a row (the claim then runs as a retry)."""
    held = _KEY_TO_WRITE.get()
    if held is None:
        return None
    kept = {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}

    def answer_of(result: ClaimResult) -> Answer:
        answer = StoredAnswer(201, render(result), "application/json", kept)
        return answer.status_code, idempotency.payload_of(answer)

    scope, key, request_hash = held
    return KeyedAnswer(scope, key, request_hash, answer_of)


def idempotent(endpoint: F) -> F:
    """Mark a route endpoint as honouring `Idempotency-Key` (needs `IdempotentRoute`)."""
    setattr(endpoint, MARK, True)
    return endpoint


def idempotent_in_domain(endpoint: F) -> F:
    """Like `idempotent`, for an operation the domain itself makes idempotent by key (the claim).

    A retry is checked against the first request (another body is still a 422) but is then run
    again instead of replayed from storage: the domain returns the code the claimant still
    holds, and a code released to the pool meanwhile (and perhaps claimed by someone else) is
    never handed back from a stored answer.
    """
    setattr(endpoint, MARK, True)
    setattr(endpoint, RERUN, True)
    return endpoint


def _principal(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if not auth:
        return "anon"
    # never store the key itself; a hash keeps two keys (and two developers) apart
    return "key-" + hashlib.sha256(auth.encode()).hexdigest()[:32]


async def request_fingerprint(request: Request) -> str:
    """What makes two requests the same request, independent of multipart boundaries."""
    parts: list[bytes | str] = [request.method, request.url.path]
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
            parts.append(name)
            if isinstance(value, UploadFile):
                parts.append(value.filename or "")
                digest = hashlib.sha256()
                await value.seek(0)
                while chunk := await value.read(256 * 1024):
                    digest.update(chunk)
                await value.seek(0)
                parts.append(digest.hexdigest())
            else:
                parts.append(value)
        return idempotency.fingerprint(*parts)
    body = await request.body()
    try:
        canonical: bytes | str = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body
    parts.append(canonical)
    return idempotency.fingerprint(*parts)


def _stored(response: Response) -> StoredAnswer | None:
    """The answer to keep: successful JSON answers only (refusals changed nothing)."""
    media_type = response.headers.get("content-type", "")
    body = getattr(response, "body", None)
    if (
        not 200 <= response.status_code < 300
        or not media_type.startswith("application/json")
        or not isinstance(body, bytes | memoryview)
    ):
        return None
    headers = {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
    return StoredAnswer(
        status_code=response.status_code,
        body=json.loads(bytes(body)),
        media_type=media_type,
        headers=headers,
    )


def _same_code(fresh: Any, first: Any) -> bool:
    return (
        isinstance(fresh, dict)
        and isinstance(first, dict)
        and fresh.get("code") is not None
        and fresh.get("code") == first.get("code")
    )


def _replay(answer: StoredAnswer) -> JSONResponse:
    headers = dict(answer.headers)
    headers[REPLAYED] = "true"
    return JSONResponse(
        answer.body,
        status_code=answer.status_code,
        media_type=answer.media_type,
        headers=headers,
    )


def _ttl(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.services.settings.idempotency_ttl_hours)


async def _may_read_upload(request: Request) -> bool:
    """False for a multipart upload without a valid API key: fingerprinting reads the whole
    file, so such a request goes straight to the route, whose 401 comes before any read."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return True
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        await developers.authenticate(api_key=key.strip())
    except DomainError:
        return False
    return True


def guard(handler: Handler, operation: str, *, rerun: bool = False) -> Handler:
    """Wrap a route handler with replay, mismatch detection and storage of its answer."""

    async def handle(request: Request) -> Response:
        raw = request.headers.get(HEADER)
        if raw is None or not await _may_read_upload(request):
            return await handler(request)
        return await answer_once(request, raw, operation, lambda: handler(request), rerun=rerun)

    return handle


async def answer_once(
    request: Request,
    raw_key: str,
    operation: str,
    run: Callable[[], Awaitable[Response]],
    *,
    rerun: bool,
) -> Response:
    """Answer a request that carries an Idempotency-Key: replay, refuse a reused key, or
    `run` it and keep its successful answer. Refusals `run` raises pass through unstored."""
    key = idempotency.check_key(raw_key)
    scope = idempotency.scope_of(_principal(request), f"{operation} {request.url.path}")
    request_hash = await request_fingerprint(request)
    if rerun:
        found = await idempotency.lookup(
            scope=scope, key=key, request_hash=request_hash, ttl=_ttl(request)
        )
        if found is None:  # free: the claim writes the key with its answer, or nothing
            token = _KEY_TO_WRITE.set((scope, key, request_hash))
            try:
                return await run()
            finally:
                _KEY_TO_WRITE.reset(token)
    # the key is this request's from here on (another request with it is refused, never run)
    held = await idempotency.begin(
        scope=scope, key=key, request_hash=request_hash, ttl=_ttl(request)
    )
    stored = held.answer
    if stored is not None and not rerun:
        return _replay(stored)
    try:
        response = await run()
    except Exception:
        if stored is None:  # a refusal changed nothing: the key is free again
            await idempotency.release(scope=scope, key=key, request_hash=request_hash)
        raise
    if stored is not None:
        # run again (rerun mode): the first answer is given back only while it is still
        # true, i.e. the domain handed back the same code; otherwise the fresh answer
        fresh = _stored(response)
        if fresh is not None and _same_code(fresh.body, stored.body):
            return _replay(stored)
        response.headers[REPLAYED] = "true"
        return response
    answer = _stored(response)
    if answer is not None:
        await idempotency.finish(scope=scope, key=key, request_hash=request_hash, answer=answer)
    else:
        await idempotency.release(scope=scope, key=key, request_hash=request_hash)
    return response


HEADER_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "retry-safe request id: a retry with the same key and request gets the"
    " first answer back (kept 24 h); the same key with another request is a 422",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY,
        "pattern": idempotency.KEY_PATTERN,
    },
}


def operation_of(route: APIRoute) -> str:
    """The operation a route's keys are scoped to: its methods and path template."""
    return f"{','.join(sorted(route.methods or ()))} {route.path_format}"


class IdempotentRoute(APIRoute):
    """An APIRoute whose `@idempotent` endpoints honour the `Idempotency-Key` header."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if getattr(endpoint, MARK, False) and not any(
            getattr(p.field_info, "alias", None) == HEADER for p in self.dependant.header_params
        ):
            extra = dict(self.openapi_extra or {})
            extra["parameters"] = [*extra.get("parameters", []), HEADER_DOC]
            self.openapi_extra = extra

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not getattr(self.endpoint, MARK, False):
            return handler
        return guard(
            handler,
            operation_of(self),
            rerun=getattr(self.endpoint, RERUN, False),
        )
