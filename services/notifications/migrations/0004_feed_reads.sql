-- Read state per user: an item addressed to an organisation or a role (all coordinators)
-- stays unread for each person until that person reads it. feed_items.read_at is unused.
CREATE TABLE feed_reads (
    item_id  uuid NOT NULL REFERENCES feed_items (id) ON DELETE CASCADE,
    reader   text NOT NULL,                  -- the user's token sub
    read_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, reader)
);
