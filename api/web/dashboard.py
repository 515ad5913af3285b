"""The developer dashboard: sign-in with an API key, campaigns, uploads, codes, share links.

Every page is one or two calls to the same domain functions the API routes call; every
state-changing request passes the CSRF check (api.web.auth); another developer's campaign is
a 404 like a missing one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Form,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from starlette.datastructures import FormData

from api.deps import ClientIP, file_chunks, limit, uploaded_file
from api.web import pages
from api.web.auth import Protected, SignedIn, check_csrf
from api.web.pages import NO_STORE, SECURITY_HEADERS, WebError
from domain import campaigns, codes, developers, large_uploads, uploads, waitlist
from domain.adapters.bootstrap import Services
from domain.campaigns import CampaignView
from domain.claim_identity import campaign_secret
from domain.eligibility import FactSources
from domain.errors import (
    CampaignNotFound,
    DomainError,
    FileTooLarge,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from domain.large_uploads import UploadProgress
from domain.settings import Settings
from domain.values import CampaignStatus, Channel, CodeStatus, IdentityMode, Platform

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dashboard")

PAGE_SIZE = 50
PLATFORMS = [p.value for p in Platform]
CHANNELS = [c.value for c in Channel]
IDENTITY_MODES = [m.value for m in IdentityMode]
STATUS_ACTIONS = {
    "pause": CampaignStatus.PAUSED,
    "resume": CampaignStatus.ACTIVE,
    "publish": CampaignStatus.ACTIVE,
    "end": CampaignStatus.COMPLETED,
}


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=NO_STORE)


def _safe_next(target: str | None) -> str:
    """Only same-site dashboard paths may be a sign-in's destination (no open redirect)."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard"


async def _count_upload(services: Services, developer_id: int) -> None:
    """One upload against the developer's limit: the same bucket as the API's upload routes."""
    await limit(
        services,
        Response(),
        services.settings.rate_limit_upload,
        "rate_limit_upload",
        f"dev:{developer_id}",
        what="uploads",
    )


def _page(request: Request, template: str, ctx: dict[str, Any], **kw: Any) -> Response:
    kw.setdefault("headers", {})
    kw["headers"] = {**NO_STORE, **kw["headers"]}
    return pages.render(request, template, ctx, **kw)


async def _campaign(owner_id: int, campaign_id: str) -> CampaignView:
    try:
        return await campaigns.get_campaign(owner_id=owner_id, campaign_id=campaign_id)
    except CampaignNotFound:
        raise WebError(
            404, "Campaign not found", "You have no campaign with this id.", code="not_found"
        ) from None


# ---------------------------------------------------------------- sign-in / sign-out


