"""The dashboard's "Generate codes" form on a campaign's page (POST, CSRF-protected).

The same domain call as the API's route: up to `generate.INLINE_COUNT` codes are generated in
the request, more in the background; either way the browser lands on the generation's report
page (an upload report: codes in so far, then the outcome).
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.web import pages
from api.web.auth import Protected
from api.web.errors import WebError
from domain import generate

router = APIRouter(prefix="/dashboard")


def _count(raw: str) -> int:
    try:
        return int(raw.strip().replace(",", "").replace("_", ""))
    except ValueError:
        raise WebError(
            422, "Invalid input", f"count: enter a whole number from 1 to {generate.MAX_COUNT:,}."
        ) from None


@router.post("/c/{campaign_id}/generate", name="campaign_generate")
async def campaign_generate(
    request: Request, campaign_id: str, signed: Protected, background: BackgroundTasks
) -> Response:
    """Generate codes from the form's pattern, then show the generation's report."""
    services = pages.services_of(request)
    form = await request.form()
    text = {k: str(form.get(k) or "") for k in form}
    request_ = generate.GenerateRequest(
        count=_count(text.get("count", "")),
        pattern=text.get("pattern", "").strip(),
        prefix=text.get("prefix", "").strip(),
        suffix=text.get("suffix", "").strip(),
        exclude_lookalikes=text.get("exclude_lookalikes") == "on",
    )
    dev = signed.developer
    admitted = await generate.admit_generation(
        services, developer_id=dev.id, campaign_id=campaign_id
    )
    campaign, pattern, upload = await generate.start_generation(admitted, request=request_)
    if request_.count > generate.INLINE_COUNT:
        background.add_task(
            generate.generate_in_background,
            campaign=campaign,
            pattern=pattern,
            upload=upload,
            count=request_.count,
            events_bus=services.events,
        )
    else:
        await generate.run_generation(
            campaign=campaign,
            pattern=pattern,
            upload=upload,
            count=request_.count,
            events_bus=services.events,
        )
    return RedirectResponse(f"/dashboard/c/{campaign_id}/uploads/{upload.public_id}", 303)
