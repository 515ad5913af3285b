"""A part without the API (here the scheduler) serves /metrics and /healthz on its own port;
`codedrop health` (the compose health check) reads it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from domain.adapters.bootstrap import Services
from tests.ops.processes import ROOT, environment, free_port, start, wait_http
from tests.ops.test_metrics import sample


def health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "health"], cwd=ROOT, env=env, capture_output=True, text=True
    )


async def test_the_scheduler_reports_its_jobs_and_health_on_its_own_port(
    services: Services, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "scheduler.log"
    env = environment(services.settings, metrics_port=str(port), lifecycle_interval_seconds="5")
    proc = await start(env, "scheduler", log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_http(base + "/healthz", proc, log)
        checked = await asyncio.to_thread(health, env)
        assert checked.returncode == 0, checked.stderr
        assert '"scheduler": "ok"' in checked.stdout
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=base) as http:
            while True:  # the lifecycle job fires every 5 s
                text = (await http.get("/metrics")).text
                if sample(text, "codedrop_job_runs_total", job="lifecycle", status="ran") >= 1:
                    break
                assert time.monotonic() < deadline, text
                await asyncio.sleep(0.5)
        assert sample(text, "codedrop_job_seconds_count", job="lifecycle") >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 15)
    assert status == 0, log.read_text()
    stopped = await asyncio.to_thread(health, env)
    assert stopped.returncode == 1 and "no answer" in stopped.stderr