@router.get("/signin", name="signin_form")
async def signin_form(
    request: Request, next_: Annotated[str, Query(alias="next")] = ""
) -> Response:
    """The sign-in form (an API key)."""
    session = pages.load_session(request)
    if session and session.token:
        try:
            await developers.session_developer(token=session.token)
            return _redirect(_safe_next(next_))
        except DomainError:
            pass
    session = pages.new_session()
    response = _page(
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
    """Check the key, then keep its digest in a signed, HTTP-only session cookie."""
    services = pages.services_of(request)
    session = pages.load_session(request)
    if session is None or not pages.tokens_match(session.csrf, csrf_token):
        raise WebError(
            403,
            "Form expired",
            "The sign-in form expired or your browser blocks cookies. Reload and try again.",
            code="csrf_failed",
        )
    error = None
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
    except RateLimited as exc:
        error = exc.detail
    except DomainError:
        error = "That API key is not valid (unknown, revoked or mistyped)."
    if error:
        return _page(
            request,
            "signin.html",
            {"csrf": session.csrf, "next": _safe_next(next_), "error": error},
            status_code=401 if "valid" in error else 429,
        )
    log.info("dashboard sign-in developer=%s", dev.id)
    response = _redirect(_safe_next(next_))
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
    response = _redirect("/dashboard/signin")
    pages.clear_session(request, response)
    return response


# ---------------------------------------------------------------- campaigns


@router.get("", name="dashboard")
async def campaign_list(
    request: Request,
    signed: SignedIn,
    status: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Your campaigns with their status and stock."""
    wanted = status if status in {s.value for s in CampaignStatus} else None
    items, total = await campaigns.list_campaigns(
        owner_id=signed.developer.id, status=wanted, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    return _page(
        request,
        "campaigns.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "items": items,
            "total": total,
            "status": wanted or "",
            "statuses": [s.value for s in CampaignStatus],
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


def _parse_when(raw: str, field: str, errors: dict[str, str]) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)  # naive: UTC, as the form says
    except ValueError:
        errors[field] = "Use the date picker (YYYY-MM-DD HH:MM, UTC)."
        return None


def _parse_int(
    raw: str, field: str, errors: dict[str, str], *, low: int, high: int, default: int | None
) -> int | None:
    raw = raw.strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[field] = "Enter a whole number."
        return default
    if not low <= value <= high:
        errors[field] = f"Enter a number from {low} to {high:,}."
    return value


def campaign_values(form: FormData, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Campaign fields from the create/edit form, and the errors per field."""
    errors: dict[str, str] = {}
    text = {k: str(form.get(k) or "") for k in form}
    values: dict[str, Any] = {
        "name": text.get("name", "").strip(),
        "description": text.get("description", "").strip(),
        "platform": text.get("platform") or "universal",
        "starts_at": _parse_when(text.get("starts_at", ""), "starts_at", errors),
        "ends_at": _parse_when(text.get("ends_at", ""), "ends_at", errors),
        "per_claimant_limit": _parse_int(
            text.get("per_claimant_limit", ""),
            "per_claimant_limit",
            errors,
            low=1,
            high=100,
            default=1,
        ),
        "low_stock_threshold": _parse_int(
            text.get("low_stock_threshold", ""),
            "low_stock_threshold",
            errors,
            low=0,
            high=10_000_000,
            default=0,
        ),
        "waitlist_enabled": text.get("waitlist_enabled") == "on",
        "identity": text.get("identity") or "anonymous",
        "code_ttl_days": _parse_int(
            text.get("code_ttl_days", ""), "code_ttl_days", errors, low=1, high=3650, default=None
        ),
    }
    if not values["name"]:
        errors["name"] = "Give the campaign a name."
    if values["platform"] not in PLATFORMS:
        errors["platform"] = "Pick a platform."
    if values["identity"] not in IDENTITY_MODES:
        errors["identity"] = "Pick anyone or signed-in members only."
    if creating:
        status = text.get("status") or "active"
        if status not in ("draft", "active", "paused"):
            errors["status"] = "Pick draft, active or paused."
        values["status"] = status
    channels = [c for c in form.getlist("channels") if isinstance(c, str) and c in CHANNELS]
    eligibility: dict[str, Any] = {
        "channels": channels if channels and len(channels) < len(CHANNELS) else None,
        "min_account_age_days": _parse_int(
            text.get("min_account_age_days", ""),
            "min_account_age_days",
            errors,
            low=0,
            high=36500,
            default=None,
        ),
        "min_member_days": _parse_int(
            text.get("min_member_days", ""),
            "min_member_days",
            errors,
            low=0,
            high=36500,
            default=None,
        ),
        "required_roles": _split(text.get("required_roles", "")),
        "required_chats": _split(text.get("required_chats", "")),
        "allowed_countries": [c.upper() for c in _split(text.get("allowed_countries", ""))],
        "web_signed_identity": text.get("web_signed_identity") == "on",
    }
    values["eligibility"] = {k: v for k, v in eligibility.items() if v not in (None, [], False)}
    return values, errors


def _form_view(values: dict[str, Any]) -> dict[str, Any]:
    """Form values as the template shows them."""
    elig = values.get("eligibility") or {}
    when = {
        k: values[k].strftime("%Y-%m-%dT%H:%M") if values.get(k) else ""
        for k in ("starts_at", "ends_at")
    }
    return {
        **values,
        **when,
        "channels": elig.get("channels") or [],
        "min_account_age_days": elig.get("min_account_age_days") or "",
        "min_member_days": elig.get("min_member_days") or "",
        "required_roles": ", ".join(elig.get("required_roles") or []),
        "required_chats": ", ".join(elig.get("required_chats") or []),
        "allowed_countries": ", ".join(elig.get("allowed_countries") or []),
        "web_signed_identity": bool(elig.get("web_signed_identity")),
    }


def _view_values(view: CampaignView) -> dict[str, Any]:
    def naive(d: datetime | None) -> datetime | None:
        return d.replace(tzinfo=None) if d else None

    return {
        "name": view.name,
        "description": view.description,
        "platform": view.platform,
        "status": view.status,
        "starts_at": naive(view.starts_at),
        "ends_at": naive(view.ends_at),
        "per_claimant_limit": view.per_claimant_limit,
        "low_stock_threshold": view.low_stock_threshold,
        "waitlist_enabled": view.waitlist_enabled,
        "identity": view.identity,
        "eligibility": view.eligibility,
        "code_ttl_days": view.code_ttl_days,
    }


def _form_page(
    request: Request,
    signed: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    campaign: CampaignView | None,
    status_code: int = 200,
) -> Response:
    return _page(
        request,
        "campaign_form.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "v": _form_view(values),
            "errors": errors,
            "campaign": campaign,
            "platforms": PLATFORMS,
            "channels": CHANNELS,
        },
        status_code=status_code,
    )


@router.get("/new", name="campaign_new")
async def campaign_new(request: Request, signed: SignedIn) -> Response:
    """The create-campaign form."""
    values = {
        "name": "",
        "description": "",
        "platform": "universal",
        "status": "active",
        "per_claimant_limit": 1,
        "low_stock_threshold": 0,
        "waitlist_enabled": True,
        "identity": "anonymous",
        "eligibility": {},
    }
    return _form_page(request, signed, values, {}, campaign=None)


def _domain_field_error(exc: DomainError, errors: dict[str, str]) -> None:
    field = exc.extra.get("field") if isinstance(exc, ValidationFailed) else None
    key = str(field or "form").removeprefix("eligibility.").split(".")[0]
    errors[key if key else "form"] = exc.detail


@router.post("/new", name="campaign_create")
async def campaign_create(request: Request, signed: Protected) -> Response:
    """Create a campaign from the form."""
    values, errors = campaign_values(await request.form(), creating=True)
    if not errors:
        try:
            view = await campaigns.create_campaign(
                owner_id=signed.developer.id,
                fact_sources=FactSources.of(pages.services_of(request).settings),
                **values,
            )
        except DomainError as exc:
            _domain_field_error(exc, errors)
        else:
            return _redirect(f"/dashboard/c/{view.id}?created=1")
    return _form_page(request, signed, values, errors, campaign=None, status_code=422)


@router.get("/c/{campaign_id}", name="campaign_page")
async def campaign_page(request: Request, campaign_id: str, signed: SignedIn) -> Response:
    """One campaign: live stats, share links, upload, actions."""
    view = await _campaign(signed.developer.id, campaign_id)
    services = pages.services_of(request)
    s = services.settings
    base = s.public_url.rstrip("/")
    recent = await uploads.list_uploads(
        owner_id=signed.developer.id, campaign_id=campaign_id, limit=5
    )
    waiting = await waitlist.size(campaign_id=campaign_id) if view.status != "draft" else 0
    bot = (s.telegram_bot_username or "").lstrip("@")
    origins = upload_origins(s)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    if origins:
        csp = csp.replace("connect-src 'self'", "connect-src 'self' " + " ".join(origins))
    return _page(
        request,
        "campaign.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "claim_url": f"{base}/c/{view.id}",
            "telegram_link": f"https://t.me/{bot}?start={view.id}" if bot else None,
            "telegram_enabled": s.telegram_bot_token is not None,
            "discord_enabled": s.discord_bot_token is not None,
            "identity_secret": campaign_secret(s.secret_key.get_secret_value(), view.id),
            "uploads": recent,
            "waiting": waiting,
            "created": request.query_params.get("created") == "1",
            "max_bytes": s.upload_max_bytes,
            "max_codes": s.upload_max_codes,
            "large_max_bytes": s.large_upload_max_bytes,
            "large_max_codes": s.large_upload_max_codes,
        },
        headers={"Content-Security-Policy": csp},
    )


