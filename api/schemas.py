"""Request and response bodies of the HTTP API (these become the OpenAPI schema and /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.analytics import Analytics
from domain.campaigns import CampaignView, PublicCard
from domain.codes import BulkResult, CodeView
from domain.values import MAX_INT, ClaimResult, ImportReport

PlatformName = Literal["ios", "android", "web", "steam", "universal"]
StatusName = Literal["draft", "active", "paused", "completed", "archived"]
IdentityName = Literal["anonymous", "verified"]
IDENTITY_TEXT = (
    "anonymous: anyone may claim (default); verified: only people signed in with Discord or"
    " Telegram (claim page, bots) or users your backend names with its API key; anonymous"
    " API claims get 403 identity_required"
)
TTL_TEXT = (
    "days until imported or generated codes expire (App Store promo codes: 28); a CSV row's own"
    " expires_at wins; null: codes never expire"
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EligibilityIn(Strict):
    channels: list[Literal["telegram", "discord", "web", "api"]] | None = Field(
        None, description="fronts that may claim; all when absent"
    )
    min_account_age_days: int | None = Field(None, ge=0, le=36500)
    min_member_days: int | None = Field(None, ge=0, le=36500)
    required_roles: list[str] = Field(default_factory=list, description="Discord role ids")
    required_chats: list[str] = Field(
        default_factory=list, description="Telegram chats to be a member of (@name or id)"
    )
    allowed_countries: list[str] = Field(default_factory=list, description="ISO alpha-2")
    web_signed_identity: bool = Field(
        False, description="web claims need a signed identity token from your site"
    )


class CampaignCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Launch week",
                    "description": "One free month of Pro for our early players",
                    "platform": "ios",
                    "per_claimant_limit": 1,
                    "low_stock_threshold": 50,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    platform: PlatformName = "universal"
    # the statuses domain.campaign_state.START_STATUSES allows (a test holds them equal)
    status: Literal["draft", "active"] = Field(
        "active", description="draft or active: a new campaign starts in one of these"
    )
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    per_claimant_limit: int = Field(1, ge=1, le=100)
    low_stock_threshold: int = Field(0, ge=0, le=MAX_INT)
    eligibility: EligibilityIn = Field(default_factory=EligibilityIn)
    waitlist_enabled: bool = True
    identity: IdentityName = Field("anonymous", description=IDENTITY_TEXT)
    code_ttl_days: int | None = Field(None, ge=1, le=3650, description=TTL_TEXT)


def _update_schema(schema: dict[str, Any]) -> None:
    """Fields that may be left out but not sent as null show no null default; one example."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", 0) is None and "anyOf" not in prop:
            del prop["default"]
    schema["examples"] = [{"status": "paused"}]


