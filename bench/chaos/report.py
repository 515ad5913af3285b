"""The results table, in Markdown so it pastes into the README as it is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.chaos import driver
from bench.chaos.scenarios import BY_NAME, Result

LATENCY_NOTE = (
    "Latencies (p50, p99) are per attempt, measured by the load generator from sending a"
    " request to reading its whole answer: they include the service's queueing, TCP connection"
    " set-up when a connection is new, and any time the generator's own processes waited for"
    " CPU (2 cores shared with the service); a retry is a separate attempt and the backoff"
    " before it is in no latency. `generator` is the CPU the generator itself used during the"
    " scenario, in cores (1.00 = one whole core); GENERATOR-LIMITED marks a run whose"
    " generator processes were busy 90 % of the time or more, where the figures are its own."
)


def _kinds(counts: dict[str, int]) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _generator(scenario: str) -> str:
    usage = driver.USAGE.get(scenario)
    if usage is None:
        return "-"
    return f"{usage.cores:.2f}" + (" GENERATOR-LIMITED" if usage.limited else "")


def table(
    results: Sequence[Result],
    *,
    scale: str,
    workers: int,
    where: str = "private MariaDB + Redis",
    titles: Mapping[str, str] | None = None,
    column: str = "scenario",
) -> str:
    """One row per scenario, then the notes of each fault."""
    titles = titles or {name: s.title for name, s in BY_NAME.items()}
    lines = [
        f"scale `{scale}`, {workers} API workers, {where}",
        "",
        f"| {column} | claimers | requests | acknowledged (codes) | refused | errors by kind"
        " | p50 ms | p99 ms | seconds | generator | violations |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.claimers:,} | {r.requests:,} | {r.acknowledged:,} ({r.codes:,})"
            f" | {_kinds(r.refused)} | {_kinds(r.errors)} | {r.p50_ms:.0f} | {r.p99_ms:.0f}"
            f" | {r.seconds:.1f} | {_generator(r.scenario)} | **{len(r.violations)}** |"
        )
    lines += ["", LATENCY_NOTE, ""]
    for r in results:
        title = titles[r.scenario]
        extra = "; ".join(r.notes)
        usage = driver.USAGE.get(r.scenario)
        if usage is not None:
            extra = "; ".join(filter(None, [extra, usage.note()]))
        lines.append(f"- **{r.scenario}**: {title}" + (f" — {extra}" if extra else ""))
        for v in r.violations[:10]:
            lines.append(f"  - VIOLATION: {v}")
    return "\n".join(lines)
