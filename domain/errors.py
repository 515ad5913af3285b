"""The one error hierarchy: every refusal the domain can give, with a stable machine code.

Each front maps these in one place (the API to problem+json, the bots to a friendly reply).
`status` is the HTTP status the API uses; the bots ignore it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class DomainError(Exception):
    """A refusal with a stable `code`, a human `detail` and optional structured `extra`."""

    code = "domain_error"
    status = 400
    title = "Request refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    title = "Campaign not found"

    def __init__(self, campaign_id: str = "") -> None:
        super().__init__(
            f"No campaign with id {campaign_id!r}." if campaign_id else "No such campaign."
        )


class CodeNotFound(NotFound):
    code = "code_not_found"
    title = "Code not found"


class UploadNotFound(NotFound):
    code = "upload_not_found"
    title = "Upload not found"


class DeveloperNotFound(NotFound):
    code = "developer_not_found"
    title = "Developer not found"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    title = "Webhook not found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
    title = "Delivery not found"


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401
    title = "Not authenticated"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


class RegistrationClosed(Forbidden):
    code = "registration_closed"
    title = "Registration is closed"

    def __init__(self) -> None:
        super().__init__(
            "Accounts here are created by the operator of this codedrop. Ask them for an "
            "account, then link this chat account with /link <token> (a token from "
            "`codedrop link-token`)."
        )


class RoleForbidden(Forbidden):
    """A member of the campaign whose role does not allow this (a viewer trying to write)."""

    code = "role_forbidden"
    title = "Your role does not allow this"

    def __init__(self, *, needed: str, role: str) -> None:
        super().__init__(
            f"This needs the {needed} role on the campaign; you are a {role}.",
            required_role=needed,
            role=role,
        )
        self.needed = needed
        self.role = role


class InviteRefused(DomainError):
    """An invitation token that cannot be accepted; `code` says why."""

    code = "invite_not_found"
    status = 404
    title = "Invitation not found"


class InviteUsed(InviteRefused):
    code = "invite_used"
    status = 409
    title = "Invitation already used"


class InviteExpired(InviteRefused):
    code = "invite_expired"
    status = 410
    title = "Invitation expired"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"


class ValidationFailed(DomainError):
    """Input that breaks a rule; `field` names what was wrong."""

    code = "validation_error"
    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail, field=field, **extra)
        self.field = field


class WebhookTargetRefused(ValidationFailed):
    """A webhook URL that points where codedrop must not send (SSRF guard)."""

    code = "webhook_target_refused"
    title = "Webhook target refused"


class UnknownPlatform(ValidationFailed):
    code = "unknown_platform"
    title = "Unknown platform"


class InvalidCSV(ValidationFailed):
    code = "invalid_csv"
    title = "The file cannot be imported"


class FileTooLarge(ValidationFailed):
    code = "file_too_large"
    status = 413
    title = "File too large"


class ClaimRefused(DomainError):
    """Base of every reason a claim is not served."""

    code = "claim_refused"
    status = 409
    title = "Claim refused"


class CampaignNotActive(ClaimRefused):
    """Draft, paused, completed or archived."""

    code = "campaign_not_active"
    title = "Campaign not active"

    def __init__(self, detail: str, *, status: str) -> None:
        super().__init__(detail, campaign_status=status)
        self.campaign_status = status


class CampaignNotStarted(ClaimRefused):
    code = "campaign_not_started"
    title = "Campaign not started"

    def __init__(self, starts_at: datetime) -> None:
        super().__init__(
            f"This campaign opens at {starts_at:%Y-%m-%d %H:%M} UTC.", starts_at=starts_at
        )
        self.starts_at = starts_at


class CampaignEnded(ClaimRefused):
    code = "campaign_ended"
    title = "Campaign ended"

    def __init__(self, ends_at: datetime | None = None) -> None:
        super().__init__("This campaign has ended.", ends_at=ends_at)


class SoldOut(ClaimRefused):
    code = "sold_out"
    title = "Sold out"

    def __init__(self, detail: str = "All codes of this campaign have been handed out.") -> None:
        super().__init__(detail)


class PlatformNotServed(ClaimRefused):
    code = "platform_not_served"
    status = 422
    title = "Platform not served"

    def __init__(self, detail: str, *, available: list[str]) -> None:
        super().__init__(detail, available_platforms=available)
        self.available = available


class PlatformRequired(ClaimRefused):
    code = "platform_required"
    status = 422
    title = "Platform required"

    def __init__(self, available: list[str]) -> None:
        super().__init__(
            "This campaign has codes for several platforms; say which one: "
            + ", ".join(available)
            + ".",
            available_platforms=available,
        )
        self.available = available


class IdentityRequired(ClaimRefused):
    """A `verified` campaign and a claimant no one vouches for (a cookie or a bare user id)."""

    code = "identity_required"
    status = 403
    title = "Sign-in required"


class SignInFailed(DomainError):
    """A claim-page sign-in (Discord OAuth2, Telegram Login) that could not be verified."""

    code = "signin_failed"
    status = 400
    title = "Sign-in failed"


class NotEligible(ClaimRefused):
    """An eligibility rule failed; `rule` names it and `eligible_at` says when, if known."""

    code = "not_eligible"
    status = 403
    title = "Not eligible"

    def __init__(
        self, detail: str, *, rule: str, eligible_at: datetime | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, rule=rule, eligible_at=eligible_at, **extra)
        self.rule = rule
        self.eligible_at = eligible_at


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, limit: int = 0, window: int = 0) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after
        self.limit = limit
        self.window = window


class EligibilityUnverifiable(ValidationFailed):
    """A campaign rule that cannot be checked on one of its channels (it would refuse all)."""

    code = "eligibility_unverifiable"
    title = "Eligibility rule cannot be checked"

    def __init__(self, detail: str, *, rule: str, channel: str) -> None:
        super().__init__(detail, field=f"eligibility.{rule}", rule=rule, channel=channel)
        self.rule = rule
        self.channel = channel


class IdempotencyMismatch(ValidationFailed):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status = 503
    title = "Service unavailable"
