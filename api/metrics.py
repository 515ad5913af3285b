"""Prometheus metrics of the HTTP front: requests by route and status, latency, claims.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, whose per-request task group
and memory streams cost more than the claim itself on the hot path).

With several uvicorn workers (`codedrop api --workers N`) every worker writes its samples to
files in `PROMETHEUS_MULTIPROC_DIR` (the CLI sets and empties it), and `exposition()` sums
them, so one scrape of any worker covers them all (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
import re
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CLAIM_ROUTE = "/api/distribute/{campaign_id}"
CLAIM_PATH = re.compile(r"^/api/distribute/[^/]+$")
# a claim's answer by status: a new code, the code held already, or the problem's status
CLAIM_OUTCOMES = {201: "claimed", 200: "repeated"}

REQUESTS = Counter("codedrop_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "codedrop_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CLAIMS = Counter(
    "codedrop_claims_total",
    "Claims answered by the API: claimed (201), repeated (200) or the refusal's status",
    ["channel", "outcome"],
)
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
            method = scope["method"]
            # a claim is one by its path, whichever road served it (the fast lane answers
            # most of them before any routing happened)
            claim = method == "POST" and CLAIM_PATH.match(scope["path"]) is not None
            route = getattr(scope.get("route"), "path", None) or (
                CLAIM_ROUTE if claim else "unmatched"
            )
            LATENCY.labels(method, route).observe(time.perf_counter() - start)
            REQUESTS.labels(method, route, str(status)).inc()
            if claim:
                keyed = any(name == b"authorization" for name, _ in scope["headers"])
                outcome = CLAIM_OUTCOMES.get(status, str(status))
                CLAIMS.labels("api" if keyed else "web", outcome).inc()


def exposition() -> tuple[bytes, str]:
    """The metrics of this process, or of every worker in multiprocess mode; content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
