-- The in-app feed: one item per event and recipient. Never a child's name: a reference
-- and a link to authenticated content only.
CREATE TABLE feed_items (
    id          uuid PRIMARY KEY,
    pre_id      text NOT NULL,
    recipient   text NOT NULL,               -- 'org:<org_id>' or 'role:<role>' within the PRE
    event_id    uuid NOT NULL,
    kind        text NOT NULL,               -- the CloudEvents type
    title       text NOT NULL,
    link        text NOT NULL,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    UNIQUE (event_id, recipient)             -- one item per event and recipient, even if redelivered
);
CREATE INDEX feed_items_recipient ON feed_items (pre_id, recipient, created_at DESC);
