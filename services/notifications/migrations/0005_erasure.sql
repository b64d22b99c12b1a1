-- Erasure of a child's records (subject.erased): feed items and deliveries remember the
-- situation they are about, so they can be deleted with it.
ALTER TABLE feed_items ADD COLUMN situation_id uuid;
ALTER TABLE deliveries ADD COLUMN situation_id uuid;
CREATE INDEX feed_items_situation ON feed_items (pre_id, situation_id) WHERE situation_id IS NOT NULL;
CREATE INDEX deliveries_situation ON deliveries (pre_id, situation_id) WHERE situation_id IS NOT NULL;
