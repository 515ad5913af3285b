"""The public claim page `/c/{campaign}`: the card, the claim, the waitlist.

The visitor is a random id in a signed, HTTP-only cookie (so a reload shows the same code
again), limited per IP and per claimant like the public API; or, when the developer's site sent
a signed identity token, their own user (domain.claim_identity). The page never carries a code
before the claim, never puts one in a URL, and every answer is `Cache-Control: no-store`.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import ClientIP, client_country, limit
from api.web import pages, signin
from api.web.errors import WebError
from api.web.pages import NO_STORE
from api.web.platforms import detect_platform, preselect
from domain import campaigns, claims, waitlist
from domain.campaigns import PublicCard
from domain.claim_identity import signed_claimant
from domain.errors import DomainError
from domain.values import Channel, Claimant, ClaimResult, mask_code, redemption_hint

log = logging.getLogger(__name__)
router = APIRouter()

EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[A-Za-z]{2,}$")
PLATFORM_NAMES = {
    "ios": "iPhone / iPad",
    "android": "Android",
    "steam": "Steam",
    "web": "Web",
    "universal": "Any platform",
}


async def _card(campaign_id: str) -> PublicCard:
    return await campaigns.public_card(campaign_id=campaign_id, fresh_within=2.0)


def _visitor(request: Request) -> tuple[str, bool]:
    """The claimant id from the cookie, or a new one (and True: the cookie must be set)."""
    existing = pages.claimant_id(request)
    if existing:
        return existing, False
    return secrets.token_urlsafe(18), True


async def _claimant(request: Request, campaign_id: str, visitor: str, identity: str) -> Claimant:
    country = client_country(request)
    if identity:
        secret = pages.services_of(request).settings.secret_key.get_secret_value()
        signed = await signed_claimant(secret_key=secret, campaign_id=campaign_id, token=identity)
        return replace(signed, country=country)
    member = signin.member_of(request)
    if member is not None:
        return replace(await signin.member_claimant(request, member, campaign_id), country=country)
    return Claimant.of("web", visitor, country=country)


async def _held(claimant: Claimant, campaign_id: str) -> bool:
    mine = await claims.my_codes(claimant_key=claimant.key, limit=200)
    return any(m.campaign_id == campaign_id for m in mine)


def _platform_options(card: PublicCard) -> list[dict[str, str]]:
    return [{"value": p, "label": PLATFORM_NAMES.get(p, p)} for p in card.platforms]


def _context(
    request: Request,
    card: PublicCard,
    visitor: str,
    **extra: Any,
) -> dict[str, Any]:
    ua = request.headers.get("user-agent")
    options = _platform_options(card)
    return {
        "card": card,
        "platform_label": PLATFORM_NAMES.get(card.platform, card.platform),
        "options": options,
        "selected": preselect(ua, [o["value"] for o in options]),
        "detected": detect_platform(ua).value,
        "csrf": pages.claim_csrf(request, visitor),
        "identity": "",
        "held": False,
        "result": None,
        "hint": None,
        "error": None,
        "waitlist_joined": False,
        "signin": signin.page_options(request, card),
        **extra,
    }


def _page(
    request: Request, context: dict[str, Any], visitor: str, new: bool, *, status_code: int = 200
) -> Response:
    response = pages.render(
        request, "claim.html", context, status_code=status_code, headers={**NO_STORE}
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = signin.content_security_policy(
        pages.services_of(request).settings
    )
    if new:
        pages.give_claimant_id(request, response, visitor)
    return response


@router.get("/c/{campaign_id}", name="claim_page")
async def claim_page(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    identity: Annotated[str, Query(max_length=2048)] = "",
    waitlist_joined: Annotated[int, Query(alias="waitlist")] = 0,
) -> Response:
    """The campaign card with a Get my code button (never a code)."""
    services = pages.services_of(request)
    await limit(
        services,
        Response(),
        services.settings.rate_limit_distribute_ip,
        "page-ip",
        ip,
        what="page views from this address",
    )
    card = await _card(campaign_id)
    visitor, new = _visitor(request)
    error = None
    held = False
    # an identity token that does not check out is said on the page, which still shows the
    # campaign (the visitor can claim anonymously if the campaign allows it)
    try:
        claimant = await _claimant(request, campaign_id, visitor, identity)
        held = await _held(claimant, campaign_id)
    except DomainError as exc:
        error = exc.detail
        identity = ""
    context = _context(
        request,
        card,
        visitor,
        identity=identity,
        held=held,
        error=error,
        waitlist_joined=bool(waitlist_joined),
    )
    return _page(request, context, visitor, new)


def _result_json(result: ClaimResult) -> dict[str, Any]:
    return {
        "code": result.code,
        "platform": result.platform,
        "platform_label": PLATFORM_NAMES.get(result.platform, result.platform),
        "hint": redemption_hint(result.platform, result.code),
        "repeated": result.repeated,
        "claimed_at": result.claimed_at.isoformat(),
    }


def _form_visitor(request: Request, csrf_token: str) -> str:
    """The visitor posting the claim form: their cookie, and the token bound to it."""
    visitor = pages.claimant_id(request)
    if visitor is None:
        raise WebError(
            400,
            "Cookies needed",
            "Your browser did not send this page's cookie. Allow cookies for this site, reload"
            " the page and try again.",
            code="cookie_missing",
        )
    if not pages.tokens_match(pages.claim_csrf(request, visitor), csrf_token):
        raise WebError(403, "Form expired", "Reload the page and try again.", code="csrf_failed")
    return visitor


@router.post("/c/{campaign_id}/claim", name="claim_submit")
async def claim_submit(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    platform: Annotated[str, Form(max_length=20)] = "",
    identity: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Claim a code through the same domain function as every other front."""
    services = pages.services_of(request)
    visitor = _form_visitor(request, csrf_token)
    card = await _card(campaign_id)
    try:
        claimant = await _claimant(request, campaign_id, visitor, identity)
        await limit(
            services,
            Response(),
            services.settings.rate_limit_distribute_ip,
            "claim-ip",
            ip,
            what="claims from this address",
        )
        result = await claims.claim(
            campaign_id=campaign_id,
            claimant=claimant,
            channel=Channel.WEB,
            platform=platform or None,
            events_bus=services.events,
            rate_limit=services.claim_rate_limit(),
        )
    except DomainError as exc:
        log.info("web claim refused campaign=%s: %s", campaign_id, exc.code)
        if pages.wants_json(request):
            raise  # the page's script: a problem body from api.web.errors
        # not a translation: without the script, the claim page itself shows the refusal
        # beside its button, with the refusal's status
        card = await _card(campaign_id)
        context = _context(request, card, visitor, identity=identity, error=exc.detail)
        return _page(request, context, visitor, False, status_code=exc.status)
    log.info(
        "web claim campaign=%s code=%s repeated=%s",
        campaign_id,
        mask_code(result.code),
        result.repeated,
    )
    if pages.wants_json(request):
        return JSONResponse(_result_json(result), headers=NO_STORE)
    card = await _card(campaign_id)
    context = _context(
        request,
        card,
        visitor,
        identity=identity,
        held=True,
        result=_result_json(result),
    )
    return _page(request, context, visitor, False)