@router.get("/c/{campaign_id}/edit", name="campaign_edit")
async def campaign_edit(request: Request, campaign_id: str, signed: SignedIn) -> Response:
    """The edit form, filled in."""
    view = await _campaign(signed.developer.id, campaign_id)
    return _form_page(request, signed, _view_values(view), {}, campaign=view)


@router.post("/c/{campaign_id}/edit", name="campaign_update")
async def campaign_update(request: Request, campaign_id: str, signed: Protected) -> Response:
    """Save the edit form (status changes have their own buttons)."""
    view = await _campaign(signed.developer.id, campaign_id)
    values, errors = campaign_values(await request.form(), creating=False)
    if not errors:
        try:
            await campaigns.update_campaign(
                owner_id=signed.developer.id,
                campaign_id=campaign_id,
                changes=values,
                events_bus=pages.services_of(request).events,
                fact_sources=FactSources.of(pages.services_of(request).settings),
            )
        except DomainError as exc:
            _domain_field_error(exc, errors)
        else:
            return _redirect(f"/dashboard/c/{campaign_id}")
    values["status"] = view.status
    return _form_page(request, signed, values, errors, campaign=view, status_code=422)


@router.post("/c/{campaign_id}/status", name="campaign_status")
async def campaign_status(
    request: Request,
    campaign_id: str,
    signed: Protected,
    action: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Pause, resume, publish or end a campaign."""
    target = STATUS_ACTIONS.get(action)
    if target is None:
        raise WebError(400, "Unknown action", "Use pause, resume, publish or end.")
    await _campaign(signed.developer.id, campaign_id)
    try:
        await campaigns.set_status(
            owner_id=signed.developer.id,
            campaign_id=campaign_id,
            status=target,
            events_bus=pages.services_of(request).events,
            fact_sources=FactSources.of(pages.services_of(request).settings),
        )
    except DomainError as exc:
        raise WebError(exc.status, exc.title, exc.detail, code=exc.code) from None
    return _redirect(f"/dashboard/c/{campaign_id}")


@router.post("/c/{campaign_id}/delete", name="campaign_delete")
async def campaign_delete(
    request: Request,
    campaign_id: str,
    signed: Protected,
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Delete a campaign with its codes (the owner types its name to confirm)."""
    view = await _campaign(signed.developer.id, campaign_id)
    if confirm.strip() != view.name:
        raise WebError(
            422,
            "Not deleted",
            "Type the campaign's exact name to confirm deleting it.",
            code="confirm_failed",
        )
    await campaigns.delete_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    return _redirect("/dashboard")


# ---------------------------------------------------------------- uploads


@router.post("/c/{campaign_id}/upload", name="campaign_upload")
async def campaign_upload(
    request: Request,
    campaign_id: str,
    signed: Protected,
) -> Response:
    """Import a CSV/TXT file; the browser shows upload progress, then the report."""
    services = pages.services_of(request)
    dev = signed.developer
    await _campaign(dev.id, campaign_id)
    try:
        admitted = await uploads.admit_upload(
            services, developer_id=dev.id, campaign_id=campaign_id
        )
        file = await uploaded_file(request)  # the body is read after session and limit
        report = await uploads.import_stream(
            services, admitted, chunks=file_chunks(file), filename=file.filename or ""
        )
    except DomainError as exc:
        if pages.wants_json(request):
            return JSONResponse(
                {"code": exc.code, "title": exc.title, "detail": exc.detail},
                status_code=exc.status,
                headers=NO_STORE,
            )
        raise WebError(exc.status, exc.title, exc.detail, code=exc.code) from None
    url = f"/dashboard/c/{campaign_id}/uploads/{report.upload_id}"
    if report.reopened:  # the report page tells the owner (the row keeps only the counts)
        url += "?reopened=1"
    if pages.wants_json(request):
        return JSONResponse(
            {
                "report_url": url,
                "rows": report.rows,
                "imported": report.imported,
                "duplicates": report.duplicates,
                "invalid": report.invalid,
                "reopened": report.reopened,
            },
            status_code=201,
            headers=NO_STORE,
        )
    return _redirect(url)


# ---------------------------------------------------------------- large uploads
#
# Files over the in-request limit go through the background flow of domain.large_uploads:
# the page starts an upload here, PUTs the file to the URL it gets (a presigned S3 URL, or
# the API's own token-signed URL), completes it here, then polls the progress until the
# import is done and opens the report. Start and complete change state: they need the
# session's CSRF token like every form. The PUT needs none: its URL carries its own
# single-upload, expiring signature and no cookie is involved.


def upload_origins(settings: Settings) -> list[str]:
    """Origins a browser PUTs presigned files to (for the page's CSP `connect-src`)."""
    if not settings.s3_bucket:
        return []
    endpoint = settings.s3_public_endpoint_url or settings.s3_endpoint_url
    if endpoint:
        parts = urlsplit(endpoint)
        return [f"{parts.scheme}://{parts.netloc}"]
    bucket, region = settings.s3_bucket, settings.s3_region
    return [
        f"https://{bucket}.s3.{region}.amazonaws.com",
        f"https://{bucket}.s3.amazonaws.com",
        f"https://s3.{region}.amazonaws.com",
    ]


def _same_origin(url: str) -> str:
    """Our own upload URL as a path: the page PUTs to the origin it was served from."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _progress_json(campaign_id: str, p: UploadProgress) -> dict[str, Any]:
    r = p.report
    return {
        "upload_id": p.upload_id,
        "status": p.status,
        "rows_done": p.rows_done,
        "rows_total": p.rows_total,
        "percent": p.percent,
        "imported": r.imported,
        "duplicates": r.duplicates,
        "invalid": r.invalid,
        "finished": p.status in (large_uploads.DONE, large_uploads.FAILED, large_uploads.EXPIRED),
        "report_url": f"/dashboard/c/{campaign_id}/uploads/{p.upload_id}",
    }


def _json_error(exc: DomainError) -> JSONResponse:
    return JSONResponse(
        {"code": exc.code, "title": exc.title, "detail": exc.detail},
        status_code=exc.status,
        headers=NO_STORE,
    )


@router.post("/c/{campaign_id}/large-uploads", name="large_upload_start")
async def large_upload_start(
    request: Request,
    campaign_id: str,
    signed: Protected,
    filename: Annotated[str, Body(max_length=1000, embed=True)] = "",
    size: Annotated[int | None, Body(ge=0, embed=True)] = None,
) -> Response:
    """Start a background upload: where to PUT the file, and where to follow it."""
    services = pages.services_of(request)
    s = services.settings
    dev = signed.developer
    await _campaign(dev.id, campaign_id)
    try:
        if size is not None and size > s.large_upload_max_bytes:
            raise FileTooLarge(
                f"The file is over the {s.large_upload_max_bytes:,}-byte limit.",
                limit=s.large_upload_max_bytes,
            )
        await _count_upload(services, dev.id)
        ticket = await large_uploads.start_upload(
            owner_id=dev.id, campaign_id=campaign_id, filename=filename, services=services
        )
    except DomainError as exc:
        return _json_error(exc)
    base = f"/dashboard/c/{campaign_id}/large-uploads/{ticket.upload_id}"
    return JSONResponse(
        {
            "upload_id": ticket.upload_id,
            "method": ticket.method,
            "url": ticket.url if ticket.direct_to_storage else _same_origin(ticket.url),
            "direct_to_storage": ticket.direct_to_storage,
            "expires_at": ticket.expires_at.isoformat(),
            "max_bytes": ticket.max_bytes,
            "complete_url": f"{base}/complete",
            "progress_url": base,
            "report_url": f"/dashboard/c/{campaign_id}/uploads/{ticket.upload_id}",
        },
        status_code=201,
        headers=NO_STORE,
    )


@router.post("/c/{campaign_id}/large-uploads/{upload_id}/complete", name="large_upload_complete")
async def large_upload_complete(
    request: Request,
    campaign_id: str,
    upload_id: str,
    signed: Protected,
    background: BackgroundTasks,
) -> Response:
    """The file was PUT: queue its import (it runs in the background; poll the progress)."""
    services = pages.services_of(request)
    dev = signed.developer
    await _campaign(dev.id, campaign_id)
    try:
        progress = await large_uploads.complete_upload(
            owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id, services=services
        )
    except DomainError as exc:
        return _json_error(exc)
    if progress.status == large_uploads.UPLOADED:
        background.add_task(large_uploads.process_in_background, upload_id, services)
    return JSONResponse(_progress_json(campaign_id, progress), status_code=202, headers=NO_STORE)


@router.get("/c/{campaign_id}/large-uploads/{upload_id}", name="large_upload_progress")
async def large_upload_progress(campaign_id: str, upload_id: str, signed: SignedIn) -> Response:
    """Status of a background upload: rows done out of the file's lines, then the counts."""
    dev = signed.developer
    await _campaign(dev.id, campaign_id)
    try:
        progress = await large_uploads.upload_progress(
            owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id
        )
    except DomainError as exc:
        return _json_error(exc)
    return JSONResponse(_progress_json(campaign_id, progress), headers=NO_STORE)


@router.get("/c/{campaign_id}/uploads/{upload_id}", name="upload_report")
async def upload_report(
    request: Request,
    campaign_id: str,
    upload_id: str,
    signed: SignedIn,
    reopened: Annotated[bool, Query(description="the import reopened a sold-out campaign")] = False,
) -> Response:
    """One upload's report with its problem lines."""
    view = await _campaign(signed.developer.id, campaign_id)
    try:
        report = await uploads.get_upload(
            owner_id=signed.developer.id, campaign_id=campaign_id, upload_id=upload_id
        )
    except NotFound:
        raise WebError(404, "Upload not found", "No such upload in this campaign.") from None
    return _page(
        request,
        "upload_report.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "r": report,
            "reopened": reopened,
        },
    )


