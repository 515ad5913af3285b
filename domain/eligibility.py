"""Eligibility rules: data on the campaign, judged here from facts the fronts gather.

A front collects facts (Discord roles and account age, Telegram chat memberships, the country
a trusted proxy names) into the `Claimant`; this module decides, and says which rule failed
and when the member qualifies.

A rule needs a fact that only some fronts can gather: Telegram's Bot API tells no account
age, the claim page knows no Discord roles. `CHECKABLE_ON` says where each rule can be
checked, and `check_verifiable` refuses (422 `eligibility_unverifiable`) a campaign whose
rules could not be checked on one of the channels it is open to, instead of letting it
refuse every claimant there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain import claimants
from domain.errors import EligibilityUnverifiable, NotEligible, ValidationFailed
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


ALL_CHANNELS = (Channel.TELEGRAM, Channel.DISCORD, Channel.WEB, Channel.API)
# where the facts each rule needs come from; rules not named here (channels,
# web_signed_identity) need no fact and hold everywhere
CHECKABLE_ON: dict[str, frozenset[Channel]] = {
    # Discord's member object carries the account's creation (its snowflake); Telegram's Bot
    # API gives no account age, the web and API none either
    "min_account_age_days": frozenset({Channel.DISCORD}),
    "min_member_days": frozenset({Channel.DISCORD}),
    "required_roles": frozenset({Channel.DISCORD}),
    # the bot asks Telegram (getChatMember)
    "required_chats": frozenset({Channel.TELEGRAM}),
    # the claim page and anonymous API calls, when a trusted proxy names the country
    # (CODEDROP_COUNTRY_HEADER, see FactSources); nowhere otherwise. The Discord rules are
    # also checkable on the claim page when "Sign in with Discord" is configured.
    "allowed_countries": frozenset(),
}


# rules a member signed in with Discord on the claim page brings the facts for (domain.signin)
DISCORD_MEMBER_RULES = frozenset({"min_account_age_days", "min_member_days", "required_roles"})


class _FactSettings(Protocol):
    country_header: str | None
    trusted_proxies: list[str]

    @property
    def discord_signin(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class FactSources:
    """The optional facts this deployment gathers (settings decide; none by default)."""

    web_country: bool = False
    web_discord: bool = False

    @classmethod
    def of(cls, settings: _FactSettings) -> FactSources:
        return cls(
            # the header counts only from trusted proxies: without any, nobody supplies it
            web_country=bool(settings.country_header and settings.trusted_proxies),
            # "Sign in with Discord" on the claim page brings the member's Discord facts
            web_discord=settings.discord_signin,
        )


def checkable_on(rule: str, sources: FactSources) -> frozenset[Channel]:
    """The channels on which `rule` can be checked with these fact sources."""
    where = CHECKABLE_ON.get(rule, frozenset(ALL_CHANNELS))
    if rule == "allowed_countries" and sources.web_country:
        where |= {Channel.WEB}
    if rule in DISCORD_MEMBER_RULES and sources.web_discord:
        where |= {Channel.WEB}
    return where


def check_verifiable(rules: EligibilityRules, sources: FactSources) -> None:
    """Raise `EligibilityUnverifiable` when a rule cannot be checked on a channel the
    campaign is open to (all channels unless `channels` narrows them)."""
    open_to = [Channel(c) for c in rules.channels] if rules.channels else list(ALL_CHANNELS)
    # a rule is on when it has a value (0 days, an empty list: off, as `judge` reads them)
    for rule in (name for name in CHECKABLE_ON if getattr(rules, name)):
        where = checkable_on(rule, sources)
        for channel in open_to:
            if channel not in where:
                hint = (
                    f"limit the campaign to {' or '.join(sorted(c.value for c in where))} with"
                    " eligibility.channels"
                    if where
                    else "this deployment gathers no fact for it"
                    + (" (set CODEDROP_COUNTRY_HEADER)" if rule == "allowed_countries" else "")
                )
                raise EligibilityUnverifiable(
                    f"The rule {rule} cannot be checked on {channel.value}, so it would refuse"
                    f" every claimant there; {hint}.",
                    rule=rule,
                    channel=channel.value,
                )


def judge(rules: EligibilityRules, claimant: Claimant, *, channel: str, now: datetime) -> None:
    """Raise `NotEligible` naming the first failed rule; return when every rule holds.

    The rules are checked in one function, in the order a member reads them in a refusal;
    each is a short guard, and splitting them would scatter that order."""
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
                " which can only be checked in Discord.",
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
