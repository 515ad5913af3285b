"""One scrape covers every API worker, and every claim is counted whichever road served it."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from domain.adapters.bootstrap import Services
from tests import factories
from tests.ops.processes import ROOT, environment, free_port, start, wait_http

CLAIMS = 300


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_scrape_of_two_workers_counts_every_claim_once(
    services: Services, tmp_path: Path
) -> None:
    dev, _ = await factories.developer("Ops")
    c = await factories.campaign(dev.id, name="Metrics")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(CLAIMS + 10, prefix="METR"))
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = environment(services.settings, log_level="WARNING")
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    # samples an earlier run left in the folder must not be summed in
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from api.metrics import CLAIMS; CLAIMS.labels('web', 'claimed').inc(1000)",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert list(folder.glob("counter_*.db"))
    port, log = free_port(), tmp_path / "api.log"
    proc = await start(env, "api", "--port", str(port), "--workers", "2", log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_http(base + "/healthz", proc, log)
        limits = httpx.Limits(max_keepalive_connections=0)  # connections spread over workers
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            gate = asyncio.Semaphore(16)

            async def claim(i: int) -> int:
                async with gate:
                    r = await http.post(
                        f"{base}/api/distribute/{c.id}", json={"user_identifier": f"m{i}"}
                    )
                    return r.status_code

            statuses = await asyncio.gather(*(claim(i) for i in range(CLAIMS)))
            assert statuses == [201] * CLAIMS
            again = await http.post(f"{base}/api/distribute/{c.id}", json={"user_identifier": "m0"})
            assert again.status_code == 200
            scrapes = [(await http.get(f"{base}/metrics")).text for _ in range(6)]
    finally:
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 20)
    assert status == 0, log.read_text()
    # both workers wrote samples, and whichever answered the scrape saw all of them
    pids = {p.stem.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}
    assert len(pids) >= 2, pids
    for text in scrapes:
        assert sample(text, "codedrop_claims_total", channel="web", outcome="claimed") == CLAIMS
        assert sample(text, "codedrop_claims_total", channel="web", outcome="repeated") == 1
        claimed = sample(
            text,
            "codedrop_http_requests_total",
            method="POST",
            route="/api/distribute/{campaign_id}",
            status="201",
        )
        assert claimed == CLAIMS, [ln for ln in text.splitlines() if "http_requests" in ln]
