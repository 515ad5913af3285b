"""Prometheus metrics of the HTTP front: requests by route and status, latency, claims.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, whose per-request task group
and memory streams cost more than the claim itself on the hot path).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("codedrop_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "codedrop_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CLAIMS = Counter("codedrop_claims_total", "Claims answered by the API", ["channel", "outcome"])
CLAIM_BATCH = Histogram(
    "codedrop_claim_batch_size",
    "Claims committed together in one transaction (domain.claims.BATCHING)",
    buckets=(1, 2, 5, 10, 25, 50, 100),
)


class MetricsMiddleware:
    """Count and time every HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            LATENCY.labels(method, route).observe(time.perf_counter() - start)
            REQUESTS.labels(method, route, str(status)).inc()
            if method == "POST" and route == "/api/distribute/{campaign_id}":
                keyed = any(name == b"authorization" for name, _ in scope["headers"])
                outcome = "ok" if status < 300 else str(status)
                CLAIMS.labels("api" if keyed else "web", outcome).inc()
