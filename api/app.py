"""The FastAPI application: routes, error handling, metrics, and the process lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import errors, metrics, web
from api.edge import EdgeLimits
from api.fastlane import ClaimFastLane, claim_route
from api.requests import RequestContext
from api.routes import (
    audit,
    campaigns,
    codes,
    distribute,
    generate,
    health,
    reports,
    teams,
    uploads,
    waitlist,
    webhooks,
)
from domain import claims
from domain.adapters import db
from domain.adapters.bootstrap import Services, bootstrap
from domain.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """
codedrop hands out single-use promo codes fairly: **one code per person, never the same code
twice**.

* **Developers** authenticate with an API key (`Authorization: Bearer cdk_…`; create one with
  `codedrop developers create`), create campaigns, upload codes (CSV or one code per line),
  follow analytics, mark codes used, release them, export them.
* **Web and app clients** read a campaign's public card and claim a code with
  `POST /api/distribute/{campaign_id}`; asking again returns the same code.

Every error is `application/problem+json` (RFC 9457) with a stable `code`.
"""


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    manage_database: bool = True,
    fast_lane: bool = True,
) -> FastAPI:
    """Build the app. With `manage_database` the lifespan opens and closes the database.

    `fast_lane=False` leaves every claim to the FastAPI route (tests compare the two roads).

    One function on purpose: the order of middleware, handlers, routers and the pages app
    is the order requests meet them, and reads best top to bottom in one place.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_database:
            await db.init_db(settings)
            # before the first request: a drop must not queue behind the pool's creation
            await db.open_pool(settings)
        # what start-up built (modules, routes, schemas) lives as long as the process: keep
        # it out of the collector's passes, which otherwise walk all of it again under load
        gc.freeze()
        try:
            yield
        finally:
            if own_services:
                await app.state.services.close()
            if manage_database:
                await db.close_db()

    own_services = services is None
    # /docs and /redoc load Swagger UI and ReDoc from the assets fastapi-offline ships
    # (served under /static-offline-docs), not from a CDN: they work without internet
    app = FastAPIOffline(
        title="codedrop",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "campaigns", "description": "Your campaigns (API key required)."},
            {"name": "codes", "description": "Codes of your campaigns (API key required)."},
            {
                "name": "webhooks",
                "description": "Signed event deliveries to your backend (API key required).",
            },
            {"name": "distribution", "description": "Public campaign cards and claims."},
            {"name": "members", "description": "Campaign members, roles and invitations."},
            {"name": "audit", "description": "The audit log of developer actions."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    app.state.services = services or bootstrap(settings)
    errors.install(app)
    for module in (
        distribute,
        campaigns,
        codes,
        generate,
        health,
        uploads,
        reports,
        webhooks,
        teams,
        audit,
        waitlist,
    ):
        app.include_router(module.router)
    # plain claims skip FastAPI's layers (api/fastlane.py); metrics wrap the lane
    if fast_lane:
        app.add_middleware(ClaimFastLane, route=claim_route(app))
    app.add_middleware(metrics.MetricsMiddleware)
    # the request id is known to every log line of the request, even the lane's
    app.add_middleware(RequestContext, access_log=settings.access_log)
    # outermost: limits hold before any layer (the fast lane included) reads a byte
    app.add_middleware(EdgeLimits, settings=settings)
    claims.BATCHING.observe = metrics.CLAIM_BATCH.observe
    # the web pages: their own app, served for every path the API's routes do not match
    web.install(app, app.state.services)
    return app
