"""Members who sign in on the claim page (Discord OAuth2, Telegram Login), and who counts as
vouched for by a `verified` campaign.

A member signed in with Discord is `discord:<user id>` and with Telegram `telegram:<user id>`:
exactly the claimants the bots use, so a person holds one code whether they claim on the page
or in a chat. The fronts carry a `Member` between requests (the web page in a signed cookie);
this module builds it only from proof: a Discord access token obtained with the app's secret
and a PKCE verifier bound to the sign-in's `state`, or Telegram Login fields whose hash the bot
token signed, no older than `TELEGRAM_AUTH_MAX_AGE`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import claimants
from domain.adapters.discord_oauth import IDENTIFY, MEMBERS_READ, DiscordOAuth
from domain.eligibility import EligibilityRules
from domain.errors import IdentityRequired, SignInFailed
from domain.models import Campaign, ChatPost
from domain.values import Claimant, IdentityMode

log = logging.getLogger(__name__)

# claimants some party vouches for: the two chat platforms, and a developer's backend that
# names its own users with its API key (`api:<developer>:<user>`); `web` (a cookie) and bare
# identifiers from anonymous API callers are not
VOUCHED_NAMESPACES = frozenset({claimants.DISCORD, claimants.TELEGRAM, claimants.API})
TELEGRAM_AUTH_MAX_AGE = timedelta(days=1)
TELEGRAM_CLOCK_SKEW = timedelta(minutes=5)
DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_GUILDS = 5  # drop servers asked about per sign-in (each is one request to Discord)


def require_identity(mode: str, claimant: Claimant) -> None:
    """Refuse a claimant no one vouches for when the campaign is `verified`."""
    if mode == IdentityMode.VERIFIED and claimant.namespace not in VOUCHED_NAMESPACES:
        raise IdentityRequired(
            "This campaign gives codes only to people signed in with Discord or Telegram:"
            " sign in on the campaign page, or claim in the Discord or Telegram bot."
        )


@dataclass(frozen=True, slots=True)
class Member:
    """A person signed in on the claim page, with the facts their sign-in proved."""

    provider: str  # discord or telegram
    user_id: str
    display_name: str
    guild_id: str | None = None  # the Discord server whose member object was read
    member_since: datetime | None = None
    roles: tuple[str, ...] = ()

    def claimant(self) -> Claimant:
        """The same claimant the provider's bot builds for this person."""
        created = discord_created_at(self.user_id) if self.provider == "discord" else None
        return Claimant.of(
            self.provider,
            self.user_id,
            display_name=self.display_name,
            account_created_at=created,
            member_since=self.member_since,
            roles=frozenset(self.roles),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.provider,
            "u": self.user_id,
            "n": self.display_name,
            "g": self.guild_id,
            "j": self.member_since.isoformat() if self.member_since else None,
            "r": list(self.roles),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Member | None:
        """The member a signed cookie carried; None for anything malformed."""
        if not isinstance(data, dict):
            return None
        provider, user_id = data.get("p"), data.get("u")
        if provider not in ("discord", "telegram") or not str(user_id).isdigit():
            return None
        try:
            joined = datetime.fromisoformat(data["j"]) if data.get("j") else None
        except (TypeError, ValueError):
            return None
        return cls(
            provider=provider,
            user_id=str(user_id),
            display_name=str(data.get("n") or "")[:100],
            guild_id=str(data["g"]) if data.get("g") else None,
            member_since=joined,
            roles=tuple(str(r) for r in data.get("r") or ()),
        )


def discord_created_at(user_id: str) -> datetime:
    """A Discord id's creation time (ids are snowflakes that carry it)."""
    ms = (int(user_id) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# -- Telegram Login --------------------------------------------------------------------------


def telegram_member(fields: Mapping[str, str], *, bot_token: str, now: datetime) -> Member:
    """The member of Telegram Login Widget fields, checked against the bot token.

    The hash is HMAC-SHA256, keyed with SHA256(bot token), of every received field but `hash`
    as sorted `key=value` lines (Telegram's data-check-string); `auth_date` must be recent.
    """
    received = {k: v for k, v in fields.items() if k != "hash"}
    given = fields.get("hash", "")
    if not given or "id" not in received or "auth_date" not in received:
        raise SignInFailed(
            "The Telegram sign-in is incomplete; sign in with Telegram again.", step="fields"
        )
    check = "\n".join(f"{k}={received[k]}" for k in sorted(received))
    key = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise SignInFailed(
            "The Telegram sign-in could not be verified; sign in with Telegram again.",
            step="hash",
        )
    try:
        signed_at = datetime.fromtimestamp(int(received["auth_date"]), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise SignInFailed("The Telegram sign-in has no valid date.", step="auth_date") from None
    if now - signed_at > TELEGRAM_AUTH_MAX_AGE or signed_at - now > TELEGRAM_CLOCK_SKEW:
        raise SignInFailed(
            "This Telegram sign-in is too old; sign in with Telegram again.", step="auth_date"
        )
    user_id = received["id"]
    if not user_id.isdigit():
        raise SignInFailed("The Telegram sign-in names no user.", step="fields")
    name = " ".join(p for p in (received.get("first_name"), received.get("last_name")) if p)
    return Member(provider="telegram", user_id=user_id, display_name=name or user_id)


# -- Discord OAuth2 --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_verifier(secret_key: str, state: str) -> str:
    """The PKCE code verifier of one sign-in, derived from its `state` and the server secret.

    Derived rather than stored: the verifier never leaves the server, yet any replica that
    sees the state (from the member's cookie) can finish the sign-in. 43 characters of
    base64url, as RFC 7636 asks.
    """
    mac = hmac.new(secret_key.encode(), f"codedrop/pkce/v1/{state}".encode(), hashlib.sha256)
    return _b64(mac.digest())


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of a verifier."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


def needs_guild_member(rules: EligibilityRules) -> bool:
    """Whether the rules need Discord's member object (roles, time in the server)."""
    return bool(rules.required_roles or rules.min_member_days)


def discord_scopes(rules: EligibilityRules) -> list[str]:
    """The least the sign-in must ask for: `identify`, and member reads when rules need them."""
    return [IDENTIFY, MEMBERS_READ] if needs_guild_member(rules) else [IDENTIFY]


async def discord_guilds(campaign: Campaign, *, fallback: int | None) -> list[str]:
    """The Discord servers a campaign's rules refer to: where it was dropped, newest first;
    else the configured server (`CODEDROP_DISCORD_GUILD_ID`)."""
    rows = (
        await ChatPost.filter(campaign_id=campaign.id, provider="discord")
        .order_by("-id")
        .values_list("guild_id", flat=True)
    )
    guilds = list(dict.fromkeys(str(g) for g in rows))[:MAX_GUILDS]
    if not guilds and fallback:
        guilds = [str(fallback)]
    return guilds


async def discord_member(
    oauth: DiscordOAuth, *, code: str, verifier: str, redirect_uri: str, guild_ids: list[str]
) -> Member:
    """The member an authorization code stands for, with roles and join time from the first
    of `guild_ids` they belong to (none when they belong to none, or rules need none)."""
    identity = await oauth.fetch_identity(
        code=code, verifier=verifier, redirect_uri=redirect_uri, guild_ids=guild_ids
    )
    user = identity.user
    name = str(user.get("global_name") or user.get("username") or user["id"])
    for guild_id in guild_ids:
        found = identity.members.get(guild_id)
        if found is None:
            continue
        try:
            joined = datetime.fromisoformat(str(found["joined_at"]))
        except (KeyError, ValueError):
            joined = None
        return Member(
            provider="discord",
            user_id=str(user["id"]),
            display_name=str(found.get("nick") or name)[:100],
            guild_id=guild_id,
            member_since=joined,
            roles=tuple(str(r) for r in found.get("roles") or ()),
        )
    return Member(provider="discord", user_id=str(user["id"]), display_name=name[:100])
