"""The drop: 10,000 distinct claimers arrive within one second for 1,000 codes, over HTTP.

    python -m bench.drop [--claimers 10000] [--codes 1000] [--spread-ms 1000] [--repeat 3]

Starts `codedrop api --workers 2` on a fresh MariaDB database (bench/service.py). Each run
makes a new campaign of --codes codes, then drives `wrk` with bench/drop.lua: one connection
per claimer, opened before the drop, each sending exactly ONE claim (a distinct claimant) at
its own moment, evenly spread over --spread-ms; arrivals never wait for answers (an open
loop). TCP connects are therefore not inside the latencies: they are send-to-answer. The
service's keep-alive timeout is raised to 300 s so answered connections stay open, idle,
until the drop ends (as each claimer's own connection would).

Printed per run and as medians of --repeat runs with their range:
- every claimer answered with a code (201) or a sold-out refusal (409 `sold_out`); anything
  else is an error, 503s counted apart; claimers left without an answer;
- p50/p99/max latency (wrk's own histogram) and the time from the first request to the last
  answer (the target: at most 3 s);
- in the database: 1,000 claims with 1,000 distinct codes, none twice, and the codes the
  claimers were told are exactly those;
- the references from the same run and the same generator: the same drop against
  `GET /healthz` (what the HTTP stack alone does with this arrival pattern), and /healthz at
  saturation (wrk, 1,000 connections in a closed loop);
- the CPU used during the drop by the generator (wrk), the API workers and MariaDB, in cores
  (1.0 = one core), with "GENERATOR-LIMITED" when wrk's threads were busy 90 % of the drop or
  could not send on schedule.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.service import CpuSampler, Service, admin, mariadb_pids

SCRIPT = Path(__file__).with_name("drop.lua")
THREADS = 2
LEAD_S = 3.0  # connections are opened during this lead, before the first claim is sent


@dataclass
class Drop:
    """What one wrk drop saw."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    problems: collections.Counter[str] = field(default_factory=collections.Counter)
    codes: list[str] = field(default_factory=list)
    claimers: int = 0
    answered: int = 0
    first_sent: float = float("inf")
    last_sent: float = 0.0
    last_answer: float = 0.0
    scheduled: float = 0.0  # epoch ms of the first claim's planned send
    p50: float = float("nan")
    p99: float = float("nan")
    max: float = float("nan")
    socket_errors: int = 0
    resent: int = 0  # connections closed by the server before their answer
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def span_ms(self) -> float:
        """First request sent to last answer received."""
        return self.last_answer - self.first_sent

    @property
    def arrival_ms(self) -> float:
        return self.last_sent - self.first_sent

    @property
    def sold_out(self) -> int:
        return self.problems["sold_out"]

    @property
    def errors(self) -> int:
        """Answers that are neither a code nor a sold-out refusal, and claimers not answered."""
        return (self.answered - len(self.codes) - self.sold_out) + self.unanswered

    @property
    def unanswered(self) -> int:
        return self.claimers - self.answered

    def generator_limited(self, spread_ms: float) -> bool:
        late = self.last_sent - self.scheduled > spread_ms + 100
        return self.cpu.get("wrk", 0.0) >= 0.9 * THREADS or late


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def drop(
    service: Service,
    path: str,
    mode: str,
    claimers: int,
    spread_ms: float,
    *,
    prefix: str,
    budget_s: float = 60.0,
) -> Drop:
    """One drop of `claimers` requests, one per connection, spread over `spread_ms`."""
    if claimers % THREADS:
        raise SystemExit(f"--claimers must be a multiple of {THREADS}")
    out_dir = Path(tempfile.mkdtemp(prefix="codedrop-drop-"))
    start_ms = (time.time() + LEAD_S) * 1000
    duration = int(LEAD_S + spread_ms / 1000 + budget_s) + 1
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{claimers}",
        f"-d{duration}s",
        "--timeout",
        f"{duration}s",
        "-s",
        str(SCRIPT),
        service.base + path,
        "--",
        mode,
        prefix,
        f"{start_ms:.0f}",
        str(spread_ms),
        str(claimers),
        str(out_dir),
        str(THREADS),
    ]
    result = Drop(claimers=claimers, scheduled=start_ms)
    try:
        wrk = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, preexec_fn=_raise_fd_limit
        )
        groups = {"wrk": [wrk.pid], "api": service.worker_pids(), "mariadb": mariadb_pids()}
        with CpuSampler(groups) as sampler:
            files = [out_dir / f"thread-{t}.txt" for t in range(THREADS)]
            while wrk.poll() is None:
                if all(f.exists() and f.read_text().endswith("done\n") for f in files):
                    wrk.send_signal(signal.SIGINT)  # all answered: end wrk's fixed duration
                    break
                time.sleep(0.05)
            out, _ = wrk.communicate(timeout=duration + 30)
        if os.environ.get("BENCH_VERBOSE"):
            print(out, file=sys.stderr)
        for f in files:
            _read_thread_file(f, result)
        m = re.search(
            r"DROP-LATENCY-US p50=(\d+) p99=(\d+) max=(\d+).*?timeouts=(\d+)"
            r" connect=(\d+) read=(\d+) write=(\d+)",
            out,
        )
        if m:
            result.p50, result.p99, result.max = (int(m.group(i)) / 1000 for i in (1, 2, 3))
            result.socket_errors = sum(int(m.group(i)) for i in (5, 6, 7))
        end = result.last_answer if result.answered else time.time() * 1000
        result.cpu = sampler.window(result.first_sent / 1000, end / 1000)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return result


