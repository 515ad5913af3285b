"""Identifiers are stored and compared byte for byte on MariaDB as on SQLite.

MariaDB's `utf8mb4_general_ci` folds case, accents and trailing spaces, and even
`utf8mb4_bin` pads trailing spaces; every identifying column is `utf8mb4_nopad_bin`
(domain/fields.py), in fresh schemas and, through migration 0011, in existing databases.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pymysql
import pytest
from tortoise.connection import get_connection
from tortoise.utils import get_schema_sql

from domain import claims, models
from domain.adapters.bootstrap import Services
from domain.fields import EXACT_COLLATION, ExactCharField
from domain.settings import Settings
from domain.values import Claimant
from tests import factories
from tests.conftest import (
    MARIADB_HOST,
    MARIADB_PASSWORD,
    MARIADB_PORT,
    MARIADB_USER,
    ROOT,
    mariadb_admin,
    mariadb_url,
)

# built without Claimant.of, which trims: below the fronts a stored identifier is exact
LOOKALIKES = ["7:alice", "7:Alice", "7:alice ", "7:Renée", "7:Renee", "7:ß", "7:ss"]


def _exact_columns() -> set[tuple[str, str]]:
    found = set()
    for model in (getattr(models, name) for name in dir(models)):
        if (
            isinstance(model, type)
            and issubclass(model, models.Model)
            and model is not models.Model
        ):
            for name, field in model._meta.fields_map.items():
                if isinstance(field, ExactCharField):
                    found.add((model._meta.db_table, field.source_field or name))
    return found


async def test_claimants_differing_in_case_accents_or_trailing_spaces_each_get_their_own_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(len(LOOKALIKES)))
    people = [Claimant(namespace="api", external_id=x) for x in LOOKALIKES]
    first = [
        await claims.claim(events_bus=factories.BUS, campaign_id=c.id, claimant=p, channel="api")
        for p in people
    ]
    assert not any(r.repeated for r in first)
    assert len({r.code for r in first}) == len(people)
    again = [
        await claims.claim(events_bus=factories.BUS, campaign_id=c.id, claimant=p, channel="api")
        for p in people
    ]
    assert [r.code for r in again] == [r.code for r in first] and all(r.repeated for r in again)
    for person, result in zip(people, first, strict=True):
        mine = await claims.my_codes(claimant_key=person.key)
        assert [m.code for m in mine] == [result.code]


async def test_every_identifying_column_is_binary_no_pad_in_the_migrated_schema(
    settings: Settings,
) -> None:
    if not settings.is_mysql:
        pytest.skip("SQLite compares text byte for byte; there is no collation to check")
    _, rows = await get_connection("default").execute_query(
        "SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLLATION_NAME AS coll"
        " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
    )
    collations = {(r["t"], r["c"]): r["coll"] for r in rows}
    expected = _exact_columns()
    assert {
        "claims",
        "idempotency_records",
        "campaigns",
        "uploads",
        "webhooks",
        "webhook_events",
        "campaign_invites",
        "audit_log",
    } <= {t for t, _ in expected}
    assert {col: collations[col] for col in expected} == dict.fromkeys(expected, EXACT_COLLATION)


async def test_a_fresh_schema_declares_the_same_collation(settings: Settings) -> None:
    if not settings.is_mysql:
        pytest.skip("SQLite compares text byte for byte; there is no collation to check")
    sql = get_schema_sql(get_connection("default"), safe=False)
    exact = [line for line in sql.splitlines() if EXACT_COLLATION in line]
    assert len(exact) == len(_exact_columns())
    assert "`claimant` VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin" in sql


MIGRATE = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise.migrations.api.migrate import migrate
    from domain.adapters.db import tortoise_config
    from domain.settings import Settings

    settings = Settings(_env_file=None, environment="test", database_url=sys.argv[1])
    target = sys.argv[2] if len(sys.argv) > 2 else None
    asyncio.run(migrate(config=tortoise_config(settings), target=target))
    """
)


def _migrate(url: str, target: str | None = None) -> None:
    args = [sys.executable, "-c", MIGRATE, url] + ([target] if target else [])
    subprocess.run(args, cwd=ROOT, check=True, timeout=300, capture_output=True)


def test_migration_0011_converts_an_existing_mariadb_database(mariadb_database: str) -> None:
    name = mariadb_database + "_m6"
    mariadb_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn = pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password=MARIADB_PASSWORD,
        database=name,
        autocommit=True,
    )
    try:
        _migrate(mariadb_url(name), "models.0010_webhooks")
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO developers (name, email, is_active, created_at)"
                " VALUES ('d', 'd@example.com', 1, NOW())"
            )
            cur.execute(
                "INSERT INTO campaigns (public_id, owner_id, name, description, platform, status,"
                " per_claimant_limit, eligibility, low_stock_threshold, low_stock_alerted,"
                " waitlist_enabled, identity, created_at, updated_at) VALUES ('Cmp',"
                " LAST_INSERT_ID(), 'c', '', 'universal', 'active', 1, '{}', 0, 0, 1, 'anonymous',"
                " NOW(), NOW())"
            )
            claim = (
                "INSERT INTO claims (campaign_id, claimant, slot, code_id, code, channel,"
                " platform, created_at) VALUES ((SELECT id FROM campaigns), %s, 1, %s, %s,"
                " 'api', '', NOW())"
            )
            cur.execute(claim, ("api:1:Alice", 1, "CODE0001"))
            with pytest.raises(pymysql.err.IntegrityError):  # the old collation folds
                cur.execute(claim, ("api:1:alice", 2, "CODE0002"))
        _migrate(mariadb_url(name))
        with conn.cursor() as cur:
            cur.execute(claim, ("api:1:alice", 2, "CODE0002"))
            cur.execute(claim, ("api:1:alice ", 3, "CODE0003"))
            cur.execute("SELECT claimant FROM claims ORDER BY id")
            assert [r[0] for r in cur.fetchall()] == ["api:1:Alice", "api:1:alice", "api:1:alice "]
            cur.execute("SELECT COUNT(*) FROM claims WHERE claimant = 'api:1:ALICE'")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
        mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`")
