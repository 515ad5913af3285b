"""The editable fields of a campaign: which exist, which refuse null, and their checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import clock
from domain.eligibility import parse_rules
from domain.errors import ValidationFailed
from domain.values import (
    MAX_INT,
    CampaignStatus,
    Platform,
    check_text,
    parse_identity_mode,
    parse_platform,
)

MAX_LIMIT = 100
# null on these means nothing sensible ("no name", "no platform"), so it is refused rather
# than read as a default; starts_at and ends_at take null to clear the time
NOT_NULL = {
    "name",
    "description",
    "platform",
    "status",
    "per_claimant_limit",
    "low_stock_threshold",
    "eligibility",
    "waitlist_enabled",
    "identity",
}
EDITABLE = {
    "name",
    "description",
    "platform",
    "status",
    "starts_at",
    "ends_at",
    "per_claimant_limit",
    "low_stock_threshold",
    "code_ttl_days",
    "eligibility",
    "waitlist_enabled",
    "identity",
}


def check_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise editable fields; errors name the field."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in EDITABLE:
            raise ValidationFailed(f"{key!r} cannot be set.", field=key)
        if value is None and key in NOT_NULL:
            raise ValidationFailed(f"{key} cannot be null; leave it out to keep it.", field=key)
        if key == "name":
            value = check_text(str(value).strip(), field="name")
            if not 1 <= len(value) <= 120:
                raise ValidationFailed("The name must be 1-120 characters.", field="name")
        elif key == "description":
            value = check_text(str(value).strip(), field="description", multiline=True)
            if len(value) > 4000:
                raise ValidationFailed("The description is over 4,000 characters.", field=key)
        elif key == "platform":
            value = (parse_platform(value) or Platform.UNIVERSAL).value
        elif key == "status":
            try:
                value = CampaignStatus(value).value
            except ValueError:
                raise ValidationFailed(
                    f"Unknown status {value!r}; use one of: "
                    + ", ".join(s.value for s in CampaignStatus)
                    + ".",
                    field="status",
                ) from None
        elif key in ("starts_at", "ends_at"):
            value = clock.checked_utc(value, field=key)
        elif key == "per_claimant_limit":
            if not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
                raise ValidationFailed(
                    f"per_claimant_limit must be 1-{MAX_LIMIT}.", field="per_claimant_limit"
                )
        elif key == "low_stock_threshold":
            if not isinstance(value, int) or not 0 <= value <= MAX_INT:
                raise ValidationFailed(f"low_stock_threshold must be 0-{MAX_INT}.", field=key)
        elif key == "waitlist_enabled":
            if not isinstance(value, bool):
                raise ValidationFailed("waitlist_enabled must be true or false.", field=key)
        elif key == "eligibility":
            value = parse_rules(value).model_dump(mode="json", exclude_defaults=True)
        elif key == "code_ttl_days":
            if value is not None and (not isinstance(value, int) or not 1 <= value <= 3650):
                raise ValidationFailed(
                    "code_ttl_days must be 1-3650 days, or null for codes that never expire.",
                    field=key,
                )
        elif key == "identity":
            value = parse_identity_mode(value)
        out[key] = value
    return out


def check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at.", field="ends_at")