def _read_thread_file(path: Path, into: Drop) -> None:
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "answer" and len(parts) == 4:
            status, at, code = int(parts[1]), float(parts[2]), parts[3]
            into.answered += 1
            into.statuses[status] += 1
            into.last_answer = max(into.last_answer, at)
            if status in (200, 201):
                into.codes.append(code)
            else:
                into.problems[code if status < 500 and code != "-" else str(status)] += 1
        elif parts and parts[0] == "send":
            into.first_sent = min(into.first_sent, float(parts[1]))
            into.last_sent = max(into.last_sent, float(parts[1]))
        elif parts and parts[0] == "resend":
            into.resent += 1


def healthz_rate(service: Service, seconds: int = 5, connections: int = 1000) -> float:
    """/healthz at saturation: wrk, `connections` in a closed loop; requests per second."""
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", service.base + "/healthz"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_raise_fd_limit,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def database_check(database: str, campaign: str) -> dict[str, int]:
    """Claims, distinct codes and claimants, and code rows marked claimed, of one campaign."""
    (row,) = admin(
        "SELECT COUNT(*), COUNT(DISTINCT cl.code), COUNT(DISTINCT cl.claimant),"
        " (SELECT COUNT(*) FROM promo_codes p WHERE p.campaign_id = c.id"
        "  AND p.status = 'claimed')"
        " FROM claims cl JOIN campaigns c ON c.id = cl.campaign_id"
        f" WHERE c.public_id = '{campaign}' AND cl.slot IS NOT NULL",
        database,
    )
    claims, codes, claimants, rows = (int(x) for x in row)  # type: ignore[call-overload]
    return {"claims": claims, "codes": codes, "claimants": claimants, "rows": rows}


def database_codes(database: str, campaign: str) -> set[str]:
    rows = admin(
        "SELECT cl.code FROM claims cl JOIN campaigns c ON c.id = cl.campaign_id"
        f" WHERE c.public_id = '{campaign}' AND cl.slot IS NOT NULL",
        database,
    )
    return {str(r[0]) for r in rows}


@dataclass
class Run:
    claims: Drop
    health: Drop
    health_rps: float
    db: dict[str, int]
    told_match: bool  # the codes the claimers were told are the codes the database holds


def one_run(service: Service, n: int, args: argparse.Namespace) -> Run:
    cid = service.new_campaign(args.codes, prefix=f"D{n}X", name=f"drop {n}")
    time.sleep(1)
    health = drop(service, "/healthz", "get", args.claimers, args.spread_ms, prefix="h")
    time.sleep(1)
    rps = healthz_rate(service)
    time.sleep(2)  # the keep-alive connections of the reference are closed by now
    claims = drop(
        service, f"/api/distribute/{cid}", "claim", args.claimers, args.spread_ms, prefix=f"r{n}-"
    )
    db = database_check(service.database, cid)
    told = set(claims.codes)
    match = len(told) == len(claims.codes) and told == database_codes(service.database, cid)
    return Run(claims, health, rps, db, match)


def _describe(label: str, d: Drop, spread_ms: float) -> str:
    cpu = d.cpu
    limited = " GENERATOR-LIMITED" if d.generator_limited(spread_ms) else ""
    return (
        f"{label}: answered {d.answered:,}/{d.claimers:,} ({d.statuses.get(201, 0):,} codes,"
        f" {d.sold_out:,} sold out, {d.statuses.get(503, 0):,} x 503, errors {d.errors:,},"
        f" socket errors {d.socket_errors}); arrivals over {d.arrival_ms:,.0f} ms;"
        f" p50 {d.p50:,.0f} ms, p99 {d.p99:,.0f} ms, max {d.max:,.0f} ms;"
        f" first request to last answer {d.span_ms:,.0f} ms; CPU in cores: wrk"
        f" {cpu.get('wrk', 0):.2f}, API workers {cpu.get('api', 0):.2f}, MariaDB"
        f" {cpu.get('mariadb', 0):.2f}, machine {cpu.get('machine', 0) * 100:.0f} % busy{limited}"
    )


