"""domain/adapters/mysql_client.py on the shared MariaDB: a failed BEGIN gives its connection back, and
closing a pool that still has a connection marked in use returns at once.

Each test builds its own small client on the test database (the global one is left alone)
and only ever kills its own connection. MariaDB only: the client is the MySQL driver's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pymysql
import pytest
from tortoise.exceptions import OperationalError

from domain.adapters.db import connection_config
from domain.adapters.mysql_client import BoundedMySQLClient
from domain.settings import Settings
from tests.conftest import mariadb_admin

# MariaDB only (the MySQL driver's client): run on that backend, never as a skipped SQLite twin
pytestmark = [pytest.mark.mariadb, pytest.mark.parametrize("settings", ["mariadb"], indirect=True)]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[BoundedMySQLClient]:
    config = connection_config(settings)
    assert isinstance(config, dict) and config["engine"] == "domain.adapters.mysql_client"
    credentials: dict[str, Any] = {**config["credentials"], "minsize": 1, "maxsize": 1}
    credentials["round_trip_timeout"] = 2.0
    c = BoundedMySQLClient(connection_name="probe", **credentials)
    await c.create_connection(with_db=True)
    try:
        yield c
    finally:
        async with asyncio.timeout(10):
            await c.close()


async def _connection_id(c: BoundedMySQLClient) -> int:
    _, rows = await c.execute_query("SELECT CONNECTION_ID() AS id")
    return int(rows[0]["id"])


async def test_a_transaction_whose_begin_fails_gives_its_connection_back(
    client: BoundedMySQLClient,
) -> None:
    pool: Any = client._pool
    for _ in range(3):  # more failures than the pool has connections
        # killed from a blocking connection: this loop has not seen the close yet, so the
        # pool hands the dead connection out and BEGIN fails on it (as after a restart)
        mariadb_admin(f"KILL CONNECTION {await _connection_id(client)}")
        with pytest.raises(OperationalError):
            async with client._in_transaction():
                pass
        assert pool.size == pool.freesize  # nothing left marked "in use"
    # the one-connection pool still serves, at once
    start = time.monotonic()
    async with client._in_transaction() as tx:
        _, rows = await tx.execute_query("SELECT 1 AS one")
    assert rows == [{"one": 1}] and time.monotonic() - start < 1


async def test_a_pool_waiter_gets_the_slot_a_broken_connection_frees(
    client: BoundedMySQLClient,
) -> None:
    mariadb_admin(f"KILL CONNECTION {await _connection_id(client)}")
    holder = client.acquire_connection()
    conn = await holder.__aenter__()
    waiter = asyncio.ensure_future(client.execute_query("SELECT 2 AS two"))
    for _ in range(5):  # a few loop turns: it queues for the pool's only connection
        await asyncio.sleep(0)
    assert not waiter.done()
    with pytest.raises(pymysql.err.OperationalError):
        async with conn.cursor() as cur:  # the dead connection fails and is closed
            await cur.execute("SELECT 1")
    start = time.monotonic()
    await holder.__aexit__(None, None, None)
    # woken at once, not after the round-trip timeout
    assert (await waiter)[1] == [{"two": 2}] and time.monotonic() - start < 1


async def test_closing_with_a_connection_still_marked_in_use_returns_at_once(
    client: BoundedMySQLClient,
) -> None:
    pool: Any = client._pool
    await pool.acquire()  # never released, as tortoise leaked them when BEGIN failed
    start = time.monotonic()
    await client.close()
    assert time.monotonic() - start < 1 and pool.closed


async def test_fill_pool_opens_every_connection_of_a_pool_not_yet_created(
    settings: Settings,
) -> None:
    config = connection_config(settings)
    assert isinstance(config, dict)
    credentials: dict[str, Any] = {**config["credentials"], "minsize": 1, "maxsize": 3}
    c = BoundedMySQLClient(connection_name="fill", **credentials)
    try:
        assert c._pool is None  # tortoise would open it at the first query
        assert await c.fill_pool() == 3
        pool: Any = c._pool
        assert pool.size == pool.freesize == 3  # open, and none left marked in use
        _, rows = await c.execute_query("SELECT 1 AS one")
        assert rows == [{"one": 1}] and pool.size == 3
    finally:
        async with asyncio.timeout(10):
            await c.close()
