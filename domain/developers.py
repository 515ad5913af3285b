"""Developers, their API keys and their linked chat accounts.

API keys look like `cdk_<8 hex>_<43 url-safe chars>`: the prefix is recognisable (secret
scanners, logs), the key is shown once, and only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from domain import audit, clock
from domain.audit import Action
from domain.errors import (
    Conflict,
    DeveloperNotFound,
    NotFound,
    RegistrationClosed,
    Unauthorized,
    ValidationFailed,
)
from domain.models import ApiKey, Campaign, Developer, Identity, LinkToken, WebSession
from domain.settings import Settings
from domain.values import check_text

KEY_PREFIX = "cdk_"
LINK_TOKEN_TTL = timedelta(minutes=30)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
_KEY = re.compile(r"^cdk_([0-9a-f]{8})_[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True, slots=True)
class DeveloperView:
    id: int
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new API key; `key` is the only time the secret is visible."""

    id: int
    developer_id: int
    prefix: str
    key: str


@dataclass(frozen=True, slots=True)
class KeyView:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(dev: Developer) -> DeveloperView:
    return DeveloperView(id=dev.id, name=dev.name, email=dev.email, created_at=dev.created_at)


async def create_developer(*, name: str, email: str) -> DeveloperView:
    """Register a developer (names and e-mails are checked, e-mails are unique)."""
    name = check_text(name.strip(), field="name")
    email = email.strip().lower()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("The name must be 1-100 characters.", field="name")
    if not _EMAIL.match(email):
        raise ValidationFailed(f"{email[:80]!r} is not an e-mail address.", field="email")
    try:
        dev = await Developer.create(name=name, email=email)
    except IntegrityError as exc:
        raise Conflict(f"A developer with e-mail {email} already exists.", field="email") from exc
    return _view(dev)


async def get_developer(*, developer_id: int) -> DeveloperView:
    dev = await Developer.get_or_none(id=developer_id)
    if dev is None:
        raise DeveloperNotFound(f"No developer with id {developer_id}.")
    return _view(dev)


async def find_developer(*, email: str) -> DeveloperView:
    dev = await Developer.get_or_none(email=email.strip().lower())
    if dev is None:
        raise DeveloperNotFound(f"No developer with e-mail {email!r}.")
    return _view(dev)


async def issue_key(*, developer_id: int, name: str = "default") -> IssuedKey:
    """Create an API key for a developer and return it once."""
    if not await Developer.exists(id=developer_id):
        raise DeveloperNotFound(f"No developer with id {developer_id}.")
    public = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    async with in_transaction() as conn:
        row = await ApiKey.create(
            developer_id=developer_id,
            name=name[:100],
            prefix=f"{KEY_PREFIX}{public}",
            key_hash=_hash(key),
            using_db=conn,
        )
        await audit.record(
            Action.KEY_CREATE,
            actor_id=developer_id,
            owner_id=developer_id,
            target=f"key:{row.prefix}",
            detail={"name": row.name},
            using_db=conn,
        )
    return IssuedKey(id=row.id, developer_id=developer_id, prefix=row.prefix, key=key)


async def authenticate(*, api_key: str) -> DeveloperView:
    """The developer owning an active key; `Unauthorized` for unknown or revoked keys."""
    if not _KEY.match(api_key or ""):
        raise Unauthorized("The API key is malformed; expected `Authorization: Bearer cdk_…`.")
    row = await ApiKey.get_or_none(key_hash=_hash(api_key)).select_related("developer")
    if row is None or not row.developer.is_active:
        raise Unauthorized("Unknown API key.")
    if row.revoked_at is not None:
        raise Unauthorized(f"The API key {row.prefix}… was revoked.")
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        await ApiKey.filter(id=row.id).update(last_used_at=now)
    return _view(row.developer)


async def open_session(*, api_key: str, ttl: timedelta) -> tuple[DeveloperView, str]:
    """Sign a developer in with their key: a new dashboard session, and its token (for the
    cookie; only its SHA-256 is stored). `Unauthorized` for an unknown or revoked key."""
    dev = await authenticate(api_key=api_key)
    key = await ApiKey.get(key_hash=_hash(api_key))
    token = secrets.token_urlsafe(32)
    await WebSession.create(token_hash=_hash(token), api_key=key, expires_at=clock.now() + ttl)
    return dev, token


async def session_developer(*, token: str) -> DeveloperView:
    """The developer of a live session; `Unauthorized` once it was closed, expired, or its
    key was revoked."""
    row = (
        await WebSession.get_or_none(
            token_hash=_hash(token), expires_at__gt=clock.now()
        ).select_related("api_key__developer")
        if token
        else None
    )
    if row is None:
        raise Unauthorized("This session has ended; sign in again.")
    key = row.api_key
    if key.revoked_at is not None or not key.developer.is_active:
        raise Unauthorized("This session's API key is unknown or was revoked.")
    return _view(key.developer)


async def close_session(*, token: str) -> None:
    """Sign out: the session's row goes, and with it every copy of the cookie."""
    if token:
        await WebSession.filter(token_hash=_hash(token)).delete()


async def forget_expired_sessions() -> int:
    """Delete sessions past their expiry (the cleanup job); returns how many."""
    return await WebSession.filter(expires_at__lte=clock.now()).delete()


async def list_keys(*, developer_id: int) -> list[KeyView]:
    rows = await ApiKey.filter(developer_id=developer_id).order_by("id")
    return [
        KeyView(r.id, r.name, r.prefix, r.created_at, r.last_used_at, r.revoked_at) for r in rows
    ]


