"""What the dashboard's pages share: the page answer, the redirect after a form, paging.

The dashboard lives in one module per part (session_pages, campaign_pages, upload_pages,
code_pages, generate, live, teams_pages, webhooks); each page is one or two calls to the same
domain functions the API routes call, every state-changing request passes the CSRF check
(api.web.auth), another developer's campaign is a 404 like a missing one, and refusals are
answered by api.web.errors.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from api.web import pages
from api.web.pages import NO_STORE

PAGE_SIZE = 50


def redirect(path: str) -> RedirectResponse:
    """See other: where a form sends the browser after it did its work."""
    return RedirectResponse(path, status_code=303, headers=NO_STORE)


def page(request: Request, template: str, ctx: dict[str, Any], **kw: Any) -> Response:
    """A dashboard page: never cached (it shows one developer's data)."""
    kw["headers"] = {**NO_STORE, **kw.get("headers", {})}
    return pages.render(request, template, ctx, **kw)


def page_count(total: int) -> int:
    """How many pages of `PAGE_SIZE` rows `total` rows fill (at least one)."""
    return max(1, -(-total // PAGE_SIZE))


def split_list(text: str) -> list[str]:
    """Items typed one per line or comma-separated."""
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
