"""OpenTelemetry traces across HTTP, the outbox, the broker and the consumers (ADR 0019).

Off by default. ``configure`` installs the SDK once per process when an OTLP endpoint is
configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
OTLP over HTTP/protobuf, the other ``OTEL_*`` variables as the SDK reads them), and then
instruments FastAPI (``instrument_app``), asyncpg and aio-pika with the OpenTelemetry
libraries.

The W3C trace context travels *in the event*, as the CloudEvents distributed-tracing
extension (``traceparent``/``tracestate``): ``outbox.add`` writes the context current when
the event is emitted (an HTTP request's span, a consumer's span) into the envelope and its
outbox row; the relay publishes the row inside a span continuing that context; the
consumer continues it again (``consuming``), and what its handler emits carries the
consumer's span on. When tracing is off the API's no-op tracer still carries a received
``traceparent`` over to what a handler emits: that string is the whole cost.

Nothing personal in a span: SQL statements are recorded without their parameters, HTTP
spans without the query string, exceptions by their type only on the spans made here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "configure",
    "consuming",
    "current_context",
    "enabled",
    "instrument_app",
    "relaying",
]

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("relais_runtime")
_provider: TracerProvider | None = None
#: Not traced: probes and scrapes would make a trace each every few seconds.
_EXCLUDED_URLS = "/health$,/ready$,/metrics$"


def endpoint_configured(env: Mapping[str, str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def enabled() -> bool:
    return _provider is not None


def configure(service: str, *, exporter: SpanExporter | None = None) -> bool:
    """Install tracing for this process (once); return whether traces are recorded.

    Without ``exporter`` (tests pass an in-memory one), only when an OTLP endpoint is
    configured; ``OTEL_SERVICE_NAME`` else ``relais-<service>`` names the service.
    """
    global _provider
    if _provider is not None:
        return True
    if exporter is None and not endpoint_configured():
        return False
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        protocol = (
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        if protocol != "http/protobuf":
            raise ValueError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: Relais exports traces over "
                "http/protobuf only (port 4318 of a collector)"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor: Any = BatchSpanProcessor(OTLPSpanExporter())
    else:
        processor = SimpleSpanProcessor(exporter)
    attributes = (
        {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": f"relais-{service}"}
    )
    provider = TracerProvider(
        resource=Resource.create(attributes), sampler=ParentBased(root=RequestsAndMessagesOnly())
    )
    provider.add_span_processor(WithoutPersonalAttributes())
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    # Statements without their parameters (the default; said here because it matters).
    asyncpg_instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    asyncpg_instrumentor.instrument(tracer_provider=provider)
    AioPikaInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return True


def instrument_app(app: FastAPI) -> None:
    """Trace the app's requests (a server span each) when tracing is on; else nothing."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=_EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
        # The ASGI middleware sets the request's attributes again once the span started.
        server_request_hook=lambda span, _scope: without_personal_attributes(span),
    )


#: Request attributes the HTTP instrumentation records that can say who asked: the client's
#: address (personal data, why uvicorn's access log is off too) and its user agent.
PERSONAL_ATTRIBUTES = frozenset(
    {
        "net.peer.ip",
        "net.peer.port",
        "client.address",
        "client.port",
        "http.client_ip",
        "http.user_agent",
        "user_agent.original",
        "url.query",
    }
)


def without_personal_attributes(span: Any) -> None:
    """Drop :data:`PERSONAL_ATTRIBUTES` and a URL's query string (what a person typed, a
    name searched for) from a span that has not ended.

    The HTTP instrumentation sets them and has no option against it; the SDK offers no
    public way to remove an attribute, hence the span's own mapping (the tests hold it:
    tests/e2e/test_traces.py, runtime/tests/test_tracing.py).
    """
    attributes = getattr(span, "_attributes", None)
    if attributes is None:
        return
    for key in PERSONAL_ATTRIBUTES.intersection(attributes):
        del attributes[key]
    url = attributes.get("http.url")
    if isinstance(url, str) and "?" in url:
        attributes["http.url"] = url.split("?", 1)[0]


class WithoutPersonalAttributes(SpanProcessor):
    """:func:`without_personal_attributes` on every span as it starts."""

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        without_personal_attributes(span)


# -- the trace context in the CloudEvents envelope ----------------------------------------------


def current_context() -> tuple[str | None, str | None]:
    """``traceparent`` and ``tracestate`` of the current span, or ``(None, None)``."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None, None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")


def _extracted(traceparent: str | None, tracestate: str | None) -> Context | None:
    """The context a ``traceparent`` names, or None when absent or malformed (ignored)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    context = _PROPAGATOR.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


@contextmanager
def consuming(
    queue: str,
    *,
    event_id: str,
    event_type: str,
    tenant: str,
    correlationid: str,
    traceparent: str | None,
    tracestate: str | None,
) -> Iterator[Span]:
    """The span of one message handled from ``queue``, continuing the event's trace.

    Its parent is the transport's span (aio-pika's, from the AMQP headers) when that one
    belongs to the event's trace (it descends from the same emission through the relay),
    else the context the event carries, else whatever is current.
    """
    if _provider is None and not traceparent:
        # Not traced and nothing to carry on: the no-op tracer would hand back the current
        # span unchanged; skip building the span's attributes for every message. (With a
        # ``traceparent``, the no-op span still makes the event's context current, so the
        # events this message causes carry it on: that path stays below.)
        yield trace.get_current_span()
        return
    parent = _extracted(traceparent, tracestate)
    if parent is not None:
        current = trace.get_current_span().get_span_context()
        remote = trace.get_current_span(parent).get_span_context()
        if current.is_valid and current.trace_id == remote.trace_id:
            parent = None
    with _tracer.start_as_current_span(
        f"{queue} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": event_id,
            "cloudevents.event_id": event_id,
            "cloudevents.event_type": event_type,
            "relais.tenant": tenant,
            # The logs' correlationid: from a log line to the trace.
            "relais.correlationid": correlationid,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


@contextmanager
def relaying(
    *,
    traceparent: str | None,
    tracestate: str | None,
    exchange: str,
    routing_key: str,
    message_id: str,
) -> Iterator[None]:
    """The outbox relay's publish of one row, in the trace the row was written in.

    No span for a row written outside any trace, nor while tracing is off: a relay round
    is not a trace of its own.
    """
    parent = _extracted(traceparent, tracestate) if _provider is not None else None
    if parent is None:
        yield
        return
    with _tracer.start_as_current_span(
        f"{exchange} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation": "publish",
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": message_id,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


# -- which traces are kept ------------------------------------------------------------------------


class RequestsAndMessagesOnly(Sampler):
    """Root sampler: a trace starts at a request or a message, nowhere else.

    A database query or a publish outside any of them (the relay's polling, the
    maintenance loops, a scheduler's scan) would make a trace every few seconds per
    replica; its span is dropped, and so are its children (``ParentBased``). What such a
    loop emits starts its trace at the consumer.
    """

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        keep = kind in (SpanKind.SERVER, SpanKind.CONSUMER)
        return SamplingResult(Decision.RECORD_AND_SAMPLE if keep else Decision.DROP)

    def get_description(self) -> str:
        return "RequestsAndMessagesOnly"
