"""The RabbitMQ broker factory, with the safe settings MESSAGING-NOTES.md calls for.

A cluster is given as one URL listing its nodes, ``amqp://user:pw@node1:5672,node2:5672,
node3:5672/vhost`` (the form libpq accepts for PostgreSQL): every connection, the
long-lived one of the broker and the short ones (topology, parking), goes to the first
node that answers, and the broker's connection moves to the next node when it loses its
own (ADR 0016).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import structlog
from aio_pika.abc import AbstractConnection
from faststream import BaseMiddleware
from faststream.rabbit import Channel, RabbitBroker
from yarl import URL

_BROKER_LOGGER = logging.getLogger("relais.faststream")
# FastStream logs two lines per message at INFO (~26% of consume throughput); keep its
# warnings and error tracebacks only, and log what matters ourselves through structlog.
_BROKER_LOGGER.setLevel(logging.WARNING)

log = structlog.get_logger("relais.broker")


class PersistentPublishMiddleware(BaseMiddleware):
    """Make every publish persistent: FastStream sends delivery_mode 1 unless told."""

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        cmd.message_options["persist"] = True
        return await call_next(cmd)


def node_urls(amqp_url: str) -> list[str]:
    """One URL per node of ``scheme://[user@]host1[:port],host2[:port]/vhost?query``."""
    parts = urlsplit(amqp_url)
    user, at, hosts = parts.netloc.rpartition("@")
    return [
        urlunsplit((parts.scheme, f"{user}{at}{host}", parts.path, parts.query, parts.fragment))
        for host in hosts.split(",")
        if host
    ]


def redact(url: str | URL) -> str:
    parsed = URL(str(url))
    return str(parsed.with_password("******") if parsed.password else parsed)


async def connect(amqp_url: str) -> AbstractConnection:
    """A plain connection to the first node that answers, for short-lived work."""
    last: Exception | None = None
    for url in node_urls(amqp_url):
        try:
            return await aio_pika.connect(url)
        except (OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
            log.warning("broker_node_unreachable", node=redact(url), error=type(exc).__name__)
            last = exc
    raise last if last is not None else ValueError("no broker address in the AMQP URL")


class FailoverConnection(aio_pika.RobustConnection):
    """aio-pika's robust connection, reconnecting to the next node of a cluster each time.

    aio-pika takes one URL; its reconnection loop resets ``transport`` before every attempt
    and then connects to ``url``. Both are properties here: each reset moves ``url`` to the
    next node, so a node that went away (or never answered) is not tried again until the
    others have been. The cluster test (tests/cluster) and test_messaging's failover test
    hold this against aio-pika's behaviour.
    """

    def __init__(self, urls: Sequence[str], **kwargs: Any) -> None:
        self._urls = [URL(u) for u in urls]
        self._node = 0
        self._transport: Any = None
        super().__init__(self._urls[0], **kwargs)
        self._node = -1  # the first attempt, below, starts from node 0

    @property
    def url(self) -> URL:
        return self._urls[max(self._node, 0)]

    @url.setter
    def url(self, value: URL) -> None:
        # Set by __init__ and by update_secret (a new password): the same for every node.
        self._urls = [u.with_user(value.user).with_password(value.password) for u in self._urls]

    @property
    def transport(self) -> Any:
        return self._transport

    @transport.setter
    def transport(self, value: Any) -> None:
        if value is None and not getattr(self, "_close_called", False):
            self._node = (self._node + 1) % len(self._urls)
        self._transport = value

    async def connect(self, timeout: aio_pika.abc.TimeoutType = None) -> None:  # noqa: ASYNC109 (aio-pika's signature)
        # aio-pika gives up at the first refused attempt (fail_fast): start from the first
        # node that answers instead, so a service starts while one node is down.
        for _ in self._urls:
            node = (self._node + 1) % len(self._urls)
            try:
                probe = await aio_pika.connect(self._urls[node], timeout=timeout)
            except (OSError, aio_pika.exceptions.AMQPConnectionError):
                self._node = node
                continue
            await probe.close()
            break
        await super().connect(timeout)


def create_broker(amqp_url: str, *, prefetch: int = 16) -> RabbitBroker:
    """A broker whose publishes are persistent, confirmed, and raise when unroutable.

    ``prefetch`` bounds the messages in flight per subscriber, which is also the handler
    concurrency; FastStream's default is unlimited. Several nodes in ``amqp_url``: the
    connection fails over between them (:class:`FailoverConnection`).
    """
    urls = node_urls(amqp_url)
    broker = RabbitBroker(
        urls[0],
        default_channel=Channel(on_return_raises=True, prefetch_count=prefetch),
        middlewares=(PersistentPublishMiddleware,),
        logger=_BROKER_LOGGER,
        reconnect_interval=2.0,
        graceful_timeout=15.0,
    )
    if len(urls) > 1:
        # FastStream hands these to aio_pika.connect_robust, whose connection_class builds
        # the connection from the one URL it was given: ours knows every node.
        def failover(_url: URL, **kwargs: Any) -> FailoverConnection:
            return FailoverConnection(urls, **kwargs)

        broker._connection_kwargs["connection_class"] = failover
    return broker
