-- Messaging tables every service needs: the transactional outbox and the consumer inbox.
-- Applied before the service's own migrations (scope "runtime").

CREATE TABLE relais_outbox (
    id             uuid PRIMARY KEY,            -- the CloudEvents id and AMQP message_id
    position       bigserial NOT NULL,          -- publish order within this service
    exchange       text NOT NULL,
    routing_key    text NOT NULL,
    body           bytea NOT NULL,              -- the CloudEvent, JSON, as published
    correlation_id text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    attempts       integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error     text
);
CREATE INDEX relais_outbox_due ON relais_outbox (next_attempt_at, position);

CREATE TABLE relais_inbox (
    consumer    text NOT NULL,
    message_id  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX relais_inbox_received_at ON relais_inbox (received_at);
