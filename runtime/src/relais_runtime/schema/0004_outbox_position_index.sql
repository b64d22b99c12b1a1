-- The relay claims rows in publish order (``ORDER BY position LIMIT n``). Through
-- ``relais_outbox_due`` (next_attempt_at, position) PostgreSQL had to collect every row due,
-- dead ones included, in a bitmap heap scan and sort them: an outbox is a queue table (a
-- row lives milliseconds, then is deleted), so between two autovacuums each claim read
-- hundreds of heap pages for one or two live rows (0.5 ms a claim at 50 referrals/s,
-- 222 buffers; benchmarks/README.md, session 17). An index in position order is read from
-- its start and stops at the batch's size; index scans mark dead entries as they pass, so
-- the next claim skips them (5 buffers). The rows in backoff (next_attempt_at later) are
-- few and are filtered as the scan passes them.
DROP INDEX relais_outbox_due;
CREATE INDEX relais_outbox_position ON relais_outbox (position);
