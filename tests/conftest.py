"""Shared fixtures: every storage test runs on SQLite and on MariaDB; Redis on real Redis.

The session creates its own MariaDB database (dropped at the end) and its own SQLite file,
both built by the real migrations. Outside CI a missing MariaDB or Redis skips those tests
with the reason; with CI=true it fails the run.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection

from domain.adapters.bootstrap import Services, bootstrap
from domain.adapters.db import init_db, run_migrations
from domain.settings import Settings

# a developer's own .env must not leak into the tests or the processes they start
os.environ["CODEDROP_ENV_FILE"] = ""

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MARIADB_HOST = os.environ.get("CODEDROP_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("CODEDROP_TEST_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("CODEDROP_TEST_MARIADB_USER", "root")
MARIADB_PASSWORD = os.environ.get("CODEDROP_TEST_MARIADB_PASSWORD", "")
REDIS_URL = os.environ.get("CODEDROP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TABLES = (
    "webhook_deliveries",
    "webhook_events",
    "webhooks",
    "chat_posts",
    "claims",
    "promo_codes",
    "uploads",
    "waitlist",
    "archived_codes",
    "reports",
    "idempotency_records",
    "job_leases",
    "job_runs",
    "campaign_invites",
    "campaign_members",
    "audit_log",
    "campaigns",
    "link_tokens",
    "web_sessions",
    "identities",
    "api_keys",
    "developers",
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _try_start_services() -> None:
    script = ROOT.parent / "shared" / "services.sh"
    if script.exists():
        subprocess.run(["bash", str(script)], check=False, timeout=90)


def require_service(name: str, host: str, port: int) -> None:
    """Skip (outside CI) or fail (in CI) when a service does not answer."""
    if _reachable(host, port):
        return
    _try_start_services()
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(f"{message} (start it with ../shared/services.sh)")


def mariadb_url(database: str) -> str:
    auth = MARIADB_USER + (f":{MARIADB_PASSWORD}" if MARIADB_PASSWORD else ":")
    return f"mysql://{auth}@{MARIADB_HOST}:{MARIADB_PORT}/{database}"


def mariadb_admin(sql: str) -> None:
    """Run one administrative statement (CREATE/DROP DATABASE) on the test server."""
    import pymysql

    conn = pymysql.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER, password=MARIADB_PASSWORD
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def tmp_session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codedrop")


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """A fresh MariaDB database for this test session, dropped afterwards."""
    require_service("MariaDB", MARIADB_HOST, MARIADB_PORT)
    name = f"codedrop_test_{os.getpid()}_{secrets.token_hex(3)}"
    mariadb_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`")


def make_settings(database_url: str, tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "database_pool_size": 10,
        "storage_dir": tmp / "objects",
        "redis_url": None,
        "registration": "open",  # the bots' /register flows; tests of "closed" set it
        # webhook receivers in tests listen on 127.0.0.1
        "webhook_allow_private": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session", params=["sqlite", "mariadb"])
async def settings(
    request: pytest.FixtureRequest, tmp_session_dir: Path
) -> AsyncIterator[Settings]:
    """Settings for one backend, with the schema migrated and Tortoise connected."""
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_database")
        url = mariadb_url(database)
    else:
        url = f"sqlite://{tmp_session_dir / 'test.sqlite3'}"
    s = make_settings(url, tmp_session_dir)
    await run_migrations(s)
    await init_db(s)
    try:
        yield s
    finally:
        await Tortoise.close_connections()
        # tortoise caches insert SQL per table name, not per dialect: clear it before the
        # next backend of this session
        EXECUTOR_CACHE.clear()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Settings]:
    """An empty database (every table emptied before the test)."""
    conn = get_connection("default")
    if settings.is_mysql:
        await conn.execute_script(
            "SET FOREIGN_KEY_CHECKS=0;"
            + "".join(f"DELETE FROM `{t}`;" for t in TABLES)
            + "SET FOREIGN_KEY_CHECKS=1;"
        )
    else:
        for table in TABLES:
            await conn.execute_script(f'DELETE FROM "{table}"')
    yield settings


@pytest.fixture
async def services(db: Settings) -> AsyncIterator[Services]:
    """Embedded adapters (in-process events and limits, local folder) over the test database."""
    svc = bootstrap(db)
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
async def app(services: Services) -> AsyncIterator[object]:
    """The real FastAPI app over the test database (the fixture owns the connections)."""
    from api.app import create_app

    yield create_app(services.settings, services, manage_database=False)


@pytest.fixture
async def client(app: object) -> AsyncIterator[object]:
    """An HTTP client talking to the app in-process (httpx ASGITransport)."""
    import httpx

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
