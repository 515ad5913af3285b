"""Prometheus metrics of the HTTP front: requests by route and status, latency, claims."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter("codedrop_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "codedrop_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CLAIMS = Counter("codedrop_claims_total", "Claims answered by the API", ["channel", "outcome"])


def _route_of(request: Request) -> str:
    """The matched route's template (`/api/distribute/{campaign_id}`), set by the router."""
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


async def measure(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Middleware: count and time every request by its route template (not its raw path)."""
    start = time.perf_counter()
    response = await call_next(request)
    route = _route_of(request)
    LATENCY.labels(request.method, route).observe(time.perf_counter() - start)
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    if route.startswith("/api/distribute/") and request.method == "POST":
        outcome = "ok" if response.status_code < 300 else str(response.status_code)
        CLAIMS.labels("api" if "authorization" in request.headers else "web", outcome).inc()
    return response
