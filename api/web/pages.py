"""What every web page shares: templates, signed cookies, CSRF tokens, rendering.

Cookies are signed with `settings.secret_key` (itsdangerous), HTTP-only, SameSite=Lax, and
`Secure` whenever the request came over HTTPS. Every state-changing form carries a CSRF token
that must match the one in the visitor's signed cookie (synchronizer-token pattern); `fetch`
calls send it in `X-CSRF-Token`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.deps import is_trusted_proxy
from api.web import i18n
from domain.adapters.bootstrap import Services
from domain.campaigns import STATE_LABELS
from domain.values import mask_code

log = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
SESSION_COOKIE = "cd_session"
CLAIMANT_COOKIE = "cd_claimant"
SESSION_MAX_AGE = 12 * 3600
CLAIMANT_MAX_AGE = 365 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(fmt) + " UTC"


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _filesize(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + " " + unit
    return f"{n:,} bytes"


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["filesize"] = _filesize
TEMPLATES.env.filters["iso"] = _iso
TEMPLATES.env.filters["masked"] = mask_code
TEMPLATES.env.filters["thousands"] = lambda n: f"{int(n or 0):,}"
TEMPLATES.env.globals["state_labels"] = STATE_LABELS
# member-facing templates say `_("key", name=value)`: Jinja2's i18n extension with new-style
# gettext (values as keyword arguments); the claim pages pass the request's `gettext`
# (api.web.i18n.Language) in their context, every other page gets English
TEMPLATES.env.add_extension("jinja2.ext.i18n")
TEMPLATES.env.newstyle_gettext = True  # type: ignore[attr-defined]
TEMPLATES.env.globals["gettext"] = i18n.Language.of(i18n.DEFAULT).gettext


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    secret = services_of(request).settings.secret_key.get_secret_value()
    return URLSafeTimedSerializer(secret, salt=salt)


def is_https(request: Request) -> bool:
    """Served over HTTPS, directly or through a trusted proxy that terminated TLS."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    trusted = services_of(request).settings.trusted_proxies
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and is_trusted_proxy(peer, trusted)


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


@dataclass(slots=True)
class Session:
    """The dashboard session cookie: a CSRF token, and once signed in the session's token.

    The token names a server-side session (domain.developers.open_session) checked on every
    request: signing out deletes it and revoking the key ends it, whatever copies of the
    cookie exist. The cookie never holds the key or anything derived from it.
    """

    csrf: str
    token: str | None = None


def load_session(request: Request) -> Session | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request, "codedrop.web.session").loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    token = data.get("sid")
    return Session(csrf=data["csrf"], token=token if isinstance(token, str) else None)


def new_session(token: str | None = None) -> Session:
    return Session(csrf=secrets.token_urlsafe(24), token=token)


def save_session(request: Request, response: Response, session: Session) -> None:
    value = _serializer(request, "codedrop.web.session").dumps(
        {"csrf": session.csrf, "sid": session.token}
    )
    set_cookie(request, response, SESSION_COOKIE, value, max_age=SESSION_MAX_AGE)


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


def claimant_id(request: Request) -> str | None:
    """The visitor's random claimant id from its signed cookie, if it has one."""
    raw = request.cookies.get(CLAIMANT_COOKIE)
    if not raw:
        return None
    try:
        value = _serializer(request, "codedrop.web.claimant").loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) and 16 <= len(value) <= 64 else None


def give_claimant_id(request: Request, response: Response, value: str) -> None:
    signed = _serializer(request, "codedrop.web.claimant").dumps(value)
    set_cookie(request, response, CLAIMANT_COOKIE, signed, max_age=CLAIMANT_MAX_AGE)


def load_signed(request: Request, name: str, *, max_age: int) -> Any:
    """The value of a signed cookie (salted by its name), or None if absent, forged or old."""
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        return _serializer(request, f"codedrop.web.{name}").loads(raw, max_age=max_age)
    except BadSignature:
        return None


def save_signed(
    request: Request, response: Response, name: str, value: Any, *, max_age: int
) -> None:
    """Set a signed, HTTP-only cookie holding `value` (JSON-serialisable)."""
    signed = _serializer(request, f"codedrop.web.{name}").dumps(value)
    set_cookie(request, response, name, signed, max_age=max_age)


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=is_https(request))


def claim_csrf(request: Request, claimant: str) -> str:
    """The claim page's CSRF token: bound to the visitor's claimant cookie."""
    secret = services_of(request).settings.secret_key.get_secret_value()
    return hmac.new(secret.encode(), f"claim-csrf:{claimant}".encode(), "sha256").hexdigest()


def tokens_match(expected: str | None, submitted: str | None) -> bool:
    return bool(expected and submitted) and hmac.compare_digest(
        str(expected).encode(), str(submitted).encode()
    )


def wants_json(request: Request) -> bool:
    """A page's own script asking (`Accept: application/json`, or `X-Requested-With: fetch`)."""
    return (
        "application/json" in request.headers.get("accept", "")
        or request.headers.get("x-requested-with") == "fetch"
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A rendered page with the security headers every page gets."""
    response = TEMPLATES.TemplateResponse(request, template, context or {}, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    return response


def wants_html(request: Request) -> bool:
    """A browser navigating (HTML before JSON in `Accept`), not a script or an API client."""
    accept = request.headers.get("accept", "")
    html = accept.find("text/html")
    json_at = accept.find("json")
    return html >= 0 and (json_at < 0 or html < json_at)