class CampaignUpdate(Strict):
    """Only the fields sent change. `null` clears `starts_at` / `ends_at`; on any other field
    it is refused (422): leave the field out to keep its value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_update_schema)

    name: str = Field(None, min_length=1, max_length=120)  # type: ignore[assignment]
    description: str = Field(None, max_length=4000)  # type: ignore[assignment]
    platform: PlatformName = Field(None)  # type: ignore[arg-type]
    status: StatusName = Field(
        None,  # type: ignore[arg-type]
        description="the status to move to, as an owner action (draft→active publishes,"
        " active→paused pauses, paused→active resumes, →completed ends, completed→active"
        " reopens, completed→archived archives); any other move is a 409 `transition_refused`",
    )
    starts_at: datetime | None = Field(None, description="null clears the start time")
    ends_at: datetime | None = Field(None, description="null clears the end time")
    per_claimant_limit: int = Field(None, ge=1, le=100)  # type: ignore[assignment]
    low_stock_threshold: int = Field(None, ge=0, le=MAX_INT)  # type: ignore[assignment]
    eligibility: EligibilityIn = Field(None)  # type: ignore[assignment]
    waitlist_enabled: bool = Field(None)  # type: ignore[assignment]
    identity: IdentityName = Field(None, description=IDENTITY_TEXT)  # type: ignore[arg-type]
    code_ttl_days: int | None = Field(None, ge=1, le=3650, description=TTL_TEXT)


class StockOut(BaseModel):
    available: int
    claimed: int
    used: int
    expired: int = Field(description="never handed out: they passed their expires_at")
    total: int
    available_by_platform: dict[str, int]


class CampaignOut(BaseModel):
    id: str = Field(description="public id used in every URL")
    name: str
    description: str
    platform: str
    status: str = Field(
        description="the stored status (draft, active, paused, completed, archived); PATCH it"
        " to move it (an archived campaign takes no further change)"
    )
    state: Literal["draft", "not_started", "active", "paused", "sold_out", "ended", "archived"] = (
        Field(
            description="what the campaign is now, in the words members and every front use:"
            " a completed campaign is `sold_out` (an upload reopens it) or `ended`"
        )
    )
    starts_at: datetime | None
    ends_at: datetime | None
    per_claimant_limit: int
    low_stock_threshold: int
    eligibility: dict[str, Any]
    waitlist_enabled: bool
    identity: IdentityName = Field(description=IDENTITY_TEXT)
    code_ttl_days: int | None = Field(description=TTL_TEXT)
    created_at: datetime
    updated_at: datetime
    stock: StockOut
    claim_url: str
    role: Literal["viewer", "manager", "owner"] = Field(
        "owner", description="your role on it: viewer, manager or owner"
    )

    @classmethod
    def of(cls, view: CampaignView, public_url: str) -> CampaignOut:
        s = view.stock
        return cls(
            id=view.id,
            name=view.name,
            description=view.description,
            platform=view.platform,
            status=view.status,
            state=view.state,
            starts_at=view.starts_at,
            ends_at=view.ends_at,
            per_claimant_limit=view.per_claimant_limit,
            low_stock_threshold=view.low_stock_threshold,
            eligibility=view.eligibility,
            waitlist_enabled=view.waitlist_enabled,
            identity=view.identity,
            code_ttl_days=view.code_ttl_days,
            created_at=view.created_at,
            updated_at=view.updated_at,
            stock=StockOut(
                available=s.available,
                claimed=s.claimed,
                used=s.used + s.archived,
                expired=s.expired,
                total=s.total,
                available_by_platform=s.available_by_platform,
            ),
            claim_url=f"{public_url.rstrip('/')}/c/{view.id}",
            role=view.role,
        )


class Page(BaseModel):
    total: int
    offset: int
    limit: int


class CampaignPage(Page):
    items: list[CampaignOut]


class CodeOut(BaseModel):
    id: int
    code: str = Field(description="masked, e.g. ABC***XYZ")
    platform: str
    status: str
    claimant: str | None = Field(
        description="who holds it: `api:<you>:<user>`, `telegram:<id>`, `discord:<id>`, or for"
        " claim-page visitors and anonymous callers a per-campaign pseudonym (`web~…`, `anon~…`)"
    )
    claimed_at: datetime | None
    used_at: datetime | None
    expires_at: datetime | None = Field(description="not handed out from then on (null: never)")

    @classmethod
    def of(cls, v: CodeView) -> CodeOut:
        return cls(
            id=v.id,
            code=v.code,
            platform=v.platform or "any",
            status=v.status,
            claimant=v.claimant,
            claimed_at=v.claimed_at,
            used_at=v.used_at,
            expires_at=v.expires_at,
        )


class CodePage(Page):
    items: list[CodeOut]


class ImportProblemOut(BaseModel):
    line: int
    reason: str
    value: str | None = None


class ImportReportOut(BaseModel):
    upload_id: str
    status: str
    filename: str
    bytes: int
    rows: int
    imported: int
    duplicates: int
    invalid: int
    errors: list[ImportProblemOut] = Field(description="the first 100 problems, by line")
    reopened: bool = Field(
        False, description="true when the campaign had sold out and this upload opened it again"
    )

    @classmethod
    def of(cls, r: ImportReport) -> ImportReportOut:
        return cls(
            upload_id=r.upload_id,
            status=r.status,
            filename=r.filename,
            bytes=r.total_bytes,
            rows=r.rows,
            imported=r.imported,
            duplicates=r.duplicates,
            invalid=r.invalid,
            errors=[
                ImportProblemOut(line=p.line, reason=p.reason, value=p.value) for p in r.errors
            ],
            reopened=r.reopened,
        )


class CodesIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"codes": ["ABCD-1234", "EFGH-5678"]}]}
    )
    codes: list[str] = Field(min_length=1, max_length=1000)


class CodeIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "ABCD-1234"}]}
    )
    code: str = Field(min_length=1, max_length=64)


class BulkOut(BaseModel):
    updated: int
    not_found: list[str] = Field(description="masked codes that are not in the campaign")
    already_used: list[str]

    @classmethod
    def of(cls, r: BulkResult) -> BulkOut:
        return cls(updated=r.updated, not_found=r.not_found, already_used=r.skipped)


class TimePoint(BaseModel):
    at: datetime
    claims: int


class AnalyticsOut(BaseModel):
    campaign_id: str
    available: int
    claimed: int
    used: int
    expired: int
    total: int
    claims_total: int
    claims_last_24h: int
    by_channel: dict[str, int]
    by_platform: dict[str, int]
    available_by_platform: dict[str, int]
    bucket: str
    over_time: list[TimePoint]

    @classmethod
    def of(cls, a: Analytics) -> AnalyticsOut:
        return cls(
            campaign_id=a.campaign_id,
            available=a.available,
            claimed=a.claimed,
            used=a.used,
            expired=a.expired,
            total=a.total,
            claims_total=a.claims_total,
            claims_last_24h=a.last_24h,
            by_channel=a.by_channel,
            by_platform=a.by_platform,
            available_by_platform=a.available_by_platform,
            bucket=a.bucket,
            over_time=[TimePoint(at=t, claims=n) for t, n in a.over_time],
        )


class CardOut(BaseModel):
    id: str
    name: str
    description: str
    platform: str
    state: Literal["open", "not_started", "paused", "ended", "sold_out"]
    codes_left: int
    available: bool
    platforms: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    waitlist_enabled: bool
    identity: IdentityName = Field(description=IDENTITY_TEXT)

    @classmethod
    def of(cls, c: PublicCard) -> CardOut:
        return cls(
            id=c.id,
            name=c.name,
            description=c.description,
            platform=c.platform,
            state=c.state,
            codes_left=c.codes_left,
            available=c.state == "open",
            platforms=c.platforms,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            waitlist_enabled=c.waitlist_enabled,
            identity=c.identity,
        )


class ClaimIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"platform": "ios", "user_identifier": "player-81f3c2"}]},
    )

    platform: PlatformName | None = Field(
        None, description="the claimant's platform; required when codes differ per platform"
    )
    user_identifier: str = Field(
        min_length=1,
        max_length=80,
        pattern=r"^[\w.:@+\-]+$",
        description="a stable id of the claimant in your app (use an unguessable one): letters"
        " and digits of any script and . _ : @ + -, compared exactly (case and accents count)",
    )


class ClaimOut(BaseModel):
    code: str
    campaign_id: str
    campaign_name: str
    platform: str
    claimed_at: datetime
    repeated: bool = Field(description="true when this claimant already had this code")
    redemption_hint: str | None

    @classmethod
    def of(cls, r: ClaimResult) -> ClaimOut:
        return cls(
            code=r.code,
            campaign_id=r.campaign_id,
            campaign_name=r.campaign_name,
            platform=r.platform,
            claimed_at=r.claimed_at,
            repeated=r.repeated,
            redemption_hint=r.hint,
        )


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    field: str | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problem+json answers with these statuses."""
    return {
        code: {"model": Problem, "content": {"application/problem+json": {}}} for code in statuses
    }


# what any operation may answer: refusals of the edge (408 slow body, 413 body too large, 431
# headers too large), a database that is down (503), and the usual refusals
# (403 `role_forbidden`: a campaign member whose role does not allow the operation)
PROBLEMS = problems(400, 401, 403, 404, 408, 409, 413, 422, 429, 431, 503)
