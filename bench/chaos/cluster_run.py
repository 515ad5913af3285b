"""The harness on a 3-node Galera cluster: `python -m bench.chaos --cluster galera`.

Three API services (uvicorn workers of the real service) each name every node in
`CODEDROP_DATABASE_URL`, starting with a different one, so the workers are spread over the
nodes and each fails over to the next node when its own fails. The claimers are split over
the three services; their answers are merged into one history and checked by the same
checker as the single-server harness (bench/chaos/scenarios.py `check`). A fourth service,
pinned to node 3 alone, is probed during the partition: a node without the quorum must
refuse (503), never answer.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import httpx

from bench.chaos import driver, scenarios
from bench.chaos.cluster import GaleraCluster
from bench.chaos.driver import History, Load, Usage
from bench.chaos.harness import make_developer, service_env
from bench.chaos.scenarios import Result, Stack
from bench.chaos.servers import ROOT, ApiService, MariaDB, Redis


@dataclass
class ClusterStack:
    cluster: GaleraCluster
    apis: list[ApiService]
    pinned: ApiService  # node 3 only: shows what a client of a cut-off node gets
    stack: Stack  # for the shared steps: campaign creation over HTTP, the checker


class Progress:
    """Progress over the sub-histories of the three services."""

    def __init__(self, parts: Sequence[History], campaign: str) -> None:
        self.parts = parts
        self.total = sum(len(p.intents) for p in parts)
        self.campaign = campaign
        self.violations: list[str] = []  # what a fault itself saw go wrong

    async def reached(self, fraction: float) -> None:
        while sum(p.finished for p in self.parts) < fraction * self.total:
            await asyncio.sleep(0.05)


Fault = Callable[[ClusterStack, Progress, list[str]], Coroutine[Any, Any, None]]


async def no_fault(cs: ClusterStack, progress: Progress, notes: list[str]) -> None:
    return None


async def kill_node(cs: ClusterStack, progress: Progress, notes: list[str]) -> None:
    await progress.reached(0.3)
    node = cs.cluster.nodes[0]  # the first choice of one service, the last of another
    await asyncio.to_thread(node.kill)
    down = time.monotonic()
    await asyncio.to_thread(cs.cluster.wait_size, 2)
    evicted = time.monotonic() - down
    await asyncio.sleep(1.0)
    took = await asyncio.to_thread(node.start, recover=True)
    await asyncio.to_thread(cs.cluster.wait_size, 3)
    notes.append(
        f"node 1 SIGKILLed at 30%, evicted after {evicted:.1f} s; recovered and rejoined"
        f" (IST) {took:.1f} s after its restart"
    )


async def partition_node(cs: ClusterStack, progress: Progress, notes: list[str]) -> None:
    await progress.reached(0.3)
    await asyncio.to_thread(cs.cluster.net.cut, 3)
    cut = time.monotonic()
    await asyncio.to_thread(cs.cluster.wait_size, 2)
    node = cs.cluster.nodes[2]
    status = node.status()
    notes.append(
        f"node 3 cut off at 30%: the others went on as a cluster of 2 after"
        f" {time.monotonic() - cut:.1f} s; node 3 {status.get('wsrep_cluster_status')},"
        f" wsrep_ready {status.get('wsrep_ready')}"
    )
    answers = await _probe(cs.pinned, progress.campaign)
    notes.append(f"a service on node 3 alone answered {_summary(answers)} while cut off")
    if any(a != 503 for a in answers):
        progress.violations.append(f"a node without the quorum answered {_summary(answers)}")
    await progress.reached(0.6)
    await asyncio.to_thread(cs.cluster.net.heal, 3)
    healed = time.monotonic()
    await asyncio.to_thread(cs.cluster.wait_size, 3)
    notes.append(
        f"healed at 60%: node 3 back in the cluster after {time.monotonic() - healed:.1f} s"
    )


async def _probe(api: ApiService, cid: str) -> list[int]:
    """Claims sent to the service pinned to the cut-off node: each must be refused (503)."""
    answers = []
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as http:
        for n in range(5):
            r = await http.post(f"/api/distribute/{cid}", json={"user_identifier": f"probe-{n}"})
            answers.append(r.status_code)
    return answers


def _summary(codes: list[int]) -> str:
    return ", ".join(f"{c} x{codes.count(c)}" for c in sorted(set(codes)))


async def rolling_restart(cs: ClusterStack, progress: Progress, notes: list[str]) -> None:
    took = []
    for n, node in enumerate(cs.cluster.nodes):
        await progress.reached(0.15 + 0.25 * n)
        await asyncio.to_thread(node.stop)
        took.append(await asyncio.to_thread(node.start, recover=True))
        await asyncio.to_thread(cs.cluster.wait_size, 3)
    notes.append(
        "nodes 1, 2, 3 restarted in turn at 15/40/65%: " + ", ".join(f"{t:.1f} s" for t in took)
    )


@dataclass(frozen=True, slots=True)
class ClusterScenario:
    name: str
    title: str
    fault: Fault


CLUSTER_SCENARIOS = [
    ClusterScenario("galera-baseline", "no fault, claims spread over 3 nodes", no_fault),
    ClusterScenario(
        "galera-node-kill", "one node SIGKILLed mid-load, restarted, rejoined", kill_node
    ),
    ClusterScenario(
        "galera-partition", "one node cut off from its peers mid-load, then healed", partition_node
    ),
    ClusterScenario(
        "galera-rolling-restart", "each node restarted in turn mid-load", rolling_restart
    ),
]
BY_NAME = {s.name: s for s in CLUSTER_SCENARIOS}


def merge(parts: Sequence[tuple[list[int], History]], intents: Sequence[driver.Intent]) -> History:
    """One history of every attempt, with each part's intent numbers mapped back."""
    merged = History(list(intents))
    for index, part in parts:
        merged.attempts.extend(replace(a, intent=index[a.intent]) for a in part.attempts)
    merged.finished = sum(p.finished for _, p in parts)
    return merged


