"""The load-and-fault harness: proves the promise where real systems break.

    python -m bench.chaos [--scale ci|default|big] [--scenario NAME ...] [--workers 3]
    python -m bench.chaos --cluster galera [--scale ci] [--scenario galera-partition ...]

It starts its OWN mariadbd and redis-server on free ports with their own data folders, runs
`codedrop migrate` and `codedrop api --workers N` (uvicorn worker processes of the real
service), then for each scenario creates a campaign, drives concurrent claimers over HTTP
(distinct and repeating claimants, mixed platforms, anonymous and API-key backends, half with
an Idempotency-Key), records every acknowledged answer, injects the scenario's fault, and runs
the promise checker (tests/invariants.py) on the final database state and the history. It
prints one table row per scenario and exits 1 when any scenario has a violation.

With `--cluster galera` the same checker runs on a private 3-node MariaDB Galera cluster in
network namespaces of its own (bench/chaos/cluster.py, netns.py, cluster_run.py): a node
SIGKILLed and rejoined, a node cut off by a partition, a rolling restart.
"""
