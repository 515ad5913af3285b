"""The dashboard's sign-in (an API key) and sign-out.

Signing in opens a server-side session (domain.developers.open_session) named by a token in a
signed, HTTP-only cookie with a fresh CSRF token; signing out deletes the session on the
server, so every copy of the cookie stops working at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from api.deps import ClientIP, limit
from api.web import pages
from api.web.auth import check_csrf
from api.web.dashboard import page, redirect
from api.web.errors import WebError
from domain import developers
from domain.errors import RateLimited, Unauthorized

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dashboard")


def _safe_next(target: str | None) -> str:
    """Only same-site dashboard paths may be a sign-in's destination (no open redirect)."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard"


@router.get("/signin", name="signin_form")
async def signin_form(
    request: Request, next_: Annotated[str, Query(alias="next")] = ""
) -> Response:
    """The sign-in form (an API key)."""
    session = pages.load_session(request)
    if session and session.token:
        try:
            await developers.session_developer(token=session.token)
            return redirect(_safe_next(next_))
        except Unauthorized:  # an ended session: show the form
            pass
    session = pages.new_session()
    response = page(
        request, "signin.html", {"csrf": session.csrf, "next": _safe_next(next_), "error": None}
    )
    pages.save_session(request, response, session)
    return response


@router.post("/signin", name="signin")
async def signin(
    request: Request,
    ip: ClientIP,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_: Annotated[str, Form(alias="next", max_length=500)] = "",
) -> Response:
    """Check the key, then keep the session's token in a signed, HTTP-only cookie."""
    services = pages.services_of(request)
    session = pages.load_session(request)
    if session is None or not pages.tokens_match(session.csrf, csrf_token):
        raise WebError(
            403,
            "Form expired",
            "The sign-in form expired or your browser blocks cookies. Reload and try again.",
            code="csrf_failed",
        )
    # a refused key or too many attempts show the form again with the reason (not an error
    # page): the person retypes the key where they typed it
    try:
        await limit(
            services,
            Response(),
            services.settings.rate_limit_web_signin,
            "web-signin",
            ip,
            what="sign-in attempts from this address",
        )
        dev, token = await developers.open_session(
            api_key=api_key.strip(), ttl=timedelta(seconds=pages.SESSION_MAX_AGE)
        )
    except (RateLimited, Unauthorized) as exc:
        error = (
            exc.detail
            if isinstance(exc, RateLimited)
            else "That API key is not valid (unknown, revoked or mistyped)."
        )
        return page(
            request,
            "signin.html",
            {"csrf": session.csrf, "next": _safe_next(next_), "error": error},
            status_code=exc.status,
        )
    log.info("dashboard sign-in developer=%s", dev.id)
    response = redirect(_safe_next(next_))
    # a fresh CSRF token at sign-in: a token seen before sign-in is worth nothing after
    pages.save_session(request, response, pages.new_session(token))
    return response


@router.post("/signout", name="signout")
async def signout(request: Request) -> Response:
    """End the session on the server (the CSRF token must match when there is one): the
    cookie, and any copy of it, stops working at once."""
    session = pages.load_session(request)
    if session is not None:
        await check_csrf(request, session)
        if session.token:
            await developers.close_session(token=session.token)
    response = redirect("/dashboard/signin")
    pages.clear_session(request, response)
    return response