async def run(cs: ClusterStack, scenario: ClusterScenario) -> Result:
    """One scenario: a campaign, claimers split over the services, the fault, the checker."""
    stack = cs.stack
    size = stack.size
    cid, uploaded = await scenarios.new_campaign(stack, f"chaos {scenario.name}", size.codes, 1)
    intents = scenarios.intents(
        size.claimers, f"{scenario.name}-", keyed=0.5, seed=len(scenario.name)
    )
    groups = [list(range(k, len(intents), len(cs.apis))) for k in range(len(cs.apis))]
    parts = [(g, History([intents[i] for i in g])) for g in groups]
    progress = Progress([h for _, h in parts], cid)
    # one generator process per service: three in all, beside the nodes and the services
    load = Load(concurrency=max(1, size.concurrency // len(cs.apis)), timeout=30.0, processes=1)
    notes: list[str] = []
    marks = [api.unexpected_errors(0)[1] for api in cs.apis]
    conflicts_before = _conflicts(cs.cluster)
    start = time.monotonic()
    fault = asyncio.create_task(scenario.fault(cs, progress, notes))
    await asyncio.gather(
        *(
            driver.run(api.base_url, cid, h, load, api_key=stack.api_key)
            for api, (_, h) in zip(cs.apis, parts, strict=True)
        )
    )
    await fault
    seconds = time.monotonic() - start
    cert, aborted = _since(_conflicts(cs.cluster), conflicts_before)
    notes.append(
        f"{cert} certification failures and {aborted} transactions aborted by replicated"
        " writes (each one a deadlock error, retried)"
    )
    for api, mark in zip(cs.apis, marks, strict=True):
        internal, _ = api.unexpected_errors(mark)
        notes.extend(f"500 logged: {line}" for line in internal[:5])
    history = merge(parts, intents)
    usages = [h.usage for _, h in parts if h.usage is not None]
    if usages:  # the generator's CPU over the three runs, for the table's `generator` column
        driver.USAGE[scenario.name] = Usage(
            processes=sum(u.processes for u in usages),
            wall=max(u.wall for u in usages),
            child_cpu=sum(u.child_cpu for u in usages),
            parent_cpu=max(u.parent_cpu for u in usages),  # one process, measured three times
        )
    violations = progress.violations + await scenarios.check(
        stack, cid, uploaded, 1, history, notes
    )
    p50, p99 = driver.latency_quantiles(history)
    kinds = history.kinds()
    acknowledged_codes = {code for _, code in history.acknowledged(stack.developer_id)}
    return Result(
        scenario=scenario.name,
        claimers=len(intents),
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


def _migrate(api: ApiService) -> None:
    """`codedrop migrate` through the failover URL; its output in the error when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        cwd=ROOT,
        env=api.env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"codedrop migrate failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


def _conflicts(cluster: GaleraCluster) -> list[tuple[int, int]]:
    """Per node: certification failures and brute-force aborts so far."""
    views = [n.status() for n in cluster.nodes]
    return [
        (int(v.get("wsrep_local_cert_failures", 0)), int(v.get("wsrep_local_bf_aborts", 0)))
        for v in views
    ]


def _since(after: list[tuple[int, int]], before: list[tuple[int, int]]) -> tuple[int, int]:
    """The counts since `before`, summed over the nodes; a node restarted in between counts
    from its restart (its counters start again at 0), so a fault's figure is a lower bound."""
    cert = aborted = 0
    for (c1, a1), (c0, a0) in zip(after, before, strict=True):
        cert += c1 - c0 if c1 >= c0 else c1
        aborted += a1 - a0 if a1 >= a0 else a1
    return cert, aborted


class _ClusterAsServer:
    """What the shared steps need of "the database": a URL (every node, for failover)."""

    def __init__(self, cluster: GaleraCluster) -> None:
        self.url = cluster.url()


async def run_cluster_suite(
    *,
    scale: str,
    names: Sequence[str] | None,
    workers: int,
    keep: bool = False,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[Result]:
    """Start the cluster, Redis and the services; run the chosen scenarios; stop everything."""
    size = scenarios.SCALES[scale]
    chosen = [BY_NAME[n] for n in names] if names else list(CLUSTER_SCENARIOS)
    workdir = Path(tempfile.mkdtemp(prefix="codedrop-galera-"))
    cluster = GaleraCluster(workdir)
    redis = Redis(workdir)
    db = cast(MariaDB, _ClusterAsServer(cluster))
    per_service = max(1, workers // len(cluster.nodes))
    apis: list[ApiService] = []
    for k in range(len(cluster.nodes)):
        env = service_env(db, redis, workdir / f"api{k}")
        env["CODEDROP_DATABASE_URL"] = cluster.url(first=k)
        apis.append(ApiService(workdir / f"api{k}", env, per_service))
    pinned_env = service_env(db, redis, workdir / "pinned")
    pinned_env["CODEDROP_DATABASE_URL"] = cluster.nodes[2].url
    pinned = ApiService(workdir / "pinned", pinned_env, 1)
    results: list[Result] = []
    try:
        started = time.monotonic()
        took = await asyncio.to_thread(cluster.start)
        progress(f"galera cluster of 3 synced in {took:.1f} s")
        await asyncio.to_thread(redis.start)
        await asyncio.to_thread(_migrate, apis[0])
        await asyncio.gather(*(asyncio.to_thread(a.start) for a in [*apis, pinned]))
        dev_id, key = await make_developer(db)
        progress(
            f"stack up in {time.monotonic() - started:.1f} s: nodes "
            + ", ".join(n.address for n in cluster.nodes)
            + f", {len(apis)} services x{per_service} workers ({workdir})"
        )
        stack = Stack(db, redis, apis[0], dev_id, key, size)
        cs = ClusterStack(cluster, apis, pinned, stack)
        for scenario in chosen:
            progress(f"scenario {scenario.name}: {scenario.title} ...")
            result = await run(cs, scenario)
            progress(
                f"  {result.acknowledged} acknowledged, {len(result.violations)} violations,"
                f" {result.seconds:.1f} s"
            )
            results.append(result)
    finally:
        for api in [*apis, pinned]:
            api.stop()
        redis.stop()
        cluster.stop()
        if keep:
            progress(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results
