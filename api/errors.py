"""The one place the API turns errors into RFC 9457 `application/problem+json` answers.

Domain refusals keep their stable code as `type` (`https://codedrop.dev/problems/<code>`) and
their status; request validation names the field; anything unexpected is logged with an id
and answered with a generic 500 that carries the same id (never a stack trace).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from tortoise.exceptions import DBConnectionError, OperationalError

from domain.errors import DomainError, RateLimited, ServiceUnavailable

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://codedrop.dev/problems/"
PROBLEM_TYPE = "application/problem+json"

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "body_timeout",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    503: "service_unavailable",
}


PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "instance"})


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    request: Request,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


def rate_limit_headers(limit: int, remaining: int, reset: int, window: int) -> dict[str, str]:
    """The IETF RateLimit header fields (draft) plus the widely used X-RateLimit names."""
    return {
        "RateLimit-Policy": f"{limit};w={window}",
        "RateLimit": f"limit={limit}, remaining={remaining}, reset={reset}",
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
    }


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        headers.update(rate_limit_headers(exc.limit, 0, exc.retry_after, exc.window))
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="codedrop"'
    # extension members never replace the problem's own (RFC 9457 §3.2): a refusal that
    # carries e.g. the campaign's `status` keeps it under another name
    extra = {
        (f"{exc.code}_{k}" if k in PROBLEM_MEMBERS else k): v
        for k, v in exc.extra.items()
        if v is not None
    }
    return problem(
        exc.status, exc.code, exc.title, exc.detail, request, headers=headers or None, **extra
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        errors.append({"field": ".".join(loc) or None, "message": err.get("msg", "invalid")})
    if any(e["message"].startswith("JSON decode error") for e in errors):
        detail = "The request body is not valid JSON."
    else:
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
    first = errors[0]["field"] if errors else None
    return problem(
        422, "validation_error", "Invalid input", detail, request, field=first, errors=errors
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (FastAPI keeps one route per method, and
    Starlette's 405 names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "Request refused."
    title = code.replace("_", " ").capitalize()
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(exc.status_code, code, title, detail, request, headers=headers or None)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

CONNECTION_SIGNS = ("2003", "2006", "2013", "Can't connect", "Lost connection", "gone away")


def is_connection_problem(exc: BaseException) -> bool:
    """True when a database error means "not reachable" rather than "bad statement"."""
    if isinstance(exc, (DBConnectionError, ConnectionError, TimeoutError)):
        return True
    text = str(exc)
    return any(sign in text for sign in CONNECTION_SIGNS)


# Driver errors raised on raw connections (the claim's one-statement UPDATE) reach us
# untranslated by tortoise: a lost connection (2006/2013, or an InterfaceError "Not
# connected" on a pooled connection the server dropped), a refused one (2003), or InnoDB
# choosing this transaction as a deadlock victim (1213) or giving up a lock wait (1205). All
# are rolled back and safe to retry, so the client gets a 503 with Retry-After, not a 500.
TRANSIENT_ERRNOS = {1205, 1213, 2003, 2006, 2013}
DRIVER_MODULES = ("pymysql", "aiomysql", "tortoise", "sqlite3", "aiosqlite")


def is_transient_database_error(exc: BaseException) -> bool:
    """True for a database driver error that a retry of the request can cure."""
    if not type(exc).__module__.startswith(DRIVER_MODULES):
        return False
    if type(exc).__name__ == "InterfaceError":  # pymysql: used a connection the server dropped
        return True
    errno = exc.args[0] if exc.args else None
    if isinstance(errno, int) and errno in TRANSIENT_ERRNOS:
        return True
    return is_connection_problem(exc) or "database is locked" in str(exc)


async def database_down(request: Request, exc: Exception) -> JSONResponse:
    if not (is_connection_problem(exc) or is_transient_database_error(exc)):
        return await unexpected(request, exc)
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    err = ServiceUnavailable("The database is not answering; try again shortly.")
    return problem(503, err.code, err.title, err.detail, request, headers={"Retry-After": "5"})


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_transient_database_error(exc):
        return await database_down(request, exc)
    ref = secrets.token_hex(6)
    log.error(
        "unexpected error ref=%s on %s %s", ref, request.method, request.url.path, exc_info=exc
    )
    return problem(
        500,
        "internal_error",
        "Internal error",
        f"Something went wrong on our side; quote reference {ref} if you contact support.",
        request,
        reference=ref,
    )


async def to_response(request: Request, exc: Exception) -> Response:
    """The answer the app's registered handler (`install`) gives for `exc`, for code that runs
    outside FastAPI's exception handling (api/fastlane.py): the nearest class in its MRO."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            answer: Response = await handler(request, exc)
            return answer
    return await unexpected(request, exc)


def install(app: FastAPI) -> None:
    """Register every handler on the app."""
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DBConnectionError, database_down)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(ConnectionError, database_down)
    app.add_exception_handler(Exception, unexpected)