def _median(values: list[float], fmt: str = "{:,.0f}") -> str:
    spread = f" [{fmt.format(min(values))}-{fmt.format(max(values))}]" if len(values) > 1 else ""
    return fmt.format(statistics.median(values)) + spread


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claimers", type=int, default=10_000)
    parser.add_argument("--codes", type=int, default=1_000)
    parser.add_argument("--spread-ms", type=float, default=1000.0, help="arrival window")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=4, help="database connections per process")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    runs: list[Run] = []
    # a connection that has had its answer stays open and idle until the drop ends: the
    # keep-alive timeout must outlast the drop, or the server closes it, wrk reconnects, and
    # the new idle connection is answered 408 by the head deadline (no claimer sent that)
    keep_alive = {"CODEDROP_HTTP_KEEP_ALIVE_TIMEOUT": "300"}
    with Service(workers=args.workers, pool=args.pool, extra_env=keep_alive) as service:
        for n in range(args.repeat):
            run = one_run(service, n, args)
            runs.append(run)
            print(f"run {n + 1}:", file=sys.stderr)
            print("  " + _describe("claims ", run.claims, args.spread_ms), file=sys.stderr)
            print("  " + _describe("/healthz", run.health, args.spread_ms), file=sys.stderr)
            print(
                f"  /healthz closed loop: {run.health_rps:,.0f} req/s; database {run.db},"
                f" codes told = codes held: {run.told_match}",
                file=sys.stderr,
            )
    return report(runs, args)


def report(runs: list[Run], args: argparse.Namespace) -> int:
    c = [r.claims for r in runs]
    h = [r.health for r in runs]
    ok = all(
        r.claims.errors == 0
        and r.claims.unanswered == 0
        and r.db["claims"] == r.db["codes"] == r.db["rows"] == args.codes
        and r.told_match
        and len(r.claims.codes) == args.codes
        for r in runs
    )
    within = all(r.claims.span_ms <= 3000 for r in runs)
    limited = any(d.generator_limited(args.spread_ms) for d in c + h)
    print(
        f"\ncodedrop drop benchmark: {args.claimers:,} claimers over {args.spread_ms:,.0f} ms for"
        f" {args.codes:,} codes; MariaDB, {os.cpu_count()} cores, {args.workers} uvicorn workers;"
        f" wrk ({THREADS} threads, one connection per claimer, opened before the drop);"
        f" medians of {len(runs)} runs [min-max]"
    )
    print("| figure | claims | same drop on GET /healthz | ratio |")
    print("|---|---:|---:|---:|")

    def row(name: str, get: object, fmt: str = "{:,.0f}") -> None:
        cv = [get(d) for d in c]  # type: ignore[operator]
        hv = [get(d) for d in h]  # type: ignore[operator]
        ratio = statistics.median(cv) / statistics.median(hv) if statistics.median(hv) else 0
        print(f"| {name} | {_median(cv, fmt)} | {_median(hv, fmt)} | {ratio:.2f} |")

    row("first request to last answer, ms", lambda d: d.span_ms)
    row("p50 latency, ms", lambda d: d.p50)
    row("p99 latency, ms", lambda d: d.p99)
    row("max latency, ms", lambda d: d.max)
    row("answers/s over the drop", lambda d: d.answered / max(d.span_ms, 1) * 1000)
    row("wrk CPU during the drop, cores", lambda d: d.cpu.get("wrk", 0), "{:.2f}")
    row("API workers CPU, cores", lambda d: d.cpu.get("api", 0), "{:.2f}")
    row("MariaDB CPU, cores", lambda d: d.cpu.get("mariadb", 0), "{:.2f}")
    rps = [r.health_rps for r in runs]
    rate = [r.claims.answered / max(r.claims.span_ms, 1) * 1000 for r in runs]
    print(
        f"| /healthz closed loop (wrk, 1,000 connections), req/s | | {_median(rps)} |"
        f" {statistics.median(rate) / statistics.median(rps):.2f} (drop answers/s to it) |"
    )
    codes = [len(r.claims.codes) for r in runs]
    sold = [r.claims.sold_out for r in runs]
    print(
        f"\ncodes handed out {_median(codes)}, sold-out refusals {_median(sold)};"
        f" errors {sum(d.errors for d in c)}, of them 503: {sum(d.statuses.get(503, 0) for d in c)},"
        f" unanswered {sum(d.unanswered for d in c)}, socket errors"
        f" {sum(d.socket_errors for d in c)} (all runs)"
    )
    other = collections.Counter[str]()
    for d in c:
        other.update({k: v for k, v in d.problems.items() if k != "sold_out"})
    if other:
        print(f"other answers: {dict(other)}")
    print(
        "database: "
        + "; ".join(
            f"{r.db['claims']:,} claims, {r.db['codes']:,} distinct codes, {r.db['rows']:,} code"
            f" rows claimed, codes told = codes held: {'yes' if r.told_match else 'NO'}"
            for r in runs
        )
    )
    print(
        f"every claimer answered with a code or sold out, no code twice: {'yes' if ok else 'NO'};"
        f" all answered within 3 s of the first request: {'yes' if within else 'NO'}"
    )
    if limited:
        print("GENERATOR-LIMITED: wrk was busy >= 90 % or sent late in at least one drop")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
