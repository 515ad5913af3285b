"""The load driver: concurrent claimers over HTTP that record every answer they get.

Why not locust or wrk: the checker needs, for each logical claim (an "intent"), every attempt
and its exact answer — which code was acknowledged to which claimant, which attempts timed out
and were retried with the SAME Idempotency-Key and body. wrk cannot keep per-request state
across a retry, nor give a first attempt a 25 ms timeout, and locust's runner monkey-patches
the process with gevent, which cannot share it with the asyncio database checker and the fault
injector that must act at a precise point of progress.

So the claimers run in `Load.processes` child processes (`python -m bench.chaos.driver`), each
an asyncio loop on aiohttp (about a third of httpx's CPU per request) with its share of the
intents and of the concurrency. Each child streams one line per attempt back; this process
records them in the `History` as they come, so faults still fire at a point of progress. A
single process on httpx used to saturate a core (98 %) while the API workers idled at 2 %:
its latencies were its own queueing. Each child reports its CPU at the end (`Usage`), so the
table can say how much of the machine the generator took.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

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
    usage: Usage | None = None  # what the generator itself used, once `run` is over

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
    processes: int = 2  # child processes the claimers are spread over


@dataclass
class Usage:
    """The generator's own CPU during one `run`: its children and this process."""

    processes: int
    wall: float  # seconds from the first request to the last answer
    child_cpu: float  # CPU seconds of the child processes
    parent_cpu: float  # CPU seconds of this process while it recorded their answers

    @property
    def cores(self) -> float:
        """Cores the generator kept busy on average (1.0 = one whole core)."""
        return (self.child_cpu + self.parent_cpu) / max(self.wall, 1e-6)

    @property
    def limited(self) -> bool:
        """True when its children were busy most of the time: the figures are its own."""
        return self.child_cpu / max(self.wall * self.processes, 1e-6) >= 0.9

    def note(self) -> str:
        share = self.cores / (os.cpu_count() or 1) * 100
        text = (
            f"load generator: {self.processes} processes, {self.cores:.2f} cores"
            f" ({share:.0f} % of the machine) over {self.wall:.1f} s"
        )
        return text + (" — GENERATOR-LIMITED" if self.limited else "")


# the usage of each run, by the claimants' common name prefix (the scenario's name): the
# results table reads it beside each row
USAGE: dict[str, Usage] = {}


def _kind(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectionError):
        return "connection"
    return type(exc).__name__


def _problem_code(status: int, body: bytes) -> str:
    try:
        return str(json.loads(body).get("code", status))
    except (ValueError, AttributeError):
        return str(status)


async def _one(
    http: aiohttp.ClientSession,
    url: str,
    index: int,
    intent: Intent,
    load: Load,
    api_key: str,
    emit: _Emit,
) -> None:
    """Drive one intent to its final answer; every attempt is emitted as it ends."""
    headers = {}
    if intent.key:
        headers["Idempotency-Key"] = intent.key
    if intent.backend:
        headers["Authorization"] = f"Bearer {api_key}"
    body = intent.body()
    for n in range(load.attempts):
        read = load.first_timeout if n == 0 and load.first_timeout else load.timeout
        # connect covers the wait for a pooled connection as well (httpx's pool timeout)
        timeout = aiohttp.ClientTimeout(total=None, connect=load.timeout, sock_read=read)
        start = time.perf_counter()
        wait = load.backoff * (2**n) * (0.5 + random.random())
        final = n == load.attempts - 1
        try:
            async with http.post(url, json=body, headers=headers, timeout=timeout) as r:
                payload = await r.read()
                status, retry_after = r.status, r.headers.get("retry-after", "1")
                replayed = r.headers.get("idempotent-replayed") == "true"
        except Exception as exc:
            emit(Attempt(index, time.perf_counter() - start, "error:" + _kind(exc)), final)
        else:
            latency = time.perf_counter() - start
            if status in (200, 201):
                code = json.loads(payload)["code"]
                emit(Attempt(index, latency, ACKNOWLEDGED, code, replayed), True)
                return
            problem = _problem_code(status, payload)
            # 408: the server did not read the request in time, so nothing ran; retried
            if status < 500 and status not in (408, 429):
                emit(Attempt(index, latency, f"refused:{problem}"), True)
                return
            emit(Attempt(index, latency, f"error:{status} {problem}"), final)
            if status in (408, 429, 503):
                wait = max(wait, min(float(retry_after), 2.0))
        if not final:
            await asyncio.sleep(min(wait, 2.0))


