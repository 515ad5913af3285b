"""The one place the web pages turn refusals into answers.

A refusal is a `domain.errors.DomainError` raised by a domain call, or a `WebError` the pages
raise themselves (an expired form, a missing cookie); both carry a status, a stable code, a
title, a detail and extra fields, and both get the same answer: an HTML error page for a
browser, an RFC 9457 problem body (api/errors.py) for the pages' own `fetch` calls
(`Accept: application/json`). `SignInRequired` sends a browser to the sign-in form and gives
scripts a 401. Router refusals (404, 405, the edge's 408/413/431) get a page for a browser and
problem JSON for everyone else. Routes never catch an error only to translate it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import errors
from api.web import pages
from api.web.pages import NO_STORE
from domain.errors import DomainError, RateLimited


class WebError(Exception):
    """A refusal of the pages themselves, shaped like a `DomainError`."""

    def __init__(
        self, status: int, title: str, detail: str, *, code: str = "error", **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.extra = extra


class SignInRequired(WebError):
    """No valid dashboard session: pages redirect to sign-in, scripts get a 401."""

    def __init__(self) -> None:
        super().__init__(401, "Not signed in", "Sign in again.", code="unauthorized")


def _navigating(request: Request) -> bool:
    """A browser opening a page (not a form post, a script or the live stream)."""
    return not (
        request.method != "GET" or pages.wants_json(request) or request.url.path.endswith("/live")
    )


def _sign_in(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    response = RedirectResponse(
        str(request.url_for("signin_form").include_query_params(next=target)), status_code=303
    )
    pages.clear_session(request, response)
    return response


# the problem body's own fields, and `api.errors.problem`'s other arguments
PROBLEM_FIELDS = frozenset(
    {"type", "title", "status", "detail", "code", "instance", "request", "headers"}
)


async def refusal(request: Request, exc: Exception) -> Response:
    """The answer to a `DomainError` or a `WebError` raised by any page."""
    assert isinstance(exc, (DomainError, WebError))
    if isinstance(exc, SignInRequired) and _navigating(request):
        return _sign_in(request)
    headers = dict(NO_STORE)
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    # extra fields join the problem body; none may take the name of one of its own fields
    extra = {k: v for k, v in exc.extra.items() if v is not None and k not in PROBLEM_FIELDS}
    as_json = isinstance(exc, SignInRequired) or pages.wants_json(request)
    if as_json:
        return errors.problem(
            exc.status, exc.code, exc.title, exc.detail, request, headers=headers, **extra
        )
    detail = exc.detail
    if isinstance(extra.get("field"), str):  # the page has no form to mark: name the field
        detail = f"{extra['field']}: {detail}"
    return pages.render(
        request,
        "error.html",
        {"title": exc.title, "detail": detail, "status": exc.status},
        status_code=exc.status,
        headers=headers,
    )


HTTP_TITLES = {
    404: ("Page not found", "There is nothing at this address. Check the link you followed."),
    405: ("Not allowed here", "This address does not take that kind of request."),
}


async def http_error_page(request: Request, exc: Exception) -> Response:
    """Router refusals (404, 405, the edge's 408/413/431): a page for a browser, problem JSON
    (api/errors.py) for everyone else."""
    assert isinstance(exc, StarletteHTTPException)
    answer = await errors.http_error(request, exc)
    if not pages.wants_html(request):
        return answer
    title, detail = HTTP_TITLES.get(
        exc.status_code,
        ("Request refused", exc.detail if isinstance(exc.detail, str) else "Request refused."),
    )
    headers = {k: v for k, v in answer.headers.items() if k.lower() in ("allow", "connection")}
    return pages.render(
        request,
        "error.html",
        {"title": title, "detail": detail, "status": exc.status_code},
        status_code=exc.status_code,
        headers={**NO_STORE, **headers},
    )


def install(app: FastAPI) -> None:
    """The pages' handlers: the API's for what they share (request validation, the database
    down, the unexpected), then the pages' own for refusals and router errors."""
    errors.install(app)
    app.add_exception_handler(DomainError, refusal)
    app.add_exception_handler(WebError, refusal)
    app.add_exception_handler(StarletteHTTPException, http_error_page)
