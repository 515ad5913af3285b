"""Public distribution: the campaign card and the claim, for web and app clients.

Anonymous callers are `anon:<user_identifier>`, limited per IP and per claimant; a
developer's backend that sends its API key claims for its own signed-in users
(`api:<developer>:<user>`: the identity it names is trusted, namespaced to that developer) and
is limited per key instead. Neither can name a claim-page visitor or a chat account.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from api.deps import (
    CampaignId,
    ClientIP,
    KnownQueryOnly,
    Svc,
    bearer,
    client_country,
    client_ip,
    limit,
    optional_developer,
)
from api.idempotency import IdempotentRoute, idempotent_in_domain, keyed_answer
from api.schemas import PROBLEMS, CardOut, ClaimIn, ClaimOut, Problem
from domain import campaigns, claimants, claims, idempotency
from domain.adapters.bootstrap import Services
from domain.values import Channel, Claimant, ClaimResult

router = APIRouter(
    prefix="/api/distribute",
    tags=["distribution"],
    responses=PROBLEMS,
    route_class=IdempotentRoute,
    dependencies=[KnownQueryOnly],
)

CLAIM_ROUTE = "claim_code"  # the fast lane (api/fastlane.py) finds the claim route by it
CARD_FRESH_WITHIN = 2.0  # seconds; the card also says max-age=5 to HTTP caches
NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


@router.get("/{campaign_id}", response_model=CardOut)
async def campaign_card(
    campaign_id: CampaignId, services: Svc, ip: ClientIP, response: Response
) -> CardOut:
    """The public campaign card: name, description, platform, whether codes are left."""
    s = services.settings
    await limit(services, response, s.rate_limit_distribute_ip, "card-ip", ip, what="requests")
    card = await campaigns.public_card(campaign_id=campaign_id, fresh_within=CARD_FRESH_WITHIN)
    response.headers["Cache-Control"] = "public, max-age=5"
    return CardOut.of(card)


@router.post(
    "/{campaign_id}",
    name=CLAIM_ROUTE,
    response_model=ClaimOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ClaimOut, "description": "the code this claimant already holds"},
        403: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": "`identity_required`: the campaign is `verified` and the call has no"
            " API key (sign in on the claim page or claim in a bot instead); `not_eligible`:"
            " an eligibility rule failed",
        },
    },
    # the API key is optional here: anonymous web clients, or a developer's own backend
    openapi_extra={"security": [{"HTTPBearer": []}, {}]},
)
@idempotent_in_domain
async def claim_code(
    campaign_id: CampaignId,
    body: ClaimIn,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=idempotency.MAX_KEY,
            pattern=idempotency.KEY_PATTERN,
            description="retry-safe request id",
        ),
    ] = None,
) -> ClaimOut:
    """Claim a code for `user_identifier`; asking again returns the same code."""
    # Claims with a JSON body ClaimIn accepts, with or without a well-formed Idempotency-Key,
    # are served by api/fastlane.py with the same serve_claim and the same key scope; this
    # route documents the operation and takes every other case (it answers their 422s).
    out = await serve_claim(request, response, campaign_id, body, idempotency_key)
    if out.repeated:
        response.status_code = status.HTTP_200_OK
    return out


def _rendered(result: ClaimResult) -> Any:
    return ClaimOut.of(result).model_dump(mode="json")


async def serve_claim(
    request: Request,
    response: Response,
    campaign_id: str,
    body: ClaimIn,
    idempotency_key: str | None,
) -> ClaimOut:
    """The claim as the API serves it: who is asking, their limits, the domain claim.

    Sets the rate-limit and no-store headers on `response`; the caller picks the status
    (201 for a new code, 200 when `repeated`).
    """
    services: Services = request.app.state.services
    dev = await optional_developer(request, await bearer(request))
    s = services.settings
    if dev is not None:
        claimant = Claimant.of(claimants.API, f"{dev.id}:{body.user_identifier}")
        channel = Channel.API
        await limit(
            services,
            response,
            s.rate_limit_distribute_key,
            "claim-key",
            f"dev:{dev.id}",
            what="claims",
        )
    else:
        # its own namespace: an anonymous caller can never name a claim-page visitor
        # (`web:`), a developer's user (`api:`) or a chat account (domain.claimants)
        claimant = Claimant.of(
            claimants.ANON, body.user_identifier, country=client_country(request)
        )
        channel = Channel.WEB
        await limit(
            services,
            response,
            s.rate_limit_distribute_ip,
            "claim-ip",
            await client_ip(request),
            what="claims from this address",
        )
    result = await claims.claim(
        campaign_id=campaign_id,
        claimant=claimant,
        channel=channel,
        platform=body.platform,
        idempotency_key=idempotency_key,
        events_bus=services.events,
        for_owner=dev.id if dev is not None else None,
        # a developer's backend is limited per key above; people per claimant, in the domain
        rate_limit=services.claim_rate_limit() if dev is None else None,
        # a free Idempotency-Key is written with the claim, its answer this route's 201
        keyed=keyed_answer(_rendered, NO_STORE) if idempotency_key is not None else None,
    )
    response.headers.update(NO_STORE)
    return ClaimOut.of(result)