class _Emit:
    """Writes each attempt as one JSON line: [intent, latency, outcome, code, replayed, final]."""

    def __init__(self) -> None:
        self.out = sys.stdout

    def __call__(self, a: Attempt, final: bool) -> None:
        line = [a.intent, a.latency, a.outcome, a.code, a.replayed, final]
        self.out.write(json.dumps(line) + "\n")


async def _child(spec: dict[str, object]) -> None:
    """One child process: its intents, `concurrency` at a time, answers streamed to stdout."""
    load = Load(**spec["load"])  # type: ignore[arg-type]
    intents = [(i, Intent(*fields)) for i, *fields in spec["intents"]]  # type: ignore[attr-defined]
    queue: asyncio.Queue[tuple[int, Intent]] = asyncio.Queue()
    for item in intents:
        queue.put_nowait(item)
    emit = _Emit()
    connector = aiohttp.TCPConnector(limit=load.concurrency, limit_per_host=load.concurrency)
    async with aiohttp.ClientSession(str(spec["base_url"]), connector=connector) as http:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"

        async def claimer() -> None:
            while True:
                try:
                    i, intent = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await _one(http, str(spec["url"]), i, intent, load, str(spec["api_key"]), emit)
                sys.stdout.flush()

        await asyncio.gather(*(claimer() for _ in range(load.concurrency)))
    used = resource.getrusage(resource.RUSAGE_SELF)
    sys.stdout.write(json.dumps(["cpu", used.ru_utime + used.ru_stime]) + "\n")
    sys.stdout.flush()


async def run(
    base_url: str,
    campaign_id: str,
    history: History,
    load: Load,
    *,
    api_key: str,
) -> None:
    """Drive every intent of `history` to a final answer, `load.concurrency` at a time, in
    `load.processes` child processes; their CPU lands in `history.usage`."""
    n = max(1, min(load.processes, len(history.intents)))
    per_child = Load(**{**asdict(load), "concurrency": -(-load.concurrency // n)})
    shards: list[list[list[object]]] = [[] for _ in range(n)]
    for i, it in enumerate(history.intents):
        shards[i % n].append([i, it.user, it.platform, it.key, it.backend])
    children = []
    for shard in shards:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.chaos.driver",
            cwd=Path(__file__).resolve().parents[2],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        spec = {
            "base_url": base_url,
            "url": f"/api/distribute/{campaign_id}",
            "api_key": api_key,
            "load": asdict(per_child),
            "intents": shard,
        }
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(spec).encode() + b"\n")
        await child.stdin.drain()
        children.append(child)
    for child in children:  # every child has its clients ready before any claim is sent
        assert child.stdout is not None
        if (await child.stdout.readline()).strip() != b"ready":
            raise RuntimeError("a load generator process did not start")
    cpu_before = time.process_time()
    started = time.perf_counter()
    child_cpu = 0.0

    async def collect(child: asyncio.subprocess.Process) -> None:
        nonlocal child_cpu
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        async for raw in child.stdout:
            line = json.loads(raw)
            if line[0] == "cpu":
                child_cpu += float(line[1])
                continue
            intent, latency, outcome, code, replayed, final = line
            history.record(Attempt(intent, latency, outcome, code, replayed))
            if final:
                history.done_one()
        await child.wait()

    try:
        await asyncio.gather(*(collect(c) for c in children))
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    history.usage = Usage(
        processes=n,
        wall=time.perf_counter() - started,
        child_cpu=child_cpu,
        parent_cpu=time.process_time() - cpu_before,
    )
    if history.intents:
        USAGE[history.intents[0].user.rsplit("-", 1)[0]] = history.usage


def latency_quantiles(history: History) -> tuple[float, float]:
    """p50 and p99 of every attempt's latency, in milliseconds."""
    values = sorted(a.latency for a in history.attempts)
    if not values:
        return 0.0, 0.0

    def q(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] * 1000

    return q(0.50), q(0.99)


if __name__ == "__main__":  # a child process of `run`: its spec is the first line of stdin
    asyncio.run(_child(json.loads(sys.stdin.readline())))