async def revoke_key(*, prefix: str, developer_id: int | None = None) -> KeyView:
    """Revoke a key by its public prefix (`cdk_1a2b3c4d`) or by the full key."""
    match = _KEY.match(prefix)
    query = ApiKey.filter(key_hash=_hash(prefix)) if match else ApiKey.filter(prefix=prefix)
    if developer_id is not None:
        query = query.filter(developer_id=developer_id)
    row = await query.first()
    if row is None:
        raise NotFound(f"No API key {prefix[:16]!r}.")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        async with in_transaction() as conn:
            await row.save(update_fields=["revoked_at"], using_db=conn)
            await audit.record(
                Action.KEY_REVOKE,
                actor_id=developer_id,  # None: an operator at the command line
                owner_id=row.developer_id,  # type: ignore[attr-defined]
                target=f"key:{row.prefix}",
                using_db=conn,
            )
    return KeyView(row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at)


async def issue_link_token(*, developer_id: int) -> str:
    """A one-time token a developer sends to a bot (`/link <token>`) to link that account."""
    if not await Developer.exists(id=developer_id):
        raise DeveloperNotFound(f"No developer with id {developer_id}.")
    token = "lnk_" + secrets.token_urlsafe(18)
    await LinkToken.create(
        developer_id=developer_id, token_hash=_hash(token), expires_at=clock.now() + LINK_TOKEN_TTL
    )
    return token


async def link_identity(
    *, token: str, provider: str, external_id: str, chat_id: str | None = None
) -> DeveloperView:
    """Redeem a link token: this chat account now acts for the token's developer."""
    row = await LinkToken.get_or_none(token_hash=_hash(token.strip())).select_related("developer")
    if row is None or row.used_at is not None or row.expires_at < clock.now():
        raise ValidationFailed(
            "This link token is unknown, used or expired; create a new one.", field="token"
        )
    updated = await LinkToken.filter(id=row.id, used_at=None).update(used_at=clock.now())
    if not updated:
        raise ValidationFailed("This link token was just used.", field="token")
    await _bind(row.developer.id, provider, external_id, chat_id)
    return _view(row.developer)


async def register_via_chat(
    *,
    provider: str,
    external_id: str,
    name: str,
    chat_id: str | None = None,
    settings: Settings | None = None,
) -> tuple[DeveloperView, IssuedKey | None]:
    """Create a developer for a chat account (or return the linked one) with a first API key.

    The key is None when the account was already registered (keys are shown only once).
    With `CODEDROP_REGISTRATION=closed` (`settings.registration_open` false) only the linked
    account is returned; a new one is `RegistrationClosed` (the operator creates accounts).
    """
    existing = await developer_for_identity(provider=provider, external_id=external_id)
    if existing is not None:
        return existing, None
    if settings is not None and not settings.registration_open:
        raise RegistrationClosed()
    email = f"{provider}-{external_id}@users.codedrop.invalid"
    dev = await create_developer(name=name[:100] or f"{provider} {external_id}", email=email)
    await _bind(dev.id, provider, external_id, chat_id)
    return dev, await issue_key(developer_id=dev.id, name=f"{provider} registration")


async def _bind(developer_id: int, provider: str, external_id: str, chat_id: str | None) -> None:
    identity = await Identity.get_or_none(provider=provider, external_id=external_id)
    if identity is None:
        try:
            await Identity.create(
                developer_id=developer_id,
                provider=provider,
                external_id=external_id,
                chat_id=chat_id,
            )
        except IntegrityError:
            await Identity.filter(provider=provider, external_id=external_id).update(
                developer_id=developer_id, chat_id=chat_id
            )
    else:
        identity.developer_id = developer_id
        identity.chat_id = chat_id or identity.chat_id
        await identity.save()


async def developer_for_identity(*, provider: str, external_id: str) -> DeveloperView | None:
    """The developer a chat account is linked to, if any."""
    identity = await Identity.get_or_none(
        provider=provider, external_id=external_id
    ).select_related("developer")
    return _view(identity.developer) if identity else None


async def chats_of(*, developer_id: int) -> list[tuple[str, str]]:
    """(provider, chat id) pairs where a developer receives notices."""
    rows = await Identity.filter(developer_id=developer_id).exclude(chat_id=None)
    return [(r.provider, r.chat_id) for r in rows if r.chat_id]


@dataclass(frozen=True, slots=True)
class DeveloperSummary:
    """One line of the operator's list of developers."""

    developer: DeveloperView
    active_keys: int
    campaigns: int
    linked: list[str]  # providers of the linked chat accounts


async def list_developers() -> list[DeveloperSummary]:
    """Every developer, oldest first, with their active keys, campaigns and linked chats."""

    async def per_developer(query: Any, column: str) -> dict[int, int]:
        rows = await query.annotate(n=Count("id")).group_by(column).values(column, "n")
        return {r[column]: r["n"] for r in rows}

    devs = await Developer.all().order_by("id")
    keys = await per_developer(ApiKey.filter(revoked_at__isnull=True), "developer_id")
    owned = await per_developer(Campaign.all(), "owner_id")
    linked: dict[int, list[str]] = {}
    for row in await Identity.all().order_by("provider").values("developer_id", "provider"):
        linked.setdefault(row["developer_id"], []).append(row["provider"])
    return [
        DeveloperSummary(_view(d), keys.get(d.id, 0), owned.get(d.id, 0), linked.get(d.id, []))
        for d in devs
    ]
