"""Prometheus metrics shared by the runtime and the services.

All live in prometheus_client's default registry (exposed by ``GET /metrics``, see
:mod:`relais_runtime.http`). Every metric has a ``service`` label so one dashboard can
show the four services side by side. Label values must stay bounded: queue names and
route *templates*, never ids.

Usage::

    MESSAGES_CONSUMED.labels(service="parcours", queue="parcours.referrals",
                             outcome="ok").inc()
    with MESSAGE_HANDLING_SECONDS.labels(service="parcours",
                                         queue="parcours.referrals").time():
        ...
    app.add_middleware(PrometheusMiddleware, service="parcours")
"""

from __future__ import annotations

import time
from typing import Final, Literal

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONSUMER_UP",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_SECONDS",
    "MESSAGES_CONSUMED",
    "MESSAGE_HANDLING_SECONDS",
    "OUTBOX_LAG_SECONDS",
    "OUTBOX_OLDEST_SECONDS",
    "OUTBOX_PENDING",
    "OUTBOX_PUBLISHED",
    "OUTBOX_PUBLISH_FAILURES",
    "PARKED_MESSAGES",
    "ConsumeOutcome",
    "PrometheusMiddleware",
]

#: ``ok`` handled; ``duplicate`` already in the inbox, acked and skipped; ``retried`` sent
#: to a delay step; ``parked`` moved to the dead-letter queue.
ConsumeOutcome = Literal["ok", "duplicate", "retried", "parked"]

# Message handling is mostly a short database transaction; HTTP adds serialisation.
_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

MESSAGES_CONSUMED: Final = Counter(
    "relais_messages_consumed_total",
    "Messages taken from a queue, by outcome (ok, duplicate, retried, parked).",
    ["service", "queue", "outcome"],
)
MESSAGE_HANDLING_SECONDS: Final = Histogram(
    "relais_message_handling_seconds",
    "Time spent handling one message, transaction included.",
    ["service", "queue"],
    buckets=_LATENCY_BUCKETS,
)
OUTBOX_PUBLISHED: Final = Counter(
    "relais_outbox_published_total",
    "Outbox rows published and confirmed by the broker.",
    ["service"],
)
OUTBOX_PUBLISH_FAILURES: Final = Counter(
    "relais_outbox_publish_failures_total",
    "Outbox publish attempts that failed (unroutable, unconfirmed, broker down).",
    ["service"],
)
OUTBOX_PENDING: Final = Gauge(
    "relais_outbox_pending",
    "Outbox rows not yet published, as last seen by the relay.",
    ["service"],
)
# Sampled by the maintenance loop and the consumer watchdog; the alert rules in
# deploy/monitoring/ read them (deploy/monitoring/README.md).
OUTBOX_OLDEST_SECONDS: Final = Gauge(
    "relais_outbox_oldest_seconds",
    "Age of the oldest outbox row not yet published (0 when the outbox is empty).",
    ["service"],
)
OUTBOX_LAG_SECONDS: Final = Gauge(
    "relais_outbox_lag_seconds",
    "Age of the oldest outbox row the relay has not tried to publish yet (0 when none); "
    "intake refuses work above outbox_max_lag_s.",
    ["service"],
)
PARKED_MESSAGES: Final = Gauge(
    "relais_parked_messages",
    "Messages waiting in a work queue's parking queue (<queue>.dlq), as last counted.",
    ["service", "queue"],
)
CONSUMER_UP: Final = Gauge(
    "relais_consumer_up",
    "1 while this process consumes from the queue, 0 while its consumer is lost.",
    ["service", "queue"],
)
HTTP_REQUESTS: Final = Counter(
    "relais_http_requests_total",
    "HTTP requests served, by method, route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_REQUEST_SECONDS: Final = Histogram(
    "relais_http_request_seconds",
    "HTTP request latency, by method and route template.",
    ["service", "method", "route"],
    buckets=_LATENCY_BUCKETS,
)

_UNMATCHED: Final = "<unmatched>"


class PrometheusMiddleware:
    """Pure ASGI middleware counting requests by route template (``/situations/{id}``).

    Paths that match no route are counted under ``<unmatched>`` so scanners can't blow up
    the label cardinality.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The router records the matched route in the (shared) scope dict.
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            label = f"{scope.get('root_path', '')}{template}" if template else _UNMATCHED
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(self.service, method, label, str(status_code)).inc()
            HTTP_REQUEST_SECONDS.labels(self.service, method, label).observe(
                time.perf_counter() - start
            )
