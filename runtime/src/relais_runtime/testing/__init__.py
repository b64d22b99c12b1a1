"""Helpers for tests that use the real RabbitMQ and PostgreSQL.

Every test run isolates itself: a database per service with a unique name and a RabbitMQ
vhost of its own, both removed afterwards, so concurrent runs never see each other. The
fixtures built on them (``database_dsn``, ``amqp_url``, ``keys_dir``…) and the hook that
marks the tests needing PostgreSQL or RabbitMQ ``integration`` are in
:mod:`relais_runtime.testing.plugin`, which pytest loads for every test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

ADMIN_DSN = os.environ.get("RELAIS_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("RELAIS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


#: Set by the test plugin in the fast lane (``-m "not integration"``): a test that reaches
#: for PostgreSQL or RabbitMQ there fails at once, saying how to classify it, instead of
#: slowing the lane down (or passing only where the infrastructure happens to run).
NO_INFRASTRUCTURE: str | None = None


def _infrastructure_allowed() -> None:
    if NO_INFRASTRUCTURE is not None:
        raise RuntimeError(NO_INFRASTRUCTURE)


def free_port() -> int:
    """A local TCP port free right now (to listen on, or as one nothing listens on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def dsn_for(database: str, admin_dsn: str = ADMIN_DSN) -> str:
    parts = urlsplit(admin_dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def create_database(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    _infrastructure_allowed()
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn_for(name, admin_dsn)


async def drop_database(name: str, admin_dsn: str = ADMIN_DSN) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _rabbitmqctl(*args: str) -> None:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run(  # noqa: S603 - fixed executable, our own arguments
        [exe, "-q", *args], check=True, capture_output=True, timeout=60
    )


def vhost_queues_empty(amqp_url: str) -> bool:
    """True when no queue of the URL's vhost holds a message, ready or unacknowledged."""
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    out = subprocess.run(  # noqa: S603 - fixed executable, our own arguments
        [exe, "-q", "list_queues", "-p", vhost, "--no-table-headers", "messages"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return all(int(n) == 0 for n in out.split())


async def create_vhost(name: str) -> str:
    """Create a vhost with full rights for the base URL's user; return its AMQP URL."""
    _infrastructure_allowed()
    user = urlsplit(AMQP_BASE).username or "guest"
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", name)
    await asyncio.to_thread(_rabbitmqctl, "set_permissions", "-p", name, user, ".*", ".*", ".*")
    return amqp_url_for(name)


async def delete_vhost(name: str) -> None:
    await asyncio.to_thread(_rabbitmqctl, "delete_vhost", name)


async def message_count(amqp_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (a passive declare: the queue must exist)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


async def eventually(
    check: Callable[[], Awaitable[Any]],
    timeout: float = 15.0,  # noqa: ASYNC109 - a polling deadline, whose error shows the last result
    *,
    every_s: float = 0.05,
) -> Any:
    """Call ``check`` until it returns something truthy (returned), or fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last: {result!r})")
        await asyncio.sleep(every_s)


def amqp_url_for(vhost: str, base: str = AMQP_BASE) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


# -- making PostgreSQL unavailable to a running app -------------------------------------------

#: What PostgreSQL answers to ``COMMIT``: CommandComplete "COMMIT", then ReadyForQuery.
_COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"
_READY = b"Z\x00\x00\x00\x05"


class TcpProxy:
    """A TCP relay in front of a server (PostgreSQL) that a test cuts to simulate an outage.

    ``cut()`` refuses new connections and drops the open ones, as a stopped database does;
    ``restore()`` listens again on the same port. ``cut_after_commit(marker)`` waits for the
    connection that carries ``marker`` (a value bound in a query, e.g. an Idempotency-Key),
    lets its ``COMMIT`` complete, then cuts: the moment a PostgreSQL restart hits a request
    whose change is saved but whose answer is not written yet.
    """

    def __init__(self, target: str = ADMIN_DSN) -> None:
        parts = urlsplit(target)
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 5432
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._marker: bytes | None = None
        self.cut_done = asyncio.Event()

    def dsn(self, database: str) -> str:
        """A DSN for ``database`` through the proxy (no TLS: the relay reads the protocol)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def restore(self) -> None:
        """Listen again on the same port (PostgreSQL is back)."""
        self.cut_done.clear()
        await self.start()

    def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self.cut_done.set()

    def cut_after_commit(self, marker: bytes) -> None:
        self._marker = marker

    async def stop(self) -> None:
        self.cut()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.update((client_w, server_w))
        state = {"marked": False, "commit_seen": False, "committed": False}
        upstream = asyncio.create_task(self._client_to_server(client_r, server_w, client_w, state))
        await self._server_to_client(server_r, client_w, state)
        if state["committed"]:
            # Wait for the client's next words (bounded), which find the database gone.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(upstream), timeout=10)
        upstream.cancel()
        for writer in (client_w, server_w):
            writer.transport.abort()
            self._writers.discard(writer)

    async def _client_to_server(
        self,
        client_r: asyncio.StreamReader,
        server_w: asyncio.StreamWriter,
        client_w: asyncio.StreamWriter,
        state: dict[str, bool],
    ) -> None:
        while chunk := await client_r.read(65536):
            if state["committed"]:
                # The client's next words (the pool's reset query) meet a dead database.
                client_w.transport.abort()
                return
            if self._marker is not None and self._marker in chunk:
                state["marked"] = True
            server_w.write(chunk)
        server_w.transport.abort()

    async def _server_to_client(
        self, server_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, state: dict[str, bool]
    ) -> None:
        while chunk := await server_r.read(65536):
            client_w.write(chunk)
            start = 0
            if state["marked"] and not state["commit_seen"]:
                start = chunk.find(_COMMIT_DONE)
                state["commit_seen"] = start >= 0
            if state["commit_seen"] and chunk.find(_READY, max(start, 0)) >= 0:
                # The commit is acknowledged: the database "goes down" before anything else.
                await client_w.drain()
                self._marker = None
                state["committed"] = True
                self._writers.discard(client_w)
                self.cut()
                return


# -- a service app served by uvicorn, in this process ----------------------------------------


@contextlib.asynccontextmanager
async def serving(
    app_factory: Callable[[], Any],
    *,
    access_log: bool = False,
    lifespan: Literal["auto", "on", "off"] = "on",
) -> AsyncIterator[str]:
    """Serve ``app_factory()`` with uvicorn as the container does; yield its base URL.

    The options are the entrypoint's (``--factory --proxy-headers --no-access-log``, default
    log level, ``log_config=None`` so the app's logging set-up stays): what a test sees in
    the logs is what production writes.
    """
    import uvicorn

    config = uvicorn.Config(
        app_factory,
        factory=True,
        host="127.0.0.1",
        port=0,
        proxy_headers=True,
        access_log=access_log,
        log_config=None,
        lifespan=lifespan,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before serving")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


class ProxyThread:
    """A :class:`TcpProxy` on its own event loop in a thread.

    For tests whose own loop blocks while the proxy must relay, e.g. while a stack of
    service processes starts (``Stack.start`` waits synchronously for them to be ready).
    """

    def __init__(self, target: str = ADMIN_DSN) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.proxy = TcpProxy(target)

    @property
    def port(self) -> int:
        return self.proxy.port

    def _run(self, make: Callable[[], Any]) -> Any:
        async def call() -> Any:
            result = make()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)

    def start(self) -> None:
        self._thread.start()
        self._run(self.proxy.start)

    def cut(self) -> None:
        self._run(self.proxy.cut)

    def restore(self) -> None:
        self._run(self.proxy.restore)

    def stop(self) -> None:
        self._run(self.proxy.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
