"""An API worker opens its database pool before it serves: a drop that meets a fresh worker
does not queue behind the pool's creation (domain/adapters/mysql_client.py, `fill_pool`)."""

from __future__ import annotations

import time
from pathlib import Path

import pymysql
import pytest

from tests.degraded.stack import private_stack

pytestmark = pytest.mark.slow


def _connections_to(port: int, database: str) -> int:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE db = %s", (database,)
            )
            (count,) = cur.fetchone()  # type: ignore[misc]
        return int(count)
    finally:
        conn.close()


def test_every_worker_has_all_its_pooled_connections_open_before_any_request(
    tmp_path: Path,
) -> None:
    with private_stack(tmp_path, workers=2, database_pool_size="3") as stack:
        # nothing but /healthz (which reads no table) has been asked of the service
        expected = 2 * 3
        deadline = time.monotonic() + 15
        while (found := _connections_to(stack.mariadb.port, "codedrop")) < expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found == expected
