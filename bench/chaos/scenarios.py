"""The fault scenarios: each one a campaign, a claim workload, a fault at a point of progress,
and the promise checker (tests/invariants.py) over the database and the recorded answers."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.chaos import driver
from bench.chaos.driver import History, Intent, Load
from bench.chaos.servers import ApiService, MariaDB, Redis
from domain.adapters import db
from domain.models import Campaign, Claim
from domain.settings import Settings
from tests import invariants

log = logging.getLogger(__name__)

PLATFORMS = ("ios", "android", None)


@dataclass(frozen=True, slots=True)
class Size:
    """Bounded sizes of one run."""

    codes: int
    claimers: int
    concurrency: int
    burst_codes: int
    burst_claimers: int


SCALES = {
    "ci": Size(codes=200, claimers=400, concurrency=32, burst_codes=100, burst_claimers=1_000),
    "default": Size(
        codes=1_000, claimers=2_000, concurrency=64, burst_codes=1_000, burst_claimers=10_000
    ),
    "big": Size(
        codes=10_000, claimers=20_000, concurrency=200, burst_codes=5_000, burst_claimers=50_000
    ),
}


@dataclass
class Stack:
    """The running system a scenario acts on."""

    mariadb: MariaDB
    redis: Redis
    api: ApiService
    developer_id: int
    api_key: str
    size: Size


@dataclass
class Result:
    """One row of the table."""

    scenario: str
    claimers: int
    requests: int
    acknowledged: int
    codes: int
    refused: dict[str, int]
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    seconds: float
    violations: list[str]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Fault = Callable[[Stack, History, list[str]], Coroutine[Any, Any, None]]


def intents(n: int, prefix: str, *, keyed: float, seed: int) -> list[Intent]:
    """`n` claims: distinct and repeating claimants, mixed platforms, anonymous and backend."""
    rnd = random.Random(seed)
    out: list[Intent] = []
    for i in range(n):
        # every fifth claim comes from someone who asked before (a repeat, not a retry)
        user = f"{prefix}{rnd.randrange(i)}" if i and i % 5 == 0 else f"{prefix}{i}"
        key = secrets.token_hex(8) if rnd.random() < keyed else None
        out.append(Intent(user, rnd.choice(PLATFORMS), key, backend=rnd.random() < 0.3))
    # a repeat must name the same kind of claimant as the first claim of that user
    first_backend: dict[str, bool] = {}
    return [
        Intent(it.user, it.platform, it.key, first_backend.setdefault(it.user, it.backend))
        for it in out
    ]


def codes_file(n: int, prefix: str) -> bytes:
    """A third for iOS, a third for Android, a third for any platform."""
    lines = ["code,platform"]
    for i in range(n):
        lines.append(f"{prefix}{i:07d},{('ios', 'android', '')[i % 3]}")
    return ("\n".join(lines) + "\n").encode()


async def new_campaign(stack: Stack, name: str, codes: int, limit: int) -> tuple[str, int]:
    """A universal campaign with `codes` codes, created and filled over HTTP."""
    auth = {"Authorization": f"Bearer {stack.api_key}"}
    async with httpx.AsyncClient(base_url=stack.api.base_url, timeout=120) as http:
        r = await http.post(
            "/api/campaigns",
            json={"name": name, "platform": "universal", "per_claimant_limit": limit},
            headers=auth,
        )
        r.raise_for_status()
        cid = str(r.json()["id"])
        prefix = secrets.token_hex(3).upper()
        up = await http.post(
            f"/api/campaigns/{cid}/codes",
            files={"file": ("codes.csv", codes_file(codes, prefix), "text/csv")},
            headers={**auth, "Idempotency-Key": f"upload-{cid}"},
        )
        up.raise_for_status()
        imported = int(up.json()["imported"])
    if imported != codes:
        raise RuntimeError(f"uploaded {codes} codes, {imported} imported")
    return cid, imported


def settings_for(stack: Stack) -> Settings:
    return Settings(
        _env_file=None, environment="test", database_url=stack.mariadb.url, database_pool_size=2
    )


async def check(
    stack: Stack, cid: str, uploaded: int, limit: int, history: History, notes: list[str]
) -> list[str]:
    """The promise checker over the final database state and every acknowledged answer,
    and the outbox: one `claim.created` event per claim, none for a rolled-back one."""
    await db.init_db(settings_for(stack))
    try:
        pk = (await Campaign.get(public_id=cid)).id
        found = await invariants.violations(
            campaign_pk=pk,
            acknowledged=history.acknowledged(stack.developer_id),
            limit=limit,
            uploaded=uploaded,
        )
        outbox, events = await invariants.outbox_violations(
            campaign_pk=pk, campaign_id=cid, acknowledged=history.acknowledged(stack.developer_id)
        )
        found += outbox
        notes.append(f"outbox: {events} claim.created events checked against the claims")
        claimants = await Claim.filter(campaign_id=pk, slot__isnull=False).values_list(
            "claimant", flat=True
        )
        held: Counter[str] = Counter(str(c) for c in claimants)
        found += invariants.retry_violations(
            intents=[(i, it.claimant(stack.developer_id)) for i, it in enumerate(history.intents)],
            answers=[
                (a.intent, a.code)
                for a in history.attempts
                if a.outcome == driver.ACKNOWLEDGED and a.code
            ],
            held=held,
        )
        return found
    finally:
        await db.close_db()


# ---------------------------------------------------------------- faults


async def no_fault(stack: Stack, history: History, notes: list[str]) -> None:
    return None


async def kill_a_worker(stack: Stack, history: History, notes: list[str]) -> None:
    await history.reached(0.3)
    victim = stack.api.kill_worker()
    took = await asyncio.to_thread(stack.api.wait_replaced, victim)
    notes.append(f"worker {victim} SIGKILLed at 30%, replaced in {took:.1f} s")


async def restart_mariadb(stack: Stack, history: History, notes: list[str]) -> None:
    await history.reached(0.3)
    await asyncio.to_thread(stack.mariadb.kill)
    down = time.monotonic()
    await asyncio.sleep(1.0)  # a real outage, not a blip
    took = await asyncio.to_thread(stack.mariadb.start)
    notes.append(
        f"mariadbd SIGKILLed at 30%, back after {time.monotonic() - down:.1f} s"
        f" (crash recovery {took:.1f} s)"
    )


async def redis_outage(stack: Stack, history: History, notes: list[str]) -> None:
    await history.reached(0.2)
    await asyncio.to_thread(stack.redis.stop)
    # no keep-alive: each readiness probe lands on whichever worker accepts it
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=stack.api.base_url, timeout=10, limits=fresh) as http:
        ready = (await http.get("/readyz")).json()
        notes.append(f"Redis stopped at 20%: /readyz {ready['status']}")
        await history.reached(0.6)
        await asyncio.to_thread(stack.redis.start)
        # every worker reconnects by itself: poll until readiness is ok on several connections
        start = time.monotonic()
        while time.monotonic() - start < 30:
            answers = [(await http.get("/readyz")).json()["status"] for _ in range(6)]
            if all(a == "ok" for a in answers):
                break
            await asyncio.sleep(0.2)
        notes.append(
            f"started at 60%: /readyz {answers[-1]} after {time.monotonic() - start:.1f} s"
        )


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    fault: Fault
    limit: int = 1
    keyed: float = 0.5
    first_timeout: float | None = None
    burst: bool = False


SCENARIOS = [
    Scenario("baseline", "no fault", no_fault),
    Scenario("worker-kill", "SIGKILL of an API worker mid-load, then its restart", kill_a_worker),
    Scenario("mariadb-restart", "MariaDB SIGKILLed and restarted mid-load", restart_mariadb),
    Scenario("redis-outage", "Redis stopped mid-load and started again", redis_outage),
    # limit 2 so that a retry WITHOUT idempotency would take a second code
    Scenario(
        "client-timeouts",
        "25 ms client timeout on the first attempt, retried with the same key and body",
        no_fault,
        limit=2,
        keyed=1.0,
        first_timeout=0.025,
    ),
    Scenario("burst", "every claimer at once, 10x more claimers than codes", no_fault, burst=True),
]
BY_NAME = {s.name: s for s in SCENARIOS}


async def run(stack: Stack, scenario: Scenario) -> Result:
    """Run one scenario end to end and check the promise."""
    size = stack.size
    codes = size.burst_codes if scenario.burst else size.codes
    claimers = size.burst_claimers if scenario.burst else size.claimers
    concurrency = claimers if scenario.burst else size.concurrency
    cid, uploaded = await new_campaign(stack, f"chaos {scenario.name}", codes, scenario.limit)
    history = History(
        intents(claimers, f"{scenario.name}-", keyed=scenario.keyed, seed=len(scenario.name))
    )
    load = Load(concurrency=concurrency, first_timeout=scenario.first_timeout, timeout=30.0)
    notes: list[str] = []
    _, log_mark = stack.api.unexpected_errors(0)
    start = time.monotonic()
    fault = asyncio.create_task(scenario.fault(stack, history, notes))
    await driver.run(stack.api.base_url, cid, history, load, api_key=stack.api_key)
    if not fault.done():
        history.progress.set()
    await fault
    seconds = time.monotonic() - start
    internal, _ = stack.api.unexpected_errors(log_mark)
    notes.extend(f"500 logged: {line}" for line in internal[:5])
    replays = sum(1 for a in history.attempts if a.replayed)
    if replays:
        notes.append(f"{replays} answers replayed from a stored Idempotency-Key answer")
    violations = await check(stack, cid, uploaded, scenario.limit, history, notes)
    p50, p99 = driver.latency_quantiles(history)
    kinds = history.kinds()
    acknowledged_codes = {code for _, code in history.acknowledged(stack.developer_id)}
    return Result(
        scenario=scenario.name,
        claimers=claimers,
        requests=len(history.attempts),
        acknowledged=len(history.per_intent_codes()),
        codes=len(acknowledged_codes),
        refused={k.removeprefix("refused:"): v for k, v in kinds.items() if k.startswith("ref")},
        errors={k.removeprefix("error:"): v for k, v in kinds.items() if k.startswith("error")},
        p50_ms=p50,
        p99_ms=p99,
        seconds=seconds,
        violations=violations,
        notes=notes,
    )
