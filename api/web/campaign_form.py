"""The campaign create/edit form: its fields parsed into the values the domain takes, and back.

Parsing names the field of each mistake so the form shows it beside that field; the domain
checks the rules (domain.campaigns) and its `ValidationFailed` names a field the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from api.web.dashboard import split_list
from domain.campaigns import CampaignView
from domain.errors import ValidationFailed
from domain.values import Channel, IdentityMode, Platform

PLATFORMS = [p.value for p in Platform]
CHANNELS = [c.value for c in Channel]
IDENTITY_MODES = [m.value for m in IdentityMode]


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

    def number(field: str, low: int, high: int, default: int | None) -> int | None:
        return _parse_int(text.get(field, ""), field, errors, low=low, high=high, default=default)

    values: dict[str, Any] = {
        "name": text.get("name", "").strip(),
        "description": text.get("description", "").strip(),
        "platform": text.get("platform") or "universal",
        "starts_at": _parse_when(text.get("starts_at", ""), "starts_at", errors),
        "ends_at": _parse_when(text.get("ends_at", ""), "ends_at", errors),
        "per_claimant_limit": number("per_claimant_limit", 1, 100, 1),
        "low_stock_threshold": number("low_stock_threshold", 0, 10_000_000, 0),
        "waitlist_enabled": text.get("waitlist_enabled") == "on",
        "identity": text.get("identity") or "anonymous",
        "code_ttl_days": number("code_ttl_days", 1, 3650, None),
    }
    if not values["name"]:
        errors["name"] = "Give the campaign a name."
    if values["platform"] not in PLATFORMS:
        errors["platform"] = "Pick a platform."
    if values["identity"] not in IDENTITY_MODES:
        errors["identity"] = "Pick anyone or signed-in members only."
    if creating:
        # which status a campaign may start in is the domain's rule (campaign_state), shown
        # by field when it refuses
        values["status"] = text.get("status") or "active"
    channels = [c for c in form.getlist("channels") if isinstance(c, str) and c in CHANNELS]
    eligibility: dict[str, Any] = {
        "channels": channels if channels and len(channels) < len(CHANNELS) else None,
        "min_account_age_days": number("min_account_age_days", 0, 36500, None),
        "min_member_days": number("min_member_days", 0, 36500, None),
        "required_roles": split_list(text.get("required_roles", "")),
        "required_chats": split_list(text.get("required_chats", "")),
        "allowed_countries": [c.upper() for c in split_list(text.get("allowed_countries", ""))],
        "web_signed_identity": text.get("web_signed_identity") == "on",
    }
    values["eligibility"] = {k: v for k, v in eligibility.items() if v not in (None, [], False)}
    return values, errors


def form_view(values: dict[str, Any]) -> dict[str, Any]:
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


def view_values(view: CampaignView) -> dict[str, Any]:
    """A saved campaign as form values (times naive UTC, as the form's inputs take them)."""

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


def field_error(exc: ValidationFailed, errors: dict[str, str]) -> None:
    """Put the domain's refusal beside the field it names (or above the form)."""
    field = exc.extra.get("field")
    key = str(field or "form").removeprefix("eligibility.").split(".")[0]
    errors[key if key else "form"] = exc.detail
