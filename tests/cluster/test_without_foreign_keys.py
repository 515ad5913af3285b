"""The schema and the claim without foreign keys, as Vitess / PlanetScale would host them.

A private MariaDB runs with `foreign_key_checks=0` for every session (`SET GLOBAL`): the
migrations apply, and concurrent claims keep the promise, because correctness rests on the
conditional UPDATE and the unique `(campaign, claimant, slot)` key, never on a foreign key.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pymysql
import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection

from bench.chaos.servers import MariaDB
from domain import claims
from domain.adapters.db import init_db, run_migrations
from domain.models import Campaign
from domain.settings import Settings
from domain.values import Claimant
from tests import factories, invariants

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.slow


@pytest.fixture
async def without_fk() -> AsyncIterator[Settings]:
    if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()):
        if IN_CI:
            pytest.fail("mariadbd is missing", pytrace=False)
        pytest.skip("mariadbd is missing")
    workdir = Path(tempfile.mkdtemp(prefix="codedrop-nofk-"))
    server = MariaDB(workdir)
    try:
        await asyncio.to_thread(server.install)
        conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", password="")
        try:
            with conn.cursor() as cur:
                cur.execute("SET GLOBAL foreign_key_checks=0")
        finally:
            conn.close()
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            environment="test",
            database_url=server.url,
            database_pool_size=4,
            storage_dir=workdir / "objects",
            redis_url=None,
        )
        await run_migrations(settings)
        await init_db(settings)
        try:
            yield settings
        finally:
            await Tortoise.close_connections()
            EXECUTOR_CACHE.clear()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_migrations_and_concurrent_claims_keep_the_promise_with_foreign_keys_off(
    without_fk: Settings,
) -> None:
    _, rows = await get_connection("default").execute_query("SELECT @@foreign_key_checks AS f")
    assert int(rows[0]["f"]) == 0
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(30))

    async def one(who: str) -> tuple[str, str]:
        got = await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant(namespace="api", external_id=who),
            channel="api",
        )
        return f"api:{who}", got.code

    # 40 claims by 25 people (some ask twice at once) for 30 codes
    people = [f"p{n % 25}" for n in range(40)]
    answers = await asyncio.gather(*(one(p) for p in people))
    by_person: dict[str, set[str]] = {}
    for who, code in answers:
        by_person.setdefault(who, set()).add(code)
    assert all(len(got) == 1 for got in by_person.values())  # a repeat gets the same code
    assert len({code for _, code in answers}) == 25  # nobody shares a code
    pk = (await Campaign.get(public_id=c.id)).id
    assert (
        await invariants.violations(campaign_pk=pk, acknowledged=answers, limit=1, uploaded=30)
        == []
    )
