"""FastAPI dependencies: services, the calling developer, client IP, rate limits.

Routes declare what they need with the `Annotated` aliases below (`Svc`, `CurrentDeveloper`,
`OptionalDeveloper`, `ClientIP`) and stay one call to the domain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import UploadFile

from api.errors import rate_limit_headers
from domain import audit, developers
from domain.adapters.bootstrap import Services
from domain.audit import AuditChannel
from domain.developers import DeveloperView
from domain.errors import Unauthorized, ValidationFailed
from domain.ratelimits import RateLimitState, enforce
from domain.values import MAX_ROW_ID, PUBLIC_ID_PATTERN

# Path parameters by shape: anything else is a 422 at the edge, never a lookup (a 40-character
# id or 2**63 used to reach the database layer and come back as a 500)
CampaignId = Annotated[
    str,
    Path(min_length=1, max_length=32, pattern=PUBLIC_ID_PATTERN, description="a campaign's id"),
]
UploadId = Annotated[
    str,
    Path(min_length=1, max_length=32, pattern=PUBLIC_ID_PATTERN, description="an upload's id"),
]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a numeric id from a listing")]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cdk_…`")


# Dependencies are `async def` even when they never await: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hand-off on every request of the hot claim path.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]


async def current_developer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> DeveloperView:
    """The developer whose API key authenticates the request (401 otherwise)."""
    if credentials is None:
        raise Unauthorized("Send your API key as `Authorization: Bearer cdk_…`.")
    dev = await developers.authenticate(api_key=credentials.credentials)
    request.state.developer = dev
    audit.set_channel(AuditChannel.API)
    return dev


async def optional_developer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> DeveloperView | None:
    """The developer when a key is sent (a wrong key is still a 401), None for anonymous calls."""
    if credentials is None:
        return None
    return await current_developer(request, credentials)


CurrentDeveloper = Annotated[DeveloperView, Depends(current_developer)]
OptionalDeveloper = Annotated[DeveloperView | None, Depends(optional_developer)]


async def client_ip(request: Request) -> str:
    """The caller's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.services.settings.trusted_proxies
    if not trusted or not is_trusted_proxy(peer, trusted):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    # walk from the nearest hop back; the first address not ours is the client
    for hop in reversed(hops):
        if not is_trusted_proxy(hop, trusted):
            return hop
    return hops[0] if hops else peer


def is_trusted_proxy(address: str, trusted: list[str]) -> bool:
    """Whether `address` is one of the configured proxies (addresses or networks)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


ClientIP = Annotated[str, Depends(client_ip)]


def client_country(request: Request) -> str | None:
    """The caller's country (ISO alpha-2) as named by `CODEDROP_COUNTRY_HEADER`, believed only
    when the request comes from a trusted proxy (anyone else could send the header)."""
    settings = request.app.state.services.settings
    if not settings.country_header:
        return None
    peer = request.client.host if request.client else ""
    if not is_trusted_proxy(peer, settings.trusted_proxies):
        return None
    value = request.headers.get(settings.country_header, "").strip().upper()
    return value if len(value) == 2 and value.isalpha() else None


async def limit(
    services: Services, response: Response, rule: str, *key: str, what: str
) -> RateLimitState | None:
    """Count one hit against `rule` for `key`; 429 problem when over, RateLimit headers always."""
    if not services.settings.rate_limit_enabled:
        return None
    state = await enforce(services.limiter, rule, *key, what=what)
    show_rate_limit(response, state)
    return state


def show_rate_limit(response: Response, state: RateLimitState | None) -> None:
    """Put a counted limit in the RateLimit headers (None: limits are off, nothing to show)."""
    if state is None:
        return
    shown = response.headers.get("RateLimit-Remaining")
    # several limits may apply; the headers describe the one closest to refusing
    if shown is None or state.remaining < int(shown):
        response.headers.update(
            rate_limit_headers(state.limit, state.remaining, state.reset_after, state.window)
        )


def developer_limit(setting: str, what: str) -> Any:
    """A dependency limiting a developer route by the rule in `settings.<setting>`."""

    async def dependency(services: Svc, dev: CurrentDeveloper, response: Response) -> None:
        rule = getattr(services.settings, setting)
        await limit(services, response, rule, setting, f"dev:{dev.id}", what=what)

    return Depends(dependency)


async def uploaded_file(request: Request, field: str = "file") -> UploadFile:
    """The file of a multipart upload, read only when the route asks for it.

    Upload routes take the request instead of a `File()` parameter: FastAPI reads body
    parameters before it runs dependencies, so a 60 MB body used to arrive in full before the
    missing key's 401. Called after authentication and the upload rate limit, this is the
    first read of the body (api/edge.py still caps its size).
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed(
            f"Send the file as multipart/form-data in the field `{field}`.", field=field
        )
    form = await request.form(max_files=1, max_fields=10)
    value = form.get(field)
    if not isinstance(value, UploadFile):
        raise ValidationFailed(f"The multipart field `{field}` holds no file.", field=field)
    return value


async def file_chunks(upload: UploadFile, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """An uploaded file as a stream of chunks (what the domain's import reads)."""
    while chunk := await upload.read(size):
        yield chunk


_KNOWN_QUERY: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def known_query_only(request: Request) -> None:
    """Refuse query parameters the operation does not have (422 naming the first): a typo
    such as `?stauts=used` would otherwise be ignored and answer something else than asked."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = _KNOWN_QUERY.get(id(route))
    if known is None:
        known = _KNOWN_QUERY[id(route)] = frozenset(_query_names(dependant))
    for name in request.query_params:
        if name not in known:
            raise ValidationFailed(
                f"Unknown query parameter {name[:40]!r}"
                + (f"; this operation takes: {', '.join(sorted(known))}." if known else "."),
                field=name[:40],
            )


KnownQueryOnly = Depends(known_query_only)
