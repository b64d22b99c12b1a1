-- The W3C trace context an event was emitted in (the CloudEvents distributed-tracing
-- extension, also inside the body): the relay publishes the row inside a span continuing it
-- without parsing the body (ADR 0019). NULL when the event was written outside any trace.
ALTER TABLE relais_outbox ADD COLUMN traceparent text, ADD COLUMN tracestate text;
