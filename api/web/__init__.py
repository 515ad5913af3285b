"""The web pages: the public claim page `/c/{campaign}` and the developer dashboard `/dashboard`.

Server-rendered Jinja2 templates over the same domain functions the API calls, a little
hand-written JavaScript (no build step), and Server-Sent Events for live stats. `install(app)`
is the one call the app factory makes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api.web.claim_page import router as claim_router
from api.web.dashboard import router as dashboard_router
from api.web.generate import router as generate_router
from api.web.live import router as live_router
from api.web.pages import install_handlers
from api.web.signin import router as signin_router
from api.web.teams_pages import router as teams_router
from api.web.webhooks import router as webhooks_router

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
# the webhooks pages first: their /dashboard/webhooks paths are not campaign paths
for _part in (
    claim_router,
    signin_router,
    webhooks_router,
    teams_router,
    dashboard_router,
    generate_router,
    live_router,
):
    router.include_router(_part)


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their HTML error handling on the app."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_handlers(app)
