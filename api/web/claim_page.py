"""The public claim page `/c/{campaign}`: the card, the claim, the waitlist.

The visitor is a random id in a signed, HTTP-only cookie (so a reload shows the same code
again), limited per IP and per claimant like the public API; or, when the developer's site sent
a signed identity token, their own user (domain.claim_identity). The page never carries a code
before the claim, never puts one in a URL, and every answer is `Cache-Control: no-store`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import ClientIP, client_country, limit
from api.web import i18n, pages, signin
from api.web.errors import WebError
from api.web.i18n import Language
from api.web.pages import NO_STORE
from api.web.platforms import detect_platform, preselect
from domain import campaigns, claims, clock, waitlist
from domain.campaigns import PublicCard
from domain.claim_identity import signed_claimant
from domain.errors import DomainError
from domain.values import Channel, Claimant, ClaimResult, mask_code, redemption_hint

log = logging.getLogger(__name__)
router = APIRouter()

# what the page says after a join (`?waitlist=`): 1 stored (no mail transport), 2 "check your
# inbox" (also for an address confirmed before: the page never tells whether an address is
# on a waitlist)
WAITLIST_SHOWN = {1: "stored", 2: "sent"}
WAITLIST_QUERY = {
    waitlist.Joined.STORED: 1,
    waitlist.Joined.CONFIRMATION_SENT: 2,
    waitlist.Joined.CONFIRMATION_PENDING: 2,
    waitlist.Joined.CONFIRMED: 2,
}
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


def _platform_label(platform: str, language: Language) -> str:
    if platform == "universal":
        return language.text("platform.universal")
    return PLATFORM_NAMES.get(platform, platform)


def _platform_options(card: PublicCard, language: Language) -> list[dict[str, str]]:
    return [{"value": p, "label": _platform_label(p, language)} for p in card.platforms]


def refusal_text(exc: DomainError | WebError, language: Language, about: str = "") -> str:
    """A refusal in the member's language, chosen by its stable `code` (and the field of a
    validation error, or what the page was doing: `mail`); a refusal without a message of
    its own keeps the domain's English. English readers get the domain's own sentence, which
    can say more (the eligibility rule that failed); the English catalogue holds the wording
    the translations follow."""
    if language.locale == i18n.DEFAULT:
        return exc.detail
    extra = exc.extra
    key = f"refusal.{exc.code}"
    detail = extra.get("field") if exc.code == "validation_error" else about
    if detail and language.has(f"{key}.{detail}"):
        key = f"{key}.{detail}"
    values: dict[str, Any] = {}
    if exc.code == "campaign_not_started":
        values["when"] = language.when(extra["starts_at"])
    elif exc.code in ("platform_required", "platform_not_served"):
        names = extra.get("available_platforms") or []
        values["platforms"] = ", ".join(_platform_label(p, language) for p in names)
    elif exc.code == "rate_limited":
        values["seconds"] = int(extra.get("retry_after") or 1)
    elif exc.code == "not_eligible" and extra.get("eligible_at"):
        key, values["when"] = "refusal.not_eligible.at", language.when(extra["eligible_at"])
    return language.text(key, **values) if language.has(key) else exc.detail


def translated(exc: DomainError | WebError, language: Language) -> WebError:
    """The same refusal (status, code, fields) with its title and detail in `language`."""
    title = exc.title if language.locale == i18n.DEFAULT else language.text("refusal.title")
    return WebError(exc.status, title, refusal_text(exc, language), code=exc.code, **exc.extra)


def _context(
    request: Request,
    card: PublicCard,
    visitor: str,
    language: Language,
    **extra: Any,
) -> dict[str, Any]:
    ua = request.headers.get("user-agent")
    options = _platform_options(card, language)
    return {
        **language.context(request),
        "card": card,
        "platform_label": _platform_label(card.platform, language),
        "options": options,
        "selected": preselect(ua, [o["value"] for o in options]),
        "detected": detect_platform(ua).value,
        "csrf": pages.claim_csrf(request, visitor),
        "identity": "",
        "held": False,
        "result": None,
        "hint": None,
        "error": None,
        "waitlist_joined": "",
        "mail_sends": pages.services_of(request).settings.sends_mail,
        "signin": signin.page_options(request, card),
        "now": clock.now(),  # the countdown's reference: the server's clock, not the device's
        **extra,
    }


def _remember(request: Request, response: Response, language: Language, chosen: bool) -> None:
    """Say the page's language, and keep the switcher's choice (`?lang=`) in a cookie: it
    outranks `Accept-Language` from then on."""
    response.headers["Content-Language"] = language.tag
    if chosen:
        pages.set_cookie(
            request, response, i18n.LANG_COOKIE, language.tag, max_age=i18n.LANG_MAX_AGE
        )


def _page(
    request: Request,
    context: dict[str, Any],
    visitor: str,
    new: bool,
    *,
    status_code: int = 200,
    chosen: bool = False,
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
    _remember(request, response, context["lang"], chosen)
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
    language, chosen = i18n.for_request(request)
    visitor, new = _visitor(request)
    error = None
    held = False
    # an identity token that does not check out is said on the page, which still shows the
    # campaign (the visitor can claim anonymously if the campaign allows it)
    try:
        claimant = await _claimant(request, campaign_id, visitor, identity)
        held = await _held(claimant, campaign_id)
    except DomainError as exc:
        error = refusal_text(exc, language)
        identity = ""
    context = _context(
        request,
        card,
        visitor,
        language,
        identity=identity,
        held=held,
        error=error,
        waitlist_joined=WAITLIST_SHOWN.get(waitlist_joined, ""),
    )
    return _page(request, context, visitor, new, chosen=chosen)


def _hint(platform: str, code: str, language: Language) -> str | None:
    """How to redeem, in the member's language; the store link (with the code in it, as it
    is) is the domain's."""
    english = redemption_hint(platform, code)
    key = f"hint.{platform}"
    if english is None or language.locale == i18n.DEFAULT or not language.has(key):
        return english
    at = english.find("https://")
    return language.text(key, url=english[at:]) if at >= 0 else language.text(key)


