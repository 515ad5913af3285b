"""Claim and upload benchmark on MariaDB: prints figures, asserts nothing.

    python -m bench.claims [--workers 2] [--connections 1000] [--seconds 10] [--repeat 3]
                           [--raw-ceiling ../shared/tools/raw_ceiling.py]

Starts the real service (`codedrop api --workers N`, uvicorn) on a fresh MariaDB database
(bench/service.py) and uploads 100,000 codes through the HTTP API (multipart), --repeat times.
Then, --repeat times
each, 2 s apart, drives `wrk` with 1,000 open connections, every request a distinct claimant:
as 1,000 clients that each claim about once a second (a random pause averaging --think-ms
between their claims: an offered load just over 1,000 claims/s); the same with an
Idempotency-Key on every claim; and as a closed loop (every connection sends again as soon as
it is answered: the saturation throughput, where latency is queueing). Medians are printed
with their range. Finally the domain function alone with 1,000 concurrent tasks. Rate limits
stay on, in-process as by default; the per-IP claim limit is raised
(CODEDROP_RATE_LIMIT_DISTRIBUTE_IP=100000000/minute) because every client is 127.0.0.1,
while each claimant's own limit stays at its default. The final state is checked for double
claims.

Every figure is printed beside a reference measured in the same run, as a ratio: the HTTP
claim phases beside `GET /healthz` of the same service driven by the same wrk with the same
connections for the same time (closed loop: the HTTP stack's own ceiling here), run between
the claim phases of each repetition; the domain function beside the raw-SQL group-commit
ceiling (--raw-ceiling: a script run by path, with as many claims, the same pool and 1,000
concurrent claimers; "reference not run" when the script is absent). Beside each wrk figure,
the cores wrk itself used (its CPU seconds over the run's duration): on 2 cores shared with
the service, a generator near 2.00 would be measuring itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.service import ROOT, Service, admin

RAW_CEILING = ROOT.parent / "shared" / "tools" / "raw_ceiling.py"

LUA = r"""
local n = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  n = n + 1
  local who = PREFIX .. tid .. '-' .. n
  local body = '{"platform":"ios","user_identifier":"' .. who .. '"}'
  local headers = {["Content-Type"] = "application/json"}
  if KEYED then
    headers["Idempotency-Key"] = "k-" .. who
  end
  return wrk.format("POST", wrk.path, headers, body)
end
"""

# each connection pauses between its requests, THINK_MS on average: 1,000 clients that each
# claim about once a second (an offered load just above 1,000 claims/s) instead of a closed
# loop. The pause is drawn uniformly from 0..2*THINK_MS so the clients do not move in
# lock-step waves (a fixed pause makes all 1,000 send in the same millisecond, every time).
PACED = """
math.randomseed(os.time())
delay = function()
  return math.random(0, 2 * THINK_MS)
