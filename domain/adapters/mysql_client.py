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

`fill_pool()` opens every pooled connection at start-up (the API's lifespan), so no request
waits for the pool to be created. `close()` terminates connections still marked in use (at shutdown nothing legitimate holds
one) and is itself bounded, so a process stops within seconds whatever the database did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from tortoise.backends.base.client import PoolConnectionWrapper, TransactionContextPooled
from tortoise.backends.mysql.client import MySQLClient, TransactionWrapper
from tortoise.connection import get_connections
from tortoise.exceptions import DBConnectionError, TransactionManagementError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
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
        except BaseException:
            gate.release()
            raise
        await self.deadline.__aenter__()
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if self.connection is not None:
                _give_back(self.client._pool, self.connection, abandon=self.deadline.expired())
        finally:
            self.client.gate().release()
            await _leave(self.deadline, exc_val, self.seconds)


def _gate_of(client: Any) -> asyncio.Semaphore:
    parent = client._parent
    assert isinstance(parent, BoundedMySQLClient)
    return parent.gate()


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
        except BaseException:
            gate.release()
            raise
        pool = self.client._parent._pool
        await self.deadline.__aenter__()
        try:
            try:
                self.token = get_connections().set(self.connection_name, self.client)
                await self.client.begin()
            except BaseException:
                # tortoise would skip __aexit__ here and keep the connection "in use" for ever;
                # a connection whose BEGIN failed is not trusted again
                if self.token is not None:
                    get_connections().reset(self.token)
                _give_back(pool, conn, abandon=True)
                gate.release()
                raise
            return self.client
        except BaseException as exc:
            await _leave(self.deadline, exc, self.seconds)
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
                        await self.client.commit()
                    elif (
                        exc_type is not TransactionManagementError
                        and not conn.closed
                        and not self.deadline.expired()  # a rollback would hang as well
                    ):
                        await self.client.rollback()
            finally:
                pool = self.client._parent._pool
                if pool is not None:
                    # past the deadline the connection is closed instead: the server rolls back
                    _give_back(pool, conn, abandon=self.deadline.expired())
                _gate_of(self.client).release()
                get_connections().reset(self.token)
        except BaseException as exc:
            error = exc
            raise
        finally:
            await _leave(self.deadline, error, self.seconds)


class BoundedMySQLClient(MySQLClient):
    """tortoise's MySQL client with bounded round trips, leak-free transactions, bounded close."""

    def __init__(self, *, round_trip_timeout: float | str = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.round_trip_timeout = float(round_trip_timeout)
        self._gate: asyncio.Semaphore | None = None

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


client_class = BoundedMySQLClient
