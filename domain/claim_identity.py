"""Developer-signed identities for the web claim page.

By default a visitor of `/c/{campaign}` is known only by a random id in a signed cookie. A
developer who wants "one code per signed-in user of my site" instead sends the visitor to the
claim page with a short-lived token their backend signed: a standard HS256 JWT
(`{"sub": <user id>, "cid": <campaign id>, "exp": <unix time>}`) whose key is the campaign's
identity secret. That secret is derived from `settings.secret_key` and the campaign id, so
nothing extra is stored and rotating the server secret rotates every campaign's secret.

A verified token makes the claimant `api:<owner id>:<sub>`: the same identity the developer's
backend uses with its API key (`POST /api/distribute` with `user_identifier`), so a user holds
one code whichever way they claim. A campaign with the `web_signed_identity` rule refuses
anonymous web claims (domain.eligibility).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from domain import clock
from domain.campaigns import public_row
from domain.errors import NotEligible
from domain.values import Claimant

MAX_TOKEN = 2048
MAX_LIFETIME_S = 24 * 3600
LEEWAY_S = 30


class InvalidIdentity(NotEligible):
    code = "invalid_identity"
    title = "Sign-in token not accepted"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, rule="web_signed_identity")


def campaign_secret(secret_key: str, campaign_id: str) -> str:
    """The HS256 key a developer signs claim-page identities of one campaign with."""
    mac = hmac.new(
        secret_key.encode(), f"codedrop/claim-identity/v1/{campaign_id}".encode(), hashlib.sha256
    )
    return "cis_" + mac.hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_identity(secret_key: str, campaign_id: str, subject: str, *, expires_at: datetime) -> str:
    """An identity token, as a developer's backend would build it (docs, tests, CLI)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(
        json.dumps(
            {"sub": subject, "cid": campaign_id, "exp": int(expires_at.timestamp())},
            separators=(",", ":"),
        ).encode()
    )
    key = campaign_secret(secret_key, campaign_id).encode()
    sig = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


def verify_identity(secret_key: str, campaign_id: str, token: str) -> str:
    """The user id (`sub`) of a valid token for this campaign; `InvalidIdentity` otherwise."""
    parts = token.strip().split(".")
    if len(token) > MAX_TOKEN or len(parts) != 3:
        raise InvalidIdentity("The sign-in token is malformed; ask the site for a new link.")
    header_b64, payload_b64, sig_b64 = parts
    try:
        header: dict[str, Any] = json.loads(_unb64(header_b64))
        payload: dict[str, Any] = json.loads(_unb64(payload_b64))
        sig = _unb64(sig_b64)
    except (ValueError, TypeError):
        raise InvalidIdentity(
            "The sign-in token is malformed; ask the site for a new link."
        ) from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidIdentity("The sign-in token must be signed with HS256.")
    key = campaign_secret(secret_key, campaign_id).encode()
    expected = hmac.new(key, f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(sig, expected):
        raise InvalidIdentity("The sign-in token's signature does not match this campaign.")
    if not isinstance(payload, dict) or payload.get("cid") != campaign_id:
        raise InvalidIdentity("The sign-in token was made for another campaign.")
    exp = payload.get("exp")
    now = clock.now().timestamp()
    if not isinstance(exp, int | float) or exp + LEEWAY_S < now:
        raise InvalidIdentity("The sign-in token has expired; reload the page on the site.")
    if exp - now > MAX_LIFETIME_S + LEEWAY_S:
        raise InvalidIdentity("The sign-in token lives too long (24 hours at most).")
    subject = payload.get("sub")
    if not isinstance(subject, str | int) or not str(subject).strip():
        raise InvalidIdentity("The sign-in token names no user (`sub`).")
    return str(subject)


async def signed_claimant(*, secret_key: str, campaign_id: str, token: str) -> Claimant:
    """The claimant a valid token stands for: the developer's own user, as the API names it."""
    subject = verify_identity(secret_key, campaign_id, token)
    c = await public_row(campaign_id)
    owner_id: int = c.owner_id  # type: ignore[attr-defined]
    return Claimant.of("api", f"{owner_id}:{subject}")
