"""Past one database server, on real private servers the tests start themselves.

- a 3-node Galera cluster (bench/chaos/cluster.py: network namespaces, private data folders):
  a client whose first host dies goes on claiming on the next one; a replica set as
  `CODEDROP_DATABASE_READ_URL` serves the analytics while claims never touch it;
- a private MariaDB with `foreign_key_checks=0` globally (what Vitess / PlanetScale give):
  the migrations and the claim keep the promise without foreign keys.

Everything started here is stopped, and the namespaces and folders deleted, even on failure.
In CI (CI=true) a missing Galera fails loudly instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pymysql
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection
from tortoise.exceptions import DBConnectionError, OperationalError
from tortoise.transactions import in_transaction

from api.errors import is_connection_problem, is_transient_database_error
from bench.chaos.cluster import GaleraCluster, galera_available
from domain import analytics, claims, codes
from domain.adapters.db import close_db, init_db, read_connection, run_migrations
from domain.models import Claim, PromoCode
from domain.settings import Settings
from domain.values import Claimant
from tests import factories, invariants

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.slow


def _settings(url: str, tmp: Path, **extra: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=url,
        database_pool_size=2,
        database_timeout=5.0,
        database_host_backoff=0.5,
        storage_dir=tmp / "objects",
        redis_url=None,
        **extra,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[GaleraCluster]:
    why_not = galera_available()
    if why_not:
        if IN_CI:
            pytest.fail(f"the cluster tests must run in CI: {why_not}", pytrace=False)
        pytest.skip(why_not)
    workdir = Path(tempfile.mkdtemp(prefix="codedrop-cluster-test-"))
    galera = GaleraCluster(workdir)
    try:
        galera.start()
        asyncio.run(run_migrations(_settings(galera.url(), workdir)))
        yield galera
    finally:
        galera.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def connected(
    cluster: GaleraCluster, request: pytest.FixtureRequest
) -> AsyncIterator[Settings]:
    settings: Settings = request.param(cluster)
    await init_db(settings)
    try:
        yield settings
    finally:
        await close_db()
        EXECUTOR_CACHE.clear()


async def _campaign(n: int) -> tuple[int, str]:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(n, prefix=f"C{c.id[:6]}"))
    return dev.id, c.id


async def _claim(campaign_id: str, who: str, *, within: float = 30.0) -> tuple[str, int]:
    """Claim, retrying what the API would answer 503; (the code, failed attempts)."""
    failures = 0
    deadline = time.monotonic() + within
    while True:
        try:
            got = await claims.claim(
                events_bus=factories.BUS,
                campaign_id=campaign_id,
                claimant=Claimant(namespace="api", external_id=who),
                channel="api",
            )
            return got.code, failures
        except (DBConnectionError, OperationalError) as exc:
            if not (is_connection_problem(exc) or is_transient_database_error(exc)):
                raise
            failures += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


def _both(cluster: GaleraCluster) -> Settings:
    return _settings(cluster.url(), Path(cluster.workdir))


@pytest.mark.parametrize("connected", [_both], indirect=True)
async def test_claims_continue_on_the_second_host_when_the_first_dies(
    cluster: GaleraCluster, connected: Settings
) -> None:
    _, cid = await _campaign(20)
    first, _ = await _claim(cid, "before")
    client = get_connection("default")
    assert client.host == cluster.nodes[0].host  # type: ignore[attr-defined]
    cluster.nodes[0].kill()
    try:
        taken = {first}
        for n in range(5):
            code, _failures = await _claim(cid, f"after-{n}")
            taken.add(code)
        assert client.host == cluster.nodes[1].host  # type: ignore[attr-defined]
        assert len(taken) == 6  # six claimants, six different codes
        pk = (await PromoCode.get(code=first)).campaign_id  # type: ignore[attr-defined]
        assert await Claim.filter(campaign_id=pk, slot__isnull=False).count() == 6
        assert (
            await invariants.violations(campaign_pk=pk, acknowledged=[], limit=1, uploaded=20) == []
        )
    finally:
        await asyncio.to_thread(cluster.nodes[0].start, recover=True)
        await asyncio.to_thread(cluster.wait_size, 3)


def _with_replica(cluster: GaleraCluster) -> Settings:
    return _settings(
        cluster.nodes[0].url, Path(cluster.workdir), database_read_url=cluster.nodes[2].url
    )


def _on_node(cluster: GaleraCluster, index: int, sql: str) -> None:
    """A statement on one node only (`wsrep_on=OFF`: not replicated to the others)."""
    conn = pymysql.connect(
        unix_socket=str(cluster.nodes[index].dir / "mariadb.sock"), user="root", database="codedrop"
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION wsrep_on=OFF")
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("connected", [_with_replica], indirect=True)
async def test_analytics_and_listings_read_the_replica_and_claims_never_do(
    cluster: GaleraCluster, connected: Settings
) -> None:
    owner, cid = await _campaign(10)
    await _claim(cid, "someone")
    assert read_connection() is not get_connection("default")
    pk = (await Claim.filter(slot__isnull=False).order_by("-id").first()).campaign_id  # type: ignore[union-attr]
    # the replica alone says the claim came through "replica-only"
    _on_node(cluster, 2, f"UPDATE claims SET channel='replica-only' WHERE campaign_id={pk}")
    try:
        seen = await analytics.campaign_analytics(owner_id=owner, campaign_id=cid)
        assert seen.by_channel == {"replica-only": 1}
        assert await Claim.filter(campaign_id=pk, channel="api").count() == 1  # the primary
    finally:
        _on_node(cluster, 2, f"UPDATE claims SET channel='api' WHERE campaign_id={pk}")
    cluster.nodes[2].kill()  # the replica dies: claims go on, analytics and listings fail
    try:
        code, _failures = await _claim(cid, "while-the-replica-is-down")
        assert code
        with pytest.raises((DBConnectionError, OperationalError)):
            await analytics.campaign_analytics(owner_id=owner, campaign_id=cid)
        with pytest.raises((DBConnectionError, OperationalError)):
            await codes.list_codes(owner_id=owner, campaign_id=cid, secret_key="k" * 32)
        assert await Claim.filter(campaign_id=pk, slot__isnull=False).count() == 2
    finally:
        await asyncio.to_thread(cluster.nodes[2].start, recover=True)
        await asyncio.to_thread(cluster.wait_size, 3)


def _third_first(cluster: GaleraCluster) -> Settings:
    return _settings(cluster.url(first=2), Path(cluster.workdir))


@pytest.mark.parametrize("connected", [_third_first], indirect=True)
async def test_a_node_without_the_quorum_refuses_and_the_client_moves_to_a_node_with_it(
    cluster: GaleraCluster, connected: Settings
) -> None:
    _, cid = await _campaign(10)
    client = get_connection("default")
    assert client.host == cluster.nodes[2].host  # type: ignore[attr-defined]
    cluster.net.cut(3)
    try:
        await asyncio.to_thread(cluster.wait_size, 2)
        assert cluster.nodes[2].status().get("wsrep_ready") == "OFF"
        # the node itself refuses every claim as "not available" (the API's 503), never 500
        with pytest.raises(DBConnectionError, match="not ready"):
            await claims.claim(
                events_bus=factories.BUS,
                campaign_id=cid,
                claimant=Claimant(namespace="api", external_id="x"),
                channel="api",
            )
        # and the client, which names the other nodes too, goes on there
        code, _failures = await _claim(cid, "on-a-node-with-quorum")
        assert code
        assert client.host in {cluster.nodes[0].host, cluster.nodes[1].host}  # type: ignore[attr-defined]
    finally:
        cluster.net.heal(3)
        await asyncio.to_thread(cluster.wait_size, 3)


def _first_only(cluster: GaleraCluster) -> Settings:
    return _settings(cluster.nodes[0].url, Path(cluster.workdir))


@pytest.mark.parametrize("connected", [_first_only], indirect=True)
async def test_a_certification_conflict_at_commit_is_the_deadlock_error_the_claim_retries(
    cluster: GaleraCluster, connected: Settings
) -> None:
    conn = get_connection("default")
    await conn.execute_script(
        "CREATE TABLE IF NOT EXISTS galera_probe (id INT PRIMARY KEY, n INT) ENGINE=InnoDB;"
        "REPLACE INTO galera_probe VALUES (1, 0)"
    )
    other = pymysql.connect(host=cluster.nodes[1].host, user="root", database="codedrop")
    try:
        with pytest.raises(OperationalError) as conflict:
            async with in_transaction() as tx:
                await tx.execute_query("UPDATE galera_probe SET n = n + 1 WHERE id = 1")
                # the same row, committed first on another node: ours loses at certification
                with other.cursor() as cur:
                    cur.execute("UPDATE galera_probe SET n = n + 10 WHERE id = 1")
                other.commit()
                await asyncio.sleep(0.5)  # let the other node's write set arrive
        assert conflict.value.args[0] == 1213
        assert claims.is_retryable(conflict.value)
        _, rows = await conn.execute_query("SELECT n FROM galera_probe WHERE id = 1")
        assert rows[0]["n"] == 10  # ours rolled back whole
    finally:
        other.close()
        await conn.execute_script("DROP TABLE IF EXISTS galera_probe")
