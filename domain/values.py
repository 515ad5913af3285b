"""Plain values that cross the domain's boundary: what fronts pass in and get back.

No framework object enters or leaves a domain service: a bot turns a Telegram user into a
`Claimant`, the API turns a request into one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import UnknownPlatform, ValidationFailed

# What the database's integer columns hold: MariaDB INT for counts and thresholds, BIGINT
# (SQLite INTEGER) for row ids. A number past these is refused, never sent to the database.
MAX_INT = 2**31 - 1
MAX_ROW_ID = 2**63 - 1

# Public ids (campaigns `secrets.token_urlsafe(12)`, uploads `upl_` + the same) are URL-safe
# base64 within the 32 characters of their column; anything else names nothing.
PUBLIC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PUBLIC_ID_PATTERN = PUBLIC_ID_RE.pattern

# Bidirectional embeddings, overrides and isolates: they make text read differently from
# what it is (a name that shows as "gnp.exe"), so names and descriptions refuse them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_public_id(value: str) -> bool:
    """Whether `value` has the shape of a public id (so a lookup may find something)."""
    return bool(PUBLIC_ID_RE.match(value))


def is_row_id(value: int) -> bool:
    """Whether `value` can be a database row id."""
    return 1 <= value <= MAX_ROW_ID


def check_text(value: str, *, field: str, multiline: bool = False) -> str:
    """Refuse control characters (line breaks and tabs only where `multiline`), bidi
    overrides and lone surrogates in text people will read; returns the value unchanged."""
    allowed = "\n\r\t" if multiline else ""
    for ch in value:
        category = unicodedata.category(ch)
        if (category == "Cc" and ch not in allowed) or category == "Cs" or ch in BIDI_CONTROLS:
            raise ValidationFailed(
                f"The {field} contains the invisible control character U+{ord(ch):04X}; remove it.",
                field=field,
            )
    return value


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"
    STEAM = "steam"
    UNIVERSAL = "universal"


CODE_PLATFORMS = (Platform.IOS, Platform.ANDROID, Platform.WEB, Platform.STEAM)

PLATFORM_ALIASES = {
    "ios": Platform.IOS,
    "iphone": Platform.IOS,
    "ipad": Platform.IOS,
    "apple": Platform.IOS,
    "appstore": Platform.IOS,
    "app store": Platform.IOS,
    "android": Platform.ANDROID,
    "google": Platform.ANDROID,
    "googleplay": Platform.ANDROID,
    "google play": Platform.ANDROID,
    "play": Platform.ANDROID,
    "web": Platform.WEB,
    "steam": Platform.STEAM,
    "universal": Platform.UNIVERSAL,
    "any": Platform.UNIVERSAL,
    "all": Platform.UNIVERSAL,
}

REDEMPTION_HINTS = {
    Platform.IOS: "Redeem in the App Store: https://apps.apple.com/redeem?code={code}",
    Platform.ANDROID: "Redeem in Google Play: https://play.google.com/redeem?code={code}",
    Platform.STEAM: "Activate on Steam: https://store.steampowered.com/account/registerkey?key={code}",
    Platform.WEB: "Enter this code on the developer's website.",
}


def parse_platform(value: str | None, *, field_name: str = "platform") -> Platform | None:
    """Turn user text ('iOS', 'Google Play') into a Platform; None stays None."""
    if value is None or not value.strip():
        return None
    found = PLATFORM_ALIASES.get(value.strip().lower())
    if found is None:
        raise UnknownPlatform(
            f"Unknown platform {value[:40]!r}; use one of: "
            + ", ".join(p.value for p in Platform)
            + ".",
            field=field_name,
        )
    return found


def redemption_hint(platform: str, code: str) -> str | None:
    """How to redeem a code on its platform, with the code in the link where stores allow it."""
    try:
        template = REDEMPTION_HINTS[Platform(platform)]
    except (ValueError, KeyError):
        return None
    return template.format(code=code)


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class CodeStatus(StrEnum):
    AVAILABLE = "available"
    CLAIMED = "claimed"
    USED = "used"
    EXPIRED = "expired"  # past its `expires_at` while still available (domain.expiry)


class IdentityMode(StrEnum):
    """Who may claim a campaign: anyone (`anonymous`), or only claimants a party vouches for
    (`verified`: a Discord or Telegram account, or a developer's backend with its key)."""

    ANONYMOUS = "anonymous"
    VERIFIED = "verified"


def parse_identity_mode(value: str | None) -> str:
    """`anonymous` or `verified` (case and spaces ignored); anything else names the field."""
    text = (value or IdentityMode.ANONYMOUS).strip().lower()
    try:
        return IdentityMode(text).value
    except ValueError:
        raise ValidationFailed(
            f"Unknown identity {str(value)[:40]!r}; use anonymous or verified.", field="identity"
        ) from None


class Channel(StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    WEB = "web"
    API = "api"


# letters and digits of any script (`Renée` and `Renee` are two people), compared byte for byte
_CLAIMANT_ID = re.compile(r"^[\w.:@+\-]{1,80}$")


@dataclass(frozen=True, slots=True)
class Claimant:
    """Who claims: a namespaced identity like `telegram:42`, plus facts a front gathered.

    Facts feed the eligibility rules: `account_created_at`, `member_since`, `roles` (Discord
    role ids), `chat_memberships` (Telegram chat ids/usernames the member belongs to),
    `country`.
    """

    namespace: str
    external_id: str
    display_name: str | None = None
    account_created_at: datetime | None = None
    member_since: datetime | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    chat_memberships: frozenset[str] = field(default_factory=frozenset)
    country: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}:{self.external_id}"

    @classmethod
    def of(cls, namespace: str, external_id: str | int, **facts: Any) -> Claimant:
        """Build a claimant, refusing identities that cannot be stored."""
        from domain.errors import ValidationFailed

        ext = str(external_id).strip()
        if not _CLAIMANT_ID.match(ext) or not re.match(r"^[a-z]{2,16}$", namespace):
            raise ValidationFailed(
                "The user identifier must be 1-80 letters, digits or . _ : @ + - (no spaces).",
                field="user_identifier",
            )
        return cls(namespace=namespace, external_id=ext, **facts)


def mask_code(code: str) -> str:
    """`ABCDEF123XYZ` -> `ABC***XYZ`: enough to recognise, not enough to use."""
    if len(code) <= 6:
        return code[:1] + "***" + code[-1:]
    return code[:3] + "***" + code[-3:]


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """An acknowledged claim. `repeated` is True when an earlier claim was handed back."""

    campaign_id: str
    campaign_name: str
    claimant: str
    code: str
    platform: str
    channel: str
    claimed_at: datetime
    repeated: bool
    slot: int

    @property
    def hint(self) -> str | None:
        return redemption_hint(self.platform, self.code)


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    reason: str
    value: str | None = None


@dataclass(slots=True)
class ImportReport:
    """The outcome of one upload; counts always add up: rows = imported + duplicates + invalid."""

    upload_id: str
    status: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    invalid: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    filename: str = ""
    total_bytes: int = 0
    reopened: bool = False  # the campaign had sold out and these codes opened it again
