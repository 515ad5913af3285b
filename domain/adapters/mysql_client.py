"""The MySQL/MariaDB client tortoise uses: every round trip bounded, no pooled connection leaked.

tortoise's `MySQLClient` over aiomysql, with three repairs the stock stack lacks:

- **Bounded round trips.** aiomysql has no read timeout (its `connect_timeout` covers the TCP
  connect, not the handshake), so a MariaDB that stops answering without closing its sockets
  (SIGSTOP, a network that drops packets) hangs every query, and every pool acquire behind
  them, for ever. Here each statement outside a transaction (pool wait + statement + fetch) and
  each transaction (pool wait + BEGIN + body + COMMIT) is bounded by `round_trip_timeout`
  seconds; past it the work is cancelled and `DBConnectionError` is raised (the API answers 503).
  aiomysql closes a connection whose read was cancelled, so a half-read reply is never reused.
- **No leak when BEGIN fails.** tortoise's pooled transaction context acquires a connection,
  then sends BEGIN; when BEGIN fails (a connection the server dropped in a restart), `__aexit__`
  never runs and the connection stays "in use" for ever. Each such failure shrinks the pool by
  one until every acquire waits for ever, and `close()` waits for ever on shutdown.
- **Waiters are woken.** aiomysql's `Pool.release` wakes no waiter when it is handed a closed
  connection, although its slot is free again; requests parked on a full pool would wait for
  the next healthy release. We wake one.

- **Several hosts, failover.** Given `hosts` (from a URL naming `host1:3306,host2:3306`), the
  pool is opened on the first host that passes a health check (it answers, and a Galera node
  reports `wsrep_ready=ON`), in order. A lost connection, a round trip past its bound, or a
  Galera node that is not ready (error 1047: it lost the quorum) makes the client check its
  host; when it fails, the host is skipped for a back-off (doubling, at most 30 s) and the next
  request opens a pool on the next healthy host. The request that met the failure is answered
  503; nothing is retried behind the caller's back.
- **Errors a retry can cure are named as such.** A Galera node that is not ready answers
  1047 to every statement: that is `DBConnectionError` (503), never a 500. COMMIT, which
  tortoise leaves untranslated, raises tortoise's `OperationalError` like any statement, so a
  certification conflict (1213 at COMMIT) reaches the claim's deadlock retry.

`fill_pool()` opens every pooled connection at start-up (the API's lifespan), so no request
waits for the pool to be created. `close()` terminates connections still marked in use (at
shutdown nothing legitimate holds one) and is itself bounded, so a process stops within
seconds whatever the database did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from tortoise.backends.base.client import PoolConnectionWrapper, TransactionContextPooled
from tortoise.backends.mysql.client import MySQLClient, TransactionWrapper
from tortoise.backends.mysql.client import errors as driver_errors  # the driver tortoise uses
from tortoise.connection import get_connections
from tortoise.exceptions import (
    DBConnectionError,
    IntegrityError,
    OperationalError,
    TransactionManagementError,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
HEALTH_TIMEOUT = 2.0
MAX_BACKOFF = 30.0
# errors that say "this host cannot serve now": refused, gone away, lost, not ready (Galera
# without quorum). Statement errors (syntax, deadlock victim, duplicate key) say nothing of it.
HOST_ERRNOS = {1047, 2003, 2006, 2013}
NOT_READY = 1047
RETRY_ERRNOS = {1205, 1213}  # lock wait timeout, deadlock (or a Galera certification conflict)
# a COMMIT refused by a Galera node that left the primary component (the transaction rolled
# back): "Error while appending streaming replication fragment (… Primary Component)"
COMMIT_ERROR = 1180
T = TypeVar("T")
_background: set[asyncio.Future[Any]] = set()


def _keep(fut: asyncio.Future[Any]) -> None:
    """Hold a reference to a fire-and-forget pool wake-up until it is done."""
    if not fut.done():
        _background.add(fut)
        fut.add_done_callback(_background.discard)


def _give_back(pool: Any, conn: Any, *, abandon: bool) -> None:
    """Return `conn` to `pool` (closed first when `abandon`); wake a waiter for a closed one.

    Never awaits: under a frozen database the pool's lock may be held by a hung connect.
    """
    if abandon and not conn.closed:
        conn.close()  # its reply may still be on the way: never hand it to someone else
    closed = conn.closed
    _keep(asyncio.ensure_future(pool.release(conn)))
    if closed and not pool.closed:
        # aiomysql frees the slot of a closed connection without waking anyone
        _keep(asyncio.ensure_future(pool._wakeup()))


async def _bounded_wait(seconds: float, acquiring: Awaitable[T]) -> T:
    """Wait for a pooled connection at most `seconds` (a 503 past it)."""
    try:
        async with asyncio.timeout(seconds):
            return await acquiring
    except TimeoutError as expired:
        raise DBConnectionError(
            f"no database connection became free within {seconds:g} s"
        ) from expired


async def _leave(deadline: asyncio.Timeout, exc: BaseException | None, seconds: float) -> None:
    """Exit `deadline`; turn its expiry into the connection error the API answers 503 to."""
    try:
        await deadline.__aexit__(
            type(exc) if exc else None, exc, exc.__traceback__ if exc else None
        )
    except TimeoutError as expired:
        raise DBConnectionError(f"the database did not answer within {seconds:g} s") from expired


def _errno(exc: BaseException | None) -> int | None:
    """The MySQL error number behind `exc` (tortoise wraps the driver's error in its own)."""
    seen = 0
    while exc is not None and seen < 5:
        code = exc.args[0] if exc.args else None
        if isinstance(code, int):
            return code
        exc = code if isinstance(code, BaseException) else exc.__cause__ or exc.__context__
        seen += 1
    return None


def _not_ready(exc: BaseException | None) -> bool:
    """A Galera node outside the primary component refused the statement or the COMMIT."""
    if exc is None or isinstance(exc, DBConnectionError):
        return False
    code = _errno(exc)
    return code == NOT_READY or (code == COMMIT_ERROR and "Primary Component" in str(exc))


def _host_trouble(exc: BaseException | None) -> bool:
    """Whether `exc` says the host cannot serve (rather than that one statement failed)."""
    if exc is None:
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ == "InterfaceError":
        return True
    return _errno(exc) in HOST_ERRNOS or _not_ready(exc)


def _as_unavailable(exc: BaseException | None) -> None:
    """Raise `DBConnectionError` for a Galera node that is not ready (the API answers 503),
    and a deadlock or lock wait as tortoise's `OperationalError(errno, message)`: a retry
    cures both, and the number (not a wrapped driver error) is what callers read. Under
    Galera any statement may be aborted by a replicated write (1213), not only the claim's."""
    if exc is None or isinstance(exc, DBConnectionError):
        return
    code = _errno(exc)
    if code in RETRY_ERRNOS and not (isinstance(exc, OperationalError) and exc.args[0] == code):
        inner = exc.args[0] if isinstance(exc, OperationalError) and exc.args else exc
        message = inner.args[1] if len(inner.args) > 1 else str(inner)
        raise OperationalError(code, message) from exc
    if _not_ready(exc):
        raise DBConnectionError(
            "the database node is not ready (a Galera node without the quorum)"
        ) from exc


def _acquire_failed(client: BoundedMySQLClient, exc: BaseException) -> None:
    """A new pooled connection failed while it was set up (aiomysql runs the init command
    and a COMMIT on it, which a Galera node without the quorum refuses)."""
    if _host_trouble(exc):
        client.host_trouble()
    _as_unavailable(exc)


class BoundedPoolConnection(PoolConnectionWrapper[Any]):
    """One statement outside a transaction: pool wait, statement and fetch within the bound."""

    client: BoundedMySQLClient

    def __init__(self, client: BoundedMySQLClient, pool_init_lock: asyncio.Lock) -> None:
        super().__init__(client, pool_init_lock)
        self.seconds = client.round_trip_timeout
        self.deadline = asyncio.timeout(self.seconds)

    async def __aenter__(self) -> Any:
        # the wait for a free connection has its own bound: a request queued behind others
        # under load is shed with a 503, but the wait never eats into the statement's time,
        # so a busy connection is not cut off (and closed) mid-statement
        # the pool itself is created first, outside the gate: creating it runs a statement
        # through this very wrapper, which would otherwise wait for a permit it holds
        await _bounded_wait(self.seconds, self.ensure_connection())
        gate = self.client.gate()
        await _bounded_wait(self.seconds, gate.acquire())
        try:
            await _bounded_wait(self.seconds, super().__aenter__())
        except BaseException as exc:
            gate.release()
            _acquire_failed(self.client, exc)
            raise
        # the pool it came from: a failover may have replaced the client's pool meanwhile
        self.pool = self.client._pool
        await self.deadline.__aenter__()
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if self.connection is not None:
                _give_back(self.pool, self.connection, abandon=self.deadline.expired())
        finally:
            self.client.gate().release()
            if self.deadline.expired() or _host_trouble(exc_val):
                self.client.host_trouble()
            await _leave(self.deadline, exc_val, self.seconds)
            _as_unavailable(exc_val)


def _parent_of(client: Any) -> BoundedMySQLClient:
    parent = client._parent
    assert isinstance(parent, BoundedMySQLClient)
    return parent


def _gate_of(client: Any) -> asyncio.Semaphore:
    return _parent_of(client).gate()


class BoundedTransaction(TransactionContextPooled):
    """One transaction: pool wait, BEGIN, the body and COMMIT/ROLLBACK within the bound."""

    def __init__(
        self, client: TransactionWrapper, pool_init_lock: asyncio.Lock, seconds: float
    ) -> None:
        super().__init__(client, pool_init_lock)
        self.seconds = seconds
        self.deadline = asyncio.timeout(seconds)
        self.token: Any = None

    async def __aenter__(self) -> Any:
        await _bounded_wait(self.seconds, self.ensure_connection())
        gate = _gate_of(self.client)
        await _bounded_wait(self.seconds, gate.acquire())
        try:
            conn = self.client._connection = await _bounded_wait(self.seconds, self._acquire())
        except BaseException as exc:
            gate.release()
            _acquire_failed(_parent_of(self.client), exc)
            raise
        pool = self.pool = self.client._parent._pool
        await self.deadline.__aenter__()
        try:
            try:
                self.token = get_connections().set(self.connection_name, self.client)
                await self.client.begin()
            except BaseException as exc:
                # tortoise would skip __aexit__ here and keep the connection "in use" for ever;
                # a connection whose BEGIN failed is not trusted again
                if self.token is not None:
                    get_connections().reset(self.token)
                _give_back(pool, conn, abandon=True)
                gate.release()
                if _host_trouble(exc):
                    _parent_of(self.client).host_trouble()
                raise
            return self.client
        except BaseException as exc:
            await _leave(self.deadline, exc, self.seconds)
            _as_unavailable(exc)
            raise

    async def _acquire(self) -> Any:
        await self.ensure_connection()
        return await self.client._parent._pool.acquire()

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        conn = self.client._connection
        error: BaseException | None = exc_val
        try:
            try:
                if not self.client._finalized:
                    if exc_type is None:
                        await _commit(self.client)  # type: ignore[arg-type]
                    elif (
                        exc_type is not TransactionManagementError
                        and not conn.closed
                        and not self.deadline.expired()  # a rollback would hang as well
                    ):
                        await self.client.rollback()
            finally:
                # past the deadline the connection is closed instead: the server rolls back
                _give_back(self.pool, conn, abandon=self.deadline.expired())
                _gate_of(self.client).release()
                get_connections().reset(self.token)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self.deadline.expired() or _host_trouble(error):
                _parent_of(self.client).host_trouble()
            await _leave(self.deadline, error, self.seconds)
            _as_unavailable(error)


async def _commit(client: TransactionWrapper) -> None:
    """COMMIT, its driver errors translated like every statement's (tortoise leaves them raw):
    a Galera certification conflict (1213) must reach the claim's deadlock retry."""
    try:
        await client.commit()
    except driver_errors.IntegrityError as exc:
        raise IntegrityError(exc) from exc
    except (
        driver_errors.OperationalError,
        driver_errors.InternalError,
        driver_errors.ProgrammingError,
    ) as exc:
        raise OperationalError(exc) from exc


class BoundedMySQLClient(MySQLClient):
    """tortoise's MySQL client with bounded round trips, leak-free transactions, bounded close."""

    def __init__(
        self,
        *,
        round_trip_timeout: float | str = DEFAULT_TIMEOUT,
        hosts: Sequence[tuple[str, int]] = (),
        host_backoff: float | str = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.round_trip_timeout = float(round_trip_timeout)
        self._gate: asyncio.Semaphore | None = None
        self.hosts = Hosts(list(hosts) or [(self.host, self.port)], float(host_backoff))
        self._checking: asyncio.Task[None] | None = None

    async def create_connection(self, with_db: bool) -> None:
        """Open the pool on the first healthy host (in order, skipping hosts in back-off)."""
        if len(self.hosts.all) == 1:
            await super().create_connection(with_db)
            return
        for host, port in self.hosts.candidates():
            if not await self._healthy(host, port):
                self.hosts.failed(host, port)
                continue
            self.host, self.port = host, port
            try:
                await super().create_connection(with_db)
            except DBConnectionError:
                self.hosts.failed(host, port)
                continue
            self.hosts.succeeded(host, port)
            log.info("database pool opened on %s:%d", host, port)
            return
        raise DBConnectionError("no database host answered (every host tried)")

    async def _healthy(self, host: str, port: int) -> bool:
        """The host accepts a connection and, when it is a Galera node, is ready."""
        import aiomysql

        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                conn = await aiomysql.connect(
                    host=host,
                    port=port,
                    user=self.user,
                    password=self.password,
                    connect_timeout=HEALTH_TIMEOUT,
                )
                try:
                    async with conn.cursor() as cur:
                        await cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_ready'")
                        row = await cur.fetchone()
                finally:
                    conn.close()
        except Exception as exc:
            log.warning("database host %s:%d failed its health check: %s", host, port, exc)
            return False
        return row is None or str(row[1]).upper() == "ON"

    def host_trouble(self) -> None:
        """A request met trouble on this host: check it (once at a time) and move if it failed."""
        if len(self.hosts.all) == 1 or (self._checking and not self._checking.done()):
            return
        self._checking = asyncio.ensure_future(self._check_current())

    async def _check_current(self) -> None:
        host, port = self.host, self.port
        pool: Any = self._pool
        if pool is None or await self._healthy(host, port):
            return
        self.hosts.failed(host, port)
        if self._pool is not pool:
            return  # already replaced
        # the next request opens a pool on the next healthy host (create_connection);
        # statements still running on this one fail on their own
        self._pool = None
        pool.terminate()  # type: ignore[union-attr]
        log.warning("database host %s:%d failed; moving to the next host", host, port)

    def gate(self) -> asyncio.Semaphore:
        """One permit per pooled connection, taken before the pool is asked.

        Waiting here rather than inside aiomysql's pool matters: the pool parks waiters on an
        asyncio.Condition, and on Python 3.11 a waiter cancelled by its timeout right after
        being notified swallows the wake-up, leaving a free connection unused while others
        sleep (throughput under 1,000 clients fell to ~80 claims/s). A semaphore hands its
        permit on when a waiter is cancelled, and with permits = pool size the pool never
        has to park anyone.
        """
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.pool_maxsize)
        return self._gate

    async def fill_pool(self) -> int:
        """Create the pool and open every one of its connections now; how many are open.

        tortoise creates the pool at the first query. A worker whose first requests come in a
        burst would create it with thousands of requests queued behind the creation, each
        inside its own bound: under load the creation outlasts them and they are answered
        503 ("no database connection became free"), and the request that was creating the
        pool is cancelled mid-handshake (aiomysql then fails with a RuntimeError, a 500).
        bench/drop.py, one run each on a busy shared machine, no lock wait in either: 8,776
        such 503s and one 500 of 10,000 claims before, 4,751 503s after (the pool-gate wait).
        """
        async with asyncio.timeout(self.round_trip_timeout):
            async with self._pool_init_lock:
                if self._pool is None:
                    await self.create_connection(with_db=True)
            pool: Any = self._pool
            held: list[Any] = []
            try:
                while pool.size < pool.maxsize:
                    held.append(await pool.acquire())
            finally:
                for conn in held:
                    await pool.release(conn)
        return int(pool.size)

    def acquire_connection(self) -> Any:
        return BoundedPoolConnection(self, self._pool_init_lock)

    def _in_transaction(self) -> Any:
        return BoundedTransaction(
            TransactionWrapper(self), self._pool_init_lock, self.round_trip_timeout
        )

    async def close(self) -> None:
        """Close the pool within the bound, dropping connections a failure left marked in use."""
        pool = self._pool
        if pool is not None and not pool.closed:
            leaked = pool.size - pool.freesize
            if leaked:
                log.warning("closing the database pool with %d connection(s) still in use", leaked)
            pool.terminate()
        try:
            async with asyncio.timeout(self.round_trip_timeout):
                await super().close()
        except TimeoutError:
            log.warning(
                "the database pool did not close within %g s; abandoned", self.round_trip_timeout
            )
            self._pool = None
            self._template.clear()


class Hosts:
    """The hosts of one connection, in order of preference, with a back-off per failed host."""

    def __init__(self, hosts: list[tuple[str, int]], backoff: float) -> None:
        self.all = hosts
        self.backoff = backoff
        self._failures: dict[tuple[str, int], int] = {}
        self._until: dict[tuple[str, int], float] = {}

    def candidates(self) -> list[tuple[str, int]]:
        """Hosts not in back-off, in order; when all are, every host (better than none)."""
        now = time.monotonic()
        ready = [h for h in self.all if self._until.get(h, 0.0) <= now]
        return ready or list(self.all)

    def failed(self, host: str, port: int) -> None:
        key = (host, port)
        n = self._failures[key] = self._failures.get(key, 0) + 1
        self._until[key] = time.monotonic() + min(self.backoff * 2 ** (n - 1), MAX_BACKOFF)

    def succeeded(self, host: str, port: int) -> None:
        self._failures.pop((host, port), None)
        self._until.pop((host, port), None)


client_class = BoundedMySQLClient
