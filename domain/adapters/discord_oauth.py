"""Discord's OAuth2 endpoints, spoken over HTTP (aiohttp): the one module that calls them.

The claim page's "Sign in with Discord" is an authorization-code grant with PKCE (S256):
`/oauth2/authorize` sends the member back with a code, `/api/oauth2/token` turns the code
(with the client secret and the PKCE verifier) into an access token, and the token reads
`/api/users/@me` and, with `guilds.members.read`, `/api/users/@me/guilds/{id}/member`. The
token lives only inside `fetch_identity`: it is never returned, stored or logged.
`base_url` is `https://discord.com` in production and a local fake in the tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from domain.errors import SignInFailed

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
IDENTIFY = "identify"
MEMBERS_READ = "guilds.members.read"


@dataclass(frozen=True, slots=True)
class DiscordIdentity:
    """What the token showed: the user object, and their member object per guild asked about."""

    user: dict[str, Any]
    members: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DiscordOAuth:
    """A confidential OAuth2 client of one Discord application."""

    base_url: str
    client_id: str
    client_secret: str

    def authorize_url(
        self, *, redirect_uri: str, scopes: list[str], state: str, challenge: str
    ) -> str:
        """Where the member's browser goes to approve the sign-in."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "scope": " ".join(scopes),
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "prompt": "none",  # no second consent screen for a member who approved before
            }
        )
        return f"{self.base_url.rstrip('/')}/oauth2/authorize?{query}"

    async def fetch_identity(
        self, *, code: str, verifier: str, redirect_uri: str, guild_ids: list[str]
    ) -> DiscordIdentity:
        """Exchange the code, read the user and their membership of `guild_ids`.

        Every failure is a `SignInFailed` that names the step, never the token. The three
        HTTP steps share one session and one error mapping, so they stay in one function.
        """
        base = self.base_url.rstrip("/")
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        # one session per sign-in: a member signs in once, not once per request
        async with aiohttp.ClientSession(timeout=timeout) as http:
            try:
                async with http.post(
                    f"{base}/api/oauth2/token",
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "code_verifier": verifier,
                        # client_secret_post, one of the client authentications Discord takes
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                    headers={"Accept": "application/json"},
                ) as r:
                    grant = await _json(r)
                    if r.status != 200 or not isinstance(grant.get("access_token"), str):
                        log.info("discord sign-in: token exchange refused (HTTP %s)", r.status)
                        raise SignInFailed(
                            "Discord did not accept this sign-in (the link may have been used"
                            " already or expired). Try signing in again.",
                            step="token",
                        )
                token = grant["access_token"]
                granted = set(str(grant.get("scope", "")).split())
                auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
                async with http.get(f"{base}/api/users/@me", headers=auth) as r:
                    user = await _json(r)
                    if r.status != 200 or not str(user.get("id", "")).isdigit():
                        log.info("discord sign-in: /users/@me answered HTTP %s", r.status)
                        raise SignInFailed(
                            "Discord did not tell us who you are. Try signing in again.",
                            step="user",
                        )
                members: dict[str, dict[str, Any]] = {}
                if MEMBERS_READ in granted:
                    for guild_id in guild_ids:
                        url = f"{base}/api/users/@me/guilds/{guild_id}/member"
                        async with http.get(url, headers=auth) as r:
                            if r.status == 200:
                                members[guild_id] = await _json(r)
                            elif r.status != 404:  # 404: not a member of that server
                                log.info("discord sign-in: member read answered HTTP %s", r.status)
                                raise SignInFailed(
                                    "Discord did not show your server membership. Try again"
                                    " in a minute.",
                                    step="member",
                                )
            except (aiohttp.ClientError, TimeoutError):
                log.warning("discord sign-in: Discord did not answer")
                raise SignInFailed(
                    "Discord did not answer. Try signing in again in a minute.", step="network"
                ) from None
        return DiscordIdentity(user=user, members=members)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
