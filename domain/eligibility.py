"""Eligibility rules: data on the campaign, judged here from facts the fronts gather.

A front collects facts (Discord roles and account age, Telegram chat memberships) into the
`Claimant`; this module decides, and says which rule failed and when the member qualifies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain import claimants
from domain.errors import NotEligible, ValidationFailed
from domain.values import Channel, Claimant


class EligibilityRules(BaseModel):
    """What a claimant must satisfy. Every rule is optional; an empty set admits everyone."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] | None = Field(
        None, description="fronts that may claim (telegram, discord, web, api); all when empty"
    )
    min_account_age_days: int | None = Field(
        None, ge=0, le=36500, description="minimum age of the Telegram/Discord account"
    )
    min_member_days: int | None = Field(
        None, ge=0, le=36500, description="minimum time in the Discord server"
    )
    required_roles: list[str] = Field(
        default_factory=list, description="Discord role ids the member must all have"
    )
    required_chats: list[str] = Field(
        default_factory=list, description="Telegram chats (@username or id) to be a member of"
    )
    allowed_countries: list[str] = Field(
        default_factory=list, description="ISO 3166 alpha-2 codes; all when empty"
    )
    web_signed_identity: bool = Field(
        False,
        description="web claims need a user id the developer signed (domain.claim_identity)",
    )

    @field_validator("required_roles", "required_chats", mode="before")
    @classmethod
    def _as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return value

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        out = [v.strip().upper() for v in value]
        for code in out:
            if len(code) != 2 or not code.isalpha():
                raise ValueError(f"{code!r} is not a two-letter country code")
        return out


def parse_rules(raw: dict[str, Any] | None) -> EligibilityRules:
    """Validate rules given by a developer; errors name the rule."""
    try:
        return EligibilityRules.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(
            f"eligibility.{where}: {first['msg']}", field=f"eligibility.{where}"
        ) from exc


def judge(rules: EligibilityRules, claimant: Claimant, *, channel: str, now: datetime) -> None:
    """Raise `NotEligible` naming the first failed rule; return when every rule holds."""
    if rules.channels and channel not in rules.channels:
        raise NotEligible(
            "This campaign cannot be claimed here; claim it through "
            + " or ".join(c.value for c in rules.channels)
            + ".",
            rule="channels",
        )
    if (
        rules.web_signed_identity
        and channel == Channel.WEB
        and claimant.namespace in claimants.BEARER
    ):
        raise NotEligible(
            "This campaign is for signed-in users of the developer's site; open it from there.",
            rule="web_signed_identity",
        )
    if rules.min_account_age_days:
        need = timedelta(days=rules.min_account_age_days)
        created = claimant.account_created_at
        if created is None:
            raise NotEligible(
                f"This campaign needs an account at least {rules.min_account_age_days} days old,"
                " which can only be checked in Telegram or Discord.",
                rule="min_account_age_days",
            )
        if now - created < need:
            raise NotEligible(
                f"Your account must be at least {rules.min_account_age_days} days old; "
                f"you qualify on {created + need:%Y-%m-%d %H:%M} UTC.",
                rule="min_account_age_days",
                eligible_at=created + need,
            )
    if rules.min_member_days:
        need = timedelta(days=rules.min_member_days)
        since = claimant.member_since
        if since is None:
            raise NotEligible(
                f"This campaign is for members of the server for at least {rules.min_member_days}"
                " days; claim it in the Discord server.",
                rule="min_member_days",
            )
        if now - since < need:
            raise NotEligible(
                f"You must have been in the server for {rules.min_member_days} days; "
                f"you qualify on {since + need:%Y-%m-%d %H:%M} UTC.",
                rule="min_member_days",
                eligible_at=since + need,
            )
    missing_roles = [r for r in rules.required_roles if r not in claimant.roles]
    if missing_roles:
        raise NotEligible(
            "You need the required server role(s) to claim: "
            + ", ".join(f"<@&{r}>" if r.isdigit() else r for r in missing_roles)
            + ".",
            rule="required_roles",
            missing=missing_roles,
        )
    missing_chats = [
        c
        for c in rules.required_chats
        if c not in claimant.chat_memberships and c.lower() not in claimant.chat_memberships
    ]
    if missing_chats:
        raise NotEligible(
            "Join " + ", ".join(missing_chats) + " first, then try again.",
            rule="required_chats",
            missing=missing_chats,
        )
    if rules.allowed_countries and (
        claimant.country is None or claimant.country.upper() not in rules.allowed_countries
    ):
        raise NotEligible(
            "This campaign is only available in: " + ", ".join(rules.allowed_countries) + ".",
            rule="allowed_countries",
        )
