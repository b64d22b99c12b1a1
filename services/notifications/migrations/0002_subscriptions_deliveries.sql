-- Subscriptions, webhook endpoints and deliveries. Addresses and URLs stay here: events
-- name the organisation and the channel only.

CREATE TABLE webhook_endpoints (
    id                   uuid PRIMARY KEY,
    pre_id               text NOT NULL,
    org_id               text NOT NULL,
    url                  text NOT NULL,
    secret               text NOT NULL,          -- whsec_<base64>: Standard Webhooks signing key
    enabled              boolean NOT NULL DEFAULT true,
    consecutive_failures integer NOT NULL DEFAULT 0,
    disabled_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (pre_id, org_id);

CREATE TABLE subscriptions (
    id           uuid PRIMARY KEY,
    pre_id       text NOT NULL,
    org_id       text NOT NULL,
    user_id      text,                           -- a personal subscription (token sub), else the organisation's
    roles        text[] NOT NULL DEFAULT '{}',   -- the owner's roles: what role:<r> items reach them
    event_types  text[] NOT NULL DEFAULT '{}',   -- CloudEvents types; empty: all that concern the owner
    situation_id uuid,                           -- PRE staff: follow one situation
    referent_id  uuid,                           -- PRE staff: follow one référent's situations
    channel      text NOT NULL CHECK (channel IN ('email', 'webhook', 'amqp')),
    language     text NOT NULL DEFAULT 'fr',
    email        text,
    webhook_id   uuid REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    digest       boolean NOT NULL DEFAULT false,  -- e-mail: one daily digest instead of one per event
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((channel = 'email') = (email IS NOT NULL)),
    CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL))
);
CREATE INDEX subscriptions_pre ON subscriptions (pre_id);

-- One row per (event, recipient, channel, destination): the unique key makes a redelivered
-- event or a second matching subscription a no-op. Rows are the dispatcher's work queue.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,           -- notification_id; webhook-id, Message-ID, AMQP message_id
    pre_id          text NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    recipient       text NOT NULL,              -- org:<id> | user:<id>
    recipient_org   text NOT NULL,
    recipient_user  text,
    channel         text NOT NULL,
    destination     text NOT NULL,              -- mailto:<address> | webhook:<id> | amqp:deliver.<org>
    subscription_id uuid,
    webhook_id      uuid,
    title           text NOT NULL,
    body            text NOT NULL,
    link            text NOT NULL,
    payload         jsonb NOT NULL,             -- the webhook / AMQP JSON body
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'digested')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_failure    text,
    http_status     integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (event_id, recipient, channel, destination)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_org ON deliveries (pre_id, recipient_org, created_at DESC);

-- The delivery log of each webhook endpoint: one line per attempt.
CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    webhook_id  uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    delivery_id uuid NOT NULL,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    http_status integer,
    failure     text,
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (webhook_id, at DESC);

-- Reminders that escalate to the coordinators when a deadline stays overdue.
CREATE TABLE escalations (
    deadline_id  uuid PRIMARY KEY,
    pre_id       text NOT NULL,
    handover_id  uuid,                          -- resolved when the partner answers
    event        jsonb NOT NULL,                -- the deadline.overdue CloudEvent (ids and dates only)
    escalate_at  timestamptz NOT NULL,
    escalated_at timestamptz,
    resolved_at  timestamptz
);
CREATE INDEX escalations_due ON escalations (escalate_at)
    WHERE escalated_at IS NULL AND resolved_at IS NULL;

-- The live stream (SSE) follows the feed by insertion order.
ALTER TABLE feed_items ADD COLUMN position bigserial;
CREATE INDEX feed_items_position ON feed_items (pre_id, position);
