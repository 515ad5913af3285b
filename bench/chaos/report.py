"""The results table, in Markdown so it pastes into the README as it is."""

from __future__ import annotations

from collections.abc import Sequence

from bench.chaos.scenarios import BY_NAME, Result


def _kinds(counts: dict[str, int]) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def table(results: Sequence[Result], *, scale: str, workers: int) -> str:
    """One row per scenario, then the notes of each fault."""
    lines = [
        f"scale `{scale}`, {workers} API workers, private MariaDB + Redis",
        "",
        "| scenario | claimers | requests | acknowledged (codes) | refused | errors by kind"
        " | p50 ms | p99 ms | seconds | violations |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.claimers:,} | {r.requests:,} | {r.acknowledged:,} ({r.codes:,})"
            f" | {_kinds(r.refused)} | {_kinds(r.errors)} | {r.p50_ms:.0f} | {r.p99_ms:.0f}"
            f" | {r.seconds:.1f} | **{len(r.violations)}** |"
        )
    lines.append("")
    for r in results:
        title = BY_NAME[r.scenario].title
        extra = "; ".join(r.notes)
        lines.append(f"- **{r.scenario}**: {title}" + (f" — {extra}" if extra else ""))
        for v in r.violations[:10]:
            lines.append(f"  - VIOLATION: {v}")
    return "\n".join(lines)