@router.post("/c/{campaign_id}/waitlist", name="waitlist_join")
async def waitlist_join(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """Put an e-mail address on a sold-out campaign's waitlist (when the developer allows it)."""
    services = pages.services_of(request)
    visitor = pages.claimant_id(request)
    if visitor is None or not pages.tokens_match(pages.claim_csrf(request, visitor), csrf_token):
        raise WebError(403, "Form expired", "Reload the page and try again.", code="csrf_failed")
    card = await _card(campaign_id)
    address = email.strip()
    error = None
    if not EMAIL.match(address):
        error = "Enter an e-mail address like name@example.com."
    else:
        try:
            await limit(
                services,
                Response(),
                services.settings.rate_limit_distribute_ip,
                "waitlist-ip",
                ip,
                what="requests from this address",
            )
            await waitlist.join(
                campaign_id=campaign_id,
                claimant=Claimant.of("web", visitor),
                channel=Channel.WEB,
                contact=address,
            )
        except DomainError as exc:  # not a translation: the form shows it, filled in
            error = exc.detail
    if error:
        context = _context(request, card, visitor, error=error, email=address)
        return _page(request, context, visitor, False, status_code=422)
    target = request.url_for("claim_page", campaign_id=campaign_id).include_query_params(waitlist=1)
    return RedirectResponse(str(target), status_code=303, headers=NO_STORE)
