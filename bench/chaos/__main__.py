"""`python -m bench.chaos`: the load-and-fault harness (see bench/chaos/__init__.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench.chaos import cluster_run, scenarios
from bench.chaos.cluster import galera_available
from bench.chaos.harness import run_suite
from bench.chaos.report import table


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, print the table; exit 1 when any scenario broke the promise."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument(
        "--scale",
        choices=sorted(scenarios.SCALES),
        default="default",
        help="sizes: ci (about a minute), default (a few minutes), big (benchmark)",
    )
    parser.add_argument(
        "--cluster",
        choices=["galera"],
        help="run the cluster scenarios on a private 3-node Galera cluster instead",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.name for s in scenarios.SCENARIOS]
        + [s.name for s in cluster_run.CLUSTER_SCENARIOS],
        help="run only these (repeatable); all by default",
    )
    parser.add_argument("--workers", type=int, default=3, help="uvicorn worker processes")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    if args.cluster:
        wrong = set(args.scenario or ()) - set(cluster_run.BY_NAME)
        if wrong:
            parser.error(f"not a cluster scenario: {', '.join(sorted(wrong))}")
        return _cluster(args)
    if set(args.scenario or ()) & set(cluster_run.BY_NAME):
        parser.error("the galera-* scenarios run with --cluster galera")
    results = asyncio.run(
        run_suite(
            scale=args.scale,
            names=args.scenario,
            workers=args.workers,
            keep=args.keep,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    )
    print(table(results, scale=args.scale, workers=args.workers))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return 1 if any(r.violations for r in results) else 0


def _cluster(args: argparse.Namespace) -> int:
    why_not = galera_available()
    if why_not:
        print(f"cannot run the cluster scenarios: {why_not}", file=sys.stderr)
        return 2
    results = asyncio.run(
        cluster_run.run_cluster_suite(
            scale=args.scale,
            names=args.scenario,
            workers=args.workers,
            keep=args.keep,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    )
    titles = {s.name: s.title for s in cluster_run.CLUSTER_SCENARIOS}
    where = "private 3-node MariaDB Galera cluster + Redis"
    print(
        table(
            results,
            scale=args.scale,
            workers=args.workers,
            where=where,
            titles=titles,
            column="cluster scenario",
        )
    )
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
