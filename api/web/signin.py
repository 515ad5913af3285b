"""Sign in with Discord or Telegram on the claim page, and sign out of that identity.

Discord: `/c/{campaign}/signin/discord` keeps a random `state` in a short-lived signed cookie
and sends the member to Discord with the S256 challenge of a verifier derived from that state
(domain.signin.pkce_verifier); `/signin/discord/callback` (the one redirect URI to register)
refuses a state that is not the cookie's, then the domain trades the code for the member.
Telegram: the Login Widget sends the member to `/c/{campaign}/signin/telegram` with fields
the domain checks against the bot token. Either way the proven `Member` lands in a signed,
HTTP-only cookie (`cd_member`); no access token is kept anywhere.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import ClientIP, limit
from api.web import pages
from api.web.errors import WebError
from api.web.pages import NO_STORE, SECURITY_HEADERS
from domain import campaigns, clock, signin
from domain.adapters.discord_oauth import DiscordOAuth
from domain.campaigns import PublicCard
from domain.eligibility import parse_rules
from domain.errors import SignInFailed
from domain.settings import Settings
from domain.signin import Member
from domain.values import Claimant

log = logging.getLogger(__name__)
router = APIRouter()

MEMBER_COOKIE = "cd_member"
# roles and time in the server are facts of the moment of sign-in; after this long the
# member signs in again so the rules judge fresh ones
MEMBER_MAX_AGE = 3600
OAUTH_COOKIE = "cd_oauth"
OAUTH_MAX_AGE = 600
CALLBACK_PATH = "/signin/discord/callback"
WIDGET_SCRIPT = "/js/telegram-widget.js?22"
TELEGRAM_FRAMES = "https://oauth.telegram.org"
MAX_TELEGRAM_FIELDS = 16  # Telegram sends 7; every field it sends is part of the signed string


def member_of(request: Request) -> Member | None:
    """The member signed in on this browser, if any."""
    return Member.from_dict(pages.load_signed(request, MEMBER_COOKIE, max_age=MEMBER_MAX_AGE))


async def member_claimant(request: Request, member: Member, campaign_id: str) -> Claimant:
    """The member as a claimant of this campaign: server facts only from its own servers."""
    claimant = member.claimant()
    if member.guild_id is None:
        return claimant
    row = await campaigns.public_row(campaign_id)
    fallback = pages.services_of(request).settings.discord_guild_id
    if member.guild_id in await signin.discord_guilds(row, fallback=fallback):
        return claimant
    return Member(member.provider, member.user_id, member.display_name).claimant()


def redirect_uri(settings: Settings) -> str:
    """The OAuth2 redirect URI to register in Discord's developer portal."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def _oauth(settings: Settings) -> DiscordOAuth:
    assert settings.discord_client_id and settings.discord_client_secret
    return DiscordOAuth(
        base_url=settings.discord_oauth_url,
        client_id=settings.discord_client_id,
        client_secret=settings.discord_client_secret.get_secret_value(),
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_options(request: Request, card: PublicCard) -> dict[str, Any]:
    """What the claim page shows about sign-in: the member, and the configured buttons."""
    s = pages.services_of(request).settings
    member = member_of(request)
    base = s.public_url.rstrip("/")
    telegram = None
    if s.telegram_signin:
        telegram = {
            "script": s.telegram_login_url.rstrip("/") + WIDGET_SCRIPT,
            "bot": (s.telegram_bot_username or "").lstrip("@"),
            "auth_url": f"{base}/c/{card.id}/signin/telegram",
        }
    return {
        "member": member,
        "provider_name": {"discord": "Discord", "telegram": "Telegram"}.get(
            member.provider if member else "", ""
        ),
        "discord": f"/c/{card.id}/signin/discord" if s.discord_signin else None,
        "telegram": telegram,
        "verified": card.identity == "verified",
    }


def content_security_policy(settings: Settings) -> str:
    """The page's CSP, letting in the Telegram widget's script and frame when it is shown."""
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    if not settings.telegram_signin:
        return policy
    origin = _origin(settings.telegram_login_url)
    policy = policy.replace("script-src 'self';", f"script-src 'self' {origin};")
    return policy + f"; frame-src {origin} {TELEGRAM_FRAMES}"


async def _rate_limited(request: Request, ip: str) -> None:
    services = pages.services_of(request)
    await limit(
        services,
        Response(),
        services.settings.rate_limit_web_signin,
        "member-signin-ip",
        ip,
        what="sign-ins from this address",
    )


def _signed_in(request: Request, campaign_id: str, member: Member) -> Response:
    target = request.url_for("claim_page", campaign_id=campaign_id)
    response = RedirectResponse(str(target), status_code=303, headers=NO_STORE)
    pages.save_signed(request, response, MEMBER_COOKIE, member.to_dict(), max_age=MEMBER_MAX_AGE)
    return response


async def _published(campaign_id: str) -> Any:
    return await campaigns.public_row(campaign_id)


@router.get("/c/{campaign_id}/signin/discord", name="signin_discord")
async def signin_discord(request: Request, campaign_id: str, ip: ClientIP) -> Response:
    """Send the member to Discord to approve the sign-in (state + PKCE)."""
    s = pages.services_of(request).settings
    if not s.discord_signin:
        raise WebError(
            404, "Not available", "Sign in with Discord is not set up here.", code="not_found"
        )
    await _rate_limited(request, ip)
    row = await _published(campaign_id)
    state = secrets.token_urlsafe(24)
    verifier = signin.pkce_verifier(s.secret_key.get_secret_value(), state)
    target = _oauth(s).authorize_url(
        redirect_uri=redirect_uri(s),
        scopes=signin.discord_scopes(parse_rules(row.eligibility)),
        state=state,
        challenge=signin.pkce_challenge(verifier),
    )
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    pages.save_signed(
        request, response, OAUTH_COOKIE, {"s": state, "c": campaign_id}, max_age=OAUTH_MAX_AGE
    )
    return response


@router.get(CALLBACK_PATH, name="signin_discord_callback")
async def signin_discord_callback(
    request: Request,
    ip: ClientIP,
    code: Annotated[str, Query(max_length=512)] = "",
    state: Annotated[str, Query(max_length=512)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Discord sent the member back: check the state, then prove who they are."""
    s = pages.services_of(request).settings
    if not s.discord_signin:
        raise WebError(
            404, "Not available", "Sign in with Discord is not set up here.", code="not_found"
        )
    pending = pages.load_signed(request, OAUTH_COOKIE, max_age=OAUTH_MAX_AGE)
    if not isinstance(pending, dict) or not isinstance(pending.get("s"), str):
        raise WebError(
            400,
            "Sign-in expired",
            "This sign-in was not started on this browser or took over 10 minutes. Go back to"
            " the campaign page and sign in again.",
            code="signin_expired",
        )
    if not pages.tokens_match(pending["s"], state):
        log.info("discord sign-in refused: state mismatch")
        raise WebError(
            400,
            "Sign-in refused",
            "This sign-in answer does not belong to the sign-in this browser started. Go back"
            " to the campaign page and sign in again.",
            code="signin_state_mismatch",
        )
    campaign_id = str(pending.get("c", ""))
    if error or not code:
        raise WebError(
            400,
            "Sign-in cancelled",
            "Discord did not sign you in. Go back to the campaign page to try again.",
            code="signin_cancelled",
        )
    await _rate_limited(request, ip)
    row = await _published(campaign_id)
    guilds: list[str] = []
    if signin.needs_guild_member(parse_rules(row.eligibility)):
        guilds = await signin.discord_guilds(row, fallback=s.discord_guild_id)
    member = await signin.discord_member(
        _oauth(s),
        code=code,
        verifier=signin.pkce_verifier(s.secret_key.get_secret_value(), pending["s"]),
        redirect_uri=redirect_uri(s),
        guild_ids=guilds,
    )
    log.info("discord sign-in campaign=%s in_server=%s", campaign_id, member.guild_id is not None)
    response = _signed_in(request, campaign_id, member)
    pages.clear_cookie(request, response, OAUTH_COOKIE)
    return response


@router.get("/c/{campaign_id}/signin/telegram", name="signin_telegram")
async def signin_telegram(request: Request, campaign_id: str, ip: ClientIP) -> Response:
    """The Telegram Login Widget's redirect: fields signed with the bot token."""
    s = pages.services_of(request).settings
    if not s.telegram_signin or s.telegram_bot_token is None:
        raise WebError(
            404, "Not available", "Sign in with Telegram is not set up here.", code="not_found"
        )
    await _rate_limited(request, ip)
    await _published(campaign_id)
    fields = dict(list(request.query_params.items())[:MAX_TELEGRAM_FIELDS])
    try:
        member = signin.telegram_member(
            fields, bot_token=s.telegram_bot_token.get_secret_value(), now=clock.now()
        )
    except SignInFailed as exc:  # not a translation: which check failed goes to the log
        log.info("telegram sign-in refused: %s", exc.extra.get("step"))
        raise
    log.info("telegram sign-in campaign=%s", campaign_id)
    return _signed_in(request, campaign_id, member)


@router.post("/c/{campaign_id}/signout", name="signout_member")
async def signout_member(
    request: Request, campaign_id: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Forget the signed-in member on this browser (the claim page's "Sign out")."""
    visitor = pages.claimant_id(request)
    if visitor is None or not pages.tokens_match(pages.claim_csrf(request, visitor), csrf_token):
        raise WebError(403, "Form expired", "Reload the page and try again.", code="csrf_failed")
    target = request.url_for("claim_page", campaign_id=campaign_id)
    response = RedirectResponse(str(target), status_code=303, headers=NO_STORE)
    pages.clear_cookie(request, response, MEMBER_COOKIE)
    return response
