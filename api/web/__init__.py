"""The web pages: the public claim page `/c/{campaign}` and the developer dashboard `/dashboard`.

Server-rendered Jinja2 templates over the same domain functions the API calls, a little
hand-written JavaScript (no build step), and Server-Sent Events for live stats. `install(app)`
is the one call the app factory makes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import claim_page, dashboard, live, pages

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for _module in (claim_page, dashboard, live):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their HTML error handling on the app."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    pages.install_handlers(app)
