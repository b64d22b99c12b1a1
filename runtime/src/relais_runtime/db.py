"""PostgreSQL connection pools (asyncpg) with JSON codecs."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

log = structlog.get_logger("relais.db")

#: A connection, whether taken from a pool (a proxy) or opened directly.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


#: The transaction-local setting row-level security policies compare ``pre_id`` with
#: (ADR 0018): set by ``scope_to_tenant``, gone at commit or rollback.
TENANT_SETTING = "relais.tenant"


async def _init_connection(conn: Conn, *, role: str | None = None) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
    if role is not None:
        # For the connection's life (pool connections are never reset, see PooledConnection):
        # the service's queries run as a role row-level security applies to, whoever logs in.
        await conn.execute("SELECT set_config('role', $1, false)", role)


async def scope_to_tenant(conn: Conn, tenant: str) -> None:
    """Scope the current transaction to one tenant (PRE): row-level security lets it see
    and change that tenant's rows only. Must run inside a transaction (it ends with it)."""
    await conn.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, tenant)


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool, tenant: str, *, readonly: bool = False
) -> AsyncIterator[Conn]:
    """A transaction on a pooled connection, scoped to ``tenant`` from its first statement."""
    async with pool.acquire() as conn, conn.transaction(readonly=readonly):
        await scope_to_tenant(conn, tenant)
        yield conn


@asynccontextmanager
async def role_transaction(pool: asyncpg.Pool, role: str) -> AsyncIterator[Conn]:
    """A transaction run as ``role`` (``SET LOCAL ROLE``): e.g. a scheduler's sweep across
    tenants, under a role the policies let through explicitly."""
    async with pool.acquire() as conn, conn.transaction():
        await run_as(conn, role)
        yield conn


async def run_as(conn: Conn, role: str) -> None:
    """Run the rest of the current transaction as ``role`` (``SET LOCAL ROLE``)."""
    await conn.execute("SELECT set_config('role', $1, true)", role)


#: What runs once a pool connection that wrote outbox rows is back in its pool (its
#: transaction over, committed or not): this process's outbox relays wake (outbox.py).
_outbox_wakers: set[Callable[[], None]] = set()


def on_outbox_written(waker: Callable[[], None]) -> Callable[[], None]:
    """Call ``waker`` after each transaction of this process that wrote outbox rows
    through a :class:`Pool`; returns what stops it."""
    _outbox_wakers.add(waker)
    return lambda: _outbox_wakers.discard(waker)


def outbox_written(conn: Conn) -> None:
    """Note that ``conn``'s transaction writes outbox rows: the relays of this process wake
    when the connection goes back to its pool. A connection opened outside a
    :class:`Pool` (a command-line tool's) wakes nobody: the relay's polling finds its rows."""
    mark = getattr(conn, "mark_outbox_written", None)  # a PooledConnection, or its proxy
    if mark is not None:
        mark()


class PooledConnection(asyncpg.Connection):
    """A pool connection released without asyncpg's reset query.

    asyncpg sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    each time a connection goes back to the pool: one more round trip and four statements
    for every transaction of every service. Relais keeps no session state on pool
    connections (``SET LOCAL`` and transaction-scoped advisory locks only; LISTEN and
    session locks use connections of their own: the outbox relay, the live feed,
    migrations), so there is nothing to reset. An open transaction is still rolled back
    on release (asyncpg does that apart from the query).
    """

    def get_reset_query(self) -> str:
        return ""

    _wrote_outbox = False

    def mark_outbox_written(self) -> None:
        self._wrote_outbox = True

    def take_outbox_written(self) -> bool:
        """Whether the transaction just ended wrote outbox rows; forgotten once asked."""
        wrote, self._wrote_outbox = self._wrote_outbox, False
        return wrote


#: Seconds an HTTP request may wait for a pooled connection (set per request by
#: ``bound_database_wait``); unset elsewhere (consumers, loops): they wait as long as it takes.
_WAIT_BOUND: ContextVar[float | None] = ContextVar("relais_db_wait_bound", default=None)


