-- The live stream (SSE) follows the feed by commit order, not by insertion order: a
-- position (bigserial) is taken at insert, so two transactions committing out of order
-- made a listener that had passed the later position skip the earlier item for good.
-- Each item records its inserting transaction id; the stream only moves past ids below
-- the oldest transaction still running (pg_snapshot_xmin), which can add nothing more.
-- Existing rows get 0 (all committed long ago); the default applies from now on.
ALTER TABLE feed_items ADD COLUMN txid xid8 NOT NULL DEFAULT '0';
ALTER TABLE feed_items ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX feed_items_txid ON feed_items (pre_id, txid, position);

-- Erasure: a partner's answer remembers its situation, so it goes with it. Older answers
-- learn it from the reminders and feed items about their handover.
ALTER TABLE handover_answers ADD COLUMN situation_id uuid;
UPDATE handover_answers a SET situation_id = e.situation_id FROM escalations e
    WHERE e.pre_id = a.pre_id AND e.handover_id = a.handover_id AND e.situation_id IS NOT NULL;
UPDATE handover_answers a SET situation_id = i.situation_id FROM feed_items i
    WHERE a.situation_id IS NULL AND i.pre_id = a.pre_id AND i.situation_id IS NOT NULL
      AND i.link LIKE '%/v1/handovers/' || a.handover_id::text;
CREATE INDEX handover_answers_situation ON handover_answers (pre_id, situation_id)
    WHERE situation_id IS NOT NULL;
CREATE INDEX deliveries_digest ON deliveries (digest_id) WHERE digest_id IS NOT NULL;

-- Secret rotation: during a grace period deliveries are signed with the new secret and
-- the previous one (Standard Webhooks allows several signatures), so receivers can switch.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret text;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until timestamptz;
