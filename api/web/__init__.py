"""The web pages: the public claim page `/c/{campaign}` and the developer dashboard `/dashboard`.

Server-rendered Jinja2 templates over the same domain functions the API calls, a little
hand-written JavaScript (no build step), and Server-Sent Events for live stats.

The pages are their own FastAPI application (`create_web_app`) with their own error handling
(api/web/errors.py: an HTML page for a browser, problem JSON for the pages' scripts). The API
app hands it every request its own routes do not match (`install`), so the API's middleware
(edge limits, request ids, metrics) wraps the pages too and the API keeps its 405s.

One module per part: `claim_page` and `signin` (the public side), `session_pages` (dashboard
sign-in), `campaign_pages` with `campaign_form`, `upload_pages`, `code_pages`, `generate`,
`live`, `teams_pages`, `webhooks`; `pages` and `auth` hold what they share.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.web import (
    campaign_pages,
    claim_page,
    code_pages,
    errors,
    generate,
    live,
    session_pages,
    signin,
    teams_pages,
    upload_pages,
    webhooks,
)
from domain.adapters.bootstrap import Services

STATIC_DIR = Path(__file__).parent / "static"


def create_web_app(services: Services) -> FastAPI:
    """The pages as an application of their own, over the process's services."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    for part in (
        claim_page,
        signin,
        webhooks,
        teams_pages,
        session_pages,
        campaign_pages,
        upload_pages,
        code_pages,
        generate,
        live,
    ):
        app.include_router(part.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    return app


class _Pages:
    """The pages app as the API router's fallback, resolving `url_for` among its own routes
    (the API's router, which does not hold them, would otherwise be asked)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["router"] = self.app.router
        await self.app(scope, receive, send)


def install(app: FastAPI, services: Services) -> ASGIApp:
    """Serve the pages for every request the API's routes do not match.

    A fallback rather than a mount at `/`: a mount would match every path, so a wrong method
    on an API path would reach the pages as a 404 instead of the API's 405. The API app's own
    router refusals (405, the edge's 408/413/431) also get a page when a browser asks.
    """
    pages_app = create_web_app(services)
    app.router.default = _Pages(pages_app)
    app.add_exception_handler(StarletteHTTPException, errors.http_error_page)
    return pages_app
