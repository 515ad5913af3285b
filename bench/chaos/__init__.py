"""The load-and-fault harness: proves the promise where real systems break.

    python -m bench.chaos [--scale ci|default|big] [--scenario NAME ...] [--workers 3]

It starts its OWN mariadbd and redis-server on free ports with their own data folders, runs
`codedrop migrate` and `codedrop api --workers N` (uvicorn worker processes of the real
service), then for each scenario creates a campaign, drives concurrent claimers over HTTP
(distinct and repeating claimants, mixed platforms, anonymous and API-key backends, half with
an Idempotency-Key), records every acknowledged answer, injects the scenario's fault, and runs
the promise checker (tests/invariants.py) on the final database state and the history. It
prints one table row per scenario and exits 1 when any scenario has a violation.
"""