end
"""


def check_no_double(database: str, campaign: str) -> tuple[int, int, int, int]:
    """(claims, distinct codes, distinct claimants, code rows marked claimed) for a campaign."""
    (row,) = admin(
        "SELECT COUNT(*), COUNT(DISTINCT cl.code), COUNT(DISTINCT cl.claimant),"
        " (SELECT COUNT(*) FROM promo_codes p WHERE p.campaign_id = c.id AND p.status='claimed')"
        " FROM claims cl JOIN campaigns c ON c.id = cl.campaign_id"
        f" WHERE c.public_id = '{campaign}' AND cl.slot IS NOT NULL",
        database,
    )
    return tuple(int(x) for x in row)  # type: ignore[return-value]


def run_wrk(
    prefix: str,
    seconds: int,
    connections: int,
    think_ms: int | None,
    target: str,
    *,
    keyed: bool = False,
) -> dict[str, float]:
    """One wrk run of distinct claimants (names start with `prefix`); its parsed figures.

    `keyed`: every claim carries an Idempotency-Key (the retry-safe way clients are told to
    claim), which takes the FastAPI route and the idempotency store instead of the fast lane.
    """
    lua = f'PREFIX = "{prefix}"\nKEYED = {"true" if keyed else "false"}\n' + LUA
    if think_ms is not None:
        lua += PACED.replace("THINK_MS", str(think_ms))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    cpu = wrk_cpu()
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                target,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    if os.environ.get("BENCH_VERBOSE"):
        print(out, file=sys.stderr)
    return {**parse_wrk(out), "wrk_cores": (wrk_cpu() - cpu) / seconds}


def wrk_cpu() -> float:
    """CPU seconds of the finished child processes (wrk): the generator's own share."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def parse_wrk(out: str) -> dict[str, float]:
    def latency(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "p50": latency("50"),
        "p90": latency("90"),
        "p99": latency("99"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 0.0
        if not socket_errors
        else float(sum(int(x) for x in re.findall(r"\d+", socket_errors.group(1)))),
    }


async def domain_phase(url: str, campaign: str, claimants: int, pool: int) -> dict[str, float]:
    """Claims through the domain function alone: 1,000 concurrent tasks, no HTTP."""
    from domain import claims
    from domain.adapters import db
    from domain.adapters.events import InProcessEventBus
    from domain.settings import Settings
    from domain.values import Claimant

    settings = Settings(_env_file=None, database_url=url, database_pool_size=pool)  # type: ignore[call-arg]
    await db.init_db(settings)
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(claimants):
        queue.put_nowait(i)

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            i = queue.get_nowait()
            start = time.perf_counter()
            try:
                await claims.claim(
                    campaign_id=campaign,
                    claimant=Claimant.of("web", f"d{i}"),
                    channel="web",
                    platform="ios",
                    events_bus=InProcessEventBus(),
                )
            except Exception:
                errors += 1
            latencies.append((time.perf_counter() - start) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(1000)))
    elapsed = time.perf_counter() - started
    await db.close_db()
    latencies.sort()
    return {
        "rps": claimants / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "errors": float(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--pool", type=int, default=4, help="database connections per process")
    parser.add_argument("--connections", type=int, default=1000, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each HTTP claim run")
    parser.add_argument("--codes", type=int, default=100_000, help="codes uploaded through the API")
    parser.add_argument(
        "--think-ms", type=int, default=800, help="mean pause between a paced client's claims"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each HTTP phase (medians are printed)"
    )
    parser.add_argument(
        "--domain-claims", type=int, default=20_000, help="claims in the domain phase"
    )
    parser.add_argument(
        "--raw-ceiling",
        type=Path,
        default=RAW_CEILING,
        help="the raw-SQL ceiling script, the domain phase's reference (run by path)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    service = Service(workers=args.workers, pool=args.pool)
    database, url, base = service.database, service.url, service.base
    with service:
        auth = {"Authorization": f"Bearer {service.key}"}
        upload_times: list[float] = []
        with httpx.Client(base_url=base, headers=auth, timeout=120) as http:
            cid = http.post("/api/campaigns", json={"name": "bench", "platform": "ios"}).json()[
                "id"
            ]
            # each run uploads a new file of --codes codes into the claim campaign: the
            # uploads are timed, and the claim phases draw on all of them
            for run in range(args.repeat):
                body = "code\n" + "".join(f"B{run}X{i:08d}\n" for i in range(args.codes))
                started = time.perf_counter()
                report = http.post(
                    f"/api/campaigns/{cid}/codes",
                    files={"file": ("codes.csv", body.encode(), "text/csv")},
                ).json()
                upload_times.append(time.perf_counter() - started)
                assert report["imported"] == args.codes, report

        target = f"{base}/api/distribute/{cid}"
        run_wrk("warm", 2, min(100, args.connections), None, target)  # warm-up, not reported
        paced_runs: list[dict[str, float]] = []
        keyed_runs: list[dict[str, float]] = []
        closed_runs: list[dict[str, float]] = []
        health_runs: list[dict[str, float]] = []

        def settle() -> None:
            time.sleep(2)  # let the previous run's queued requests drain before the next

        for run in range(args.repeat):
            settle()
            paced_runs.append(
                run_wrk(f"p{run}-", args.seconds, args.connections, args.think_ms, target)
            )
            settle()
            keyed_runs.append(
                run_wrk(
                    f"k{run}-", args.seconds, args.connections, args.think_ms, target, keyed=True
                )
            )
            settle()
            closed_runs.append(run_wrk(f"s{run}-", args.seconds, args.connections, None, target))
            settle()
            health_runs.append(healthz_wrk(base, args.seconds, args.connections))
        claims_n, codes_n, claimants_n, claimed_rows = check_no_double(database, cid)
        service.stop_server()

        domain_cid = asyncio.run(_new_campaign(url, args.domain_claims))
        dom = asyncio.run(domain_phase(url, domain_cid, args.domain_claims, args.pool))
        d_claims, d_codes, d_claimants, d_rows = check_no_double(database, domain_cid)
        raw = raw_ceiling(args.raw_ceiling, args.domain_claims, args.pool)

    paced, keyed, closed = median_of(paced_runs), median_of(keyed_runs), median_of(closed_runs)
    errors = sum(r["non2xx"] + r["socket_errors"] for r in paced_runs + keyed_runs + closed_runs)
    print(
        f"\ncodedrop claim benchmark: MariaDB, {os.cpu_count()} cores, {args.workers} uvicorn"
        f" workers, pool {args.pool}/process; medians of {args.repeat} runs, [min-max]"
    )
    health = median_of(health_runs)
    print(
        "Each figure beside its same-run reference: HTTP phases beside GET /healthz of the same"
        " service (wrk, same connections, closed loop); the domain function beside the raw-SQL"
        " group-commit ceiling."
    )
    print("| phase | figure | reference (same run) | ratio |")
    print("|---|---|---|---:|")
    print(
        f"| upload {args.codes:,} codes (HTTP multipart, committed) | "
        f"{statistics.median(upload_times):.2f} s {spread(upload_times, '{:.2f}')} | - | - |"
    )
    ref = (
        f"/healthz {health['rps']:,.0f} req/s {spread([r['rps'] for r in health_runs], '{:,.0f}')}"
        f"; wrk {health['wrk_cores']:.2f} cores"
    )
    for label, median, runs in (
        (
            f"HTTP claims, {args.connections} clients each pausing {args.think_ms} ms on average"
            f" between claims, {args.seconds} s (wrk)",
            paced,
            paced_runs,
        ),
        ("the same, every claim with an Idempotency-Key", keyed, keyed_runs),
        (
            f"HTTP claims, {args.connections} connections in a closed loop (saturation),"
            f" {args.seconds} s (wrk)",
            closed,
            closed_runs,
        ),
    ):
        print(f"| {label} | {figures(median, runs)} | {ref} | {ratio(median['rps'], health)} |")
    print(f"| HTTP errors (all runs) | non-2xx or socket errors: {errors:.0f} | | |")
    print(
        f"| HTTP double claims | claims {claims_n:,}, distinct codes {codes_n:,}, distinct claimants "
        f"{claimants_n:,}, code rows claimed {claimed_rows:,} -> {'none' if claims_n == codes_n == claimants_n == claimed_rows else 'VIOLATION'} | | |"
    )
    raw_ref = (
        f"raw ceiling {raw['rps']:,.0f} claims/s, p50 {raw['p50']:.0f} ms, p99 {raw['p99']:.0f} ms"
        if raw
        else "reference not run"
    )
    print(
        f"| domain function alone, 1000 tasks, {args.domain_claims:,} claims | {dom['rps']:,.0f} claims/s, "
        f"p50 {dom['p50']:.0f} ms, p99 {dom['p99']:.0f} ms, errors {dom['errors']:.0f} | {raw_ref}"
        f" | {ratio(dom['rps'], raw) if raw else '-'} |"
    )
    print(
        f"| domain double claims | claims {d_claims:,}, distinct codes {d_codes:,}, distinct claimants "
        f"{d_claimants:,} -> {'none' if d_claims == d_codes == d_claimants == d_rows else 'VIOLATION'} | | |"
    )


def ratio(value: float, reference: dict[str, float] | None) -> str:
    if not reference or not reference.get("rps"):
        return "-"
    return f"{value / reference['rps']:.2f}"


def healthz_wrk(base: str, seconds: int, connections: int) -> dict[str, float]:
    """The reference: GET /healthz of the same service, same wrk, same connections."""
    cpu = wrk_cpu()
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", base + "/healthz"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {**parse_wrk(out), "wrk_cores": (wrk_cpu() - cpu) / seconds}


def raw_ceiling(script: Path, claims: int, pool: int) -> dict[str, float] | None:
    """The raw-SQL group-commit ceiling (--raw-ceiling), as many claims and the same pool;
    None when the script is absent."""
    if not script.is_file():
        print(f"raw ceiling: {script} not found, reference not run", file=sys.stderr)
        return None
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            "--modes",
            "batch",
            "--claims",
            str(claims),
            "--pool",
            str(pool),
            "--tasks",
            "1000",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"raw batch: ([\d,]+) claims/s .*? p50 (\d+) ms p99 (\d+) ms", out)
    if m is None:
        print(f"raw ceiling: no figure in its output: {out[-500:]}", file=sys.stderr)
        return None
    return {
        "rps": float(m.group(1).replace(",", "")),
        "p50": float(m.group(2)),
        "p99": float(m.group(3)),
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(r[name] for r in runs) for name in runs[0]}


def spread(values: list[float], fmt: str) -> str:
    return f"[{fmt.format(min(values))}-{fmt.format(max(values))}]" if len(values) > 1 else ""


def figures(median: dict[str, float], runs: list[dict[str, float]]) -> str:
    def one(name: str, unit: str) -> str:
        values = [r[name] for r in runs]
        return f"{median[name]:,.0f}{unit} {spread(values, '{:,.0f}')}"

    return (
        f"{one('rps', ' claims/s')}, p50 {one('p50', ' ms')}, p90 {one('p90', ' ms')},"
        f" p99 {one('p99', ' ms')}; wrk {median['wrk_cores']:.2f} cores"
    )


async def _new_campaign(url: str, codes: int) -> str:
    from domain import campaigns, developers, uploads
    from domain.adapters import db
    from domain.adapters.bootstrap import bootstrap
    from domain.settings import Settings

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    await db.init_db(settings)
    try:
        dev = await developers.find_developer(email="bench@example.com")
        c = await campaigns.create_campaign(owner_id=dev.id, name="domain bench", platform="ios")
        data = ("code\n" + "".join(f"DOM{i:08d}\n" for i in range(codes))).encode()
        services = bootstrap(
            settings.model_copy(
                update={"upload_max_bytes": len(data) + 1, "upload_max_codes": codes}
            )
        )
        admitted = await uploads.admit_upload(services, developer_id=dev.id, campaign_id=c.id)
        await uploads.import_stream(services, admitted, chunks=uploads.bytes_chunks(data))
        return c.id
    finally:
        await db.close_db()


if __name__ == "__main__":
    main()