def _result_json(result: ClaimResult, language: Language) -> dict[str, Any]:
    return {
        "code": result.code,
        "platform": result.platform,
        "platform_label": _platform_label(result.platform, language),
        "hint": _hint(result.platform, result.code, language),
        "repeated": result.repeated,
        "claimed_at": result.claimed_at.isoformat(),
    }


def _form_visitor(request: Request, csrf_token: str, language: Language) -> str:
    """The visitor posting the claim form: their cookie, and the token bound to it."""
    visitor = pages.claimant_id(request)
    if visitor is None:
        missing = WebError(
            400,
            "Cookies needed",
            "Your browser did not send this page's cookie. Allow cookies for this site, reload"
            " the page and try again.",
            code="cookie_missing",
        )
        raise translated(missing, language)
    if not pages.tokens_match(pages.claim_csrf(request, visitor), csrf_token):
        raise translated(
            WebError(403, "Form expired", "Reload the page and try again.", code="csrf_failed"),
            language,
        )
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
    language, _ = i18n.for_request(request)
    visitor = _form_visitor(request, csrf_token, language)
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
            # the page's script: a problem body from api.web.errors, in the member's language
            raise translated(exc, language) from exc
        # without the script, the claim page itself shows the refusal beside its button,
        # with the refusal's status
        card = await _card(campaign_id)
        context = _context(
            request, card, visitor, language, identity=identity, error=refusal_text(exc, language)
        )
        return _page(request, context, visitor, False, status_code=exc.status)
    log.info(
        "web claim campaign=%s code=%s repeated=%s",
        campaign_id,
        mask_code(result.code),
        result.repeated,
    )
    if pages.wants_json(request):
        return JSONResponse(_result_json(result, language), headers=NO_STORE)
    card = await _card(campaign_id)
    context = _context(
        request,
        card,
        visitor,
        language,
        identity=identity,
        held=True,
        result=_result_json(result, language),
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
    """Put an e-mail address on a sold-out campaign's waitlist and mail it a confirmation
    link (when the developer allows a waitlist and a mail transport is configured)."""
    services = pages.services_of(request)
    language, _ = i18n.for_request(request)
    visitor = pages.claimant_id(request)
    if visitor is None or not pages.tokens_match(pages.claim_csrf(request, visitor), csrf_token):
        expired = WebError(
            403, "Form expired", "Reload the page and try again.", code="csrf_failed"
        )
        raise translated(expired, language)
    card = await _card(campaign_id)
    try:
        await _waitlist_limit(request, ip)
        joined = await waitlist.join_by_email(
            campaign_id=campaign_id, address=email, setup=services.mail
        )
    except DomainError as exc:  # the form shows it, filled in
        error = refusal_text(exc, language, "mail")
        context = _context(request, card, visitor, language, error=error, email=email.strip())
        return _page(request, context, visitor, False, status_code=exc.status)
    target = request.url_for("claim_page", campaign_id=campaign_id).include_query_params(
        waitlist=WAITLIST_QUERY[joined]
    )
    return RedirectResponse(str(target), status_code=303, headers=NO_STORE)


async def _waitlist_limit(request: Request, ip: str) -> None:
    services = pages.services_of(request)
    rule = services.settings.rate_limit_distribute_ip
    await limit(services, Response(), rule, "waitlist-ip", ip, what="requests from this address")


def _mail_page(request: Request, card: PublicCard, state: str, **form: str) -> Response:
    """The confirm / unsubscribe page: a message (`wl.<state>.*` in the member's language),
    and a button when one more step is due."""
    language, chosen = i18n.for_request(request)
    context = {
        **language.context(request),
        "card": card,
        "state": state,
        "title": language.text(f"wl.{state}.title"),
        "message": language.text(f"wl.{state}.text"),
        **form,
    }
    if form:
        context["button"] = language.text(f"wl.{state}.button")
    response = pages.render(request, "waitlist_mail.html", context, headers={**NO_STORE})
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    _remember(request, response, language, chosen)
    return response


@router.get("/c/{campaign_id}/waitlist/confirm", name="waitlist_confirm_page")
async def waitlist_confirm_page(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The link of a confirmation mail: a button that confirms (a mail scanner's GET does
    not)."""
    card = await _card(campaign_id)
    await _waitlist_limit(request, ip)
    state = await waitlist.check_confirmation(campaign_id=campaign_id, token=token)
    if state is not waitlist.Confirmed.CONFIRMED:
        return _mail_page(request, card, state.value)
    action = request.url_for("waitlist_confirm", campaign_id=campaign_id)
    return _mail_page(
        request, card, "confirm", action=str(action.include_query_params(token=token)), token=token
    )


@router.post("/c/{campaign_id}/waitlist/confirm", name="waitlist_confirm")
async def waitlist_confirm(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Confirm an address (the token of its confirmation mail)."""
    card = await _card(campaign_id)
    await _waitlist_limit(request, ip)
    state = await waitlist.confirm(campaign_id=campaign_id, token=token)
    return _mail_page(request, card, state.value)


@router.get("/c/{campaign_id}/waitlist/unsubscribe", name="waitlist_unsubscribe_page")
async def waitlist_unsubscribe_page(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The unsubscribe link of a mail: a page asking to confirm (one-click clients POST)."""
    card = await _card(campaign_id)
    await _waitlist_limit(request, ip)
    if not await waitlist.is_subscribed(campaign_id=campaign_id, token=token):
        return _mail_page(request, card, "gone")
    action = request.url_for("waitlist_unsubscribe", campaign_id=campaign_id)
    return _mail_page(
        request,
        card,
        "unsubscribe",
        action=str(action.include_query_params(token=token)),
        token=token,
    )


@router.post("/c/{campaign_id}/waitlist/unsubscribe", name="waitlist_unsubscribe")
async def waitlist_unsubscribe(
    request: Request,
    campaign_id: str,
    ip: ClientIP,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """One-click unsubscribe (RFC 8058: a POST to the link, `List-Unsubscribe=One-Click`),
    also the button of the page: the address is deleted."""
    card = await _card(campaign_id)
    await _waitlist_limit(request, ip)
    removed = await waitlist.unsubscribe(campaign_id=campaign_id, token=token)
    log.info("waitlist unsubscribe campaign=%s removed=%s", campaign_id, removed)
    return _mail_page(request, card, "removed" if removed else "gone")
