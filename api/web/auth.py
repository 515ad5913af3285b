"""Dashboard sign-in state: who is signed in, and the CSRF check every form passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.web import pages
from api.web.errors import SignInRequired, WebError
from api.web.pages import Session
from domain import audit, developers
from domain.audit import AuditChannel
from domain.developers import DeveloperView
from domain.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class Signed:
    developer: DeveloperView
    session: Session


async def signed_in(request: Request) -> Signed:
    """The developer of a live server-side session (checked on every request)."""
    session = pages.load_session(request)
    if session is None or not session.token:
        raise SignInRequired()
    try:
        dev = await developers.session_developer(token=session.token)
    except Unauthorized:
        raise SignInRequired() from None
    audit.set_channel(AuditChannel.DASHBOARD)
    return Signed(developer=dev, session=session)


SignedIn = Annotated[Signed, Depends(signed_in)]


async def check_csrf(request: Request, session: Session) -> None:
    """Refuse a state-changing request whose CSRF token does not match the session's."""
    submitted = request.headers.get(pages.CSRF_HEADER)
    if submitted is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(pages.CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not pages.tokens_match(session.csrf, submitted):
        raise WebError(
            403,
            "Form expired",
            "This form's security token did not match your session. Reload the page and try again.",
            code="csrf_failed",
        )


async def csrf_protected(request: Request, signed: SignedIn) -> Signed:
    """A signed-in developer whose request carries the session's CSRF token."""
    await check_csrf(request, signed.session)
    return signed


Protected = Annotated[Signed, Depends(csrf_protected)]