@contextmanager
def bound_database_wait(seconds: float) -> Iterator[None]:
    """Within: a pool acquire without its own timeout waits at most ``seconds`` (0: no bound)."""
    token = _WAIT_BOUND.set(seconds if seconds > 0 else None)
    try:
        yield
    finally:
        _WAIT_BOUND.reset(token)


def database_busy(bound_s: float) -> Exception:
    """The 503 a request gets when no connection came within its bound (French, Retry-After)."""
    from relais_runtime.errors import DomainError

    retry_after = max(1, math.ceil(bound_s))
    return DomainError(
        "database_busy",
        "Le service est très sollicité : votre demande n'a pas pu être traitée à temps. "
        f"Réessayez dans {retry_after} seconde" + ("s." if retry_after > 1 else "."),
        status=503,
        headers={"Retry-After": str(retry_after)},
    )


class _BoundedAcquire:
    """``pool.acquire()`` under a request's bound: past it, :func:`database_busy` instead of
    asyncpg's ``TimeoutError`` (an error the client can act on, not a 500)."""

    __slots__ = ("_bound", "_inner")

    def __init__(self, inner: Any, bound_s: float) -> None:
        self._inner = inner
        self._bound = bound_s

    async def __aenter__(self) -> Any:
        try:
            return await self._inner.__aenter__()
        except TimeoutError as exc:
            raise database_busy(self._bound) from exc

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)

    def __await__(self) -> Generator[Any, None, Any]:
        return self._acquire().__await__()

    async def _acquire(self) -> Any:
        try:
            return await self._inner
        except TimeoutError as exc:
            raise database_busy(self._bound) from exc


class Pool(asyncpg.Pool):
    """asyncpg's pool, except that a connection breaking on its way back is not an error.

    Releasing runs a reset query. When PostgreSQL goes away just after a commit, that query
    fails and asyncpg raises from ``async with pool.acquire()``, after the transaction
    committed: the caller would answer 500 for a change that was saved. Whatever ran on the
    connection is settled by then (committed, rolled back, or rolled back by the server when
    the connection died), and asyncpg has already dropped the connection; the next acquire
    opens a new one. So the failure is logged and swallowed.

    Inside an HTTP request, waiting for a connection is bounded (``bound_database_wait``):
    under overload requests would otherwise queue here for minutes, unseen by the client.
    """

    __slots__ = ()

    def acquire(self, *, timeout: float | None = None) -> Any:
        """asyncpg's acquire; in an HTTP request without its own ``timeout``, bounded by
        the request's wait (``bound_database_wait``, ADR 0015)."""
        bound = _WAIT_BOUND.get() if timeout is None else None
        if bound is None:
            return super().acquire(timeout=timeout)
        return _BoundedAcquire(super().acquire(timeout=bound), bound)

    # asyncpg's signature, overridden: the timeout parameter is its own.
    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        take = getattr(connection, "take_outbox_written", None)
        wrote = take is not None and take()
        try:
            await super().release(connection, timeout=timeout)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("db_connection_lost_on_release", error=type(exc).__name__)
        if wrote:
            # In-process, where a NOTIFY would take PostgreSQL's global lock on the notify
            # queue through every commit's WAL flush (ADR 0028).
            for wake in tuple(_outbox_wakers):
                wake()


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, role: str | None = None
) -> asyncpg.Pool:
    """A pool whose connections encode/decode json and jsonb as Python objects; with
    ``role``, each connection runs as that role (``SET ROLE``) once opened.

    asyncpg re-opens broken connections on the next acquire, so a PostgreSQL restart only
    fails the transactions in flight (which the callers retry).
    """
    # What asyncpg.create_pool() does, with our Pool class.
    pool = Pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=partial(_init_connection, role=role),
        loop=None,
        connection_class=PooledConnection,
        record_class=asyncpg.Record,
    )
    await pool
    return pool


async def ping(pool: asyncpg.Pool) -> None:
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1")


def jsonable(value: Any) -> Any:
    """Round-trip through JSON so values stored in jsonb compare equal when read back."""
    return json.loads(json.dumps(value, default=str))
