"""The dashboard's codes page: codes masked a page at a time, mark used, release, export.

Actions on codes answer with a redirect back to the codes page and a notice (a fixed text per
key, counts as integers): the page never shows text taken from its URL.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.web import pages
from api.web.auth import Protected, SignedIn
from api.web.dashboard import PAGE_SIZE, page, page_count, redirect, split_list
from api.web.errors import WebError
from api.web.pages import NO_STORE
from domain import campaigns, codes
from domain.errors import DomainError
from domain.values import CodeStatus

router = APIRouter(prefix="/dashboard")


@router.get("/c/{campaign_id}/codes", name="campaign_codes")
async def campaign_codes(
    request: Request,
    campaign_id: str,
    signed: SignedIn,
    status: Annotated[str, Query(max_length=20)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """The campaign's codes, masked, a page at a time, filterable by status."""
    view = await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
    wanted = status if status in {s.value for s in CodeStatus} else None
    items, total = await codes.list_codes(
        owner_id=signed.developer.id,
        campaign_id=campaign_id,
        secret_key=pages.services_of(request).settings.secret_key.get_secret_value(),
        status=wanted,
        offset=(page_no - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return page(
        request,
        "codes.html",
        {
            "signed": signed,
            "csrf": signed.session.csrf,
            "c": view,
            "items": items,
            "total": total,
            "status": wanted or "",
            "page": page_no,
            "pages": page_count(total),
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
    campaign_id: str,
    code_id: int,
    action: str,
    signed: Protected,
    status: Annotated[str, Form(max_length=20)] = "",
    page_no: Annotated[str, Form(alias="page", max_length=10)] = "",
) -> Response:
    """Mark one code used, or release it to the pool."""
    dev = signed.developer
    await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    if action not in ("used", "release"):
        raise WebError(404, "Unknown action", "Use used or release.")
    # a refusal (a code not in the campaign, a role too low) is a notice on the codes page
    # the owner came from, not an error page: they stay where they were working
    try:
        full = await codes.full_code(owner_id=dev.id, campaign_id=campaign_id, code_id=code_id)
        if action == "used":
            result = await codes.mark_used(owner_id=dev.id, campaign_id=campaign_id, codes=[full])
            notice = "marked_used" if result.updated else "already_used"
        else:
            await codes.release(owner_id=dev.id, campaign_id=campaign_id, code=full)
            notice = "released"
    except DomainError as exc:
        return redirect(
            _codes_url(campaign_id, "error", status=status, page=page_no, code=exc.code)
        )
    return redirect(_codes_url(campaign_id, notice, status=status, page=page_no))


@router.post("/c/{campaign_id}/codes/mark-used", name="codes_mark_used")
async def codes_mark_used(
    campaign_id: str,
    signed: Protected,
    codes_text: Annotated[str, Form(alias="codes", max_length=200_000)] = "",
) -> Response:
    """Mark pasted codes used (one per line or comma-separated)."""
    dev = signed.developer
    await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign_id)
    try:
        r = await codes.mark_used(
            owner_id=dev.id, campaign_id=campaign_id, codes=split_list(codes_text)
        )
    except DomainError as exc:  # a notice on the codes page, as for one code (above)
        return redirect(_codes_url(campaign_id, "error", code=exc.code))
    return redirect(
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
    await campaigns.get_campaign(owner_id=signed.developer.id, campaign_id=campaign_id)
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