# ---------------------------------------------------------------- codes


@router.get("/c/{campaign_id}/codes", name="campaign_codes")
async def campaign_codes(
    request: Request,
    campaign_id: str,
    signed: SignedIn,
    status: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """The campaign's codes, masked, a page at a time, filterable by status."""
    view = await _campaign(signed.developer.id, campaign_id)
    wanted = status if status in {s.value for s in CodeStatus} else None
    items, total = await codes.list_codes(
        owner_id=signed.developer.id,
        campaign_id=campaign_id,
        secret_key=pages.services_of(request).settings.secret_key.get_secret_value(),
        status=wanted,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return _page(
        request,
        "codes.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "items": items,
            "total": total,
            "status": wanted or "",
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "notice": notice_text(request.query_params),
        },
    )


# What the codes page may say after an action: a fixed text per key, counts as integers.
# The page never shows text from its URL (`?notice=` was any text anyone could link to).
NOTICES = {
    "marked_used": "Marked used.",
    "already_used": "That code was already used.",
    "released": "Released to the pool: it can be claimed again.",
    "bulk": "{updated} marked used, {skipped} already used, {missing} not in this campaign.",
}
COUNTS = ("updated", "skipped", "missing")


def _error_titles() -> dict[str, str]:
    titles: dict[str, str] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        titles.setdefault(cls.code, cls.title)
        pending.extend(cls.__subclasses__())
    return titles


ERROR_TITLES = _error_titles()  # a refused action names its error by its stable code


def notice_text(query: Any) -> str:
    """The notice a codes page shows for its `notice` key (and `error` code), or nothing."""
    key = query.get("notice", "")
    if key == "error":
        return ERROR_TITLES.get(query.get("code", ""), "") + "."
    template = NOTICES.get(key)
    if template is None:
        return ""
    counts = {name: query.get(name, "") for name in COUNTS}
    return template.format(**{k: int(v) if v.isdigit() else 0 for k, v in counts.items()})


def _codes_url(
    campaign_id: str,
    notice: str,
    *,
    status: str = "",
    page: str = "",
    **extra: str | int,
) -> str:
    url = f"/dashboard/c/{campaign_id}/codes?notice={notice}"
    for name, value in extra.items():
        url += f"&{name}={quote(str(value))}"
    if status in {s.value for s in CodeStatus}:
        url += f"&status={status}"
    if page.isdigit():
        url += f"&page={page}"
    return url


@router.post("/c/{campaign_id}/codes/{code_id}/{action}", name="code_action")
async def code_action(
    request: Request,
    campaign_id: str,
    code_id: int,
    action: str,
    signed: Protected,
    status: Annotated[str, Form(max_length=20)] = "",
    page: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Mark one code used, or release it to the pool."""
    dev = signed.developer
    await _campaign(dev.id, campaign_id)
    try:
        full = await codes.full_code(owner_id=dev.id, campaign_id=campaign_id, code_id=code_id)
        if action == "used":
            result = await codes.mark_used(owner_id=dev.id, campaign_id=campaign_id, codes=[full])
            notice = "marked_used" if result.updated else "already_used"
        elif action == "release":
            await codes.release(owner_id=dev.id, campaign_id=campaign_id, code=full)
            notice = "released"
        else:
            raise WebError(404, "Unknown action", "Use used or release.")
    except DomainError as exc:
        return _redirect(_codes_url(campaign_id, "error", status=status, page=page, code=exc.code))
    return _redirect(_codes_url(campaign_id, notice, status=status, page=page))


@router.post("/c/{campaign_id}/codes/mark-used", name="codes_mark_used")
async def codes_mark_used(
    request: Request,
    campaign_id: str,
    signed: Protected,
    codes_text: Annotated[str, Form(alias="codes", max_length=200_000)] = "",
) -> Response:
    """Mark pasted codes used (one per line or comma-separated)."""
    dev = signed.developer
    await _campaign(dev.id, campaign_id)
    wanted = _split(codes_text)
    try:
        r = await codes.mark_used(owner_id=dev.id, campaign_id=campaign_id, codes=wanted)
    except DomainError as exc:
        return _redirect(_codes_url(campaign_id, "error", code=exc.code))
    return _redirect(
        _codes_url(
            campaign_id,
            "bulk",
            updated=r.updated,
            skipped=len(r.skipped),
            missing=len(r.not_found),
        )
    )


@router.get("/c/{campaign_id}/export.csv", name="codes_export")
async def codes_export(
    request: Request,
    campaign_id: str,
    signed: SignedIn,
    status: Annotated[str, Query(max_length=20)] = "",
) -> StreamingResponse:
    """Download the campaign's codes in full (safe to open in a spreadsheet)."""
    await _campaign(signed.developer.id, campaign_id)
    wanted = status if status in {s.value for s in CodeStatus} else None
    stream = await codes.export_csv(
        owner_id=signed.developer.id,
        campaign_id=campaign_id,
        secret_key=pages.services_of(request).settings.secret_key.get_secret_value(),
        status=wanted,
    )
    suffix = f"-{wanted}" if wanted else ""
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="codes-{campaign_id}{suffix}.csv"',
            **NO_STORE,
        },
    )
