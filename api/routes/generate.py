"""Developer route for generated codes: `POST /api/campaigns/{id}/codes/generate`.

Up to `generate.INLINE_COUNT` codes are generated within the request (201, the report). A
larger count is checked, answered at once (202) and generated in the background; its
progress is at `progress_url` (`GET …/codes/generate/{upload_id}`, shaped like a large
upload's). The domain admits the request (`generate.admit_generation`: the campaign's manager,
the upload rate limit) before anything is checked or stored. `Idempotency-Key` makes a retried
request replay the first answer instead of generating a second set.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    CampaignId,
    CurrentDeveloper,
    KnownQueryOnly,
    Svc,
    UploadId,
    developer_limit,
    show_rate_limit,
)
from api.idempotency import IdempotentRoute, idempotent
from api.routes.uploads import UploadProgressOut
from api.schemas import PROBLEMS, Strict
from domain import generate

router = APIRouter(
    tags=["codes"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
    dependencies=[KnownQueryOnly],
)


class GenerateIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"count": 1000, "pattern": "PROMO-####-????", "exclude_lookalikes": True}]
        },
    )
    count: int = Field(ge=1, le=generate.MAX_COUNT, description="how many codes to generate")
    pattern: str = Field(
        min_length=1,
        max_length=64,
        description="`#` a digit, `?` a letter (A-Z), `*` either; other characters are kept"
        " (letters, digits, '-', '_')",
    )
    prefix: str = Field("", max_length=64, description="put before every code")
    suffix: str = Field("", max_length=64, description="put after every code")
    exclude_lookalikes: bool = Field(
        False, description="leave out characters people misread: 0 O 1 I L"
    )


class GenerateOut(BaseModel):
    upload_id: str = Field(description="the generation's record, read like an upload's")
    status: str = Field(description="done, or processing when it runs in the background")
    requested: int
    generated: int = Field(description="codes in the campaign so far")
    space: int = Field(description="how many distinct codes the pattern can make")
    progress_url: str


@router.post(
    "/api/campaigns/{campaign_id}/codes/generate",
    status_code=status.HTTP_201_CREATED,
    response_model=GenerateOut,
    responses={202: {"description": "accepted: generating in the background"}},
    description=(
        "Cryptographically random codes from `pattern` (`#` a digit, `?` a letter A-Z, `*`"
        " either; other characters kept), with `prefix` and `suffix`; `exclude_lookalikes`"
        " leaves out 0 O 1 I L. Unique within the campaign (collisions are drawn again); they"
        " take the campaign's `code_ttl_days`. Refused with 422 (`validation_error`, `field`"
        " count) when the count, with the codes already in the campaign, would fill more than"
        " 10 % of the pattern's space. Up to 100,000 codes: generated in the request (201);"
        " more: 202 and generated in the background, follow `progress_url`. Honours"
        " `Idempotency-Key`."
    ),
)
@idempotent
async def generate_codes(
    campaign_id: CampaignId,
    body: GenerateIn,
    dev: CurrentDeveloper,
    services: Svc,
    response: Response,
    background: BackgroundTasks,
) -> GenerateOut:
    """Generate random codes from a pattern, unique within the campaign."""
    request = generate.GenerateRequest(
        count=body.count,
        pattern=body.pattern,
        prefix=body.prefix,
        suffix=body.suffix,
        exclude_lookalikes=body.exclude_lookalikes,
    )
    admitted = await generate.admit_generation(
        services, developer_id=dev.id, campaign_id=campaign_id
    )
    show_rate_limit(response, admitted.rate)
    campaign, pattern, upload = await generate.start_generation(admitted, request=request)
    progress = f"/api/campaigns/{campaign_id}/codes/generate/{upload.public_id}"
    if body.count > generate.INLINE_COUNT:
        background.add_task(
            generate.generate_in_background,
            campaign=campaign,
            pattern=pattern,
            upload=upload,
            count=body.count,
            events_bus=services.events,
        )
        response.status_code = status.HTTP_202_ACCEPTED
        return GenerateOut(
            upload_id=upload.public_id,
            status=upload.status,
            requested=body.count,
            generated=0,
            space=pattern.space,
            progress_url=progress,
        )
    report = await generate.run_generation(
        campaign=campaign,
        pattern=pattern,
        upload=upload,
        count=body.count,
        events_bus=services.events,
    )
    return GenerateOut(
        upload_id=report.upload_id,
        status=report.status,
        requested=body.count,
        generated=report.imported,
        space=pattern.space,
        progress_url=progress,
    )


@router.get(
    "/api/campaigns/{campaign_id}/codes/generate/{upload_id}",
    response_model=UploadProgressOut,
    dependencies=[developer_limit("rate_limit_api", "API calls")],
)
async def generation_progress(
    campaign_id: CampaignId, upload_id: UploadId, dev: CurrentDeveloper
) -> UploadProgressOut:
    """Progress of a code generation: codes in so far out of the count, and its report."""
    progress = await generate.generation_progress(
        owner_id=dev.id, campaign_id=campaign_id, upload_id=upload_id
    )
    return UploadProgressOut.of(progress)
