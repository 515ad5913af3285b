"""Database wiring: the tortoise config built from settings, start-up, migrations, shutdown."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import connections, get_connection
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate as tortoise_migrate

from domain.settings import Settings, get_settings

log = logging.getLogger(__name__)

APP_LABEL = "models"
MODELS_MODULE = "domain.models"
MIGRATIONS_MODULE = "domain.migrations"


READ_CONNECTION = "replica"
# the replica's client, opened by init_db when a read URL is set (outside tortoise's registry)
_replica: BaseDBAsyncClient | None = None


def split_hosts(url: str) -> tuple[str, list[tuple[str, int]]]:
    """`mysql://u:p@h1:3306,h2:3307/db` → the URL naming only h1, and every (host, port)."""
    parts = urlsplit(url)
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    hosts: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if not host:
            raise ValueError(f"a database host is empty in {hostlist!r}")
        hosts.append((host, int(port or 3306)))
    first = f"{hosts[0][0]}:{hosts[0][1]}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{first}")), hosts


def database_url(settings: Settings, url: str | None = None) -> str:
    """The tortoise URL, with pool size and charset added for MySQL/MariaDB."""
    url = url or settings.database_url
    if not url.startswith("mysql://"):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", "1")
    query.setdefault("maxsize", str(settings.database_pool_size))
    query.setdefault("charset", "utf8mb4")
    query.setdefault("connect_timeout", "5")
    # READ COMMITTED spares the claim's UPDATE the gap locks of REPEATABLE READ (fewer lock
    # waits under contention). Correctness does not depend on it: the conditional UPDATE and
    # the unique constraints decide.
    query.setdefault("init_command", "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return urlunsplit(parts._replace(query=urlencode(query)))


def connection_config(settings: Settings, url: str | None = None) -> str | dict[str, Any]:
    """One connection (the primary unless `url` says otherwise): a URL, or for MySQL our
    bounded client with its hosts in order (domain/adapters/mysql_client.py)."""
    full = database_url(settings, url)
    if not full.startswith("mysql://"):
        return full
    first, hosts = split_hosts(full)
    config = expand_db_url(first)
    # the module name must contain "mysql": tortoise picks the migration dialect by it
    config["engine"] = "domain.adapters.mysql_client"
    config["credentials"]["round_trip_timeout"] = settings.database_timeout
    config["credentials"]["hosts"] = hosts
    config["credentials"]["host_backoff"] = settings.database_host_backoff
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """The tortoise config dict for these settings (one connection: the replica is kept
    outside it, so `in_transaction()` without a name still means the primary)."""
    return {
        "connections": {"default": connection_config(settings)},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def __getattr__(name: str) -> Any:
    # `tortoise makemigrations` reads `domain.adapters.db.TORTOISE_ORM` (pyproject [tool.tortoise]);
    # built lazily so importing this module never reads the environment.
    if name == "TORTOISE_ORM":
        return tortoise_config(get_settings())
    raise AttributeError(name)


def mysql_driver() -> str:
    """Which MySQL driver tortoise picked (it prefers asyncmy when importable)."""
    try:
        import asyncmy  # noqa: F401
    except ImportError:
        return "aiomysql"
    return "asyncmy"


def describe_database(settings: Settings) -> str:
    """A log-safe description of the database (no password)."""
    if not settings.is_mysql:
        return f"SQLite ({settings.database_url.removeprefix('sqlite://')})"
    _, hosts = split_hosts(settings.database_url)
    where = ",".join(f"{h}:{p}" for h, p in hosts)
    text = f"MySQL/MariaDB at {where}{urlsplit(settings.database_url).path} via {mysql_driver()}"
    if settings.database_read_url:
        _, replicas = split_hosts(settings.database_read_url)
        text += "; reads from " + ",".join(f"{h}:{p}" for h, p in replicas)
    return text


def check_sqlite_folder(settings: Settings) -> None:
    """Refuse a SQLite file in a folder that does not exist, with the folder's name.

    aiosqlite cannot open such a file, and the failure never reaches tortoise's caller: the
    process would wait forever instead of saying why.
    """
    if settings.is_mysql:
        return
    path = settings.database_url.removeprefix("sqlite://").split("?", 1)[0]
    if path in ("", ":memory:") or path.startswith(":"):
        return
    folder = Path(path).parent
    if not folder.is_dir():
        raise DBConnectionError(
            f"the folder of the SQLite file, {folder.resolve()}, does not exist (create it first)"
        )


async def init_db(settings: Settings, *, migrate: bool = False) -> None:
    """Open the connections (and apply pending migrations when asked)."""
    check_sqlite_folder(settings)
    if migrate:
        await run_migrations(settings)
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    global _replica
    if settings.database_read_url:
        config = connection_config(settings, settings.database_read_url)
        if isinstance(config, str):
            config = expand_db_url(config)
        engine = importlib.import_module(config["engine"])
        _replica = engine.client_class(connection_name=READ_CONNECTION, **config["credentials"])
    log.info("database: %s", describe_database(settings))


async def open_pool(settings: Settings) -> None:
    """Open every pooled MariaDB connection now, before the first request needs one.

    Best effort: a database that does not answer within `database_timeout` is logged, and
    the pool opens at the first query as before (domain/adapters/mysql_client.py says why
    a server wants it open first).
    """
    if not settings.is_mysql:
        return
    from domain.adapters.mysql_client import BoundedMySQLClient

    conn = get_connection("default")
    if not isinstance(conn, BoundedMySQLClient):
        return
    try:
        opened = await conn.fill_pool()
    except Exception as exc:  # any failure leaves the opening at first use in place
        log.warning("database pool not opened at start (%s); it opens at first use", exc)
    else:
        log.info("database pool open: %d connections", opened)


async def run_migrations(settings: Settings) -> None:
    """Apply every pending migration (tortoise's built-in migrations)."""
    check_sqlite_folder(settings)
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)
            log.info("migration applied: %s.%s", app_label, name)

    try:
        await tortoise_migrate(config=tortoise_config(settings), progress=progress)
    finally:
        await Tortoise.close_connections()
    if not applied:
        log.info("database schema is up to date")


async def close_db() -> None:
    """Close every connection (SQLite threads otherwise keep the process alive)."""
    global _replica
    replica, _replica = _replica, None
    try:
        if replica is not None:
            await replica.close()
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    """One round trip to the database; raises when it does not answer."""
    await get_connection("default").execute_query("SELECT 1")


def read_connection() -> BaseDBAsyncClient:
    """Where reads that may lag a little go (analytics, listings, exports, reports): the
    replica when `CODEDROP_DATABASE_READ_URL` is set, else the primary. What must be fresh
    (the claim, ownership and access checks, idempotency) never reads through this."""
    return _replica if _replica is not None else connections.get("default")


def is_mysql_connection(conn: Any) -> bool:
    return conn.capabilities.dialect == "mysql"
