"""Trace context: carried through the outbox when tracing is off; which spans are kept when on.

The SDK is never installed globally here (``tracing.configure`` is once per process): the
rest of the runtime tests run with tracing off, as production does by default, and the
sampler and the HTTP hook are tried on a provider of their own with an in-memory exporter.
The whole path with tracing on is tests/e2e/test_traces.py.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import Span, SpanKind

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_runtime import outbox, tracing
from relais_runtime.db import create_pool
from relais_runtime.runtime import prepare_database

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def withdrawn() -> CloudEvent[ReferralWithdrawn]:
    data = ReferralWithdrawn(
        referral_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        institution_id="ecole-test",
        withdrawn_at=datetime.now(UTC),
    )
    return new_event(data, source="/relais/referral", subject="s", tenant="pre-76540", sequence=1)


def consuming(traceparent: str | None) -> AbstractContextManager[Span]:
    return tracing.consuming(
        "test.queue",
        event_id=str(uuid.uuid4()),
        event_type="fr.relais.referral.withdrawn.v1",
        tenant="pre-76540",
        correlationid=str(uuid.uuid4()),
        traceparent=traceparent,
        tracestate="vendor=1",
    )


async def test_with_tracing_off_what_a_handler_emits_carries_the_trace_context_it_received(
    database_dsn: str, tmp_path: Path
) -> None:
    assert not tracing.enabled()
    await prepare_database(database_dsn, "testsvc", tmp_path)
    pool = await create_pool(database_dsn, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            with consuming(TRACEPARENT):
                await outbox.add(conn, emitted := withdrawn())
            await outbox.add(conn, outside := withdrawn())
        rows = {
            r["id"]: r
            for r in await pool.fetch("SELECT id, body, traceparent, tracestate FROM relais_outbox")
        }
    finally:
        await pool.close()

    carried = rows[emitted.id]
    assert (carried["traceparent"], carried["tracestate"]) == (TRACEPARENT, "vendor=1")
    envelope = CloudEvent[dict].model_validate_json(carried["body"])  # type: ignore[type-arg]
    assert (envelope.traceparent, envelope.tracestate) == (TRACEPARENT, "vendor=1")
    # Outside any trace: nothing invented.
    assert rows[outside.id]["traceparent"] is None
    assert CloudEvent[dict].model_validate_json(rows[outside.id]["body"]).traceparent is None  # type: ignore[type-arg]


def test_a_malformed_traceparent_is_ignored_and_the_message_still_handled() -> None:
    with consuming("00-not-a-trace-context"):
        assert tracing.current_context() == (None, None)
    # The envelope accepts it (a tracing detail never gets a message refused).
    event = withdrawn().model_copy(update={"traceparent": "00-not-a-trace-context"})
    assert CloudEvent[dict].model_validate_json(event.model_dump_json()).traceparent  # type: ignore[type-arg]


def test_traces_start_at_a_request_or_a_message_and_never_at_a_background_query() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(root=tracing.RequestsAndMessagesOnly()))
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracer = provider.get_tracer("test")

    with (
        tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT),  # a relay's poll
        tracer.start_as_current_span("child of the poll"),
    ):
        pass
    with tracer.start_as_current_span("relais.events publish", kind=SpanKind.PRODUCER):
        pass
    with (
        tracer.start_as_current_span("POST /v1/referrals", kind=SpanKind.SERVER),
        tracer.start_as_current_span("INSERT", kind=SpanKind.CLIENT),
    ):
        pass
    with tracer.start_as_current_span("parcours.referrals process", kind=SpanKind.CONSUMER):
        pass

    assert sorted(s.name for s in exported.get_finished_spans()) == [
        "INSERT",
        "POST /v1/referrals",
        "parcours.referrals process",
    ]


def test_an_http_span_keeps_no_query_string_no_client_address_and_no_user_agent() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(tracing.WithoutPersonalAttributes())
    provider.add_span_processor(SimpleSpanProcessor(exported))
    attributes = {
        "http.url": "http://127.0.0.1:8001/v1/referrals?child=Lina%20Benaliouche",
        "http.route": "/v1/referrals",
        "net.peer.ip": "192.0.2.10",
        "client.address": "192.0.2.10",
        "http.user_agent": "Mozilla/5.0",
    }
    with provider.get_tracer("test").start_as_current_span(
        "GET /v1/referrals", kind=SpanKind.SERVER, attributes=attributes
    ):
        pass
    [finished] = exported.get_finished_spans()
    assert dict(finished.attributes or {}) == {
        "http.url": "http://127.0.0.1:8001/v1/referrals",
        "http.route": "/v1/referrals",
    }


def test_attributes_set_again_after_the_start_are_dropped_by_the_request_hook() -> None:
    """The ASGI middleware sets the request's attributes once more after the span started."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(tracing.WithoutPersonalAttributes())
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER) as span:
        span.set_attribute("net.peer.ip", "192.0.2.10")
        span.set_attribute("http.url", "http://127.0.0.1/v1/referrals?q=Benaliouche")
        tracing.without_personal_attributes(span)
    [finished] = exported.get_finished_spans()
    assert dict(finished.attributes or {}) == {"http.url": "http://127.0.0.1/v1/referrals"}
