"""The load driver: concurrent claimers over HTTP that record every answer they get.

Why not locust or wrk: the checker needs, for each logical claim (an "intent"), every attempt
and its exact answer — which code was acknowledged to which claimant, which attempts timed out
and were retried with the SAME Idempotency-Key and body. wrk cannot keep per-request state
across a retry, and locust's runner monkey-patches the process with gevent, which cannot share
it with the asyncio database checker and the fault injector that must act at a precise point
of progress. So the driver is a small asyncio loop on httpx (the client the project already
uses), one task per claimer, with a bounded number in flight.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

ACKNOWLEDGED = "acknowledged"
CLIENT_CONNECTIONS = 100


@dataclass(frozen=True, slots=True)
class Intent:
    """One logical claim by one claimant: every retry sends the same body and key."""

    user: str
    platform: str | None
    key: str | None
    backend: bool  # sent with the developer's API key (claimant `api:<dev>:<user>`)

    def claimant(self, developer_id: int) -> str:
        return f"api:{developer_id}:{self.user}" if self.backend else f"anon:{self.user}"

    def body(self) -> dict[str, str]:
        body = {"user_identifier": self.user}
        if self.platform:
            body["platform"] = self.platform
        return body


@dataclass(slots=True)
class Attempt:
    intent: int
    latency: float
    outcome: str  # acknowledged | refused:<code> | error:<kind>
    code: str | None = None
    replayed: bool = False  # answered from the stored Idempotency-Key answer


@dataclass
class History:
    """Everything the claimers saw, in arrival order."""

    intents: Sequence[Intent]
    attempts: list[Attempt] = field(default_factory=list)
    finished: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    watermark: int = 0

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def done_one(self) -> None:
        self.finished += 1
        if self.finished >= self.watermark:
            self.progress.set()

    async def reached(self, fraction: float) -> None:
        """Wait until `fraction` of the intents have their final answer."""
        self.watermark = max(1, int(len(self.intents) * fraction))
        self.progress.clear()
        if self.finished >= self.watermark:
            return
        await self.progress.wait()

    def acknowledged(self, developer_id: int) -> list[tuple[str, str]]:
        """Every (claimant, code) pair the service acknowledged, retries included."""
        return [
            (self.intents[a.intent].claimant(developer_id), a.code)
            for a in self.attempts
            if a.outcome == ACKNOWLEDGED and a.code is not None
        ]

    def per_intent_codes(self) -> dict[int, set[str]]:
        codes: dict[int, set[str]] = {}
        for a in self.attempts:
            if a.outcome == ACKNOWLEDGED and a.code is not None:
                codes.setdefault(a.intent, set()).add(a.code)
        return codes

    def kinds(self) -> Counter[str]:
        return Counter(a.outcome for a in self.attempts if a.outcome != ACKNOWLEDGED)


@dataclass(frozen=True, slots=True)
class Load:
    """How the claimers behave."""

    concurrency: int
    timeout: float = 10.0
    first_timeout: float | None = None  # a shorter read timeout on the first attempt
    attempts: int = 8
    backoff: float = 0.05


def _kind(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TransportError):
        return "connection"
    return type(exc).__name__


async def _one(
    http: httpx.AsyncClient,
    url: str,
    index: int,
    intent: Intent,
    load: Load,
    api_key: str,
    history: History,
) -> None:
    headers = {}
    if intent.key:
        headers["Idempotency-Key"] = intent.key
    if intent.backend:
        headers["Authorization"] = f"Bearer {api_key}"
    body = intent.body()
    for n in range(load.attempts):
        read = load.first_timeout if n == 0 and load.first_timeout else load.timeout
        timeout = httpx.Timeout(load.timeout, read=read)
        start = time.perf_counter()
        wait = load.backoff * (2**n) * (0.5 + random.random())
        try:
            r = await http.post(url, json=body, headers=headers, timeout=timeout)
        except Exception as exc:
            history.record(Attempt(index, time.perf_counter() - start, "error:" + _kind(exc)))
        else:
            latency = time.perf_counter() - start
            if r.status_code in (200, 201):
                replayed = r.headers.get("idempotent-replayed") == "true"
                history.record(Attempt(index, latency, ACKNOWLEDGED, r.json()["code"], replayed))
                break
            problem = _problem_code(r)
            if r.status_code < 500 and r.status_code != 429:
                history.record(Attempt(index, latency, f"refused:{problem}"))
                break
            history.record(Attempt(index, latency, f"error:{r.status_code} {problem}"))
            if r.status_code in (429, 503):
                wait = max(wait, min(float(r.headers.get("retry-after", "1")), 2.0))
        await asyncio.sleep(min(wait, 2.0))
    history.done_one()


def _problem_code(r: httpx.Response) -> str:
    try:
        return str(r.json().get("code", r.status_code))
    except ValueError:
        return str(r.status_code)


async def run(
    base_url: str,
    campaign_id: str,
    history: History,
    load: Load,
    *,
    api_key: str,
) -> None:
    """Drive every intent of `history` to a final answer, `load.concurrency` at a time."""
    url = f"/api/distribute/{campaign_id}"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(history.intents)):
        queue.put_nowait(i)
    # httpx's pool scans its connections on every request: past a few hundred connections
    # one client becomes the bottleneck, so a burst is spread over many small clients
    per_client = min(load.concurrency, CLIENT_CONNECTIONS)
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    clients = [
        httpx.AsyncClient(base_url=base_url, limits=limits)
        for _ in range(-(-load.concurrency // per_client))
    ]

    async def claimer(http: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await _one(http, url, i, history.intents[i], load, api_key, history)

    try:
        await asyncio.gather(*(claimer(clients[n // per_client]) for n in range(load.concurrency)))
    finally:
        for http in clients:
            await http.aclose()


def latency_quantiles(history: History) -> tuple[float, float]:
    """p50 and p99 of every attempt's latency, in milliseconds."""
    values = sorted(a.latency for a in history.attempts)
    if not values:
        return 0.0, 0.0

    def q(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] * 1000

    return q(0.50), q(0.99)
