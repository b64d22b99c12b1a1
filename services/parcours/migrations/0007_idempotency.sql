-- Idempotency-Key of creation requests: a retried POST returns what the first one created.
CREATE TABLE idempotency_keys (
    pre_id      text NOT NULL,
    principal   text NOT NULL,               -- the caller's token subject
    key         text NOT NULL,
    scope       text NOT NULL,               -- which kind of creation
    result_id   uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, principal, key)
);
